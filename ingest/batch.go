package ingest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/allsource/allsource"
)

// Body formats accepted by ParseBatch.
const (
	FormatJSON   = "json"   // one event object or a JSON array of them
	FormatNDJSON = "ndjson" // one event object per line; blank lines are skipped
)

// ParseBatch parses and validates a request body into input events. On error
// it returns an *allsource.Error naming the event (Index for JSON, Line for
// NDJSON) and the field, and no events: a batch is valid whole or not at all.
func ParseBatch(body []byte, format string, lim Limits) ([]Input, error) {
	lim.setDefaults()
	if format == FormatNDJSON {
		return parseNDJSON(body, &lim)
	}
	s := &scanner{b: body}
	switch s.peek() {
	case '{':
		in, err := decodeInput(s, &lim)
		if err != nil {
			return nil, batchError(err, 0, 0)
		}
		if !s.atEnd() {
			return nil, batchError(s.fail("unexpected data after the event object (send several events as a JSON array or NDJSON)"), 0, 0)
		}
		return []Input{in}, nil
	case '[':
		s.pos++
		out := make([]Input, 0, 64)
		if s.peek() == ']' {
			s.pos++
		} else {
			for {
				if len(out) >= lim.MaxBatchEvents {
					return nil, batchTooLarge(lim.MaxBatchEvents)
				}
				in, err := decodeInput(s, &lim)
				if err != nil {
					return nil, batchError(err, len(out), 0)
				}
				out = append(out, in)
				c := s.peek()
				if c == ',' {
					s.pos++
					continue
				}
				if c == ']' {
					s.pos++
					break
				}
				return nil, batchError(s.fail("expected ',' or ']' after an event"), len(out)-1, 0)
			}
		}
		if !s.atEnd() {
			return nil, batchError(s.fail("unexpected data after the JSON array"), -1, 0)
		}
		if len(out) == 0 {
			return nil, allsource.Errorf(allsource.CodeInvalid, "the batch is empty")
		}
		return out, nil
	case 0:
		if s.atEnd() {
			return nil, allsource.Errorf(allsource.CodeInvalid, "the request body is empty")
		}
		return nil, batchError(s.fail("unexpected NUL byte"), -1, 0)
	default:
		return nil, batchError(s.fail("the body must be an event object, a JSON array of events, or NDJSON"), -1, 0)
	}
}

func parseNDJSON(body []byte, lim *Limits) ([]Input, error) {
	out := make([]Input, 0, bytes.Count(body, []byte{'\n'})+1)
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		s := &scanner{b: l}
		if s.atEnd() {
			continue
		}
		if len(out) >= lim.MaxBatchEvents {
			return nil, batchTooLarge(lim.MaxBatchEvents)
		}
		in, err := decodeInput(s, lim)
		if err != nil {
			return nil, batchError(err, -1, line)
		}
		if !s.atEnd() {
			return nil, batchError(s.fail("unexpected data after the event object"), -1, line)
		}
		in.Line = line
		out = append(out, in)
	}
	if len(out) == 0 {
		return nil, allsource.Errorf(allsource.CodeInvalid, "the batch is empty")
	}
	return out, nil
}

func batchTooLarge(max int) error {
	e := allsource.Errorf(allsource.CodeTooLarge, "the batch has more than %d events; split it", max)
	return e
}

// batchError turns a scanner or field error into a user error naming the
// event by index (JSON) or line (NDJSON).
func batchError(err error, index, line int) error {
	e := &allsource.Error{Code: allsource.CodeInvalid, Index: index, Line: line}
	where := ""
	switch {
	case line > 0:
		where = fmt.Sprintf("line %d", line)
	case index >= 0:
		where = fmt.Sprintf("event %d", index)
	}
	var fe *fieldError
	var se *syntaxError
	switch {
	case errors.As(err, &fe):
		e.Code = fe.code
		e.Field = fe.field
		e.Message = fe.Error()
	case errors.As(err, &se):
		e.Message = "malformed JSON: " + se.Error()
	default:
		e.Message = err.Error()
	}
	if where != "" {
		e.Message = where + ": " + e.Message
	}
	return e
}
