// Package eventql compiles EventQL, the query language of EventSourcingDB,
// into DuckDB SQL over AllSource's events view. It is pure: no I/O, standard
// library only. Parse builds a positioned AST, Query.String prints it back
// canonically (Parse(q.String()) yields an equal AST), and Compile runs the
// static checks and emits two statements: Compiled.SQL (columns, for pgwire)
// and Compiled.DocSQL (one JSON document per row in column "doc", for HTTP
// NDJSON). Every error is an *Error with a 1-based line and column.
//
// # Grammar
//
//	query   = from { from } { clause } "PROJECT" "INTO" ["DISTINCT"] expr
//	from    = "FROM" ident "IN" ( "events" | "subjects" | "eventtypes" | "(" query ")" ) { time }
//	time    = "AT" t | "SINCE" t | "UNTIL" t | "BETWEEN" t "AND" t      (AllSource extension)
//	clause  = "WHERE" expr | "GROUP" "BY" expr {"," expr} ["HAVING" expr]
//	        | "ORDER" "BY" expr ["ASC"|"DESC"] {"," ...} | "SKIP" n | ("TOP"|"LIMIT") n
//	expr    = precedence, loosest first: OR, XOR, AND, NOT, comparisons
//	          (== != < <= > >= CONTAINS), x AS TYPE, + -, * /, unary -, primary
//	primary = literal | ident | primary "." ident | NAME "(" args ")" | "(" expr ")"
//	        | "[" exprs "]" | "{" key ":" expr, ... "}"
//
// Keywords, function and type names are case-insensitive. Comments are // and
// /* */. Strings use double or single quotes with \" \' \\ \/ \n \t \r \uXXXX
// escapes. Durations are an integer and one unit: 30s 5m 2h 7d 1w. The
// clauses after FROM may come in any order (the vendor's reference lists ORDER
// BY before GROUP BY, its examples the reverse), each at most once; the
// printer emits WHERE, GROUP BY/HAVING, ORDER BY, SKIP, TOP. LIMIT is printed
// as TOP.
//
// # Sources and fields
//
// events binds each event; its fields are ours (seq, id, tenant_id, entity_id,
// event_type, version, timestamp, ingested_at, payload, metadata) and
// EventSourcingDB's aliases (subject = entity_id, type = event_type, time =
// timestamp, data = payload), plus the constants source = "allsource",
// specversion = "1.0", datacontenttype = "application/json". The vendor's
// hash, predecessorhash, traceparent, tracestate and signature do not exist
// here and are unknown fields. subjects and eventtypes bind a string (the
// distinct entity_id / event_type values). A subquery binds its projection: a
// record's keys become fields, PROJECT INTO e makes the binding an event
// again, and a scalar projection binds the value. Subqueries do not see the
// outer bindings. Several FROMs form a cross join; WHERE restricts it.
//
// funnel, retention, time_series and anomalies with one string argument
// (the JSON question of the matching analytics HTTP endpoint) are sources
// too: each answer row binds a record with that function's columns
// (tableFunctionColumns). The compiler leaves a placeholder relation per
// call (Compiled.Tables); the caller computes the answer and puts its rows
// there before running the SQL.
//
// Time clauses restrict the events source they follow with plain predicates
// on "timestamp" (so DuckDB can prune Parquet files): AT t and UNTIL t mean
// timestamp <= t, SINCE t means >= t, BETWEEN a AND b means a <= ts <= b. The
// bound must be constant: NOW() ± duration or a string in RFC 3339
// (2024-01-02T15:04:05Z) or YYYY-MM-DD (midnight UTC), checked at compile time.
//
// # Types
//
// Expressions have a static type: NUMBER, STRING, BOOLEAN, DATETIME, DATE,
// DURATION, ARRAY, RECORD, EVENT, NULL, or JSON for anything read from
// payload/metadata (e.data.a.b, e.metadata.x) and for nested subquery
// columns. A JSON value takes its SQL type from context, through
// json_extract_string and TRY_CAST, so a missing field or a value of the
// wrong shape is NULL, never an error:
//
//   - compared with a number, in arithmetic, in SUM/AVG/MEDIAN/STDDEV/
//     VARIANCE/PERCENTILE/MIN/MAX and numeric functions: DOUBLE;
//   - compared with a string or passed to a string function: its text
//     (a JSON string unquoted, a number as written: 1 and 1.0 differ);
//   - compared with a time: TIMESTAMPTZ; in a boolean context (WHERE,
//     HAVING, AND/OR/XOR/NOT, IF's condition): BOOLEAN;
//   - compared with another JSON value: both as text;
//   - x == null / x != null: IS NULL / IS NOT NULL (a missing field and a
//     JSON null are both null); other comparisons with null are errors;
//   - projected, grouped or UNIQUE'd: the JSON value unchanged;
//   - ORDER BY: numerically where it is a number, then as text.
//
// Other operands must match: comparing NUMBER with STRING or adding a STRING
// is an error, except that a string literal compared with a DATETIME is a
// time constant. WHERE and HAVING must be BOOLEAN (or JSON). Booleans compare
// only with == and !=. Arithmetic is DOUBLE where a JSON value is involved;
// "/" is real division. DATETIME ± DURATION is a DATETIME.
//
// x AS TYPE converts: STRING (times as RFC 3339 UTC), INT/INTEGER (truncated
// toward zero), FLOAT/NUMBER (DOUBLE), BOOLEAN/BOOL, DATETIME (TIMESTAMPTZ),
// DATE. Failed conversions give NULL.
//
// CONTAINS: [a, b] CONTAINS x tests membership in an array literal (elements
// share one type; x is converted to it); field CONTAINS x tests a JSON array
// in the payload, element-wise as text, DOUBLE or BOOLEAN after x's type.
//
// # Functions
//
// Math: ABS CEIL FLOOR ROUND(x[, digits]) POW SQRT EXP LN LOG10 SIGN PI RAND.
// Strings: LOWER UPPER TRIM LTRIM RTRIM LEN SUBSTRING(s, start[, len])
// (1-based, as in SQL) REPLACE STARTSWITH ENDSWITH CONCAT. Time: NOW (the
// statement's start time), YEAR MONTH DAY HOUR MINUTE SECOND WEEKDAY, all in
// UTC; WEEKDAY is 0 for Sunday to 6 for Saturday. IF(cond, a, b). Aliases:
// LENGTH SUBSTR POWER CEILING STARTS_WITH ENDS_WITH LOWERCASE UPPERCASE.
//
// Aggregates: COUNT() counts rows; COUNT(bool) counts rows where it is true
// (the vendor's COUNT(e.data.age > 30)); COUNT(x) otherwise counts non-null
// x. SUM AVG MIN MAX MEDIAN, STDDEV and VARIANCE (sample), PERCENTILE(x, p)
// with a constant p in [0, 1] (continuous interpolation). UNIQUE(x) is the
// group's single distinct non-null value, or null when the group holds more
// than one (the vendor uses it to project a grouped key; we do not fail the
// query on ambiguity). COUNT_DISTINCT(x) counts distinct non-null x (an
// AllSource extension; payload values compare as text). MIN and MAX of a JSON value compare numerically; cast
// AS STRING to compare text.
//
// # Static checks
//
// Unknown bindings, fields, functions, types and sources are reported with a
// "did you mean" suggestion (edit distance with transpositions). Also
// checked: WHERE/HAVING are boolean; aggregates appear only in the
// projection, HAVING and ORDER BY, never nested; in an aggregating query
// (GROUP BY, or an aggregate anywhere in projection, HAVING or ORDER BY) every
// reference to a binding outside an aggregate must be, or lie inside, an
// expression written exactly like a GROUP BY expression; function arity;
// SKIP and TOP are non-negative integer literals; duplicate bindings and
// record keys; PERCENTILE's fraction; time clause bounds.
//
// # Output
//
// SQL has one column per record key (in order), the events view's columns for
// an event projection, or one column "value" for a scalar. Scalars keep their
// SQL types (TIMESTAMPTZ stays a timestamp); records, arrays, events and
// payload values are JSON. DocSQL returns the same rows as JSON text: a record
// is an object, a scalar a JSON value (null as "null"), times are RFC 3339
// strings in UTC with microseconds, and an event is the CloudEvents-style
// object {"specversion","id","time","source","subject","type",
// "datacontenttype","data"} plus AllSource's "seq","version","tenant",
// "metadata", with payload JSON embedded as stored.
//
// All user text reaches SQL only as quoted string literals or quoted
// identifiers; numbers are emitted as lexed digits.
//
// # Query DSL
//
// The DSL is the JSON form of a query, for programs that build queries
// rather than write them (POST /v1/query {"dsl": {...}}). ParseDSL turns it
// into the same AST as Parse, so Compile applies the same checks and emits
// the same SQL, and q.String() is the equivalent EventQL. CompileDSL does
// both steps. A query is one JSON object; every key is optional, unknown
// keys are errors:
//
//	{"from": "events",                                   // or "subjects", "eventtypes"
//	 "since": time, "until": time,                       // SINCE / UNTIL
//	 "where": expr,
//	 "group_by": [item, ...],
//	 "select": [item, ...],
//	 "aggregate": {"name": expr, ...},                   // in order
//	 "having": expr,                                     // needs group_by
//	 "order_by": [key | [key] | [key, "asc"|"desc"], ...],
//	 "offset": n, "limit": n,                            // SKIP / TOP
//	 "distinct": true}
//	item = "field" | {"as": "name", "expr": expr}
//	expr = "field" | number | true | false | null | [operator, operand, ...]
//
// The binding is e for events, s for subjects and t for eventtypes. A field
// name is an event field (event_type, entity_id, timestamp, seq, version, id,
// tenant_id, ingested_at, or the aliases type, subject, time) or a path into
// the payload or metadata with dots: "payload.a.b", "data.a.b",
// "metadata.x" (each part letters, digits and _, as in EventQL); it becomes
// e.<name>. Over subjects the only fields are "subject" and "entity_id",
// over eventtypes "type" and "event_type", both meaning the value itself.
//
// Strings are the one ambiguity, settled by position: a string is a FIELD
// NAME in field position and a string LITERAL everywhere else. Field
// positions are the items of select and group_by, the order_by keys, a
// bare where or having expression, every operand of and, or, xor and not,
// and the first operand of every other operator and function (since and
// until take a value: a time string is a literal). ["field", "x"]
// and ["literal", "x"] force either reading. So ["=", "event_type",
// "type"] compares the field with the text "type", and ["=", ["literal",
// "a"], ["field", "entity_id"]] puts the field second. In having and
// order_by a field-position string first names an output column (a select
// or group_by item or an aggregate) and stands for its expression.
// Numbers, booleans and null are literals; a negative number is a negated
// literal.
//
// Operators (names are case-insensitive):
//
//	["=", a, b]  ["!=", a, b]  ["<", a, b]  ["<=", a, b]  [">", a, b]  [">=", a, b]
//	["and", x, ...]  ["or", x, ...]  ["xor", x, y]  ["not", x]
//	["+", a, b, ...]  ["-", a, b]  ["-", a]  ["*", a, b, ...]  ["/", a, b]
//	["contains", field, value]       field CONTAINS value (a payload array)
//	["in", x, [v1, v2, ...]]         [v1, v2, ...] CONTAINS x; [] is false
//	["is_null", x]  ["is_not_null", x]    x == null / x != null
//	["cast", x, "INT"]               x AS INT (any EventQL type name)
//	["days_ago", n]  ["hours_ago", n]  ["minutes_ago", n]  ["weeks_ago", n]
//	["ago", "7d"]                    NOW() - duration (units s m h d w)
//	["field", "name"]  ["literal", v]
//	["lower", x, ...] or ["fn", "lower", x, ...]   any EventQL function or aggregate
//
// Comparisons and everything else keep EventQL's typing: payload values take
// their type from the other operand, and a string compared with a time is a
// time constant ("2024-01-02T15:04:05Z" or "2024-01-02").
//
// The projection: with neither select, group_by nor aggregate the query
// projects the binding (PROJECT INTO e, the whole event). Otherwise it is a
// record of the select items (or, when select is absent, the group_by
// items) followed by the aggregates; an item's column is named by its "as"
// or, for a field name, the name as written ("payload.title"). Aggregates
// are expressions too: {"n": ["count"]}, {"total": ["sum", "payload.amount"]},
// {"users": ["count_distinct", "entity_id"]}, {"p95": ["percentile",
// "payload.ms", 0.95]}, {"avg": ["/", ["sum", "x"], ["count", "x"]]}. The
// usual checks apply: ungrouped fields, aggregates in where, duplicate
// column names.
//
// An example and its EventQL:
//
//	{"where": ["and", ["=", "event_type", "user.created"],
//	                  [">", "timestamp", ["days_ago", 7]],
//	                  ["contains", "payload.tags", "premium"]],
//	 "group_by": ["payload.plan"], "aggregate": {"users": ["count"]},
//	 "order_by": [["users", "desc"]], "limit": 100}
//
//	FROM e IN events
//	WHERE e.event_type == "user.created" AND e.timestamp > NOW() - 7d AND e.payload.tags CONTAINS "premium"
//	GROUP BY e.payload.plan
//	ORDER BY COUNT() DESC
//	TOP 100
//	PROJECT INTO { "payload.plan": e.payload.plan, users: COUNT() }
//
// Errors are *Error. Msg starts with the JSON path of the offending element
// (where[2][1], aggregate.total, select[0].expr; keys that are not
// identifiers as ["a b"]), and Line and Col are that element's position in
// the JSON text (1-based, columns in characters), e.g. `line 1, column 36:
// where[2]: unknown operator "==" (did you mean =?)`. Compile errors of a
// DSL query are reported the same way by CompileDSL (Compile on a ParseDSL
// result gives the position without the path). Malformed JSON, duplicate
// keys, NUL characters in strings and nesting deeper than 64 levels are
// errors; bad input never panics. More examples are in testdata/dsl.
package eventql
