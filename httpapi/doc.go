// Package httpapi is AllSource's HTTP API: the gin handlers that turn
// requests into calls on the domain packages' Go APIs (warehouse, ingest,
// analytics, projections, export, eventql) and their answers into
// responses. The domain packages know nothing of HTTP; this package owns
// the wire: routes, status codes, headers, request bodies, result formats
// and streaming.
//
// Each Register function adds one area's routes to a gin router; the
// server (cmd/allsource) builds the router, installs the middleware that
// authenticates and admits requests (boundary) and the route → action
// table, then calls them. By the time a handler runs, the request's
// context carries its principal, tenant scope and read restriction; the
// handlers act in that tenant (httpx.Tenant) and never decide access themselves.
//
// Errors are answered by httpx.WriteError: the status of the error's code
// and the body {"error": {"code", "message", ...}}. A response that
// streams (query results, EventQL, subscriptions) cannot change its status
// once the first byte is out: a later error ends the stream in the
// format's own way, documented on each endpoint.
package httpapi
