package pgwire

import (
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/allsource/allsource/pgwire/pgsql"
)

// Postgres type OIDs this server speaks.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidChar        = 18
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidBoolArr     = 1000
	oidByteaArr    = 1001
	oidInt2Arr     = 1005
	oidInt4Arr     = 1007
	oidTextArr     = 1009
	oidVarcharArr  = 1015
	oidInt8Arr     = 1016
	oidFloat4Arr   = 1021
	oidFloat8Arr   = 1022
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidTimeTZ      = 1266
	oidNumeric     = 1700
	oidDateArr     = 1182
	oidTSArr       = 1115
	oidTSTZArr     = 1185
	oidIntervalArr = 1187
	oidNumericArr  = 1231
	oidUUID        = 2950
	oidUUIDArr     = 2951
	oidJSONB       = 3802
	oidJSONArr     = 199
	oidOIDArr      = 1028
	oidCharArr     = 1002
	oidInt2Vector  = 22
	oidOidVector   = 30
)

// arrayOf maps an element type to its array type.
var arrayOf = map[uint32]uint32{
	oidBool: oidBoolArr, oidBytea: oidByteaArr, oidInt2: oidInt2Arr, oidInt4: oidInt4Arr,
	oidInt8: oidInt8Arr, oidText: oidTextArr, oidVarchar: oidVarcharArr, oidFloat4: oidFloat4Arr,
	oidFloat8: oidFloat8Arr, oidDate: oidDateArr, oidTimestamp: oidTSArr, oidTimestampTZ: oidTSTZArr,
	oidInterval: oidIntervalArr, oidNumeric: oidNumericArr, oidUUID: oidUUIDArr, oidJSON: oidJSONArr,
	oidOID: oidOIDArr, oidChar: oidCharArr,
}

// vectorElem are the element types of the catalog's vector types.
var vectorElem = map[uint32]uint32{oidOidVector: oidOID, oidInt2Vector: oidInt2}

// elemOf is the inverse of arrayOf.
var elemOf = func() map[uint32]uint32 {
	m := make(map[uint32]uint32, len(arrayOf))
	for e, a := range arrayOf {
		m[a] = e
	}
	return m
}()

// typeSize is pg_type.typlen for RowDescription.
func typeSize(oid uint32) int16 {
	switch oid {
	case oidBool:
		return 1
	case oidInt2:
		return 2
	case oidChar:
		return 1
	case oidInt4, oidFloat4, oidDate, oidOID:
		return 4
	case oidInt8, oidFloat8, oidTimestamp, oidTimestampTZ, oidTime:
		return 8
	case oidTimeTZ:
		return 12
	case oidInterval, oidUUID:
		return 16
	}
	return -1
}

// column is how one result column is produced: its Postgres type and, for
// engine types the driver would decode lossily, the cast to select instead.
type column struct {
	name string
	oid  uint32
	cast string // "" (as is), "json" (CAST AS VARCHAR) or "tojson" (to_json, then VARCHAR)
	elem uint32 // element OID of an array column
}

// pgColumn maps an engine column type to its Postgres form.
func pgColumn(name string, t duckdb.TypeInfo) column {
	c := column{name: name}
	if t == nil {
		c.oid = oidText // not known before binding: sent as text
		return c
	}
	if t.Alias() == "JSON" {
		c.oid, c.cast = oidJSON, "json"
		return c
	}
	switch t.InternalType() {
	case duckdb.TYPE_LIST, duckdb.TYPE_ARRAY:
		var child duckdb.TypeInfo
		switch d := t.Details().(type) {
		case *duckdb.ListDetails:
			child = d.Child
		case *duckdb.ArrayDetails:
			child = d.Child
		}
		if child != nil && child.Alias() == "" {
			// The catalog's vector types: oidvector is stored as a list
			// of UBIGINT and int2vector of USMALLINT, which nothing else
			// produces; PostgreSQL prints them space-separated.
			switch child.InternalType() {
			case duckdb.TYPE_UBIGINT:
				c.oid, c.elem = oidOidVector, oidOID
				return c
			case duckdb.TYPE_USMALLINT:
				c.oid, c.elem = oidInt2Vector, oidInt2
				return c
			}
			if e := scalarOID(child.InternalType()); e != 0 {
				if a, ok := arrayOf[e]; ok {
					c.oid, c.elem = a, e
					return c
				}
			}
		}
		c.oid, c.cast = oidJSON, "tojson"
	case duckdb.TYPE_ENUM:
		c.oid = oidText
		if d, ok := t.Details().(*duckdb.EnumDetails); ok && slices.Equal(d.Values, pgsql.CharValues) {
			c.oid = oidChar // a catalog "char" column
		}
	case duckdb.TYPE_STRUCT, duckdb.TYPE_MAP, duckdb.TYPE_UNION:
		c.oid, c.cast = oidJSON, "tojson"
	default:
		c.oid = scalarOID(t.InternalType())
		if c.oid == 0 {
			c.oid = oidText
		}
	}
	return c
}

// scalarOID is the Postgres type of a scalar engine type, or 0.
func scalarOID(t duckdb.Type) uint32 {
	switch t {
	case duckdb.TYPE_BOOLEAN:
		return oidBool
	case duckdb.TYPE_TINYINT, duckdb.TYPE_SMALLINT, duckdb.TYPE_UTINYINT:
		return oidInt2
	case duckdb.TYPE_INTEGER, duckdb.TYPE_USMALLINT:
		return oidInt4
	case duckdb.TYPE_BIGINT:
		return oidInt8
	case duckdb.TYPE_UINTEGER: // the catalog's oid columns
		return oidOID
	case duckdb.TYPE_UBIGINT, duckdb.TYPE_HUGEINT, duckdb.TYPE_UHUGEINT, duckdb.TYPE_DECIMAL, duckdb.TYPE_BIGNUM:
		return oidNumeric
	case duckdb.TYPE_FLOAT:
		return oidFloat4
	case duckdb.TYPE_DOUBLE:
		return oidFloat8
	case duckdb.TYPE_VARCHAR, duckdb.TYPE_ENUM, duckdb.TYPE_BIT:
		return oidText
	case duckdb.TYPE_BLOB:
		return oidBytea
	case duckdb.TYPE_DATE:
		return oidDate
	case duckdb.TYPE_TIME:
		return oidTime
	case duckdb.TYPE_TIME_TZ:
		return oidTimeTZ
	case duckdb.TYPE_TIMESTAMP, duckdb.TYPE_TIMESTAMP_S, duckdb.TYPE_TIMESTAMP_MS, duckdb.TYPE_TIMESTAMP_NS:
		return oidTimestamp
	case duckdb.TYPE_TIMESTAMP_TZ:
		return oidTimestampTZ
	case duckdb.TYPE_INTERVAL:
		return oidInterval
	case duckdb.TYPE_UUID:
		return oidUUID
	}
	return 0
}

// paramOID is the Postgres type announced for a parameter of engine type t.
func paramOID(t duckdb.Type) uint32 {
	if o := scalarOID(t); o != 0 {
		if t == duckdb.TYPE_UBIGINT {
			return oidInt8
		}
		return o
	}
	return oidText
}

// textEnv is the session state text output depends on.
type textEnv struct {
	loc *time.Location // TimeZone
}

// ---------------------------------------------------------------------------
// Text format

// appendText appends v in Postgres text format for type oid.
func appendText(buf []byte, v driver.Value, oid uint32, env *textEnv) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return append(buf, x...), nil
	case bool:
		if x {
			return append(buf, 't'), nil
		}
		return append(buf, 'f'), nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case float32:
		return appendFloat(buf, float64(x), 32), nil
	case float64:
		return appendFloat(buf, x, 64), nil
	case *big.Int:
		return x.Append(buf, 10), nil
	case duckdb.Decimal:
		return append(buf, decimalString(x)...), nil
	case []byte:
		if oid == oidUUID && len(x) == 16 {
			return appendUUID(buf, x), nil
		}
		if oid == oidBytea {
			buf = append(buf, `\x`...)
			return hex.AppendEncode(buf, x), nil
		}
		return append(buf, x...), nil
	case duckdb.UUID:
		return appendUUID(buf, x[:]), nil
	case time.Time:
		return appendTime(buf, x, oid, env), nil
	case duckdb.Interval:
		return appendInterval(buf, x), nil
	case []any:
		if oid == oidOidVector || oid == oidInt2Vector {
			for i, e := range x {
				if i > 0 {
					buf = append(buf, ' ')
				}
				buf = append(buf, fmt.Sprint(e)...)
			}
			return buf, nil
		}
		return appendArrayText(buf, x, elemOf[oid], env)
	}
	return append(buf, fmt.Sprint(v)...), nil
}

// appendFloat formats like Postgres with extra_float_digits ≥ 1: the
// shortest exact decimal, exponent form outside 1e-4 ≤ |f| < 1e15 (float8)
// or 1e6 (float4).
func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if exp < -4 || exp >= limit {
		s := strconv.FormatFloat(f, 'e', -1, bits)
		// Postgres writes at least two exponent digits, as Go does.
		return append(buf, s...)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, bits)
}

func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	s := d.Value.String()
	if d.Scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sc := int(d.Scale)
	for len(s) <= sc {
		s = "0" + s
	}
	s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	if neg {
		s = "-" + s
	}
	return s
}

func appendUUID(buf []byte, b []byte) []byte {
	var tmp [36]byte
	hex.Encode(tmp[0:8], b[0:4])
	tmp[8] = '-'
	hex.Encode(tmp[9:13], b[4:6])
	tmp[13] = '-'
	hex.Encode(tmp[14:18], b[6:8])
	tmp[18] = '-'
	hex.Encode(tmp[19:23], b[8:10])
	tmp[23] = '-'
	hex.Encode(tmp[24:], b[10:16])
	return append(buf, tmp[:]...)
}

func appendTime(buf []byte, t time.Time, oid uint32, env *textEnv) []byte {
	switch oid {
	case oidDate:
		return appendDate(buf, t)
	case oidTime:
		buf = appendClock(buf, t)
		return appendMicros(buf, t)
	case oidTimeTZ:
		buf = appendClock(buf, t)
		buf = appendMicros(buf, t)
		return appendOffset(buf, t)
	case oidTimestampTZ:
		if env != nil && env.loc != nil && env.loc != time.UTC {
			t = t.In(env.loc)
		} else {
			t = t.UTC()
		}
		buf = appendDate(buf, t)
		buf = append(buf, ' ')
		buf = appendClock(buf, t)
		buf = appendMicros(buf, t)
		return appendOffset(buf, t)
	default:
		buf = appendDate(buf, t)
		buf = append(buf, ' ')
		buf = appendClock(buf, t)
		return appendMicros(buf, t)
	}
}

// appendDate writes yyyy-mm-dd (years before 1 AD as Postgres does, with
// " BC" left out: the engine's range starts at 1 AD for these values).
func appendDate(buf []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(buf, "2006-01-02")
	}
	return append(buf, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// appendClock writes hh:mm:ss.
func appendClock(buf []byte, t time.Time) []byte {
	h, mi, s := t.Clock()
	return append(buf, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
}

// appendMicros appends ".ffffff" without trailing zeros, or nothing.
func appendMicros(buf []byte, t time.Time) []byte {
	us := t.Nanosecond() / 1000
	if us == 0 {
		return buf
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + us%10)
		us /= 10
	}
	n := 6
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	buf = append(buf, '.')
	return append(buf, digits[:n]...)
}

// appendOffset appends a zone offset the way Postgres prints it: +00,
// +05:30, -03.
func appendOffset(buf []byte, t time.Time) []byte {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	buf = append(buf, sign)
	h, m, s := off/3600, off/60%60, off%60
	buf = append(buf, byte('0'+h/10), byte('0'+h%10))
	if m != 0 || s != 0 {
		buf = append(buf, ':', byte('0'+m/10), byte('0'+m%10))
	}
	if s != 0 {
		buf = append(buf, ':', byte('0'+s/10), byte('0'+s%10))
	}
	return buf
}

// appendInterval writes Postgres's "postgres" interval style:
// "1 year 2 mons 3 days 04:05:06.5", "-1 days +02:00:00".
func appendInterval(buf []byte, iv duckdb.Interval) []byte {
	start := len(buf)
	negative := false // a field so far was negative: later positive ones get '+'
	part := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if len(buf) > start {
			buf = append(buf, ' ')
		}
		if n > 0 && negative {
			buf = append(buf, '+')
		}
		negative = negative || n < 0
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, ' ')
		buf = append(buf, unit...)
		if n != 1 {
			buf = append(buf, 's')
		}
	}
	years, months := int64(iv.Months)/12, int64(iv.Months)%12
	part(years, "year")
	part(months, "mon")
	part(int64(iv.Days), "day")
	if iv.Micros != 0 || len(buf) == start {
		if len(buf) > start {
			buf = append(buf, ' ')
		}
		us := iv.Micros
		if us < 0 {
			buf = append(buf, '-')
			us = -us
		} else if negative {
			buf = append(buf, '+')
		}
		h := us / 3_600_000_000
		m := us / 60_000_000 % 60
		sec := us / 1_000_000 % 60
		frac := us % 1_000_000
		buf = append(buf, fmt.Sprintf("%02d:%02d:%02d", h, m, sec)...)
		if frac != 0 {
			f := strings.TrimRight(strconv.FormatInt(frac+1_000_000, 10)[1:], "0")
			buf = append(buf, '.')
			buf = append(buf, f...)
		}
	}
	return buf
}

// appendArrayText writes a one-dimensional Postgres array literal.
func appendArrayText(buf []byte, xs []any, elem uint32, env *textEnv) ([]byte, error) {
	buf = append(buf, '{')
	for i, x := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		if x == nil {
			buf = append(buf, "NULL"...)
			continue
		}
		if inner, ok := x.([]any); ok {
			var err error
			if buf, err = appendArrayText(buf, inner, elem, env); err != nil {
				return nil, err
			}
			continue
		}
		el, err := appendText(nil, x, elem, env)
		if err != nil {
			return nil, err
		}
		buf = appendArrayElem(buf, el)
	}
	return append(buf, '}'), nil
}

func appendArrayElem(buf, el []byte) []byte {
	quote := len(el) == 0 || strings.EqualFold(string(el), "NULL")
	for _, c := range el {
		if c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(buf, el...)
	}
	buf = append(buf, '"')
	for _, c := range el {
		if c == '"' || c == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, c)
	}
	return append(buf, '"')
}

// ---------------------------------------------------------------------------
// Binary format

// pgEpoch is 2000-01-01, the origin of Postgres's binary dates and times.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const pgEpochUnixMicros = 946684800_000_000

// appendBinary appends v in Postgres binary format for type oid.
func appendBinary(buf []byte, v driver.Value, oid uint32) ([]byte, error) {
	switch oid {
	case oidBool:
		if b, ok := v.(bool); ok {
			if b {
				return append(buf, 1), nil
			}
			return append(buf, 0), nil
		}
	case oidChar:
		if s, ok := v.(string); ok && len(s) <= 1 {
			return append(buf, s...), nil
		}
	case oidInt2, oidInt4, oidInt8, oidOID:
		n, ok := toInt64(v)
		if !ok {
			break
		}
		switch oid {
		case oidInt2:
			return binary.BigEndian.AppendUint16(buf, uint16(n)), nil
		case oidInt4, oidOID:
			return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
		default:
			return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
		}
	case oidFloat4:
		switch x := v.(type) {
		case float32:
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(x)), nil
		case float64:
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(x))), nil
		}
	case oidFloat8:
		switch x := v.(type) {
		case float64:
			return binary.BigEndian.AppendUint64(buf, math.Float64bits(x)), nil
		case float32:
			return binary.BigEndian.AppendUint64(buf, math.Float64bits(float64(x))), nil
		}
	case oidNumeric:
		var s string
		switch x := v.(type) {
		case duckdb.Decimal:
			s = decimalString(x)
		case *big.Int:
			s = x.String()
		case uint64:
			s = strconv.FormatUint(x, 10)
		default:
			if n, ok := toInt64(v); ok {
				s = strconv.FormatInt(n, 10)
			}
		}
		if s != "" {
			return appendNumericBinary(buf, s)
		}
	case oidDate:
		if t, ok := v.(time.Time); ok {
			y, m, d := t.Date()
			secs := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - pgEpoch.Unix()
			days := secs / 86400
			if secs%86400 != 0 && secs < 0 {
				days--
			}
			return binary.BigEndian.AppendUint32(buf, uint32(int32(days))), nil
		}
	case oidTimestamp, oidTimestampTZ:
		if t, ok := v.(time.Time); ok {
			if oid == oidTimestamp {
				// Wall-clock time: encode the fields as if UTC.
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			}
			us := t.UnixMicro() - pgEpochUnixMicros
			return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
		}
	case oidTime, oidTimeTZ:
		if t, ok := v.(time.Time); ok {
			us := int64(t.Hour())*3_600_000_000 + int64(t.Minute())*60_000_000 + int64(t.Second())*1_000_000 + int64(t.Nanosecond()/1000)
			buf = binary.BigEndian.AppendUint64(buf, uint64(us))
			if oid == oidTimeTZ {
				_, off := t.Zone()
				buf = binary.BigEndian.AppendUint32(buf, uint32(int32(-off))) // seconds west
			}
			return buf, nil
		}
	case oidInterval:
		if iv, ok := v.(duckdb.Interval); ok {
			buf = binary.BigEndian.AppendUint64(buf, uint64(iv.Micros))
			buf = binary.BigEndian.AppendUint32(buf, uint32(iv.Days))
			return binary.BigEndian.AppendUint32(buf, uint32(iv.Months)), nil
		}
	case oidUUID:
		switch x := v.(type) {
		case []byte:
			if len(x) == 16 {
				return append(buf, x...), nil
			}
		case duckdb.UUID:
			return append(buf, x[:]...), nil
		}
	case oidBytea:
		switch x := v.(type) {
		case []byte:
			return append(buf, x...), nil
		case string:
			return append(buf, x...), nil
		}
	case oidJSONB:
		buf = append(buf, 1)
		return appendText(buf, v, oidJSON, nil)
	}
	elem, ok := elemOf[oid]
	if !ok {
		elem, ok = vectorElem[oid]
	}
	if ok {
		if xs, ok := v.([]any); ok {
			return appendArrayBinary(buf, xs, elem)
		}
	}
	// text, varchar, json and anything whose binary form is its text.
	switch x := v.(type) {
	case string:
		return append(buf, x...), nil
	case []byte:
		return append(buf, x...), nil
	}
	return appendText(buf, v, oid, nil)
}

func toInt64(v driver.Value) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func appendArrayBinary(buf []byte, xs []any, elem uint32) ([]byte, error) {
	hasNull := int32(0)
	for _, x := range xs {
		if x == nil {
			hasNull = 1
		}
	}
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	buf = binary.BigEndian.AppendUint32(buf, uint32(hasNull))
	buf = binary.BigEndian.AppendUint32(buf, elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(xs)))
	buf = binary.BigEndian.AppendUint32(buf, 1) // lower bound
	for _, x := range xs {
		if x == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
			continue
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		if buf, err = appendBinary(buf, x, elem); err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

// appendNumericBinary encodes a decimal string as Postgres numeric: base
// 10000 digits with a weight, sign and display scale.
func appendNumericBinary(buf []byte, s string) ([]byte, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("numeric %q is not a decimal", s)
		}
	}
	dscale := len(frac)
	intPart = strings.TrimLeft(intPart, "0")
	// Pad the integer part on the left and the fraction on the right to
	// whole groups of four digits.
	if r := len(intPart) % 4; r != 0 {
		intPart = strings.Repeat("0", 4-r) + intPart
	}
	if r := len(frac) % 4; r != 0 {
		frac += strings.Repeat("0", 4-r)
	}
	all := intPart + frac
	weight := len(intPart)/4 - 1
	var digits []uint16
	for i := 0; i < len(all); i += 4 {
		d, _ := strconv.Atoi(all[i : i+4])
		digits = append(digits, uint16(d))
	}
	// Strip leading and trailing zero groups.
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight = 0
		neg = false
	}
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(digits)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
	for _, d := range digits {
		buf = binary.BigEndian.AppendUint16(buf, d)
	}
	return buf, nil
}
