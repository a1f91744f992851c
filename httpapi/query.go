package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// QueryOptions configures the query endpoints.
type QueryOptions struct {
	QueryTimeout time.Duration // default 5 minutes
	// Logger receives results cut short by an error; default: discarded.
	Logger *slog.Logger
}

func (o *QueryOptions) setDefaults() {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// RegisterQuery adds POST /v1/query and GET /v1/entities/:entity_id/events.
//
// POST /v1/query takes {"sql": "...", "params": [...]} (or "eventql" or
// "dsl" instead of "sql", compiled to SQL here: EventQL in its columns
// form, with the analytics functions it reads computed) and answers the result as JSON, NDJSON, CSV or
// an Arrow IPC stream, as the Accept header asks (see writeRows and
// serveArrow). GET /v1/entities/:entity_id/events answers an entity's
// events in version order (?from_version=, ?limit= up to 100,000); 404
// when the entity has none.
func RegisterQuery(r gin.IRouter, wh *warehouse.Warehouse, o QueryOptions) {
	o.setDefaults()
	r.POST("/v1/query", func(c *gin.Context) { serveQuery(c, wh, &o) })
	r.GET("/v1/entities/:entity_id/events", func(c *gin.Context) { serveEntity(c, wh, &o) })
}

type queryRequest struct {
	SQL     string            `json:"sql"`
	EventQL string            `json:"eventql"`
	DSL     json.RawMessage   `json:"dsl"`
	Params  []json.RawMessage `json:"params"`
}

func serveQuery(c *gin.Context, wh *warehouse.Warehouse, o *QueryOptions) {
	var req queryRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, "the body must be {\"sql\": \"...\", \"params\": [...]} (or \"eventql\" or \"dsl\" instead of \"sql\"): %v", err))
		return
	}
	given := 0
	for _, set := range []bool{strings.TrimSpace(req.SQL) != "", strings.TrimSpace(req.EventQL) != "", len(req.DSL) > 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "give exactly one of sql, eventql and dsl", Field: "sql", Index: -1})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
	defer cancel()
	switch {
	case req.EventQL != "":
		q, err := compileEventQL(ctx, wh, req.EventQL)
		if err != nil {
			var ae *allsource.Error
			if errors.As(err, &ae) && ae.Code != allsource.CodeInvalid {
				httpx.WriteError(c, err) // the engine or a deadline, not the query
				return
			}
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "eventql: " + allsource.ErrorMessage(err), Field: "eventql", Index: -1})
			return
		}
		req.SQL = q
	case len(req.DSL) > 0:
		q, err := compileDSL(req.DSL)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "dsl: " + err.Error(), Field: "dsl", Index: -1})
			return
		}
		req.SQL = q
	}
	args := make([]any, len(req.Params))
	for i, p := range req.Params {
		v, err := paramValue(p)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: fmt.Sprintf("params[%d]: %v", i, err), Field: "params", Index: -1})
			return
		}
		args[i] = v
	}
	rows, err := wh.Query(ctx, req.SQL, args...)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	defer rows.Close()
	format := negotiate(c.GetHeader("Accept"))
	if format == formatArrow {
		serveArrow(c, wh, rows, o.Logger)
		return
	}
	if err := writeRows(c, wh, rows, format); err != nil && ctx.Err() == nil {
		o.Logger.Warn("query stream ended with an error", "err", err)
	}
}

// paramValue decodes one JSON parameter: numbers become int64 or float64,
// objects and arrays their JSON text.
func paramValue(raw json.RawMessage) (any, error) {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return nil, nil
	case s == "true", s == "false":
		return s == "true", nil
	case strings.HasPrefix(s, `"`):
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	case strings.HasPrefix(s, "{"), strings.HasPrefix(s, "["):
		if !json.Valid(raw) {
			return nil, fmt.Errorf("invalid JSON")
		}
		return s, nil
	default:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value %s", s)
		}
		return f, nil
	}
}

func serveEntity(c *gin.Context, wh *warehouse.Warehouse, o *QueryOptions) {
	entity := c.Param("entity_id")
	tenant := c.Query("tenant")
	if tenant == "" {
		tenant = allsource.DefaultTenant
		if t, ok := allsource.TenantScope(c.Request.Context()); ok && t != allsource.AllTenants {
			tenant = t
		}
	}
	from, err := uintParam(c, "from_version", 1)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	limit, err := uintParam(c, "limit", 1000)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if limit == 0 || limit > 100_000 {
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "limit must be between 1 and 100000", Field: "limit", Index: -1})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), o.QueryTimeout)
	defer cancel()
	evs, err := wh.EntityEvents(ctx, tenant, entity, from, int(limit))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if len(evs) == 0 && from <= 1 {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeNotFound, "entity %q has no events in tenant %q", entity, tenant))
		return
	}
	c.PureJSON(http.StatusOK, gin.H{"entity_id": entity, "tenant": tenant, "events": evs})
}

func uintParam(c *gin.Context, name string, def uint64) (uint64, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &allsource.Error{Code: allsource.CodeInvalid, Message: fmt.Sprintf("query parameter %s must be a non-negative integer, got %q", name, s), Field: name, Index: -1}
	}
	return v, nil
}
