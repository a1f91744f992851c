package warehouse

// Arrow IPC stream results.
//
// A query result can be encoded as an Arrow IPC stream (the "streaming format":
// a schema message, then record batches, then the end-of-stream marker;
// media type application/vnd.apache.arrow.stream) so that pandas, polars
// and pyarrow read it without parsing JSON. The schema is built from the
// DuckDB column types the driver reports; values are scanned row by row
// and appended to arrow-go builders. A batch is written, flushed and
// released as soon as it holds arrowBatchRows rows or arrowBatchBytes of
// variable-length data, so memory stays bounded by one batch and a slow
// client slows the query down (the write blocks) instead of piling up rows.
// (The engine side is not bounded here: duckdb-go executes a statement to
// completion before the first row is fetched, as for every other format.)
//
// Type mapping (DuckDB → Arrow); every field is nullable and carries the
// DuckDB type name in its metadata under "allsource.duckdb_type" ("JSON"
// for JSON columns, whose values are sent as their JSON text):
//
//	BOOLEAN                      bool
//	TINYINT SMALLINT INTEGER     int8 int16 int32
//	BIGINT                       int64
//	UTINYINT … UBIGINT           uint8 uint16 uint32 uint64
//	FLOAT DOUBLE                 float32 float64
//	DECIMAL(p,s)                 decimal128(p,s)
//	HUGEINT UHUGEINT             decimal128(38,0); a value of 39 digits ends the stream with an error
//	BIGNUM                       utf8 (decimal digits)
//	VARCHAR ENUM                 utf8
//	JSON                         utf8, the JSON text
//	UUID                         utf8, canonical 8-4-4-4-12 form
//	BLOB GEOMETRY                binary
//	BIT                          utf8 of '0' and '1'
//	DATE                         date32
//	TIME                         time64[us]
//	TIMETZ                       utf8 (15:04:05.999999-07:00)
//	TIMESTAMP                    timestamp[us]
//	TIMESTAMPTZ                  timestamp[us, UTC]
//	TIMESTAMP_S _MS _NS          timestamp[s], timestamp[ms], timestamp[ns]
//	INTERVAL                     month_day_nano_interval
//	LIST ARRAY STRUCT MAP UNION  utf8, the value as JSON text (STRUCT keys
//	                             sorted by name, MAP as an object whose keys
//	                             are the map keys' text, UNION as its member;
//	                             inside them a UUID or BLOB is base64 and a
//	                             timestamp RFC 3339, as in the JSON format)
//	anything else                utf8, the value as JSON text
//
// Errors. WriteArrow returns every error, and reports whether any byte
// reached its writer. An error before the first batch is written (a
// failing statement, a bad value in the first rows) leaves the writer
// untouched, so the caller can still answer with an ordinary error (the
// HTTP API's JSON error). An error after that cannot be taken back: the
// batch in progress is dropped and the stream is cut with an incomplete
// message header, so every Arrow reader fails with an unexpected end of
// stream instead of seeing a shorter, complete-looking result. (The HTTP
// API then sends the message as a trailer; see package httpapi.)

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource"
)

// ArrowStreamType is the media type of an Arrow IPC stream.
const ArrowStreamType = "application/vnd.apache.arrow.stream"

// ArrowTypeKey is the field metadata key holding a column's DuckDB type.
const ArrowTypeKey = "allsource.duckdb_type"

const (
	arrowBatchRows  = 8192
	arrowBatchBytes = 16 << 20 // variable-length data per batch
)

// arrowCut ends a broken stream: a continuation marker and a metadata
// length of 8 with no metadata after it, which no reader takes for the end
// of the stream.
var arrowCut = []byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0}

// errArrowRange is returned for a value its Arrow type cannot hold (a
// HUGEINT or UHUGEINT of 39 digits); msgArrowRange tells the user.
var errArrowRange = errors.New("warehouse: value out of range for decimal128(38,0)")

const msgArrowRange = "an integer of more than 38 digits does not fit Arrow decimal128(38,0); cast the column to VARCHAR or DOUBLE"

// arrowOptions tune writeArrow; the zero value means the defaults.
type arrowOptions struct {
	batchRows  int
	batchBytes int
	mem        memory.Allocator
	flush      func() // after each batch reached dst
}

// ArrowResult tells what WriteArrow did.
type ArrowResult struct {
	Rows    int64 // rows encoded
	Batches int   // record batches written
	Started bool  // some bytes were written to dst
}

// WriteArrow encodes rows as an Arrow IPC stream to dst, in record batches
// of at most 8192 rows or 16 MiB of variable-length data, and calls flush
// (when not nil) after each batch and at the end, so a caller streaming to
// a network peer can push each batch out. On an error after the first byte
// it ends what it wrote with an incomplete message (see the package
// comment above); before it, dst is untouched (res.Started is false).
// A value its Arrow type cannot hold is an *allsource.Error (invalid)
// naming the column and row; other errors are the engine's or dst's.
func WriteArrow(dst io.Writer, rows *Rows, flush func()) (ArrowResult, error) {
	return writeArrow(dst, rows, arrowOptions{flush: flush})
}

// writeArrow encodes rows as an Arrow IPC stream to dst. On an error after
// the first batch it writes arrowCut; before it, nothing.
func writeArrow(dst io.Writer, rows *Rows, o arrowOptions) (res ArrowResult, err error) {
	if o.batchRows <= 0 {
		o.batchRows = arrowBatchRows
	}
	if o.batchBytes <= 0 {
		o.batchBytes = arrowBatchBytes
	}
	if o.mem == nil {
		o.mem = memory.DefaultAllocator
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		return res, err
	}
	fields := make([]arrow.Field, len(cts))
	cols := make([]arrowColumn, len(cts))
	for i, ct := range cts {
		dbType := ct.DatabaseTypeName()
		jsonText := i < len(rows.JSON) && rows.JSON[i]
		cols[i] = arrowColumnFor(dbType, jsonText)
		if jsonText {
			dbType = "JSON"
		}
		fields[i] = arrow.Field{Name: ct.Name(), Type: cols[i].typ, Nullable: true,
			Metadata: arrow.NewMetadata([]string{ArrowTypeKey}, []string{dbType})}
	}
	schema := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(o.mem, schema)
	defer rb.Release()

	cw := &countingWriter{w: dst}
	bw := bufio.NewWriterSize(cw, 64<<10)
	iw := ipc.NewWriter(bw, ipc.WithSchema(schema), ipc.WithAllocator(o.mem))
	defer func() {
		if err != nil && cw.n > 0 {
			bw.Write(arrowCut)
			bw.Flush()
		}
		res.Started = cw.n > 0
	}()
	emit := func() error {
		rec := rb.NewRecordBatch()
		defer rec.Release()
		if err := iw.Write(rec); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		res.Batches++
		if o.flush != nil {
			o.flush()
		}
		return nil
	}

	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	inBatch, batchBytes := 0, 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return res, err
		}
		for i, v := range vals {
			b := rb.Field(i)
			if v == nil {
				b.AppendNull()
				continue
			}
			n, err := cols[i].add(b, v)
			if errors.Is(err, errArrowRange) {
				return res, &allsource.Error{Code: allsource.CodeInvalid, Index: -1, Err: err,
					Message: fmt.Sprintf("column %q, row %d: %s", fields[i].Name, res.Rows+1, msgArrowRange)}
			}
			if err != nil {
				return res, fmt.Errorf("warehouse: arrow: column %q, row %d: %w", fields[i].Name, res.Rows+1, err)
			}
			batchBytes += n
		}
		res.Rows++
		if inBatch++; inBatch >= o.batchRows || batchBytes >= o.batchBytes {
			if err := emit(); err != nil {
				return res, err
			}
			inBatch, batchBytes = 0, 0
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if inBatch > 0 {
		if err := emit(); err != nil {
			return res, err
		}
	}
	if err := iw.Close(); err != nil { // schema if no batch, then end of stream
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, err
	}
	if o.flush != nil {
		o.flush()
	}
	return res, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// arrowColumn is how one result column becomes an Arrow array: its type
// and a function appending one non-NULL scanned value to its builder,
// returning the variable-length bytes it added.
type arrowColumn struct {
	typ arrow.DataType
	add func(b array.Builder, v any) (int, error)
}

// arrowColumnFor maps a DuckDB type name (as the driver reports it) to its
// Arrow column. jsonText marks a column of JSON delivered as its text.
func arrowColumnFor(dbType string, jsonText bool) arrowColumn {
	if jsonText {
		return arrowColumn{arrow.BinaryTypes.String, addText}
	}
	switch dbType {
	case "BOOLEAN":
		return arrowColumn{arrow.FixedWidthTypes.Boolean, func(b array.Builder, v any) (int, error) {
			x, ok := v.(bool)
			if !ok {
				return 0, unexpected(v, dbType)
			}
			b.(*array.BooleanBuilder).Append(x)
			return 0, nil
		}}
	case "TINYINT":
		return arrowColumn{arrow.PrimitiveTypes.Int8, addNumber[int8](dbType)}
	case "SMALLINT":
		return arrowColumn{arrow.PrimitiveTypes.Int16, addNumber[int16](dbType)}
	case "INTEGER":
		return arrowColumn{arrow.PrimitiveTypes.Int32, addNumber[int32](dbType)}
	case "BIGINT":
		return arrowColumn{arrow.PrimitiveTypes.Int64, addNumber[int64](dbType)}
	case "UTINYINT":
		return arrowColumn{arrow.PrimitiveTypes.Uint8, addNumber[uint8](dbType)}
	case "USMALLINT":
		return arrowColumn{arrow.PrimitiveTypes.Uint16, addNumber[uint16](dbType)}
	case "UINTEGER":
		return arrowColumn{arrow.PrimitiveTypes.Uint32, addNumber[uint32](dbType)}
	case "UBIGINT":
		return arrowColumn{arrow.PrimitiveTypes.Uint64, addNumber[uint64](dbType)}
	case "FLOAT":
		return arrowColumn{arrow.PrimitiveTypes.Float32, addNumber[float32](dbType)}
	case "DOUBLE":
		return arrowColumn{arrow.PrimitiveTypes.Float64, addNumber[float64](dbType)}
	case "HUGEINT", "UHUGEINT":
		return arrowColumn{&arrow.Decimal128Type{Precision: 38, Scale: 0}, addHugeint}
	case "VARCHAR", "ENUM", "BIGNUM", "BIT", "TIMETZ", "TIME WITH TIME ZONE":
		return arrowColumn{arrow.BinaryTypes.String, addText}
	case "JSON": // decoded by the driver: encode it again
		return arrowColumn{arrow.BinaryTypes.String, addJSON}
	case "UUID":
		return arrowColumn{arrow.BinaryTypes.String, addUUID}
	case "BLOB", "GEOMETRY":
		return arrowColumn{arrow.BinaryTypes.Binary, addBinary}
	case "DATE":
		return arrowColumn{arrow.FixedWidthTypes.Date32, addDate}
	case "TIME":
		return arrowColumn{arrow.FixedWidthTypes.Time64us, addTime}
	case "TIMESTAMP":
		return arrowColumn{&arrow.TimestampType{Unit: arrow.Microsecond}, addTimestamp(arrow.Microsecond)}
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return arrowColumn{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, addTimestamp(arrow.Microsecond)}
	case "TIMESTAMP_S":
		return arrowColumn{&arrow.TimestampType{Unit: arrow.Second}, addTimestamp(arrow.Second)}
	case "TIMESTAMP_MS":
		return arrowColumn{&arrow.TimestampType{Unit: arrow.Millisecond}, addTimestamp(arrow.Millisecond)}
	case "TIMESTAMP_NS":
		return arrowColumn{&arrow.TimestampType{Unit: arrow.Nanosecond}, addTimestamp(arrow.Nanosecond)}
	case "INTERVAL":
		return arrowColumn{arrow.FixedWidthTypes.MonthDayNanoInterval, addInterval}
	}
	if p, s, ok := parseDecimal(dbType); ok {
		return arrowColumn{&arrow.Decimal128Type{Precision: p, Scale: s}, addDecimal(s)}
	}
	// LIST (T[]), ARRAY (T[n]), STRUCT(…), MAP(…), UNION(…) and types this
	// file does not know: JSON text.
	return arrowColumn{arrow.BinaryTypes.String, addJSON}
}

// parseDecimal reads "DECIMAL(p,s)".
func parseDecimal(t string) (p, s int32, ok bool) {
	inner, found := strings.CutPrefix(t, "DECIMAL(")
	if !found || !strings.HasSuffix(inner, ")") {
		return 0, 0, false
	}
	ps, ss, found := strings.Cut(strings.TrimSuffix(inner, ")"), ",")
	if !found {
		return 0, 0, false
	}
	pi, err1 := strconv.Atoi(strings.TrimSpace(ps))
	si, err2 := strconv.Atoi(strings.TrimSpace(ss))
	if err1 != nil || err2 != nil || pi < 1 || pi > 38 || si < 0 || si > pi {
		return 0, 0, false
	}
	return int32(pi), int32(si), true
}

func unexpected(v any, dbType string) error {
	return fmt.Errorf("warehouse: unexpected %T for a %s value", v, dbType)
}

// numberBuilder is what the builders of fixed-width numbers share.
type numberBuilder[T any] interface {
	Append(T)
}

func addNumber[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](dbType string) func(array.Builder, any) (int, error) {
	return func(b array.Builder, v any) (int, error) {
		x, ok := v.(T)
		if !ok {
			return 0, unexpected(v, dbType)
		}
		b.(numberBuilder[T]).Append(x)
		return 0, nil
	}
}

// addText appends strings as they are and anything else as its text.
func addText(b array.Builder, v any) (int, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case time.Time: // TIMETZ
		s = x.Format("15:04:05.999999Z07:00")
	case fmt.Stringer: // BIGNUM, BIT
		s = x.String()
	default:
		s = TextValue(v)
	}
	b.(*array.StringBuilder).Append(s)
	return len(s), nil
}

// addJSON appends a value as JSON text.
func addJSON(b array.Builder, v any) (int, error) {
	buf := appendNestedJSON(nil, v)
	b.(*array.StringBuilder).BinaryBuilder.Append(buf)
	return len(buf), nil
}

// appendNestedJSON encodes a scanned value, descending into lists,
// structs, maps and unions.
func appendNestedJSON(buf []byte, v any) []byte {
	switch x := v.(type) {
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendNestedJSON(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendNestedJSON(buf, x[k])
		}
		return append(buf, '}')
	case duckdb.OrderedMap:
		keys, values := x.Keys(), x.Values()
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			ks, ok := k.(string)
			if !ok {
				ks = TextValue(k)
			}
			buf = appendJSONString(buf, ks)
			buf = append(buf, ':')
			buf = appendNestedJSON(buf, values[i])
		}
		return append(buf, '}')
	case duckdb.Union:
		return appendNestedJSON(buf, x.Value)
	default:
		return AppendJSONValue(buf, v)
	}
}

func addUUID(b array.Builder, v any) (int, error) {
	var u []byte
	switch x := v.(type) {
	case []byte:
		u = x
	case duckdb.UUID:
		u = x[:]
	case string:
		b.(*array.StringBuilder).Append(x)
		return len(x), nil
	default:
		return 0, unexpected(v, "UUID")
	}
	if len(u) != 16 {
		return 0, fmt.Errorf("warehouse: UUID of %d bytes", len(u))
	}
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	b.(*array.StringBuilder).BinaryBuilder.Append(s[:])
	return len(s), nil
}

func addBinary(b array.Builder, v any) (int, error) {
	var p []byte
	switch x := v.(type) {
	case []byte:
		p = x
	case string:
		p = []byte(x)
	default:
		return 0, unexpected(v, "BLOB")
	}
	b.(*array.BinaryBuilder).Append(p)
	return len(p), nil
}

func addDate(b array.Builder, v any) (int, error) {
	t, ok := v.(time.Time)
	if !ok {
		return 0, unexpected(v, "DATE")
	}
	y, m, d := t.Date()
	days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	b.(*array.Date32Builder).Append(arrow.Date32(days))
	return 0, nil
}

func addTime(b array.Builder, v any) (int, error) {
	t, ok := v.(time.Time)
	if !ok {
		return 0, unexpected(v, "TIME")
	}
	us := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000)
	b.(*array.Time64Builder).Append(arrow.Time64(us))
	return 0, nil
}

func addTimestamp(unit arrow.TimeUnit) func(array.Builder, any) (int, error) {
	return func(b array.Builder, v any) (int, error) {
		t, ok := v.(time.Time)
		if !ok {
			return 0, unexpected(v, "TIMESTAMP")
		}
		var n int64
		switch unit {
		case arrow.Second:
			n = t.Unix()
		case arrow.Millisecond:
			n = t.UnixMilli()
		case arrow.Nanosecond:
			n = t.UnixNano()
		default:
			n = t.UnixMicro()
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(n))
		return 0, nil
	}
}

func addInterval(b array.Builder, v any) (int, error) {
	iv, ok := v.(duckdb.Interval)
	if !ok {
		return 0, unexpected(v, "INTERVAL")
	}
	b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{
		Months: iv.Months, Days: iv.Days, Nanoseconds: iv.Micros * 1000})
	return 0, nil
}

// maxDecimal38 is 10^38, the first integer decimal128(38,0) cannot hold.
var maxDecimal38 = new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)

func addHugeint(b array.Builder, v any) (int, error) {
	x, ok := v.(*big.Int)
	if !ok {
		return 0, unexpected(v, "HUGEINT")
	}
	if x.CmpAbs(maxDecimal38) >= 0 {
		return 0, errArrowRange
	}
	b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(x))
	return 0, nil
}

func addDecimal(scale int32) func(array.Builder, any) (int, error) {
	return func(b array.Builder, v any) (int, error) {
		d, ok := v.(duckdb.Decimal)
		if !ok || d.Value == nil {
			return 0, unexpected(v, "DECIMAL")
		}
		if int32(d.Scale) != scale {
			return 0, fmt.Errorf("warehouse: DECIMAL value of scale %d in a column of scale %d", d.Scale, scale)
		}
		b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(d.Value))
		return 0, nil
	}
}
