package eventql

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type dslCase struct {
	name    string
	in      string
	eql     string   // expected q.String(), "" to skip
	rows    []string // expected SQL rows ("|"-joined), sorted unless ordered
	cols    []string // expected Columns
	ordered bool
}

var dslCases = []dslCase{
	// The example, verbatim but for the select placeholder.
	{name: "issue example", in: `{"from": "events",
 "where": ["and", ["=", "event_type", "user.created"], [">", "timestamp", ["days_ago", 7]], ["contains", "payload.tags", "premium"]],
 "order_by": [["timestamp","desc"]], "limit": 100}`,
		eql:  "FROM e IN events\nWHERE e.event_type == \"user.created\" AND e.timestamp > NOW() - 7d AND e.payload.tags CONTAINS \"premium\"\nORDER BY e.timestamp DESC\nTOP 100\nPROJECT INTO e",
		cols: eventColumns, rows: []string{}},
	{name: "issue example on the fixture", in: `{"select": ["seq"], "from": "events",
 "where": ["and", ["=", "event_type", "book.acquired"], ["<", "timestamp", ["days_ago", 7]], ["contains", "payload.tags", "classic"]],
 "order_by": [["timestamp","desc"]], "limit": 100}`,
		eql:  "FROM e IN events\nWHERE e.event_type == \"book.acquired\" AND e.timestamp < NOW() - 7d AND e.payload.tags CONTAINS \"classic\"\nORDER BY e.timestamp DESC\nTOP 100\nPROJECT INTO { seq: e.seq }",
		rows: []string{"3", "1"}, ordered: true},

	// Projections and fields.
	{name: "whole event", in: `{"where": ["=", "seq", 2]}`, eql: "FROM e IN events\nWHERE e.seq == 2\nPROJECT INTO e", cols: eventColumns,
		rows: []string{`2|00000000-0000-0000-0000-000000000002|t1|book-1|book.borrowed|2|2024-01-02T10:00:00Z|2024-01-02T10:00:01Z|{"days":14,"reader":"reader-1"}|{"correlation_id":"c2"}`}},
	{name: "empty query", in: `{}`, eql: "FROM e IN events\nPROJECT INTO e", cols: eventColumns},
	{name: "select fields", in: `{"select": ["entity_id", "payload.title", {"as": "p", "expr": "data.price"}], "where": ["=", "type", "book.acquired"]}`,
		eql:  "FROM e IN events\nWHERE e.type == \"book.acquired\"\nPROJECT INTO { entity_id: e.entity_id, \"payload.title\": e.payload.title, p: e.data.price }",
		cols: []string{"entity_id", "payload.title", "p"}, rows: []string{"book-1|Dune|20", "book-2|Emma|8.5"}},
	{name: "aliases and metadata", in: `{"select": ["subject", "type", "time", "version", "id", "metadata.correlation_id", "payload.address.city"], "where": ["=", "seq", 5]}`,
		rows: []string{"reader-1|reader.registered|2024-01-01T09:00:00Z|1|00000000-0000-0000-0000-000000000005|c1|Berlin"}},

	// Comparisons and logic.
	{name: "not equal", in: `{"select": ["seq"], "where": ["!=", "entity_id", "book-1"]}`, rows: []string{"3", "5", "6"}},
	{name: "range", in: `{"select": ["seq"], "where": ["and", [">=", "seq", 2], ["<", "seq", 4]]}`,
		eql: "FROM e IN events\nWHERE e.seq >= 2 AND e.seq < 4\nPROJECT INTO { seq: e.seq }", rows: []string{"2", "3"}},
	{name: "payload numeric", in: `{"select": ["seq"], "where": [">", "payload.price", 10]}`, rows: []string{"1"}},
	{name: "less or equal", in: `{"select": ["seq"], "where": ["<=", "version", 1]}`, rows: []string{"1", "3", "5"}},
	{name: "or not", in: `{"select": ["seq"], "where": ["or", ["=", "seq", 1], ["not", ["<", "seq", 6]]]}`,
		eql: "FROM e IN events\nWHERE e.seq == 1 OR NOT e.seq < 6\nPROJECT INTO { seq: e.seq }", rows: []string{"1", "6"}},
	{name: "xor", in: `{"select": ["seq"], "where": ["xor", ["<", "seq", 3], ["=", "subject", "book-1"]]}`, rows: []string{"4"}},
	{name: "and of one", in: `{"select": ["seq"], "where": ["and", ["=", "seq", 3]]}`, eql: "FROM e IN events\nWHERE e.seq == 3\nPROJECT INTO { seq: e.seq }", rows: []string{"3"}},
	{name: "upper-case operators", in: `{"select": ["seq"], "where": ["AND", ["=", "seq", 3], ["NOT", false]]}`, rows: []string{"3"}},
	{name: "bare boolean field", in: `{"select": ["seq"], "where": "payload.premium"}`, eql: "FROM e IN events\nWHERE e.payload.premium\nPROJECT INTO { seq: e.seq }", rows: []string{"5"}},
	{name: "boolean fields in and", in: `{"select": ["seq"], "where": ["and", ["=", "seq", 5], "payload.premium"]}`, rows: []string{"5"}},
	{name: "payload bool compare", in: `{"select": ["seq"], "where": ["=", "payload.late", false]}`, rows: []string{"4"}},
	{name: "a field-like value is a literal", in: `{"select": ["seq"], "where": ["=", "event_type", "type"]}`, eql: "FROM e IN events\nWHERE e.event_type == \"type\"\nPROJECT INTO { seq: e.seq }", rows: []string{}},
	{name: "field and literal forced", in: `{"select": ["seq"], "where": ["=", ["literal", "book-1"], ["field", "entity_id"]]}`,
		eql: "FROM e IN events\nWHERE \"book-1\" == e.entity_id\nPROJECT INTO { seq: e.seq }", rows: []string{"1", "2", "4"}},
	{name: "field against field", in: `{"select": ["seq"], "where": ["=", "payload.reader", ["field", "data.reader"]]}`, rows: []string{"2", "4", "6"}},
	{name: "string escaping", in: `{"select": ["seq"], "where": ["=", "entity_id", "x'); DROP TABLE raw_events; --\"\u00e9\n"]}`, rows: []string{}},

	// Arithmetic.
	{name: "arithmetic", in: `{"select": [{"as": "a", "expr": ["+", ["*", "payload.price", 2], 1]}, {"as": "b", "expr": ["/", ["+", "seq", 1], 4]},
	  {"as": "c", "expr": ["-", "seq"]}, {"as": "d", "expr": ["-", 7, 2]}, {"as": "e", "expr": ["+", 1, 2, 3]}, {"as": "f", "expr": -2.5e0}], "where": ["=", "seq", 1]}`,
		eql:  "FROM e IN events\nWHERE e.seq == 1\nPROJECT INTO { a: e.payload.price * 2 + 1, b: (e.seq + 1) / 4, c: -e.seq, d: 7 - 2, e: 1 + 2 + 3, f: -2.5e0 }",
		rows: []string{"41|0.5|-1|5|6|-2.5"}},
	{name: "negative literal", in: `{"select": ["seq"], "where": ["<", ["-", "seq"], -4]}`, rows: []string{"5", "6"}},

	// contains, in, is_null.
	{name: "contains number", in: `{"select": ["seq"], "where": ["contains", "payload.ratings", 3]}`, rows: []string{"3"}},
	{name: "in strings", in: `{"select": ["seq"], "where": ["in", "entity_id", ["book-2", "reader-1"]]}`,
		eql: "FROM e IN events\nWHERE [\"book-2\", \"reader-1\"] CONTAINS e.entity_id\nPROJECT INTO { seq: e.seq }", rows: []string{"3", "5", "6"}},
	{name: "in numbers", in: `{"select": ["seq"], "where": ["in", "seq", [1, 2, 3]]}`, rows: []string{"1", "2", "3"}},
	{name: "in payload", in: `{"select": ["seq"], "where": ["in", "payload.price", [20, 7]]}`, rows: []string{"1"}},
	{name: "in empty", in: `{"select": ["seq"], "where": ["in", "seq", []]}`, rows: []string{}},
	{name: "is null", in: `{"select": ["seq"], "where": ["and", ["is_null", "payload.reader"], ["is_null", "payload.name"]]}`,
		eql: "FROM e IN events\nWHERE e.payload.reader == null AND e.payload.name == null\nPROJECT INTO { seq: e.seq }", rows: []string{"1", "3"}},
	{name: "is not null", in: `{"select": ["seq"], "where": ["is_not_null", "payload.title"]}`, rows: []string{"1", "3"}},

	// Functions and casts.
	{name: "function", in: `{"select": ["seq"], "where": ["=", ["lower", "payload.title"], "dune"]}`,
		eql: "FROM e IN events\nWHERE LOWER(e.payload.title) == \"dune\"\nPROJECT INTO { seq: e.seq }", rows: []string{"1"}},
	{name: "fn form and alias", in: `{"select": ["seq"], "where": ["fn", "starts_with", "entity_id", "reader"]}`, rows: []string{"5"}},
	{name: "function with literals", in: `{"select": [{"as": "t", "expr": ["replace", "event_type", ".", "/"]}, {"as": "k", "expr": ["if", ["=", "seq", 1], "first", "other"]}], "where": ["<=", "seq", 2]}`,
		rows: []string{"book/acquired|first", "book/borrowed|other"}},
	{name: "cast", in: `{"select": [{"as": "i", "expr": ["cast", "payload.price", "int"]}], "where": ["=", ["cast", "payload.days", "STRING"], "7"]}`,
		eql: "FROM e IN events\nWHERE e.payload.days AS STRING == \"7\"\nPROJECT INTO { i: e.payload.price AS INT }", rows: []string{"NULL"}},

	// Time.
	{name: "time literal", in: `{"select": ["seq"], "where": [">", "timestamp", "2024-01-04T00:00:00Z"]}`, rows: []string{"4", "6"}},
	{name: "date literal", in: `{"select": ["seq"], "where": ["<", "time", "2024-01-02"]}`, rows: []string{"1", "5"}},
	{name: "ago", in: `{"select": ["seq"], "where": ["or", [">", "timestamp", ["ago", "2w"]], [">", "timestamp", ["hours_ago", 1]], [">", "timestamp", ["minutes_ago", 5]], [">", "timestamp", ["weeks_ago", 1]]]}`,
		eql: "FROM e IN events\nWHERE e.timestamp > NOW() - 2w OR e.timestamp > NOW() - 1h OR e.timestamp > NOW() - 5m OR e.timestamp > NOW() - 1w\nPROJECT INTO { seq: e.seq }", rows: []string{}},
	{name: "since", in: `{"select": ["seq"], "since": "2024-01-05T00:00:00Z"}`, eql: "FROM e IN events SINCE \"2024-01-05T00:00:00Z\"\nPROJECT INTO { seq: e.seq }", rows: []string{"4", "6"}},
	{name: "since until", in: `{"select": ["seq"], "since": "2024-01-02", "until": "2024-01-05T12:00:00Z"}`, rows: []string{"2", "3", "6"}},
	{name: "until relative", in: `{"select": ["seq"], "until": ["days_ago", 1]}`, rows: []string{"1", "2", "3", "4", "5", "6"}},

	// Aggregates.
	{name: "count", in: `{"aggregate": {"total": ["count"]}}`, eql: "FROM e IN events\nPROJECT INTO { total: COUNT() }", cols: []string{"total"}, rows: []string{"6"}},
	{name: "group by", in: `{"group_by": ["event_type"], "aggregate": {"n": ["count"]}, "order_by": [["event_type", "asc"]]}`,
		eql:  "FROM e IN events\nGROUP BY e.event_type\nORDER BY e.event_type ASC\nPROJECT INTO { event_type: e.event_type, n: COUNT() }",
		rows: []string{"book.acquired|2", "book.borrowed|2", "book.returned|1", "reader.registered|1"}, ordered: true},
	{name: "aggregates", in: `{"where": ["is_not_null", "payload.price"], "aggregate": {"s": ["sum", "payload.price"], "a": ["avg", "payload.price"], "mi": ["min", "payload.price"],
	  "ma": ["max", "payload.price"], "p": ["percentile", "payload.price", 0.5], "c": ["count", "payload.title"], "m": ["median", "payload.price"]}}`,
		cols: []string{"s", "a", "mi", "ma", "p", "c", "m"}, rows: []string{"28.5|14.25|8.5|20|14.25|2|14.25"}},
	{name: "count distinct", in: `{"aggregate": {"readers": ["count_distinct", "payload.reader"], "subjects": ["count_distinct", "subject"]}}`,
		eql: "FROM e IN events\nPROJECT INTO { readers: COUNT_DISTINCT(e.payload.reader), subjects: COUNT_DISTINCT(e.subject) }", rows: []string{"1|3"}},
	{name: "having and output names", in: `{"group_by": ["subject"], "aggregate": {"n": ["count"]}, "having": [">", "n", 1], "order_by": [["n", "desc"]]}`,
		eql:  "FROM e IN events\nGROUP BY e.subject HAVING COUNT() > 1\nORDER BY COUNT() DESC\nPROJECT INTO { subject: e.subject, n: COUNT() }",
		rows: []string{"book-1|3", "book-2|2"}, ordered: true},
	{name: "group by named", in: `{"group_by": [{"as": "dept", "expr": "payload.department"}], "where": ["is_not_null", "payload.department"], "aggregate": {"cost": ["avg", "payload.price"]}, "order_by": ["dept"]}`,
		cols: []string{"dept", "cost"}, rows: []string{"A|20", "B|8.5"}, ordered: true},
	{name: "select with group by", in: `{"select": [{"as": "s", "expr": ["upper", "subject"]}], "group_by": ["subject"], "aggregate": {"n": ["count"]}}`,
		cols: []string{"s", "n"}, rows: []string{"BOOK-1|3", "BOOK-2|2", "READER-1|1"}},
	{name: "group by without aggregate", in: `{"group_by": ["subject"]}`, rows: []string{"book-1", "book-2", "reader-1"}},
	{name: "aggregate expression", in: `{"aggregate": {"avg_price": ["/", ["sum", "payload.price"], ["count", "payload.price"]]}}`, rows: []string{"14.25"}},
	{name: "order by aggregate expression", in: `{"group_by": ["subject"], "aggregate": {"n": ["count"]}, "order_by": [[["max", "seq"], "desc"]]}`,
		rows: []string{"book-2|2", "reader-1|1", "book-1|3"}, ordered: true},

	// Clauses.
	{name: "order offset limit", in: `{"select": ["seq"], "order_by": [["seq"]], "offset": 1, "limit": 2}`,
		eql: "FROM e IN events\nORDER BY e.seq ASC\nSKIP 1\nTOP 2\nPROJECT INTO { seq: e.seq }", rows: []string{"2", "3"}, ordered: true},
	{name: "order by expression", in: `{"select": ["seq"], "order_by": [[["lower", "entity_id"], "DESC"], "seq"]}`, rows: []string{"5", "3", "6", "1", "2", "4"}, ordered: true},
	{name: "order by output", in: `{"select": [{"as": "d", "expr": "payload.days"}], "where": ["is_not_null", "payload.days"], "order_by": ["d"]}`, rows: []string{"7", "14"}, ordered: true},
	{name: "distinct", in: `{"select": ["payload.reader"], "distinct": true}`, eql: "FROM e IN events\nPROJECT INTO DISTINCT { \"payload.reader\": e.payload.reader }", rows: []string{"NULL", "reader-1"}},
	{name: "not distinct", in: `{"select": ["seq"], "distinct": false, "limit": 0}`, rows: []string{}},

	// Sources.
	{name: "subjects", in: `{"from": "subjects"}`, eql: "FROM s IN subjects\nPROJECT INTO s", rows: []string{"book-1", "book-2", "reader-1"}},
	{name: "subjects select", in: `{"from": "subjects", "where": ["startswith", "subject", "book"], "select": ["entity_id"]}`,
		eql: "FROM s IN subjects\nWHERE STARTSWITH(s, \"book\")\nPROJECT INTO { entity_id: s }", cols: []string{"entity_id"}, rows: []string{"book-1", "book-2"}},
	{name: "eventtypes", in: `{"from": "eventtypes", "where": ["!=", "type", "reader.registered"], "order_by": [["event_type", "desc"]]}`,
		rows: []string{"book.returned", "book.borrowed", "book.acquired"}, ordered: true},
	{name: "eventtypes count", in: `{"from": "eventtypes", "aggregate": {"n": ["count"]}}`, rows: []string{"4"}},
}

func TestDSLCases(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range dslCases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseDSL([]byte(tc.in))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			eql := q.String()
			if tc.eql != "" && eql != tc.eql {
				t.Errorf("EventQL:\n got %s\nwant %s", eql, tc.eql)
			}
			c := checkDSLEquivalent(t, []byte(tc.in))
			if tc.cols != nil && !slices.Equal(c.Columns, tc.cols) {
				t.Errorf("columns %q, want %q", c.Columns, tc.cols)
			}
			cols, rows, err := runSQL(t, c.SQL)
			if err != nil {
				t.Fatalf("run SQL: %v\n%s", err, c.SQL)
			}
			if !slices.Equal(cols, c.Columns) {
				t.Errorf("result columns %q, Columns %q", cols, c.Columns)
			}
			if tc.rows != nil {
				compareRows(t, "SQL", c.SQL, rows, tc.rows, tc.ordered)
			}
			if _, docs, err := runSQL(t, c.DocSQL); err != nil || len(docs) != len(rows) {
				t.Errorf("DocSQL: %d rows (want %d), %v\n%s", len(docs), len(rows), err, c.DocSQL)
			}
		})
	}
}

// checkDSLEquivalent compiles the DSL and the EventQL it prints as, and
// requires the same SQL from both.
func checkDSLEquivalent(t *testing.T, in []byte) *Compiled {
	t.Helper()
	c, err := CompileDSL(in)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	q, _ := ParseDSL(in)
	eql := q.String()
	q2, err := Parse(eql)
	if err != nil {
		t.Fatalf("printed EventQL does not parse: %v\n%s", err, eql)
	}
	if !equalAST(q, q2) {
		t.Errorf("printed EventQL parses to a different AST:\n%s", eql)
	}
	c2, err := CompileString(eql)
	if err != nil {
		t.Fatalf("printed EventQL does not compile: %v\n%s", err, eql)
	}
	if c.SQL != c2.SQL || c.DocSQL != c2.DocSQL || !slices.Equal(c.Columns, c2.Columns) {
		t.Errorf("DSL and EventQL compile differently:\n%s\n%s\n%s", eql, c.SQL, c2.SQL)
	}
	return c
}

func equalAST(a, b *Query) bool { return reflect.DeepEqual(stripPos(a), stripPos(b)) }

type dslErrCase struct {
	name string
	in   string
	err  string // "[line:col:]substring"
}

var dslErrCases = []dslErrCase{
	// JSON.
	{name: "empty", in: ``, err: "1:1:malformed JSON: empty document"},
	{name: "malformed", in: `{"where": [}`, err: `1:12:malformed JSON: unexpected '}'`},
	{name: "unterminated", in: `{"where": "seq`, err: "unterminated string"},
	{name: "trailing data", in: `{} {}`, err: "1:4:after the document"},
	{name: "trailing comma", in: `{"limit": 1,}`, err: "expected a key string"},
	{name: "bad number", in: `{"limit": 01}`, err: "invalid number"},
	{name: "bad literal", in: `{"distinct": tru}`, err: "unexpected 't'"},
	{name: "duplicate key", in: `{"limit": 1, "limit": 2}`, err: `1:14:duplicate key "limit"`},
	{name: "not an object", in: `["=", "seq", 1]`, err: "must be a JSON object, found a list"},
	{name: "nul", in: `{"where": ["=", "entity_id", "a\u0000"]}`, err: "must not contain NUL"},
	{name: "lone surrogate", in: `{"where": ["=", "entity_id", "\ud800x"]}`, err: "invalid surrogate"},
	{name: "invalid utf8", in: "{\"where\": [\"=\", \"entity_id\", \"\xff\"]}", err: "invalid UTF-8"},
	{name: "control char", in: "{\"where\": \"a\tb\"}", err: "control character"},
	{name: "bad escape", in: `{"where": "\x"}`, err: `invalid escape \x`},
	{name: "too deep", in: `{"where": ` + strings.Repeat(`["not", `, 70) + "true" + strings.Repeat("]", 70) + "}", err: "nested too deeply"},

	// Shape.
	{name: "unknown key", in: `{"selct": ["seq"]}`, err: `1:2:unknown key "selct" (did you mean select?)`},
	{name: "unknown key camel", in: `{"groupBy": ["seq"]}`, err: `did you mean group_by?`},
	{name: "from type", in: `{"from": 1}`, err: "from: expected a string, found a number"},
	{name: "unknown source", in: `{"from": "evnts"}`, err: `from: unknown source "evnts" (did you mean events?)`},
	{name: "select not list", in: `{"select": "seq"}`, err: "select: expected a list, found a string"},
	{name: "select empty", in: `{"select": []}`, err: "select: needs at least one item"},
	{name: "select number", in: `{"select": [1]}`, err: `1:13:select[0]: expected a field name or {"as": name, "expr": expression}, found a number`},
	{name: "select unknown item key", in: `{"select": [{"as": "x", "exp": "seq"}]}`, err: `select[0]: unknown key "exp" (did you mean expr?)`},
	{name: "select missing expr", in: `{"select": [{"as": "x"}]}`, err: `1:13:select[0]: expected {"as": name, "expr": expression}`},
	{name: "select empty name", in: `{"select": [{"as": "", "expr": "seq"}]}`, err: "select[0].as: expected a non-empty name"},
	{name: "aggregate not object", in: `{"aggregate": ["count"]}`, err: "aggregate: expected an object"},
	{name: "aggregate empty", in: `{"aggregate": {}}`, err: "aggregate: needs at least one aggregate"},
	{name: "aggregate string", in: `{"aggregate": {"n": "count"}}`, err: `aggregate.n: expected an aggregate such as ["count"]`},
	{name: "limit string", in: `{"limit": "10"}`, err: `limit: must be a non-negative integer, found "10"`},
	{name: "limit float", in: `{"limit": 1.5}`, err: "1:11:limit: must be a non-negative integer, found 1.5"},
	{name: "limit negative", in: `{"limit": -1}`, err: "limit: must be a non-negative integer, found -1"},
	{name: "limit exponent", in: `{"limit": 1e3}`, err: "limit: must be a non-negative integer"},
	{name: "limit huge", in: `{"limit": 99999999999999999999}`, err: "limit: 99999999999999999999 is too large"},
	{name: "offset bool", in: `{"offset": true}`, err: "offset: must be a non-negative integer, found true"},
	{name: "distinct string", in: `{"distinct": "yes"}`, err: "distinct: expected true or false, found a string"},
	{name: "order not list", in: `{"order_by": "seq"}`, err: "order_by: expected a list"},
	{name: "order direction", in: `{"order_by": [["seq", "up"]]}`, err: `order_by[0][1]: the direction must be "asc" or "desc", found "up"`},
	{name: "order expression without pair", in: `{"order_by": [["lower", "entity_id"]]}`, err: `order_by[0][1]: the direction must be "asc" or "desc", found "entity_id"`},
	{name: "order too long", in: `{"order_by": [["seq", "asc", 1]]}`, err: "order_by[0]: expected [key] or [key"},
	{name: "having without group", in: `{"aggregate": {"n": ["count"]}, "having": [">", "n", 1]}`, err: "having: having needs group_by"},

	// Expressions.
	{name: "unknown operator", in: `{"where": ["and", ["=", "seq", 1], ["==", "seq", 2]]}`, err: `1:36:where[2]: unknown operator "==" (did you mean =?)`},
	{name: "unknown operator nested", in: `{"where": ["and", ["or", ["=", "seq", 1], ["eq", "seq", 2]]]}`, err: `where[1][2]: unknown operator "eq"`},
	{name: "unknown function name", in: `{"where": ["lowr", "entity_id"]}`, err: `where: unknown operator "lowr" (did you mean lower?)`},
	{name: "fn unknown function", in: `{"where": ["fn", "lowr", "entity_id"]}`, err: `where[1]: unknown function "lowr" (did you mean lower?)`},
	{name: "fn name type", in: `{"where": ["fn", 1]}`, err: `where[1]: expected a function name, found a number`},
	{name: "operator not string", in: `{"where": [1, 2]}`, err: "where: expected an operator name first, found a number"},
	{name: "empty expression", in: `{"where": []}`, err: "where: empty expression"},
	{name: "object expression", in: `{"where": {"=": ["seq", 1]}}`, err: "where: expected an expression, found an object"},
	{name: "arity compare", in: `{"where": ["=", "seq"]}`, err: `where: "=" takes 2 operands, got 1`},
	{name: "arity not", in: `{"where": ["not", "payload.a", "payload.b"]}`, err: `where: "not" takes 1 operand, got 2`},
	{name: "arity and", in: `{"where": ["and"]}`, err: `where: "and" takes at least 1 operand, got 0`},
	{name: "arity minus", in: `{"select": [{"as": "x", "expr": ["-", 1, 2, 3]}]}`, err: `select[0].expr: "-" takes 1 or 2 operands, got 3`},
	{name: "arity function", in: `{"where": ["lower", "entity_id", "x"]}`, err: "where: LOWER takes 1 argument, got 2"},
	{name: "unknown field", in: `{"where": ["=", "evnt_type", "x"]}`, err: `1:17:where[1]: unknown field "evnt_type" (did you mean event_type?)`},
	{name: "unknown field no suggestion", in: `{"where": ["=", "customer", "x"]}`, err: `unknown field "customer" (write ["literal", "…"] for a string constant)`},
	{name: "unknown field in select", in: `{"select": ["paylod.x"]}`, err: `select[0]: unknown field "paylod.x" (did you mean payload?)`},
	{name: "unknown vendor field", in: `{"select": ["hash"]}`, err: `select[0]: unknown field "hash"`},
	{name: "bad field part", in: `{"select": ["payload.a-b"]}`, err: `select[0]: invalid field name "payload.a-b"`},
	{name: "empty field part", in: `{"select": ["payload."]}`, err: `invalid field name`},
	{name: "field on scalar", in: `{"select": ["timestamp.x"]}`, err: "select[0]: e.timestamp is a DATETIME and has no field x"},
	{name: "subjects field", in: `{"from": "subjects", "where": ["=", "event_type", "x"]}`, err: `where[1]: unknown field "event_type"`},
	{name: "field operand type", in: `{"where": ["field", 1]}`, err: "where[1]: expected a field name, found a number"},
	{name: "literal list", in: `{"where": ["=", "seq", ["literal", [1]]]}`, err: "where[2][1]: expected a string, number, boolean or null, found a list"},
	{name: "in not list", in: `{"where": ["in", "seq", 1]}`, err: "where[2]: expected a list of values, found a number"},
	{name: "in mixed", in: `{"where": ["in", "seq", [1, "a"]]}`, err: "where[2][1]: array elements must have one type"},
	{name: "cast type", in: `{"select": [{"as": "x", "expr": ["cast", "seq", 5]}]}`, err: "select[0].expr[2]: expected a type name, found 5"},
	{name: "cast unknown type", in: `{"select": [{"as": "x", "expr": ["cast", "seq", "strng"]}]}`, err: "select[0].expr: unknown type STRNG (did you mean STRING?)"},
	{name: "ago format", in: `{"where": [">", "time", ["ago", "7 days"]]}`, err: `where[2][1]: expected a duration such as "30s"`},
	{name: "days ago negative", in: `{"where": [">", "time", ["days_ago", -1]]}`, err: "where[2][1]: expected a non-negative integer, found -1"},
	{name: "days ago float", in: `{"where": [">", "time", ["days_ago", 1.5]]}`, err: "expected a non-negative integer, found 1.5"},

	// Static checks, reported at the JSON path.
	{name: "aggregate in where", in: `{"where": [">", ["count"], 1]}`, err: "1:17:where[1]: aggregate function COUNT is not allowed in WHERE"},
	{name: "aggregate in group by", in: `{"group_by": [{"as": "n", "expr": ["count"]}]}`, err: "group_by[0].expr: aggregate function COUNT is not allowed in GROUP BY"},
	{name: "type mismatch", in: `{"where": ["=", "seq", "a"]}`, err: "where: cannot compare NUMBER with STRING"},
	{name: "where not boolean", in: `{"where": "seq"}`, err: "where: WHERE must be a boolean expression, found NUMBER"},
	{name: "not grouped", in: `{"select": ["subject"], "aggregate": {"n": ["count"]}}`, err: "select[0]: e.subject must appear in GROUP BY"},
	{name: "duplicate output", in: `{"group_by": ["seq"], "select": [{"as": "n", "expr": "seq"}], "aggregate": {"n": ["count"]}}`, err: "aggregate.n: duplicate key n"},
	{name: "percentile fraction", in: `{"aggregate": {"p": ["percentile", "seq", 2]}}`, err: "aggregate.p[2]: PERCENTILE needs a constant fraction"},
	{name: "nested aggregate", in: `{"aggregate": {"p": ["sum", ["count"]]}}`, err: "aggregate.p[1]: aggregate function COUNT cannot be nested"},
	{name: "since on subjects", in: `{"from": "subjects", "since": "2024-01-01"}`, err: "since: SINCE applies only to an events source"},
	{name: "since invalid", in: `{"since": "yesterday"}`, err: `since: invalid time "yesterday"`},
	{name: "error line and column", in: "{\n  \"where\": [\"=\", \"evnt_type\", 1]\n}", err: `2:18:where[1]: unknown field "evnt_type"`},
	{name: "error column counts characters", in: `{"select": ["é", "x"]}`, err: `1:13:select[0]: unknown field "é"`},
}

func TestDSLErrors(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range dslErrCases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			c, err := CompileDSL([]byte(tc.in))
			if err == nil {
				t.Fatalf("want error %q, compiled to %s", tc.err, c.SQL)
			}
			checkErr(t, err, tc.err)
		})
	}
}

// TestDSLGolden prints testdata/dsl/*.json as EventQL, compares with the
// .eql beside it, and checks that both compile to the same SQL and run.
func TestDSLGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/dsl/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no DSL examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseDSL(in)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := q.String() + "\n"
			out := strings.TrimSuffix(f, ".json") + ".eql"
			if *update {
				if err := os.WriteFile(out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDSLGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs:\n got %s\nwant %s", out, got, want)
			}
			c := checkDSLEquivalent(t, in)
			if _, _, err := runSQL(t, c.SQL); err != nil {
				t.Errorf("run SQL: %v", err)
			}
		})
	}
}

// FuzzParseDSL checks that the DSL never panics, that its errors are
// *Error, and that a query it accepts prints as EventQL that parses to the
// same AST and compiles to the same SQL.
func FuzzParseDSL(f *testing.F) {
	files, _ := filepath.Glob("testdata/dsl/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, tc := range dslCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range dslErrCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var e *Error
		c, cerr := CompileDSL(in)
		if cerr != nil && !errors.As(cerr, &e) {
			t.Fatalf("CompileDSL error %T: %v", cerr, cerr)
		}
		q, err := ParseDSL(in)
		if err != nil {
			if !errors.As(err, &e) {
				t.Fatalf("ParseDSL error %T: %v", err, err)
			}
			return
		}
		eql := q.String()
		q2, err := Parse(eql)
		if err != nil {
			t.Fatalf("printed EventQL does not parse: %v\n%s", err, eql)
		}
		if !equalAST(q, q2) {
			t.Fatalf("printed EventQL parses to a different AST:\n%s", eql)
		}
		c2, err2 := Compile(q2)
		if (cerr == nil) != (err2 == nil) {
			t.Fatalf("DSL error %v, EventQL error %v\n%s", cerr, err2, eql)
		}
		if cerr == nil && (c.SQL != c2.SQL || c.DocSQL != c2.DocSQL) {
			t.Fatalf("DSL and EventQL compile differently:\n%s", eql)
		}
	})
}
