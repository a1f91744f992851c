package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ndjsonSource reads one JSON object per line.
type ndjsonSource struct {
	name string
	br   *bufio.Reader
	mp   *mapper
	line int
	buf  []byte       // a line longer than the read buffer
	cb   bytes.Buffer // the compacted line
}

// readLine returns the next line without its end-of-line bytes. tooLong is
// set (and the line dropped) when it exceeds MaxRecordBytes. At the end of
// the input it returns io.EOF and no line.
func (s *ndjsonSource) readLine() (line []byte, tooLong bool, err error) {
	chunk, err := s.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(chunk) > 0) {
		return chunk, len(chunk) > maxRecord+2, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, false, err
	}
	s.buf = append(s.buf[:0], chunk...)
	for {
		chunk, err = s.br.ReadSlice('\n')
		if !tooLong {
			if len(s.buf)+len(chunk) > maxRecord+2 {
				tooLong = true
				s.buf = s.buf[:0]
			} else {
				s.buf = append(s.buf, chunk...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil, io.EOF:
			return s.buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}

func (s *ndjsonSource) next() (Record, error) {
	for {
		raw, tooLong, err := s.readLine()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, fmt.Errorf("%s:%d: %w", s.name, s.line+1, err)
		}
		s.line++
		if tooLong {
			return Record{}, &RecordError{File: s.name, Line: s.line, Msg: fmt.Sprintf("record is longer than %d bytes", maxRecord)}
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		// Leading space stays so that error columns count from the line start.
		raw = bytes.TrimRight(raw, " \t\r\n")
		ev, err := compactObject(&s.cb, raw, s.mp, s.line, s.line)
		if err != nil {
			return Record{}, err
		}
		return Record{Line: s.line, Event: ev}, nil
	}
}

// compactObject validates and compacts raw, which must be one JSON object,
// and maps it. line is the record's Line, startLine the line raw starts on.
// Errors are *RecordError.
func compactObject(cb *bytes.Buffer, raw []byte, mp *mapper, line, startLine int) ([]byte, error) {
	cb.Reset()
	if err := json.Compact(cb, raw); err != nil {
		return nil, mp.fail(line, "", "%s", describeJSONError(err, raw, startLine, mp.elem))
	}
	obj := cb.Bytes()
	if obj[0] != '{' {
		return nil, mp.fail(line, "", "expected a JSON object, found %s", kind(obj))
	}
	return mp.mapObject(obj, line)
}

// describeJSONError turns a JSON syntax error in raw into a message with its
// position: the column for a one-line record, the line within the file for a
// JSON element that starts on line startLine.
func describeJSONError(err error, raw []byte, startLine int, elem bool) string {
	// json.Compact does not report where the error is; Unmarshal does.
	var v json.RawMessage
	if err2 := json.Unmarshal(raw, &v); err2 != nil {
		err = err2
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON: " + err.Error()
	}
	off := min(max(int(se.Offset), 1), len(raw))
	if !elem {
		return fmt.Sprintf("invalid JSON at column %d: %s", off, se.Error())
	}
	line := startLine + bytes.Count(raw[:off-1], []byte{'\n'})
	return fmt.Sprintf("invalid JSON on line %d: %s", line, se.Error())
}
