package eventql

import (
	"strings"
)

// typ is the static type of a compiled expression.
type typ int

const (
	tyUnknown  typ = iota // no expectation (only as a wanted type)
	tyAny                 // dynamic JSON (payload, metadata, JSON columns)
	tyNumber              // BIGINT or DOUBLE
	tyString              // VARCHAR
	tyBool                // BOOLEAN
	tyTime                // TIMESTAMPTZ
	tyDate                // DATE
	tyDuration            // INTERVAL
	tyArray               // LIST
	tyRecord              // record (flattened to columns or a JSON object)
	tyEvent               // a whole event
	tyNull                // the null literal
)

var typNames = [...]string{"UNKNOWN", "JSON", "NUMBER", "STRING", "BOOLEAN", "DATETIME", "DATE", "DURATION", "ARRAY", "RECORD", "EVENT", "NULL"}

func (t typ) String() string { return typNames[t] }

// val is a compiled expression.
type val struct {
	sql string
	t   typ
	// For tyAny: the value is the JSON at path in base ("$" is base itself).
	base, path string
	// For tyArray: the element type.
	elem typ
	// For tyRecord: the fields in order.
	fields []recField
	// For tyEvent: the SQL alias of the binding.
	alias string
	// For string literals: the decoded text, so it can become a time constant.
	lit    *Literal
	isAggr bool
}

type recField struct {
	key string
	v   val
}

func anyVal(base, path string) val {
	sql := base
	if path != "$" {
		sql = "json_extract(" + base + ", " + sqlString(path) + ")"
	}
	return val{sql: sql, t: tyAny, base: base, path: path}
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sqlIdent quotes s as a SQL identifier.
func sqlIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// eventColumns are the columns of the events view, in order.
var eventColumns = []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}

type eventField struct {
	col   string // column of the events view; "" for a constant
	t     typ
	konst string
}

// eventFields maps EventQL field names (ours and EventSourcingDB's) to columns.
var eventFields = map[string]eventField{
	"seq":             {col: "seq", t: tyNumber},
	"version":         {col: "version", t: tyNumber},
	"id":              {col: "id", t: tyString},
	"tenant_id":       {col: "tenant_id", t: tyString},
	"entity_id":       {col: "entity_id", t: tyString},
	"subject":         {col: "entity_id", t: tyString},
	"event_type":      {col: "event_type", t: tyString},
	"type":            {col: "event_type", t: tyString},
	"timestamp":       {col: "timestamp", t: tyTime},
	"time":            {col: "timestamp", t: tyTime},
	"ingested_at":     {col: "ingested_at", t: tyTime},
	"payload":         {col: "payload", t: tyAny},
	"data":            {col: "payload", t: tyAny},
	"metadata":        {col: "metadata", t: tyAny},
	"source":          {t: tyString, konst: "allsource"},
	"specversion":     {t: tyString, konst: "1.0"},
	"datacontenttype": {t: tyString, konst: "application/json"},
}

var eventFieldNames = func() []string {
	var out []string
	for k := range eventFields {
		out = append(out, k)
	}
	return out
}()

func colRef(alias, col string) string { return sqlIdent(alias) + "." + sqlIdent(col) }

// rfc3339 formats a TIMESTAMPTZ as RFC 3339 text in UTC with microseconds.
func rfc3339(sql string) string {
	return "strftime(timezone('UTC', " + sql + "), '%Y-%m-%dT%H:%M:%S.%fZ')"
}

// eventDoc builds the CloudEvents-style JSON object for the event bound to alias.
func eventDoc(alias string) string {
	c := func(col string) string { return colRef(alias, col) }
	return "json_object('specversion', '1.0', 'id', " + c("id") +
		", 'time', " + rfc3339(c("timestamp")) +
		", 'source', 'allsource', 'subject', " + c("entity_id") +
		", 'type', " + c("event_type") +
		", 'datacontenttype', 'application/json', 'data', " + c("payload") +
		", 'seq', " + c("seq") + ", 'version', " + c("version") +
		", 'tenant', " + c("tenant_id") + ", 'metadata', " + c("metadata") + ")"
}

// jsonOf returns SQL of JSON type for v, as it appears in a result document.
func jsonOf(v val) string {
	switch v.t {
	case tyAny:
		return v.sql
	case tyNull:
		return "'null'::JSON"
	case tyTime:
		return "to_json(" + rfc3339(v.sql) + ")"
	case tyDate:
		return "to_json(strftime(" + v.sql + ", '%Y-%m-%d'))"
	case tyDuration:
		return "to_json(CAST(" + v.sql + " AS VARCHAR))"
	case tyRecord:
		return recordDoc(v.fields)
	case tyEvent:
		return eventDoc(v.alias)
	case tyArray:
		if v.elem == tyTime || v.elem == tyDate || v.elem == tyDuration {
			return "to_json(list_transform(" + v.sql + ", x -> CAST(x AS VARCHAR)))"
		}
	}
	return "to_json(" + v.sql + ")"
}

func recordDoc(fields []recField) string {
	var b strings.Builder
	b.WriteString("json_object(")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlString(f.key))
		b.WriteString(", ")
		b.WriteString(jsonOf(f.v))
	}
	b.WriteString(")")
	return b.String()
}

// columnOf returns the SQL for v as a result column: scalars natively,
// nested values (records, arrays, events, payload fields) as JSON.
func columnOf(v val) string {
	switch v.t {
	case tyRecord, tyEvent, tyArray:
		return jsonOf(v)
	case tyNull:
		return "NULL"
	}
	return v.sql
}
