package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/internal/jsontext"
	"github.com/allsource/allsource/projections"
	"github.com/allsource/allsource/warehouse"
)

// SubscribeOptions tune the subscription endpoint.
type SubscribeOptions struct {
	Buffer    int           // live events held for a slow reader; default 10,000
	Heartbeat time.Duration // comment lines that keep idle streams open; default 15 s
	// TenantLimit bounds the live subscriptions one tenant holds at once
	// (each holds a goroutine, a buffer and a connection); default 1,000.
	TenantLimit int
}

// RegisterSubscribe adds GET /v1/subscribe: a Server-Sent Events stream of
// the events that match its parameters, or a WebSocket (when the request
// asks to upgrade) with one JSON event per text message.
//
//	types     comma-separated event type patterns ("order.*,user.signed_up")
//	entities  comma-separated entity ids
//	where     a payload predicate, payload.<field><op><value> (repeat for AND):
//	          where=payload.amount>=100&where=payload.country=DE
//	from_seq  start after this seq (default 0: everything stored, then live)
//	from=now  only events stored from now on
//	since     an RFC 3339 time: stored events from then, then live
//	tenant    the tenant (for unauthenticated servers and administrators)
//	batch     WebSocket only: true sends a JSON array of the events ready
//	          at once per message instead of one event per message
//
// Each event is "id: <seq>", "event: <event_type>", "data: <JSON>"; a
// reconnecting client's Last-Event-ID resumes after that seq. A stream the
// server ends (a slow reader) gets a last "event: end" whose data says why.
func RegisterSubscribe(r gin.IRouter, h *projections.Hub, wh *warehouse.Warehouse, o SubscribeOptions) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.TenantLimit <= 0 {
		o.TenantLimit = 1000
	}
	r.GET("/v1/subscribe", func(c *gin.Context) {
		if strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
			serveWS(c, h, wh, &o)
			return
		}
		serveSSE(c, h, wh, &o)
	})
}

// subscription reads a subscription's parameters; it answers 400 (403
// for a where on a hidden field) itself and returns ok false when they
// are wrong.
func subscription(c *gin.Context) (f projections.Filter, start projections.Start, ok bool) {
	ctx := c.Request.Context()
	f = projections.Filter{Tenant: c.Query("tenant"), Types: splitParam(c.Query("types")), Entities: splitParam(c.Query("entities")),
		Restrict: allsource.ReadRestrictionFrom(ctx)}
	if t, ok := allsource.TenantScope(ctx); ok {
		f.Tenant = t
	}
	if f.Tenant == "" {
		f.Tenant = allsource.DefaultTenant
	}
	for _, w := range c.QueryArray("where") {
		p, err := projections.ParsePredicate(w)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "where", Index: -1, Message: "where: " + err.Error()})
			return f, start, false
		}
		f.Where = append(f.Where, p)
	}
	if v := c.Query("from_seq"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "from_seq", Index: -1, Message: fmt.Sprintf("from_seq: %q is not a seq", v)})
			return f, start, false
		}
		start.AfterSeq = n
	}
	switch v := c.Query("from"); v {
	case "":
	case "now":
		start.Now = true
	default:
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "from", Index: -1, Message: fmt.Sprintf("from: %q (want now, or use from_seq or since)", v)})
		return f, start, false
	}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "since", Index: -1, Message: fmt.Sprintf("since: %q is not an RFC 3339 time", v)})
			return f, start, false
		}
		start.Since = t
	}
	if v := c.GetHeader("Last-Event-ID"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			start = projections.Start{AfterSeq: n} // a reconnect resumes exactly
		}
	}
	if err := f.Validate(); err != nil {
		httpx.WriteError(c, err)
		return f, start, false
	}
	return f, start, true
}

func serveSSE(c *gin.Context, h *projections.Hub, wh *warehouse.Warehouse, o *SubscribeOptions) {
	ctx := c.Request.Context()
	f, start, ok := subscription(c)
	if !ok {
		return
	}
	w := c.Writer
	started := false
	ready := func() { // registered: from here on nothing is missed
		started = true
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": subscribed\n\n")
		w.Flush()
	}

	var werr error
	send := func(batch []projections.Event) error {
		for i := range batch {
			e := &batch[i]
			b, err := eventJSON(h, &f, e)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.EventType, b); err != nil {
				werr = err
				return err
			}
		}
		w.Flush()
		return nil
	}
	idle := func() error {
		if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
			werr = err
			return err
		}
		w.Flush()
		return nil
	}
	err := h.SubscribeBatches(ctx, wh, f, start, projections.SubOptions{Buffer: o.Buffer, Heartbeat: o.Heartbeat, Idle: idle, Ready: ready, JSON: true, MaxBatch: 1000, TenantLimit: o.TenantLimit}, send)
	if !started { // refused before it began: over the tenant's limit, or the server is shutting down
		var ae *allsource.Error
		if errors.As(err, &ae) {
			httpx.WriteError(c, ae)
			return
		}
		httpx.WriteError(c, allsource.Errorf(allsource.CodeUnavailable, "%v", err))
		return
	}
	var ended *projections.Ended
	switch {
	case errors.As(err, &ended):
		b, _ := jsontext.Marshal(map[string]string{"reason": ended.Reason})
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", b)
		w.Flush()
	case err != nil && werr == nil && ctx.Err() == nil:
		b, _ := jsontext.Marshal(map[string]string{"reason": err.Error()})
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", b)
		w.Flush()
	}
}

// eventJSON is e as f's reader receives it: the hub's shared encoding when
// the reader sees whole events.
func eventJSON(h *projections.Hub, f *projections.Filter, e *projections.Event) ([]byte, error) {
	if len(f.Restrict.HiddenFields) == 0 {
		if b := h.EncodedJSON(e.Seq); b != nil {
			return b, nil
		}
	}
	return jsontext.Marshal(e)
}

func splitParam(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveWS streams a subscription over a WebSocket: one text message per
// event (the JSON of the SSE data), or per batch of events with batch=true
// (a JSON array), pings while idle, and a close frame
// whose reason says why the server ended it (1013 for a slow reader, 1001
// when shutting down). Browsers cannot send Last-Event-ID here: a client
// resumes with from_seq.
func serveWS(c *gin.Context, h *projections.Hub, wh *warehouse.Warehouse, o *SubscribeOptions) {
	f, start, ok := subscription(c)
	if !ok {
		return
	}
	conn, err := websocket.Accept(c.Writer, c.Request, nil) // same-origin browsers and non-browser clients
	if err != nil {
		return // Accept answered the client
	}
	defer conn.CloseNow()
	// The client sends nothing; reading handles its pings and close, and
	// ends ctx when it goes away.
	ctx := conn.CloseRead(c.Request.Context())
	batched := c.Query("batch") == "true"
	var buf []byte
	send := func(batch []projections.Event) error {
		if batched { // one message: a JSON array of the batch
			buf = append(buf[:0], '[')
			for i := range batch {
				b, err := eventJSON(h, &f, &batch[i])
				if err != nil {
					return err
				}
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, b...)
			}
			buf = append(buf, ']')
			return conn.Write(ctx, websocket.MessageText, buf)
		}
		for i := range batch {
			b, err := eventJSON(h, &f, &batch[i])
			if err != nil {
				return err
			}
			if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
				return err
			}
		}
		return nil
	}
	idle := func() error { return conn.Ping(ctx) }
	err = h.SubscribeBatches(ctx, wh, f, start, projections.SubOptions{Buffer: o.Buffer, Heartbeat: o.Heartbeat, Idle: idle, JSON: true, MaxBatch: 1000, TenantLimit: o.TenantLimit}, send)
	var ended *projections.Ended
	switch {
	case allsource.ErrorCode(err) == allsource.CodeRateLimited:
		conn.Close(websocket.StatusTryAgainLater, truncateReason(allsource.ErrorMessage(err)))
	case errors.As(err, &ended) && h.Closed():
		conn.Close(websocket.StatusGoingAway, truncateReason(ended.Reason))
	case errors.As(err, &ended):
		conn.Close(websocket.StatusTryAgainLater, truncateReason(ended.Reason))
	case err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil:
		conn.Close(websocket.StatusInternalError, truncateReason(err.Error()))
	default:
		conn.Close(websocket.StatusNormalClosure, "")
	}
}

// truncateReason fits a close reason in a control frame (123 bytes).
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
