package eventql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type tcase struct {
	name string
	in   string
	rows []string // expected SQL rows ("|"-joined), sorted unless ordered
	docs []string // expected DocSQL rows
	cols []string // expected Columns
	sql  string   // substring expected in SQL
	err  string   // "line:col:substring"
	// ordered: compare rows in order (the query has ORDER BY).
	ordered bool
}

var cases = []tcase{
	// Sources and projections.
	{name: "all events", in: `FROM e IN events PROJECT INTO e.seq`, rows: []string{"1", "2", "3", "4", "5", "6"}, cols: []string{"value"}},
	{name: "event columns", in: `FROM e IN events WHERE e.seq == 2 PROJECT INTO e`,
		cols: eventColumns,
		rows: []string{`2|00000000-0000-0000-0000-000000000002|t1|book-1|book.borrowed|2|2024-01-02T10:00:00Z|2024-01-02T10:00:01Z|{"days":14,"reader":"reader-1"}|{"correlation_id":"c2"}`},
		docs: []string{`{"specversion":"1.0","id":"00000000-0000-0000-0000-000000000002","time":"2024-01-02T10:00:00.000000Z","source":"allsource","subject":"book-1","type":"book.borrowed","datacontenttype":"application/json","data":{"reader":"reader-1","days":14},"seq":2,"version":2,"tenant":"t1","metadata":{"correlation_id":"c2"}}`}},
	{name: "record", in: `FROM e IN events WHERE e.type == "book.acquired" PROJECT INTO { id: e.subject, title: e.data.title, price: e.data.price }`,
		cols: []string{"id", "title", "price"},
		rows: []string{"book-1|Dune|20", "book-2|Emma|8.5"},
		docs: []string{`{"id":"book-1","title":"Dune","price":20}`, `{"id":"book-2","title":"Emma","price":8.5}`}},
	{name: "scalar doc", in: `FROM e IN events WHERE e.seq <= 2 PROJECT INTO e.data.title`, docs: []string{`"Dune"`, `null`}},
	{name: "nested record and array", in: `FROM e IN events WHERE e.seq == 5 PROJECT INTO { who: { name: e.data.name, city: e.data.address.city }, list: [1, 2], at: e.time, n: null }`,
		docs: []string{`{"who":{"name":"Ann","city":"Berlin"},"list":[1,2],"at":"2024-01-01T09:00:00.000000Z","n":null}`}},
	{name: "our field names", in: `FROM e IN events WHERE e.entity_id == "reader-1" PROJECT INTO { t: e.event_type, v: e.version, ten: e.tenant_id, m: e.metadata.correlation_id, p: e.payload.age, ts: e.timestamp, i: e.ingested_at }`,
		rows: []string{"reader.registered|1|t1|c1|34|2024-01-01T09:00:00Z|2024-01-01T09:00:01Z"}},
	{name: "vendor constants", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO { s: e.source, v: e.specversion, c: e.datacontenttype, id: e.id }`,
		rows: []string{"allsource|1.0|application/json|00000000-0000-0000-0000-000000000001"}},
	{name: "subjects", in: `FROM s IN subjects PROJECT INTO s`, rows: []string{"book-1", "book-2", "reader-1"}, docs: []string{`"book-1"`, `"book-2"`, `"reader-1"`}},
	{name: "eventtypes", in: `FROM t IN eventtypes WHERE STARTSWITH(t, "book.") PROJECT INTO { type: t }`, rows: []string{"book.acquired", "book.borrowed", "book.returned"}},
	{name: "subquery record", in: `FROM x IN (FROM e IN events WHERE e.type == "book.acquired" PROJECT INTO { id: e.subject, value: e.data.price }) WHERE x.value > 10 PROJECT INTO x`,
		cols: []string{"id", "value"}, rows: []string{"book-1|20"}},
	{name: "subquery shadows name", in: `FROM e IN (FROM e IN events WHERE e.type == "book.acquired" PROJECT INTO { orderId: e.data.title, value: e.data.price }) WHERE e.value > 10 PROJECT INTO e.orderId`,
		rows: []string{"Dune"}},
	{name: "subquery events", in: `FROM x IN (FROM e IN events WHERE e.seq < 3 PROJECT INTO e) WHERE x.data.days == 14 PROJECT INTO x.seq`, rows: []string{"2"}},
	{name: "subquery scalar", in: `FROM x IN (FROM e IN events PROJECT INTO e.data.price) WHERE x > 10 PROJECT INTO x`, rows: []string{"20"}},
	{name: "join streams", in: `FROM b IN events FROM r IN events WHERE b.type == "book.borrowed" AND r.type == "reader.registered" AND b.data.reader == r.subject PROJECT INTO { book: b.subject, reader: r.data.name }`,
		rows: []string{"book-1|Ann", "book-2|Ann"}},
	{name: "join subjects", in: `FROM s IN subjects FROM e IN events WHERE e.subject == s AND e.version == 1 AND s != "reader-1" PROJECT INTO e.type`, rows: []string{"book.acquired", "book.acquired"}},

	// Operators.
	{name: "and or precedence", in: `FROM e IN events WHERE e.data.foo == "x" AND e.seq == 1 OR e.seq == 2 PROJECT INTO e.seq`, rows: []string{"2"}},
	{name: "xor", in: `FROM e IN events WHERE e.seq < 3 XOR e.subject == "book-1" PROJECT INTO e.seq`, rows: []string{"4"}},
	{name: "not", in: `FROM e IN events WHERE NOT e.subject == "book-1" AND NOT (e.seq > 5) PROJECT INTO e.seq`, rows: []string{"3", "5"}},
	{name: "arithmetic", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO { a: e.data.price * 2 + 1, b: (e.seq + 1) / 4, c: -e.seq, d: 7 - 2 - 1 }`, rows: []string{"41|0.5|-1|4"}},
	{name: "payload numeric compare", in: `FROM e IN events WHERE e.data.price >= 8.5 PROJECT INTO e.seq`, rows: []string{"1", "3"}},
	{name: "payload bool context", in: `FROM e IN events WHERE e.data.premium PROJECT INTO e.seq`, rows: []string{"5"}},
	{name: "payload bool compare", in: `FROM e IN events WHERE e.data.late == false PROJECT INTO e.seq`, rows: []string{"4"}},
	{name: "payload vs payload", in: `FROM a IN events FROM b IN events WHERE a.data.reader == b.data.reader AND a.seq < b.seq PROJECT INTO { a: a.seq, b: b.seq }`, rows: []string{"2|4", "2|6", "4|6"}},
	{name: "null compare", in: `FROM e IN events WHERE e.data.title == null AND e.data.note != null PROJECT INTO e.seq`, rows: []string{}},
	{name: "null compare missing", in: `FROM e IN events WHERE e.data.title != null PROJECT INTO e.seq`, rows: []string{"1", "3"}},
	{name: "contains literal", in: `FROM e IN events WHERE [1, 2, 3] CONTAINS e.seq PROJECT INTO e.seq`, rows: []string{"1", "2", "3"}},
	{name: "contains payload literal array", in: `FROM e IN events WHERE [20, 7] CONTAINS e.data.price PROJECT INTO e.seq`, rows: []string{"1"}},
	{name: "contains field", in: `FROM e IN events WHERE e.data.tags CONTAINS "scifi" PROJECT INTO e.seq`, rows: []string{"1"}},
	{name: "contains field number", in: `FROM e IN events WHERE e.data.ratings CONTAINS 3 PROJECT INTO e.seq`, rows: []string{"3"}},
	{name: "string contains array", in: `FROM e IN events WHERE ["book-2", "reader-1"] CONTAINS e.subject PROJECT INTO e.seq`, rows: []string{"3", "5", "6"}},
	{name: "cast", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO { s: e.seq AS STRING, i: e.data.price AS INT, f: "2.5" AS FLOAT, b: "true" AS BOOLEAN, t: "2024-03-01T00:00:00Z" AS DATETIME, d: e.time AS DATE, ts: e.time AS STRING }`,
		rows: []string{"1|20|2.5|true|2024-03-01T00:00:00Z|2024-01-01T00:00:00Z|2024-01-01T10:00:00.000000Z"}},
	{name: "cast weird case", in: `FROM e IN events WHERE e.seq == 3 PROJECT INTO { p: e.data.price as Int }`, rows: []string{"8"}},
	{name: "cast payload string", in: `FROM e IN events WHERE e.data.days AS STRING == "7" PROJECT INTO e.seq`, rows: []string{"6"}},
	{name: "time literal compare", in: `FROM e IN events WHERE e.time > "2024-01-04T00:00:00Z" PROJECT INTO e.seq`, rows: []string{"4", "6"}},
	{name: "date literal compare", in: `FROM e IN events WHERE e.time < "2024-01-02" PROJECT INTO e.seq`, rows: []string{"1", "5"}},

	// Functions.
	{name: "math", in: `FROM e IN events WHERE e.seq == 3 PROJECT INTO { a: ABS(-2), c: CEIL(e.data.price), f: FLOOR(e.data.price), r: ROUND(2.567, 2), r0: ROUND(e.data.price), p: POW(2, 10), s: SQRT(16) }`,
		rows: []string{"2|9|8|2.57|9|1024|4"}},
	{name: "strings", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO { l: LOWER(e.data.title), u: UPPER(e.type), t: TRIM("  x "), lt: LTRIM(" x"), rt: RTRIM("x "), n: LEN(e.data.title), s: SUBSTRING(e.type, 1, 4), rp: REPLACE(e.type, ".", "/"), sw: STARTSWITH(e.subject, "book"), ew: ENDSWITH(e.subject, "-1") }`,
		rows: []string{"dune|BOOK.ACQUIRED|x|x|x|4|book|book/acquired|true|true"}},
	{name: "lowercase function", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO upper(e.data.title)`, rows: []string{"DUNE"}},
	{name: "dates", in: `FROM e IN events WHERE e.seq == 6 PROJECT INTO { y: YEAR(e.time), m: MONTH(e.time), d: DAY(e.time), h: HOUR(e.time), mi: MINUTE(e.time), s: SECOND(e.time), w: WEEKDAY(e.time) }`,
		rows: []string{"2024|1|5|12|0|0|5"}},
	{name: "now", in: `FROM e IN events WHERE e.data.date > NOW() OR e.time < NOW() - 1w PROJECT INTO e.seq`, rows: []string{"1", "2", "3", "4", "5", "6"}},
	{name: "if", in: `FROM e IN events WHERE e.seq <= 2 PROJECT INTO IF(e.seq == 1, "first", e.type)`, rows: []string{"book.borrowed", "first"}},
	{name: "if json", in: `FROM e IN events WHERE e.seq <= 2 PROJECT INTO IF(e.seq == 1, e.data.title, e.data.reader)`, docs: []string{`"Dune"`, `"reader-1"`}},

	// Aggregates.
	{name: "count all", in: `FROM e IN events PROJECT INTO { total: COUNT() }`, rows: []string{"6"}, docs: []string{`{"total":6}`}},
	{name: "count predicate", in: `FROM e IN events PROJECT INTO { voters: COUNT(e.data.days > 10) }`, rows: []string{"1"}},
	{name: "count values", in: `FROM e IN events PROJECT INTO COUNT(e.data.reader)`, rows: []string{"3"}},
	{name: "group by", in: `FROM e IN events GROUP BY e.type ORDER BY e.type PROJECT INTO { type: e.type, n: COUNT() }`, ordered: true,
		rows: []string{"book.acquired|2", "book.borrowed|2", "book.returned|1", "reader.registered|1"}},
	{name: "group by payload with unique", in: `FROM e IN events WHERE e.data.department != null GROUP BY e.data.department PROJECT INTO { department: UNIQUE(e.data.department), cost: AVG(e.data.price), d: e.data.department }`,
		rows: []string{"A|20|A", "B|8.5|B"}},
	{name: "group by function of key", in: `FROM e IN events GROUP BY e.subject PROJECT INTO { s: UPPER(e.subject), n: COUNT() }`,
		rows: []string{"BOOK-1|3", "BOOK-2|2", "READER-1|1"}},
	{name: "having", in: `FROM e IN events GROUP BY e.subject HAVING COUNT() > 1 ORDER BY COUNT() DESC PROJECT INTO { s: e.subject, n: COUNT() }`, ordered: true,
		rows: []string{"book-1|3", "book-2|2"}},
	{name: "aggregates", in: `FROM e IN events WHERE e.data.price != null PROJECT INTO { s: SUM(e.data.price), a: AVG(e.data.price), mi: MIN(e.data.price), ma: MAX(e.data.price), me: MEDIAN(e.data.price), p: PERCENTILE(e.data.price, 0.5), v: VARIANCE(e.data.price), sd: STDDEV(e.data.price) }`,
		rows: []string{"28.5|14.25|8.5|20|14.25|14.25|66.125|8.13173"}},
	{name: "min max time", in: `FROM e IN events PROJECT INTO { first: MIN(e.time), last: MAX(e.time) }`, rows: []string{"2024-01-01T09:00:00Z|2024-01-10T10:00:00Z"},
		docs: []string{`{"first":"2024-01-01T09:00:00.000000Z","last":"2024-01-10T10:00:00.000000Z"}`}},
	{name: "count distinct", in: `FROM e IN events PROJECT INTO { readers: COUNT_DISTINCT(e.data.reader), types: COUNT_DISTINCT(e.type), none: COUNT_DISTINCT(null) }`, rows: []string{"1|4|0"}},
	{name: "unique ambiguous", in: `FROM e IN events PROJECT INTO UNIQUE(e.subject)`, rows: []string{"NULL"}},
	{name: "group by two", in: `FROM e IN events GROUP BY e.subject, e.type HAVING e.subject == "book-1" PROJECT INTO { t: e.type, n: COUNT() }`, rows: []string{"book.acquired|1", "book.borrowed|1", "book.returned|1"}},

	// Clauses.
	{name: "order top", in: `FROM e IN events ORDER BY e.time DESC TOP 2 PROJECT INTO e.seq`, ordered: true, rows: []string{"4", "6"}},
	{name: "order skip limit", in: `FROM e IN events ORDER BY e.seq SKIP 1 LIMIT 2 PROJECT INTO e.seq`, ordered: true, rows: []string{"2", "3"}},
	{name: "skip only", in: `FROM e IN events ORDER BY e.seq ASC SKIP 4 PROJECT INTO e.seq`, ordered: true, rows: []string{"5", "6"}},
	{name: "order json numeric", in: `FROM e IN events WHERE e.data.days != null ORDER BY e.data.days PROJECT INTO e.data.days`, ordered: true, rows: []string{"7", "14"}},
	{name: "order before group (vendor order)", in: `FROM e IN events ORDER BY e.subject GROUP BY e.subject PROJECT INTO { s: e.subject }`, ordered: true, rows: []string{"book-1", "book-2", "reader-1"}},
	{name: "distinct", in: `FROM e IN events PROJECT INTO DISTINCT e.data.reader`, rows: []string{"NULL", "reader-1"}},
	{name: "distinct record ordered", in: `FROM e IN events ORDER BY e.subject PROJECT INTO DISTINCT { s: e.subject }`, ordered: true, rows: []string{"book-1", "book-2", "reader-1"}},
	{name: "comments and case", in: "// all\nfrom e in EVENTS /* block\ncomment */ where e.seq == 1 project into e.seq // end", rows: []string{"1"}},
	{name: "single quotes and escapes", in: `FROM e IN events WHERE e.subject == 'book-1' AND "it's \"q\"" != "" PROJECT INTO e.seq`, rows: []string{"1", "2", "4"}},
	{name: "string escaping in SQL", in: `FROM e IN events WHERE e.subject == "x'); DROP TABLE raw_events; --" PROJECT INTO e.seq`, rows: []string{}, sql: `'x''); DROP TABLE raw_events; --'`},
	{name: "quoted keys", in: `FROM e IN events WHERE e.seq == 1 PROJECT INTO { "a b": 1, "x\"y": 2 }`, cols: []string{"a b", `x"y`}, rows: []string{"1|2"}},

	// Extensions: time clauses.
	{name: "since", in: `FROM e IN events SINCE "2024-01-05T00:00:00Z" PROJECT INTO e.seq`, rows: []string{"4", "6"}, sql: `"e"."timestamp" >= TIMESTAMPTZ '2024-01-05 00:00:00+00'`},
	{name: "until", in: `FROM e IN events UNTIL "2024-01-01T10:00:00Z" PROJECT INTO e.seq`, rows: []string{"1", "5"}},
	{name: "at", in: `FROM e IN events AT "2024-01-02" WHERE e.subject == "book-1" PROJECT INTO COUNT()`, rows: []string{"1"}},
	{name: "between", in: `FROM e IN events BETWEEN "2024-01-02" AND "2024-01-05T12:00:00Z" PROJECT INTO e.seq`, rows: []string{"2", "3", "6"}},
	{name: "since relative", in: `FROM e IN events SINCE NOW() - 7d PROJECT INTO e.seq`, rows: []string{}, sql: `"e"."timestamp" >= (now() - INTERVAL '7 days')`},
	{name: "relative units", in: `FROM e IN events SINCE NOW() - 30s UNTIL NOW() + 2h WHERE e.time > NOW() - 5m OR e.time < NOW() - 1w PROJECT INTO COUNT()`, rows: []string{"0"}},

	// Syntax errors.
	{name: "err empty", in: ``, err: "1:1:expected FROM"},
	{name: "err no project", in: `FROM e IN events`, err: "1:17:expected WHERE, GROUP BY"},
	{name: "err single equals", in: "FROM e IN events\nWHERE e.seq = 1 PROJECT INTO e", err: "2:13:use == for equality"},
	{name: "err bang", in: `FROM e IN events WHERE !e PROJECT INTO e`, err: "1:24:use NOT"},
	{name: "err unknown source", in: `FROM e IN evnts PROJECT INTO e`, err: "1:11:unknown source evnts (did you mean events?)"},
	{name: "err binding reserved", in: `FROM where IN events PROJECT INTO e`, err: "1:6:expected a binding name"},
	{name: "err unterminated string", in: `FROM e IN events WHERE e.type == "abc PROJECT INTO e`, err: "1:34:unterminated string"},
	{name: "err unterminated comment", in: `FROM e IN events /* PROJECT INTO e`, err: "1:18:unterminated block comment"},
	{name: "err bad escape", in: `FROM e IN events WHERE e.type == "a\qb" PROJECT INTO e`, err: "1:36:invalid escape"},
	{name: "err trailing", in: `FROM e IN events PROJECT INTO e e`, err: "1:33:expected end of query"},
	{name: "err duplicate clause", in: `FROM e IN events WHERE true WHERE true PROJECT INTO e`, err: "1:29:duplicate WHERE"},
	{name: "err having without group", in: `FROM e IN events HAVING true PROJECT INTO e`, err: "1:18:HAVING without GROUP BY"},
	{name: "err missing paren", in: `FROM e IN events WHERE (e.seq == 1 PROJECT INTO e`, err: `1:36:expected ")"`},
	{name: "err bad char", in: `FROM e IN events WHERE e.seq == 1 ; PROJECT INTO e`, err: "1:35:unexpected character"},
	{name: "err number suffix", in: `FROM e IN events WHERE e.seq == 1x PROJECT INTO e`, err: "1:34:after number"},
	{name: "err missing into", in: `FROM e IN events PROJECT e`, err: "1:26:expected INTO"},
	{name: "err record key", in: `FROM e IN events PROJECT INTO { 1: e }`, err: "1:33:expected a record key"},
	{name: "err deep nesting", in: `FROM e IN events PROJECT INTO ` + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), err: "nested too deeply"},

	// Static errors.
	{name: "err unknown field", in: "FROM e IN events\nWHERE e.dta.x == 1 PROJECT INTO e", err: "2:7:unknown field e.dta (did you mean e.data?)"},
	{name: "err unknown field typo type", in: `FROM e IN events WHERE e.tpye == "x" PROJECT INTO e`, err: "1:24:did you mean e.type?"},
	{name: "err unknown binding", in: `FROM e IN events WHERE f.type == "x" PROJECT INTO e`, err: "1:24:unknown binding f"},
	{name: "err unknown binding suggestion", in: `FROM ev IN events WHERE e.type == "x" PROJECT INTO ev`, err: "1:25:unknown binding e (did you mean ev?)"},
	{name: "err unknown function", in: `FROM e IN events PROJECT INTO { x: LOWR(e.type) }`, err: "1:36:unknown function LOWR (did you mean LOWER?)"},
	{name: "err arity", in: `FROM e IN events PROJECT INTO { x: LOWER(e.type, "a") }`, err: "1:36:LOWER takes 1 argument, got 2"},
	{name: "err arity percentile", in: `FROM e IN events PROJECT INTO { x: PERCENTILE(e.seq) }`, err: "1:36:PERCENTILE takes 2 arguments"},
	{name: "err percentile fraction", in: `FROM e IN events PROJECT INTO { x: PERCENTILE(e.seq, 2) }`, err: "1:54:between 0 and 1"},
	{name: "err where not boolean", in: `FROM e IN events WHERE e.seq + 1 PROJECT INTO e`, err: "1:30:WHERE must be a boolean expression, found NUMBER"},
	{name: "err where string", in: `FROM e IN events WHERE e.type PROJECT INTO e`, err: "1:24:WHERE must be a boolean"},
	{name: "err agg in where", in: `FROM e IN events WHERE COUNT() > 1 PROJECT INTO e`, err: "1:24:aggregate function COUNT is not allowed in WHERE"},
	{name: "err agg in group by", in: `FROM e IN events GROUP BY COUNT() PROJECT INTO { n: COUNT() }`, err: "1:27:not allowed in GROUP BY"},
	{name: "err nested agg", in: `FROM e IN events PROJECT INTO { n: SUM(COUNT()) }`, err: "1:40:cannot be nested"},
	{name: "err mixed agg", in: `FROM e IN events PROJECT INTO { n: COUNT(), t: e.type }`, err: "1:48:e.type must appear in GROUP BY"},
	{name: "err group not matching", in: `FROM e IN events GROUP BY e.type PROJECT INTO { s: e.subject, n: COUNT() }`, err: "1:52:e.subject must appear in GROUP BY"},
	{name: "err group project e", in: `FROM e IN events GROUP BY e.name HAVING e.name != "foo" PROJECT INTO e`, err: "1:27:unknown field e.name"},
	{name: "err group project event", in: `FROM e IN events GROUP BY e.type PROJECT INTO e`, err: "1:47:e must appear in GROUP BY"},
	{name: "err having ungrouped", in: `FROM e IN events GROUP BY e.type HAVING e.seq > 1 PROJECT INTO { n: COUNT() }`, err: "1:41:e.seq must appear in GROUP BY"},
	{name: "err top negative", in: `FROM e IN events TOP -1 PROJECT INTO e`, err: "1:22:TOP must be a non-negative integer"},
	{name: "err top float", in: `FROM e IN events TOP 1.5 PROJECT INTO e`, err: "1:22:TOP must be a non-negative integer"},
	{name: "err skip expr", in: `FROM e IN events SKIP e.seq PROJECT INTO e`, err: "1:23:SKIP must be a non-negative integer"},
	{name: "err duplicate binding", in: `FROM e IN events FROM e IN events PROJECT INTO e`, err: "1:23:binding e is already declared"},
	{name: "err duplicate key", in: `FROM e IN events PROJECT INTO { a: 1, a: 2 }`, err: "1:39:duplicate key a"},
	{name: "err empty record", in: `FROM e IN events PROJECT INTO {}`, err: "1:31:at least one field"},
	{name: "err type mismatch compare", in: `FROM e IN events WHERE e.seq == "a" PROJECT INTO e`, err: "1:30:cannot compare NUMBER with STRING"},
	{name: "err arithmetic string", in: `FROM e IN events PROJECT INTO e.type + 1`, err: "1:31:expected NUMBER, found STRING"},
	{name: "err not number", in: `FROM e IN events WHERE NOT e.seq PROJECT INTO e`, err: "1:28:expected BOOLEAN, found NUMBER"},
	{name: "err unknown type", in: `FROM e IN events PROJECT INTO e.seq AS STRNG`, err: "1:37:unknown type STRNG (did you mean STRING?)"},
	{name: "err contains non array", in: `FROM e IN events WHERE e.seq CONTAINS 1 PROJECT INTO e`, err: "1:24:CONTAINS needs an array"},
	{name: "err contains elem type", in: `FROM e IN events WHERE [1, 2] CONTAINS e.type PROJECT INTO e`, err: "1:40:needs a NUMBER, found STRING"},
	{name: "err mixed array", in: `FROM e IN events PROJECT INTO [1, "a"]`, err: "1:35:array elements must have one type"},
	{name: "err invalid time", in: `FROM e IN events WHERE e.time > "yesterday" PROJECT INTO e`, err: "1:33:invalid time"},
	{name: "err since on subjects", in: `FROM s IN subjects SINCE "2024-01-01" PROJECT INTO s`, err: "1:20:SINCE applies only to an events source"},
	{name: "err since non time", in: `FROM e IN events SINCE 5 PROJECT INTO e`, err: "1:24:SINCE needs a time, found NUMBER"},
	{name: "err since ref", in: `FROM e IN events SINCE e.time PROJECT INTO e`, err: "1:24:SINCE takes a constant time"},
	{name: "err duration math", in: `FROM e IN events PROJECT INTO e.seq + 1d`, err: "1:37:duration"},
	{name: "err field on string", in: `FROM s IN subjects PROJECT INTO s.name`, err: "1:33:s is a STRING and has no field name"},
	{name: "err subquery field", in: `FROM x IN (FROM e IN events PROJECT INTO { a: e.seq }) PROJECT INTO x.b`, err: "1:69:unknown field x.b"},
	{name: "err subquery error position", in: "FROM x IN (\n  FROM e IN events\n  WHERE e.sq == 1\n  PROJECT INTO e)\nPROJECT INTO x", err: "3:9:did you mean e.seq?"},
	{name: "err bool ordering", in: `FROM e IN events WHERE true < false PROJECT INTO e`, err: "1:29:booleans can only be compared"},
	{name: "err null ordering", in: `FROM e IN events WHERE e.seq < null PROJECT INTO e`, err: "1:30:null can only be compared"},
	{name: "err if branches", in: `FROM e IN events PROJECT INTO IF(true, 1, "a")`, err: "1:31:IF branches have different types"},
	{name: "err order by record", in: `FROM e IN events ORDER BY e PROJECT INTO e`, err: "1:27:cannot order by a EVENT"},
	{name: "err compare records", in: `FROM e IN events WHERE e == e PROJECT INTO e`, err: "1:26:cannot compare a EVENT"},
}

func TestCases(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func runCase(t *testing.T, tc tcase) {
	c, err := CompileString(tc.in)
	if tc.err != "" {
		if err == nil {
			t.Fatalf("want error %q, compiled to %s", tc.err, c.SQL)
		}
		checkErr(t, err, tc.err)
		return
	}
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if tc.sql != "" && !strings.Contains(c.SQL, tc.sql) {
		t.Errorf("SQL %s\ndoes not contain %s", c.SQL, tc.sql)
	}
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
	dcols, docs, err := runSQL(t, c.DocSQL)
	if err != nil {
		t.Fatalf("run DocSQL: %v\n%s", err, c.DocSQL)
	}
	if !slices.Equal(dcols, []string{"doc"}) || len(docs) != len(rows) {
		t.Errorf("DocSQL gives columns %q and %d rows, want doc and %d", dcols, len(docs), len(rows))
	}
	if tc.docs != nil {
		compareRows(t, "DocSQL", c.DocSQL, docs, tc.docs, tc.ordered)
	}
}

func compareRows(t *testing.T, what, query string, got, want []string, ordered bool) {
	t.Helper()
	if !ordered {
		got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	}
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s rows:\n got %q\nwant %q\n%s", what, got, want, query)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	parts := strings.SplitN(want, ":", 3)
	if len(parts) == 3 {
		if pos := fmt.Sprintf("%d:%d", e.Line, e.Col); pos != parts[0]+":"+parts[1] {
			t.Errorf("error %q at %s, want %s:%s", e.Error(), pos, parts[0], parts[1])
		}
		want = parts[2]
	}
	if !strings.Contains(e.Error(), want) {
		t.Errorf("error %q does not contain %q", e.Error(), want)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Line: 2, Col: 7, Msg: "unknown field e.dta", Hint: "did you mean e.data?"}
	if got, want := e.Error(), "line 2, column 7: unknown field e.dta (did you mean e.data?)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestIsEventQL(t *testing.T) {
	for in, want := range map[string]bool{
		"FROM e IN events PROJECT INTO e": true,
		"  from x in (":                   true,
		"-- no\nFROM e IN events":         false,
		"// c\n/* d */ From e In events":  true,
		"SELECT * FROM events":            false,
		"FROM events":                     false,
		"FROM e, f IN events":             false,
		"":                                false,
		"/* unterminated":                 false,
		"FROM\te\nIN":                     true,
		"FROMe IN events":                 false,
	} {
		if got := IsEventQL(in); got != want {
			t.Errorf("IsEventQL(%q) = %v, want %v", in, got, want)
		}
	}
}

// A real U+FFFD in a string literal is a character, not invalid UTF-8.
func TestReplacementCharacterInString(t *testing.T) {
	q, err := Parse("FROM e IN events WHERE e.data.s == \"a\uFFFDb\" PROJECT INTO e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(q.String()); err != nil {
		t.Fatalf("printed query does not parse: %v", err)
	}
	if _, err := Parse("FROM e IN events WHERE e.data.s == \"a\xffb\" PROJECT INTO e"); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
}

func TestCompileCondition(t *testing.T) {
	db := testDB(t)
	for _, tc := range []struct {
		cond string
		want int
		err  string
	}{
		{`payload.n > 1`, -1, ""},
		{`type == "x" AND e.data.n >= 2`, -1, ""},
		{`payload.n`, -1, ""},
		{`payload.n +`, 0, "line 1, column 13: the condition ends too early"},
		{`payloud.n > 1`, 0, "unknown binding payloud"},
		{`COUNT() > 1`, 0, "aggregate"},
	} {
		sql, err := CompileCondition(tc.cond)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.cond, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM events AS e WHERE " + sql).Scan(&n); err != nil {
			t.Errorf("%s → %s: %v", tc.cond, sql, err)
		}
	}
}
