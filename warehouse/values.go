package warehouse

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/allsource/allsource/internal/jsontext"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Values scanned from a result (Rows.Scan into any) as JSON and text: the
// encodings the HTTP API's result formats and the Arrow writer's JSON
// columns share.

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte { return jsontext.AppendString(buf, s) }

// AppendJSONValue appends v, a value scanned from a result (Rows), as
// JSON: integers, floats, HUGEINTs and DECIMALs as numbers (a NaN or an
// infinity as a string), text as a string, a BLOB as base64, a time as
// RFC 3339, an INTERVAL as "<m> months <d> days <us> microseconds", a UUID
// in its canonical form, maps and lists as encoding/json writes them.
func AppendJSONValue(buf []byte, v any) []byte {
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
		b, err := jsontext.Marshal(x)
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

// TextValue is v, a value scanned from a result, as text (a CSV cell):
// NULL is empty, text as it is, a time RFC 3339, a BLOB base64, anything
// else its JSON (a string's without quotes).
func TextValue(v any) string {
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
		b, _ := jsontext.Marshal(x)
		return string(b)
	default:
		b := AppendJSONValue(nil, v)
		if len(b) > 1 && b[0] == '"' {
			var s string
			if json.Unmarshal(b, &s) == nil {
				return s
			}
		}
		return string(b)
	}
}
