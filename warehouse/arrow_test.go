package warehouse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/allsource/allsource"
)

// arrowQuery runs q and encodes its result with writeArrow, checking that
// the encoder released every buffer it allocated.
func arrowQuery(t *testing.T, w *Warehouse, q string, o arrowOptions) ([]byte, ArrowResult, error) {
	t.Helper()
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o.mem = mem
	var buf bytes.Buffer
	res, err := writeArrow(&buf, rows, o)
	return buf.Bytes(), res, err
}

// readArrow reads a whole stream into its schema and records.
func readArrow(t *testing.T, b []byte) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ipc.NewReader: %v", err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	t.Cleanup(func() {
		for _, rec := range recs {
			rec.Release()
		}
	})
	return r.Schema(), recs
}

func TestArrowTypes(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	// Row 1 ordinary values, row 2 all NULL, row 3 negative and edge values.
	const q = `SELECT * FROM (VALUES
	  (1, 9223372036854775807::BIGINT, 2147483647::INTEGER, (-32768)::SMALLINT, (-128)::TINYINT,
	   255::UTINYINT, 65535::USMALLINT, 4294967295::UINTEGER, 18446744073709551615::UBIGINT,
	   1.5::DOUBLE, 0.25::FLOAT, true, 'héllo', '{"b":1,"a":[1,2.50]}'::JSON,
	   TIMESTAMPTZ '2026-03-01 12:34:56.789012+00', TIMESTAMP '2026-03-01 12:34:56.789012', DATE '2026-03-01',
	   123456789012345.678::DECIMAL(18,3), 12345678901234567890123456789::HUGEINT, '\xAA\x00\xFF'::BLOB,
	   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, INTERVAL '1 month 2 days 3 seconds',
	   [1, 2, NULL], {'y': 'q', 'x': 1}, MAP {'k': 1.5}, TIME '01:02:03.000004'),
	  (2, NULL::BIGINT, NULL::INTEGER, NULL::SMALLINT, NULL::TINYINT,
	   NULL::UTINYINT, NULL::USMALLINT, NULL::UINTEGER, NULL::UBIGINT,
	   NULL::DOUBLE, NULL::FLOAT, NULL::BOOLEAN, NULL::VARCHAR, NULL::JSON,
	   NULL::TIMESTAMPTZ, NULL::TIMESTAMP, NULL::DATE,
	   NULL::DECIMAL(18,3), NULL::HUGEINT, NULL::BLOB,
	   NULL::UUID, NULL::INTERVAL,
	   NULL::INTEGER[], NULL::STRUCT(y VARCHAR, x INTEGER), NULL::MAP(VARCHAR, DECIMAL(2,1)), NULL::TIME),
	  (3, (-9223372036854775808)::BIGINT, (-2147483648)::INTEGER, 32767::SMALLINT, 127::TINYINT,
	   0::UTINYINT, 0::USMALLINT, 0::UINTEGER, 0::UBIGINT,
	   (-0.5)::DOUBLE, (-2.0)::FLOAT, false, '', '"s"'::JSON,
	   TIMESTAMPTZ '1969-12-31 23:59:59.5+00', TIMESTAMP '1900-01-01 00:00:00', DATE '1969-12-31',
	   (-0.001)::DECIMAL(18,3), (-99999999999999999999999999999999999999)::HUGEINT, ''::BLOB,
	   '00000000-0000-0000-0000-000000000000'::UUID, INTERVAL '-1 day',
	   [], {'y': NULL, 'x': -1}, MAP {}, TIME '23:59:59')
	) AS t(id, big, int, small, tiny, utiny, usmall, uint, ubig, dbl, flt, bool, str, js,
	       tstz, ts, d, dec, huge, blob, uuid, iv, list, strct, mp, tm)
	ORDER BY id`
	b, res, err := arrowQuery(t, w, q, arrowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || res.Batches != 1 || !res.Started {
		t.Fatalf("result %+v", res)
	}
	schema, recs := readArrow(t, b)

	want := []struct {
		name, duck string
		typ        arrow.DataType
	}{
		{"id", "INTEGER", arrow.PrimitiveTypes.Int32},
		{"big", "BIGINT", arrow.PrimitiveTypes.Int64},
		{"int", "INTEGER", arrow.PrimitiveTypes.Int32},
		{"small", "SMALLINT", arrow.PrimitiveTypes.Int16},
		{"tiny", "TINYINT", arrow.PrimitiveTypes.Int8},
		{"utiny", "UTINYINT", arrow.PrimitiveTypes.Uint8},
		{"usmall", "USMALLINT", arrow.PrimitiveTypes.Uint16},
		{"uint", "UINTEGER", arrow.PrimitiveTypes.Uint32},
		{"ubig", "UBIGINT", arrow.PrimitiveTypes.Uint64},
		{"dbl", "DOUBLE", arrow.PrimitiveTypes.Float64},
		{"flt", "FLOAT", arrow.PrimitiveTypes.Float32},
		{"bool", "BOOLEAN", arrow.FixedWidthTypes.Boolean},
		{"str", "VARCHAR", arrow.BinaryTypes.String},
		{"js", "JSON", arrow.BinaryTypes.String},
		{"tstz", "TIMESTAMPTZ", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{"ts", "TIMESTAMP", &arrow.TimestampType{Unit: arrow.Microsecond}},
		{"d", "DATE", arrow.FixedWidthTypes.Date32},
		{"dec", "DECIMAL(18,3)", &arrow.Decimal128Type{Precision: 18, Scale: 3}},
		{"huge", "HUGEINT", &arrow.Decimal128Type{Precision: 38, Scale: 0}},
		{"blob", "BLOB", arrow.BinaryTypes.Binary},
		{"uuid", "UUID", arrow.BinaryTypes.String},
		{"iv", "INTERVAL", arrow.FixedWidthTypes.MonthDayNanoInterval},
		{"list", "INTEGER[]", arrow.BinaryTypes.String},
		{"strct", "", arrow.BinaryTypes.String},
		{"mp", "", arrow.BinaryTypes.String},
		{"tm", "TIME", arrow.FixedWidthTypes.Time64us},
	}
	if len(schema.Fields()) != len(want) {
		t.Fatalf("schema %v", schema)
	}
	for i, f := range schema.Fields() {
		wf := want[i]
		if f.Name != wf.name || !arrow.TypeEqual(f.Type, wf.typ) || !f.Nullable {
			t.Errorf("field %d: %s %s nullable=%v, want %s %s", i, f.Name, f.Type, f.Nullable, wf.name, wf.typ)
		}
		duck, _ := f.Metadata.GetValue(ArrowTypeKey)
		if wf.duck != "" && duck != wf.duck {
			t.Errorf("field %s: duckdb type %q, want %q", f.Name, duck, wf.duck)
		}
	}
	if len(recs) != 1 || recs[0].NumRows() != 3 {
		t.Fatalf("%d records", len(recs))
	}
	rec := recs[0]
	col := func(name string) arrow.Array {
		t.Helper()
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s", name)
		}
		return rec.Column(idx[0])
	}
	// Row 2 (index 1) is NULL everywhere but id.
	for i, c := range rec.Columns() {
		if i == 0 {
			continue
		}
		if !c.IsNull(1) || c.IsNull(0) || c.IsNull(2) {
			t.Errorf("column %s: nulls %v %v %v, want false true false", schema.Field(i).Name, c.IsNull(0), c.IsNull(1), c.IsNull(2))
		}
	}
	eq := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v (%T), want %v (%T)", name, got, got, want, want)
		}
	}
	for _, r := range []int{0, 2} {
		first := r == 0
		pick := func(a, b any) any {
			if first {
				return a
			}
			return b
		}
		eq("big", col("big").(*array.Int64).Value(r), pick(int64(9223372036854775807), int64(-9223372036854775808)))
		eq("int", col("int").(*array.Int32).Value(r), pick(int32(2147483647), int32(-2147483648)))
		eq("small", col("small").(*array.Int16).Value(r), pick(int16(-32768), int16(32767)))
		eq("tiny", col("tiny").(*array.Int8).Value(r), pick(int8(-128), int8(127)))
		eq("utiny", col("utiny").(*array.Uint8).Value(r), pick(uint8(255), uint8(0)))
		eq("usmall", col("usmall").(*array.Uint16).Value(r), pick(uint16(65535), uint16(0)))
		eq("uint", col("uint").(*array.Uint32).Value(r), pick(uint32(4294967295), uint32(0)))
		eq("ubig", col("ubig").(*array.Uint64).Value(r), pick(uint64(18446744073709551615), uint64(0)))
		eq("dbl", col("dbl").(*array.Float64).Value(r), pick(1.5, -0.5))
		eq("flt", col("flt").(*array.Float32).Value(r), pick(float32(0.25), float32(-2)))
		eq("bool", col("bool").(*array.Boolean).Value(r), pick(true, false))
		eq("str", col("str").(*array.String).Value(r), pick("héllo", ""))
		eq("js", col("js").(*array.String).Value(r), pick(`{"b":1,"a":[1,2.50]}`, `"s"`))
		eq("tstz", col("tstz").(*array.Timestamp).Value(r).ToTime(arrow.Microsecond),
			pick(time.Date(2026, 3, 1, 12, 34, 56, 789012000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC)))
		eq("ts", col("ts").(*array.Timestamp).Value(r).ToTime(arrow.Microsecond),
			pick(time.Date(2026, 3, 1, 12, 34, 56, 789012000, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)))
		eq("d", col("d").(*array.Date32).Value(r), pick(arrow.Date32(20513), arrow.Date32(-1)))
		eq("dec", col("dec").(*array.Decimal128).Value(r), pick(decimal128.FromI64(123456789012345678), decimal128.FromI64(-1)))
		huge, _ := new(big.Int).SetString(pick("12345678901234567890123456789", "-99999999999999999999999999999999999999").(string), 10)
		eq("huge", col("huge").(*array.Decimal128).Value(r), decimal128.FromBigInt(huge))
		eq("blob", string(col("blob").(*array.Binary).Value(r)), pick("\xaa\x00\xff", ""))
		eq("uuid", col("uuid").(*array.String).Value(r), pick("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"))
		eq("iv", col("iv").(*array.MonthDayNanoInterval).Value(r),
			pick(arrow.MonthDayNanoInterval{Months: 1, Days: 2, Nanoseconds: 3e9}, arrow.MonthDayNanoInterval{Days: -1}))
		eq("list", col("list").(*array.String).Value(r), pick("[1,2,null]", "[]"))
		eq("strct", col("strct").(*array.String).Value(r), pick(`{"x":1,"y":"q"}`, `{"x":-1,"y":null}`))
		eq("mp", col("mp").(*array.String).Value(r), pick(`{"k":1.5}`, `{}`))
		eq("tm", col("tm").(*array.Time64).Value(r), pick(arrow.Time64(3723000004), arrow.Time64(86399e6)))
	}
}

func TestArrowEmpty(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	b, res, err := arrowQuery(t, w, "SELECT 1::BIGINT AS a, NULL AS n WHERE false", arrowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 0 || res.Batches != 0 || !res.Started {
		t.Fatalf("result %+v", res)
	}
	schema, recs := readArrow(t, b)
	if len(recs) != 0 || schema.NumFields() != 2 || !arrow.TypeEqual(schema.Field(0).Type, arrow.PrimitiveTypes.Int64) {
		t.Fatalf("schema %v, %d records", schema, len(recs))
	}
}

func TestArrowBatches(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	const n = 20000
	q := `SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'row ' || i END AS s,
	        TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL 1 SECOND AS ts
	      FROM range(20000) t(i) ORDER BY i`
	b, res, err := arrowQuery(t, w, q, arrowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != n || res.Batches != 3 {
		t.Fatalf("result %+v, want %d rows in 3 batches", res, n)
	}
	_, recs := readArrow(t, b)
	var sizes []int64
	next := int64(0)
	for _, rec := range recs {
		sizes = append(sizes, rec.NumRows())
		ids := rec.Column(0).(*array.Int64)
		ss := rec.Column(1).(*array.String)
		ts := rec.Column(2).(*array.Timestamp)
		for r := 0; r < int(rec.NumRows()); r++ {
			if ids.Value(r) != next {
				t.Fatalf("row %d: i = %d", next, ids.Value(r))
			}
			if wantNull := next%7 == 0; ss.IsNull(r) != wantNull || (!wantNull && ss.Value(r) != "row "+itoa(next)) {
				t.Fatalf("row %d: s null=%v %q", next, ss.IsNull(r), ss.Value(r))
			}
			if got := ts.Value(r).ToTime(arrow.Microsecond); !got.Equal(time.Date(2026, 1, 1, 0, 0, int(next), 0, time.UTC)) {
				t.Fatalf("row %d: ts %v", next, got)
			}
			next++
		}
	}
	if next != n || len(sizes) != 3 || sizes[0] != arrowBatchRows || sizes[1] != arrowBatchRows || sizes[2] != n-2*arrowBatchRows {
		t.Fatalf("batches %v, %d rows", sizes, next)
	}

	// A batch also ends at batchBytes of variable-length data.
	b, res, err = arrowQuery(t, w, "SELECT repeat('x', 1000) AS s FROM range(100)", arrowOptions{batchBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, recs := readArrow(t, b); res.Batches != 10 || len(recs) != 10 || recs[0].NumRows() != 10 {
		t.Fatalf("byte-bounded batches: %+v, %d records", res, len(recs))
	}
}

// TestArrowStreams checks that batches reach the client while the query is
// still running and that a slow client holds the writer back: over a pipe,
// the first batch can be read before the writer returns.
func TestArrowStreams(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	rows, err := w.Query(context.Background(), "SELECT i FROM range(100000) t(i)")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	flushes := 0
	go func() {
		_, err := writeArrow(pw, rows, arrowOptions{flush: func() { flushes++ }})
		pw.CloseWithError(err)
		done <- err
	}()
	r, err := ipc.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatalf("no first batch: %v", r.Err())
	}
	if got := r.RecordBatch().NumRows(); got != arrowBatchRows {
		t.Fatalf("first batch of %d rows", got)
	}
	select {
	case err := <-done:
		t.Fatalf("writer finished (%v) before the client read past the first batch", err)
	case <-time.After(50 * time.Millisecond):
	}
	total := int64(arrowBatchRows)
	for r.Next() {
		total += r.RecordBatch().NumRows()
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || total != 100000 || flushes != 14 {
		t.Fatalf("err %v, %d rows, %d flushes", err, total, flushes)
	}
}

func TestArrowErrors(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	// A value Arrow cannot hold in the first batch: nothing is written, and
	// the error is a user error naming the column.
	huge := "CASE WHEN i = %d THEN 170141183460469231731687303715884105727::HUGEINT ELSE i::HUGEINT END AS h"
	b, res, err := arrowQuery(t, w, "SELECT "+strings.Replace(huge, "%d", "5", 1)+" FROM range(100) t(i)", arrowOptions{})
	if err == nil || res.Started || len(b) != 0 {
		t.Fatalf("err %v, result %+v, %d bytes", err, res, len(b))
	}
	if allsource.ErrorCode(err) != allsource.CodeInvalid || !strings.Contains(allsource.ErrorMessage(err), `column "h", row 6`) {
		t.Fatalf("error %v", err)
	}
	// After the first batch: the stream is cut so that a reader fails
	// instead of taking it for a complete, shorter result.
	b, res, err = arrowQuery(t, w, "SELECT "+strings.Replace(huge, "%d", "10000", 1)+" FROM range(20000) t(i) ORDER BY i", arrowOptions{})
	if !errors.Is(err, errArrowRange) || !res.Started || res.Batches != 1 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if !bytes.HasSuffix(b, arrowCut) {
		t.Fatalf("stream does not end with the cut marker")
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	got := 0
	for r.Next() {
		got++
	}
	if r.Err() == nil || got != 1 {
		t.Fatalf("reader: %d batches, err %v; want 1 batch and an error", got, r.Err())
	}
}

func itoa(i int64) string { return big.NewInt(i).String() }

// TestArrowMoreTypes covers the rarer types, one column each, compared by
// arrow-go's text form of the value.
func TestArrowMoreTypes(t *testing.T) {
	w := openTest(t, t.TempDir(), nil)
	defer w.Close()
	for _, tc := range []struct {
		expr string
		typ  arrow.DataType
		want string
	}{
		{"'b'::ENUM('a', 'b')", arrow.BinaryTypes.String, "b"},
		{"'123456789012345678901234567890123456789012'::BIGNUM", arrow.BinaryTypes.String, "123456789012345678901234567890123456789012"},
		{"'0101'::BIT", arrow.BinaryTypes.String, "0101"},
		{"TIMETZ '10:11:12.5+02'", arrow.BinaryTypes.String, "10:11:12.5+02:00"},
		{"TIMESTAMP_S '2026-03-01 01:02:03'", &arrow.TimestampType{Unit: arrow.Second}, "2026-03-01T01:02:03"},
		{"TIMESTAMP_MS '2026-03-01 01:02:03.456'", &arrow.TimestampType{Unit: arrow.Millisecond}, "2026-03-01T01:02:03.456"},
		{"TIMESTAMP_NS '2026-03-01 01:02:03.456789123'", &arrow.TimestampType{Unit: arrow.Nanosecond}, "2026-03-01T01:02:03.456789123"},
		{"340282366920938463463374607431768211::UHUGEINT", &arrow.Decimal128Type{Precision: 38, Scale: 0}, "340282366920938463463374607431768211"},
		{"[1.5, 2]::DOUBLE[2]", arrow.BinaryTypes.String, "[1.5,2]"},
		{"union_value(n := 4)::UNION(n INTEGER, s VARCHAR)", arrow.BinaryTypes.String, "4"},
		{"[{'a': [1]}, NULL]", arrow.BinaryTypes.String, `[{"a":[1]},null]`},
		{"MAP {2: 'x'}", arrow.BinaryTypes.String, `{"2":"x"}`},
		{"(-12.5)::DECIMAL(4,1)", &arrow.Decimal128Type{Precision: 4, Scale: 1}, "-12.5"},
		{"'2026-03-01 12:00:00+05'::TIMESTAMPTZ", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "2026-03-01T07:00:00Z"},
	} {
		b, _, err := arrowQuery(t, w, "SELECT "+tc.expr+" AS v", arrowOptions{})
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		schema, recs := readArrow(t, b)
		if f := schema.Field(0); !arrow.TypeEqual(f.Type, tc.typ) {
			t.Errorf("%s: type %s, want %s", tc.expr, f.Type, tc.typ)
			continue
		}
		if got := recs[0].Column(0).ValueStr(0); got != tc.want {
			t.Errorf("%s: value %q, want %q", tc.expr, got, tc.want)
		}
	}
}
