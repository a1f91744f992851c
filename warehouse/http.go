package warehouse

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
)

// HTTPOptions configures the query endpoints.
type HTTPOptions struct {
	QueryTimeout time.Duration // default 5 minutes
	// EventQL, when set, compiles {"eventql": "..."} requests to SQL
	// (computing what the query reads under ctx).
	EventQL func(ctx context.Context, src string) (string, error)
	// DSL, when set, compiles {"dsl": {...}} requests to SQL.
	DSL func(q json.RawMessage) (string, error)
}

// RegisterRoutes adds POST /v1/query and GET /v1/entities/:entity_id/events.
func (w *Warehouse) RegisterRoutes(r gin.IRouter, o HTTPOptions) {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Minute
	}
	r.POST("/v1/query", func(c *gin.Context) { w.handleQuery(c, o) })
	r.GET("/v1/entities/:entity_id/events", func(c *gin.Context) { w.handleEntity(c, o) })
}

type queryRequest struct {
	SQL     string            `json:"sql"`
	EventQL string            `json:"eventql"`
	DSL     json.RawMessage   `json:"dsl"`
	Params  []json.RawMessage `json:"params"`
}

func (w *Warehouse) handleQuery(c *gin.Context, o HTTPOptions) {
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
	case req.EventQL != "" && o.EventQL != nil:
		q, err := o.EventQL(ctx, req.EventQL)
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
	case len(req.DSL) > 0 && o.DSL != nil:
		q, err := o.DSL(req.DSL)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "dsl: " + err.Error(), Field: "dsl", Index: -1})
			return
		}
		req.SQL = q
	case req.SQL == "":
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Message: "this server does not compile that query language", Field: "sql", Index: -1})
		return
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
	rows, err := w.Query(ctx, req.SQL, args...)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	defer rows.Close()
	format := negotiate(c.GetHeader("Accept"))
	if format == formatArrow {
		w.ServeArrow(c, rows)
		return
	}
	if err := w.writeRows(c, rows, format); err != nil && ctx.Err() == nil {
		w.log.Warn("query stream ended with an error", "err", err)
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

const (
	formatJSON   = "json"
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
	formatArrow  = "arrow"
)

func negotiate(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "application/x-ndjson", "application/ndjson", "application/jsonl":
			return formatNDJSON
		case "text/csv":
			return formatCSV
		case ArrowStreamType:
			return formatArrow
		case "application/json":
			return formatJSON
		}
	}
	return formatJSON
}

// writeRows streams a result. JSON: {"columns":[{"name","type"}],"rows":[[…]]};
// an error after the first byte is sent as a final "error" member (JSON), an
// {"error":…} line (NDJSON) or a last line "#error: …" (CSV).
func (w *Warehouse) writeRows(c *gin.Context, rows *Rows, format string) error {
	cols, err := rows.ColumnTypes()
	if err != nil {
		httpx.WriteError(c, err)
		return err
	}
	names := make([]string, len(cols))
	types := make([]string, len(cols))
	raw := make([]bool, len(cols)) // JSON text to embed as is
	for i, ct := range cols {
		names[i] = ct.Name()
		types[i] = ct.DatabaseTypeName()
		if i < len(rows.JSON) && rows.JSON[i] {
			raw[i] = true
			types[i] = "JSON"
		}
	}
	h := c.Writer.Header()
	switch format {
	case formatNDJSON:
		h.Set("Content-Type", "application/x-ndjson")
	case formatCSV:
		h.Set("Content-Type", "text/csv; charset=utf-8")
	default:
		h.Set("Content-Type", "application/json")
	}
	c.Status(http.StatusOK)
	bw := bufio.NewWriterSize(c.Writer, 64<<10)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var cw *csv.Writer
	var buf []byte
	switch format {
	case formatCSV:
		cw = csv.NewWriter(bw)
		cw.Write(names)
	case formatJSON:
		bw.WriteString(`{"columns":[`)
		for i := range names {
			if i > 0 {
				bw.WriteByte(',')
			}
			buf = buf[:0]
			buf = append(buf, `{"name":`...)
			buf = appendJSONString(buf, names[i])
			buf = append(buf, `,"type":`...)
			buf = appendJSONString(buf, types[i])
			buf = append(buf, '}')
			bw.Write(buf)
		}
		bw.WriteString(`],"rows":[`)
	}
	n := 0
	record := make([]string, len(cols))
	ctx := c.Request.Context()
	for rows.Next() {
		// The engine's result is already materialised, so a cancelled
		// request (a quota, the client gone) is noticed here.
		if n%256 == 0 && ctx.Err() != nil {
			return finishWithError(bw, cw, format, n, ctx.Err(), w.streamMessage(c, ctx.Err()))
		}
		if err := rows.Scan(ptrs...); err != nil {
			return finishWithError(bw, cw, format, n, err, w.streamMessage(c, err))
		}
		for i, t := range types {
			switch x := vals[i].(type) {
			case []byte:
				// The driver hands UUIDs over as their 16 bytes.
				if t == "UUID" && len(x) == 16 {
					vals[i] = uuid.UUID(x).String()
				}
			case time.Time:
				if t == "DATE" {
					vals[i] = x.Format("2006-01-02")
				}
			}
		}
		buf = buf[:0]
		switch format {
		case formatCSV:
			for i, v := range vals {
				record[i] = csvValue(v)
			}
			cw.Write(record)
		case formatNDJSON:
			buf = append(buf, '{')
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSONString(buf, names[i])
				buf = append(buf, ':')
				buf = appendCell(buf, v, raw[i])
			}
			buf = append(buf, "}\n"...)
		default:
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendCell(buf, v, raw[i])
			}
			buf = append(buf, ']')
		}
		if _, err := bw.Write(buf); err != nil {
			return err // client gone
		}
		n++
		if n%4096 == 0 {
			if cw != nil {
				cw.Flush()
			}
			bw.Flush()
			c.Writer.Flush()
		}
	}
	if err := rows.Err(); err != nil {
		return finishWithError(bw, cw, format, n, err, w.streamMessage(c, err))
	}
	switch format {
	case formatJSON:
		bw.WriteString(`],"row_count":` + strconv.Itoa(n) + "}\n")
	case formatCSV:
		cw.Flush()
	}
	return bw.Flush()
}

// streamMessage is what a stream that failed tells the client: why its
// request was cancelled when that is a user-facing error (a quota), else
// the engine's message.
func (w *Warehouse) streamMessage(c *gin.Context, err error) string {
	var e *allsource.Error
	if errors.As(context.Cause(c.Request.Context()), &e) {
		return e.Message
	}
	return w.userMessage(err)
}

func finishWithError(bw *bufio.Writer, cw *csv.Writer, format string, n int, err error, msg string) error {
	switch format {
	case formatJSON:
		b, _ := json.Marshal(allsource.ErrorDetail{Code: allsource.CodeInvalid, Message: msg})
		bw.WriteString(`],"row_count":` + strconv.Itoa(n) + `,"error":`)
		bw.Write(b)
		bw.WriteString("}\n")
	case formatNDJSON:
		b, _ := json.Marshal(allsource.NewErrorBody(&allsource.Error{Code: allsource.CodeInvalid, Message: msg, Index: -1}))
		bw.Write(append(b, '\n'))
	case formatCSV:
		cw.Flush()
		bw.WriteString("#error: " + strings.ReplaceAll(msg, "\n", " ") + "\n")
	}
	bw.Flush()
	return err
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(buf, b...)
}

// appendCell encodes one value; raw marks JSON text to embed unquoted.
func appendCell(buf []byte, v any, raw bool) []byte {
	if s, ok := v.(string); ok && raw {
		return append(buf, s...)
	}
	return appendJSONValue(buf, v)
}

// appendJSONValue encodes one scanned DuckDB value.
func appendJSONValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, x)
	case int8:
		return strconv.AppendInt(buf, int64(x), 10)
	case int16:
		return strconv.AppendInt(buf, int64(x), 10)
	case int32:
		return strconv.AppendInt(buf, int64(x), 10)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(buf, x, 10)
	case float32:
		return appendFloat(buf, float64(x), 32)
	case float64:
		return appendFloat(buf, x, 64)
	case string:
		return appendJSONString(buf, x)
	case []byte:
		return appendJSONString(buf, base64.StdEncoding.EncodeToString(x))
	case time.Time:
		return appendJSONString(buf, x.Format(time.RFC3339Nano))
	case *big.Int:
		return append(buf, x.String()...)
	case duckdb.Decimal:
		return append(buf, x.String()...)
	case duckdb.Interval:
		return appendJSONString(buf, intervalString(x))
	case duckdb.UUID:
		return appendJSONString(buf, x.String())
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return appendJSONString(buf, fmt.Sprint(x))
		}
		return append(buf, b...)
	}
}

func appendFloat(buf []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(buf, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits)
}

func intervalString(iv duckdb.Interval) string {
	return fmt.Sprintf("%d months %d days %d microseconds", iv.Months, iv.Days, iv.Micros)
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		b := appendJSONValue(nil, v)
		if len(b) > 1 && b[0] == '"' {
			var s string
			if json.Unmarshal(b, &s) == nil {
				return s
			}
		}
		return string(b)
	}
}

// EntityEvent is one event as the entity endpoint returns it.
type EntityEvent struct {
	Seq        uint64          `json:"seq"`
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	EntityID   string          `json:"entity_id"`
	EventType  string          `json:"event_type"`
	Version    uint64          `json:"version"`
	Timestamp  time.Time       `json:"timestamp"`
	IngestedAt time.Time       `json:"ingested_at"`
	Payload    json.RawMessage `json:"payload"`
	Metadata   json.RawMessage `json:"metadata"`
}

// EntityEvents returns an entity's events in version order, from fromVersion,
// at most limit.
func (w *Warehouse) EntityEvents(ctx context.Context, tenant, entity string, fromVersion uint64, limit int) ([]EntityEvent, error) {
	rows, err := w.QueryInternal(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
			CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR)
		FROM events WHERE tenant_id = ? AND entity_id = ? AND version >= ? ORDER BY version LIMIT ?`,
		tenant, entity, fromVersion, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EntityEvent{}
	for rows.Next() {
		var e EntityEvent
		var p, m string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Tenant, &e.EntityID, &e.EventType, &e.Version, &e.Timestamp, &e.IngestedAt, &p, &m); err != nil {
			return nil, err
		}
		e.Timestamp, e.IngestedAt = e.Timestamp.UTC(), e.IngestedAt.UTC()
		e.Payload, e.Metadata = json.RawMessage(p), json.RawMessage(m)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (w *Warehouse) handleEntity(c *gin.Context, o HTTPOptions) {
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
	evs, err := w.EntityEvents(ctx, tenant, entity, from, int(limit))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if len(evs) == 0 && from <= 1 {
		httpx.WriteError(c, allsource.Errorf(allsource.CodeNotFound, "entity %q has no events in tenant %q", entity, tenant))
		return
	}
	c.JSON(http.StatusOK, gin.H{"entity_id": entity, "tenant": tenant, "events": evs})
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
