package source

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// jsonSource reads a stream of top-level JSON values: arrays, whose elements
// are records, and objects, each a record. It scans the bytes itself so that
// it can stream arrays of any length and name lines in its errors; each
// element is then validated with encoding/json.
type jsonSource struct {
	name string
	br   *bufio.Reader
	mp   *mapper

	line       int  // line of the next unread byte, 1-based
	elem       int  // elements read so far
	inArray    bool // inside a top-level array
	arrayLine  int  // where that array opened
	needSep    bool // an element was read; ',' or ']' must follow
	afterComma bool // a ',' was read; an element must follow

	buf   []byte // the current element
	stack []byte // open brackets of the current element
	cb    bytes.Buffer
}

// syntaxError ends the stream with an error naming the current line.
func (s *jsonSource) syntaxError(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", s.name, s.line, fmt.Sprintf(format, args...))
}

// ioError ends the stream after a read error.
func (s *jsonSource) ioError(err error) error {
	return fmt.Errorf("%s:%d: %w", s.name, s.line, err)
}

// peekNonSpace skips white space and returns the next byte without
// consuming it.
func (s *jsonSource) peekNonSpace() (byte, error) {
	for {
		if s.br.Buffered() == 0 {
			if _, err := s.br.Peek(1); err != nil {
				return 0, err
			}
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		for i, c := range chunk {
			switch c {
			case '\n':
				s.line++
			case ' ', '\t', '\r':
			default:
				s.br.Discard(i)
				return c, nil
			}
		}
		s.br.Discard(len(chunk))
	}
}

func (s *jsonSource) next() (Record, error) {
	for {
		c, err := s.peekNonSpace()
		if err == io.EOF {
			if s.inArray {
				return Record{}, s.syntaxError("unexpected end of input: the array opened on line %d is not closed", s.arrayLine)
			}
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, s.ioError(err)
		}
		if s.inArray {
			if s.needSep {
				switch c {
				case ',':
					s.br.Discard(1)
					s.needSep, s.afterComma = false, true
					continue
				case ']':
					s.br.Discard(1)
					s.inArray = false
					continue
				}
				return Record{}, s.syntaxError("expected ',' or ']' after element %d, found %q", s.elem, rune(c))
			}
			if c == ']' {
				if s.afterComma {
					return Record{}, s.syntaxError("expected an element after ',', found ']'")
				}
				s.br.Discard(1)
				s.inArray = false
				continue
			}
			if c == ',' {
				return Record{}, s.syntaxError("expected an element, found ','")
			}
		} else {
			switch c {
			case '[':
				s.br.Discard(1)
				s.inArray, s.arrayLine = true, s.line
				s.needSep, s.afterComma = false, false
				continue
			case '{':
			default:
				return Record{}, s.syntaxError("expected '[' or '{', found %q", rune(c))
			}
		}
		s.elem++
		startLine := s.line
		tooBig, err := s.readValue()
		if err != nil {
			return Record{}, err
		}
		if s.inArray {
			s.needSep, s.afterComma = true, false
		}
		if tooBig {
			return Record{}, s.mp.fail(s.elem, "", "record is longer than %d bytes (it starts on line %d)", maxRecord, startLine)
		}
		ev, err := compactObject(&s.cb, s.buf, s.mp, s.elem, startLine)
		if err != nil {
			return Record{}, err
		}
		return Record{Line: s.elem, Event: ev}, nil
	}
}

// readValue reads one JSON value, starting at the next byte, into s.buf. It
// tracks strings and nesting only; the content is validated later. A value
// longer than MaxRecordBytes is consumed but not kept (tooBig). A value that
// does not end, or whose brackets do not match, ends the stream.
func (s *jsonSource) readValue() (tooBig bool, err error) {
	s.buf = s.buf[:0]
	s.stack = s.stack[:0]
	startLine := s.line
	started, scalar, inStr, esc := false, false, false, false
	size := 0
	for {
		if s.br.Buffered() == 0 {
			if _, err := s.br.Peek(1); err != nil {
				if err == io.EOF {
					if scalar {
						return tooBig, nil
					}
					return false, s.syntaxError("unexpected end of input in element %d, which starts on line %d", s.elem, startLine)
				}
				return false, s.ioError(err)
			}
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		i, done := 0, false
	scan:
		for ; i < len(chunk); i++ {
			c := chunk[i]
			if !started {
				started = true
				switch c {
				case '{', '[':
					s.stack = append(s.stack, c)
				case '"':
					inStr = true
				default:
					scalar = true
				}
				continue
			}
			if scalar {
				if isDelim(c) {
					done = true
					break scan
				}
				continue
			}
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if len(s.stack) == 0 {
						i++
						done = true
						break scan
					}
				default:
					// Skip plain string bytes in one go.
					n := plainString(chunk[i:])
					s.line += bytes.Count(chunk[i:i+n], newline)
					i += n - 1
				}
				continue
			}
			switch c {
			case '\n':
				s.line++
			case '"':
				inStr = true
			case '{', '[':
				s.stack = append(s.stack, c)
			case '}', ']':
				open := s.stack[len(s.stack)-1]
				if (c == '}') != (open == '{') {
					return false, s.syntaxError("unexpected %q in element %d, which starts on line %d", rune(c), s.elem, startLine)
				}
				s.stack = s.stack[:len(s.stack)-1]
				if len(s.stack) == 0 {
					i++
					done = true
					break scan
				}
			}
		}
		size += i
		if size > maxRecord {
			tooBig = true
			s.buf = s.buf[:0]
		} else {
			s.buf = append(s.buf, chunk[:i]...)
		}
		s.br.Discard(i)
		if done {
			return tooBig, nil
		}
	}
}

var newline = []byte{'\n'}

// plainString returns how many bytes at the start of b hold neither a quote
// nor a backslash.
func plainString(b []byte) int {
	n := bytes.IndexByte(b, '"')
	if n < 0 {
		n = len(b)
	}
	if k := bytes.IndexByte(b[:n], '\\'); k >= 0 {
		return k
	}
	return n
}
