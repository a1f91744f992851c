package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/analytics"
	"github.com/allsource/allsource/eventql"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/internal/jsontext"
	"github.com/allsource/allsource/internal/qcache"
	"github.com/allsource/allsource/warehouse"
)

// eventqlRequest is the body of POST /v1/eventql and of EventSourcingDB's
// POST /api/v1/run-eventql-query.
type eventqlRequest struct {
	Query   string `json:"query"`
	Explain bool   `json:"explain"`
}

// EventQLOptions configures the EventQL endpoints.
type EventQLOptions struct {
	QueryTimeout time.Duration // default 5 minutes
	// Cache, when set, keeps NDJSON answers keyed by tenant, read
	// restriction, query text and data watermark.
	Cache *qcache.Cache
	// Logger receives Arrow streams cut short by an error; default:
	// discarded.
	Logger *slog.Logger
}

// RegisterEventQL adds the EventQL endpoints. /v1/eventql streams one JSON
// document per line, or with Accept: application/vnd.apache.arrow.stream
// the columns form (Compiled.SQL) as an Arrow IPC stream;
// /api/v1/run-eventql-query frames each document as
// {"type":"row","payload":…}, as EventSourcingDB's clients expect. A body
// with "explain": true answers the compiled SQL instead of running it.
func RegisterEventQL(r gin.IRouter, wh *warehouse.Warehouse, o EventQLOptions) {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r.POST("/v1/eventql", func(c *gin.Context) { serveEventQL(c, wh, &o, false) })
	r.POST("/api/v1/run-eventql-query", func(c *gin.Context) { serveEventQL(c, wh, &o, true) })
}

// compileEventQL is EventQL as /v1/query runs it: the columns form, with
// the analytics functions the query reads computed under ctx.
func compileEventQL(ctx context.Context, wh *warehouse.Warehouse, src string) (string, error) {
	q, err := eventql.CompileString(src)
	if err != nil {
		return "", err
	}
	if len(q.Tables) > 0 {
		if err := analytics.ExpandTables(ctx, wh, q.Tables, &q.SQL); err != nil {
			return "", err
		}
	}
	return q.SQL, nil
}

// compileDSL compiles a query DSL document (the "dsl" of /v1/query).
func compileDSL(q json.RawMessage) (string, error) {
	c, err := eventql.CompileDSL(q)
	if err != nil {
		return "", err
	}
	return c.SQL, nil
}

func serveEventQL(c *gin.Context, wh *warehouse.Warehouse, o *EventQLOptions, framed bool) {
	timeout, cache := o.QueryTimeout, o.Cache
	var req eventqlRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeInvalid, `the body must be {"query": "FROM e IN events ... PROJECT INTO e"}: %v`, err))
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "query is required", Field: "query", Index: -1})
		return
	}
	compiled, err := eventql.CompileString(req.Query)
	if err != nil {
		e := &allsource.Error{Code: allsource.CodeInvalid, Message: err.Error(), Field: "query", Index: -1}
		var qe *eventql.Error
		if errors.As(err, &qe) {
			e.Line = qe.Line
			e.Details = map[string]any{"line": qe.Line, "column": qe.Col}
			if qe.Hint != "" {
				e.Details["hint"] = qe.Hint
			}
		}
		httpx.WriteError(c, e)
		return
	}
	if req.Explain {
		c.PureJSON(http.StatusOK, gin.H{"sql": compiled.SQL, "doc_sql": compiled.DocSQL, "columns": compiled.Columns})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	defer cancel()
	// The data watermark is read before anything is computed: an answer
	// may include newer events, never miss older ones.
	watermark := wh.DataWatermark()
	if t, ok := allsource.TenantScope(c.Request.Context()); ok && t != allsource.AllTenants {
		watermark = wh.TenantWatermark(t) // other tenants' writes (the audit log's) do not invalidate it
	}
	if !framed && WantsArrow(c.GetHeader("Accept")) {
		if err := analytics.ExpandTables(ctx, wh, compiled.Tables, &compiled.SQL); err != nil {
			httpx.WriteError(c, err)
			return
		}
		rows, err := wh.Query(ctx, compiled.SQL)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		defer rows.Close()
		serveArrow(c, wh, rows, o.Logger)
		return
	}
	// Answers are cached by query text and data watermark (read before the
	// query runs: an answer may include newer events, never miss older
	// ones), so new data invalidates them.
	format := "ndjson"
	if framed {
		format = "eventsourcingdb"
	}
	scope, scoped := allsource.TenantScope(c.Request.Context())
	if !scoped {
		scope = allsource.AllTenants // answers over every tenant
	}
	// Readers of one tenant may see different events (roles limited to
	// event types, hide policies): the restriction is part of the key.
	if r := allsource.ReadRestrictionFrom(c.Request.Context()); len(r.OnlyTypes)+len(r.HiddenTypes)+len(r.HiddenFields) > 0 {
		scope += "\x00" + strings.Join(r.OnlyTypes, ",") + "\x00" + strings.Join(r.HiddenTypes, ",") + "\x00" + strings.Join(r.HiddenFields, ",")
	}
	key := qcache.Key{Tenant: scope, Query: req.Query, Format: format, Watermark: watermark}
	if usesNow.MatchString(req.Query) {
		// The answer changes with the clock, not only with the data.
		cache = nil
	}
	if cache != nil {
		if body, ok := cache.Get(key); ok {
			c.Header("Content-Type", "application/x-ndjson")
			c.Header("X-Allsource-Cache", "hit")
			c.Status(http.StatusOK)
			c.Writer.Write(body)
			return
		}
	}
	if err := analytics.ExpandTables(ctx, wh, compiled.Tables, &compiled.DocSQL); err != nil {
		httpx.WriteError(c, err)
		return
	}
	rows, err := wh.Query(ctx, compiled.DocSQL)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	defer rows.Close()
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	bw := bufio.NewWriterSize(c.Writer, 64<<10)
	var kept []byte // the answer so far, while it may still be cached
	keep := cache != nil
	failed := false
	n := 0
	var line []byte
	for rows.Next() {
		var doc *string
		if err := rows.Scan(&doc); err != nil {
			writeStreamError(bw, framed, err)
			failed = true
			break
		}
		text := "null"
		if doc != nil {
			text = *doc
		}
		line = line[:0]
		if framed {
			line = append(line, `{"type":"row","payload":`...)
			line = append(line, text...)
			line = append(line, "}\n"...)
		} else {
			line = append(line, text...)
			line = append(line, '\n')
		}
		bw.Write(line)
		if keep {
			if int64(len(kept)+len(line)) > cache.MaxEntry() {
				keep, kept = false, nil
			} else {
				kept = append(kept, line...)
			}
		}
		if n++; n%4096 == 0 {
			bw.Flush()
			c.Writer.Flush()
		}
	}
	if err := rows.Err(); err != nil {
		writeStreamError(bw, framed, err)
		failed = true
	}
	bw.Flush()
	if keep && !failed && ctx.Err() == nil {
		if kept == nil {
			kept = []byte{}
		}
		cache.Put(key, kept)
	}
}

// usesNow finds NOW() in a query: such answers are never cached.
var usesNow = regexp.MustCompile(`(?i)\bnow\s*\(`)

// writeStreamError ends a stream that already began with an error line.
func writeStreamError(bw *bufio.Writer, framed bool, err error) {
	msg, _ := jsontext.Marshal(allsource.ErrorMessage(err))
	if framed {
		bw.WriteString(`{"type":"error","payload":{"error":` + string(msg) + "}}\n")
		return
	}
	bw.WriteString(`{"error":` + string(msg) + "}\n")
}
