package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/internal/jsontext"
	"github.com/allsource/allsource/warehouse"
)

// The result formats of POST /v1/query, chosen by the Accept header.
const (
	formatJSON   = "json"
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
	formatArrow  = "arrow"
)

// negotiate picks the first media type of an Accept header that names a
// result format; JSON when none does.
func negotiate(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "application/x-ndjson", "application/ndjson", "application/jsonl":
			return formatNDJSON
		case "text/csv":
			return formatCSV
		case warehouse.ArrowStreamType:
			return formatArrow
		case "application/json":
			return formatJSON
		}
	}
	return formatJSON
}

// WantsArrow reports whether an Accept header asks for an Arrow stream
// before any other result format.
func WantsArrow(accept string) bool { return negotiate(accept) == formatArrow }

// writeRows streams a result. JSON: {"columns":[{"name","type"}],"rows":[[…]]};
// an error after the first byte is sent as a final "error" member (JSON), an
// {"error":…} line (NDJSON) or a last line "#error: …" (CSV).
func writeRows(c *gin.Context, wh *warehouse.Warehouse, rows *warehouse.Rows, format string) error {
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
			buf = warehouse.AppendJSONValue(buf, names[i])
			buf = append(buf, `,"type":`...)
			buf = warehouse.AppendJSONValue(buf, types[i])
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
			return finishWithError(bw, cw, format, n, ctx.Err(), streamMessage(c, wh, ctx.Err()))
		}
		if err := rows.Scan(ptrs...); err != nil {
			return finishWithError(bw, cw, format, n, err, streamMessage(c, wh, err))
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
				record[i] = warehouse.TextValue(v)
			}
			cw.Write(record)
		case formatNDJSON:
			buf = append(buf, '{')
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = warehouse.AppendJSONValue(buf, names[i])
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
		return finishWithError(bw, cw, format, n, err, streamMessage(c, wh, err))
	}
	switch format {
	case formatJSON:
		bw.WriteString(`],"row_count":` + strconv.Itoa(n) + "}\n")
	case formatCSV:
		cw.Flush()
	}
	return bw.Flush()
}

// appendCell encodes one value; raw marks JSON text to embed unquoted.
func appendCell(buf []byte, v any, raw bool) []byte {
	if s, ok := v.(string); ok && raw {
		return append(buf, s...)
	}
	return warehouse.AppendJSONValue(buf, v)
}

// streamMessage is what a stream that failed tells the client: why its
// request was cancelled when that is a user-facing error (a quota), else
// the engine's message.
func streamMessage(c *gin.Context, wh *warehouse.Warehouse, err error) string {
	var e *allsource.Error
	if errors.As(context.Cause(c.Request.Context()), &e) {
		return e.Message
	}
	return wh.UserMessage(err)
}

func finishWithError(bw *bufio.Writer, cw *csv.Writer, format string, n int, err error, msg string) error {
	switch format {
	case formatJSON:
		b, _ := jsontext.Marshal(allsource.ErrorDetail{Code: allsource.CodeInvalid, Message: msg})
		bw.WriteString(`],"row_count":` + strconv.Itoa(n) + `,"error":`)
		bw.Write(b)
		bw.WriteString("}\n")
	case formatNDJSON:
		b, _ := jsontext.Marshal(allsource.NewErrorBody(&allsource.Error{Code: allsource.CodeInvalid, Message: msg, Index: -1}))
		bw.Write(append(b, '\n'))
	case formatCSV:
		cw.Flush()
		bw.WriteString("#error: " + strings.ReplaceAll(msg, "\n", " ") + "\n")
	}
	bw.Flush()
	return err
}
