package ingest

import (
	"fmt"
	"unicode/utf8"
)

// A small validating JSON scanner for the ingest hot path. It reads the
// top-level fields of an input event without building maps: string fields
// are unquoted, payload and metadata are validated and kept as raw bytes.
// FuzzScanner checks it against encoding/json.

type scanner struct {
	b   []byte
	pos int
}

type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.pos) }

func (s *scanner) fail(msg string) error { return &syntaxError{pos: s.pos, msg: msg} }

func (s *scanner) skipSpace() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// atEnd reports whether only white space is left.
func (s *scanner) atEnd() bool {
	s.skipSpace()
	return s.pos >= len(s.b)
}

// peek returns the next non-space byte, or 0 at the end (a NUL byte in the
// input also reads as 0; atEnd tells the two apart).
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.b) {
			return s.fail(fmt.Sprintf("unexpected end of input, expected %q", c))
		}
		return s.fail(fmt.Sprintf("unexpected %q, expected %q", s.b[s.pos], c))
	}
	s.pos++
	return nil
}

// str reads a JSON string at pos and returns its unquoted value. The returned
// slice aliases the input when the string has no escapes.
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.fail("expected a string")
	}
	s.pos++
	start := s.pos
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			v := s.b[start:s.pos]
			s.pos++
			return v, nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.b[s.pos:])
			if r == utf8.RuneError && n == 1 {
				return nil, s.fail("invalid UTF-8 in string")
			}
			s.pos += n
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	out := make([]byte, 0, s.pos-start+16)
	out = append(out, s.b[start:s.pos]...)
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return out, nil
		case c == '\\':
			if s.pos+1 >= len(s.b) {
				return nil, s.fail("unterminated string")
			}
			e := s.b[s.pos+1]
			s.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := s.hex4()
				if err != nil {
					return nil, err
				}
				if r, err = s.surrogate(r); err != nil {
					return nil, err
				}
				out = utf8.AppendRune(out, r)
			default:
				s.pos--
				return nil, s.fail("invalid escape in string")
			}
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.b[s.pos:])
			if r == utf8.RuneError && n == 1 {
				return nil, s.fail("invalid UTF-8 in string")
			}
			out = append(out, s.b[s.pos:s.pos+n]...)
			s.pos += n
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.b) {
		return 0, s.fail("short unicode escape")
	}
	var r rune
	for _, c := range s.b[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, s.fail("invalid unicode escape")
		}
	}
	s.pos += 4
	return r, nil
}

// surrogate completes a \u escape: a high surrogate must be followed by a
// \u escape of a low one, and a low one may not stand alone. JSON allows
// unpaired surrogates, but they are not Unicode and DuckDB refuses them, so
// one stored event would make every query over its payload fail.
func (s *scanner) surrogate(r rune) (rune, error) {
	switch {
	case r >= 0xDC00 && r < 0xE000:
		return 0, s.fail(fmt.Sprintf("unpaired surrogate \\u%04X in string", r))
	case r < 0xD800 || r >= 0xDC00:
		return r, nil
	}
	if s.pos+1 < len(s.b) && s.b[s.pos] == '\\' && s.b[s.pos+1] == 'u' {
		s.pos += 2
		r2, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if r2 >= 0xDC00 && r2 < 0xE000 {
			return (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000, nil
		}
	}
	return 0, s.fail(fmt.Sprintf("unpaired surrogate \\u%04X in string", r))
}

// skipString validates a string without unquoting it.
func (s *scanner) skipString() error {
	s.pos++ // opening quote
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			if s.pos+1 >= len(s.b) {
				return s.fail("unterminated string")
			}
			switch s.b[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				s.pos += 2
				r, err := s.hex4()
				if err != nil {
					return err
				}
				if _, err := s.surrogate(r); err != nil {
					return err
				}
			default:
				return s.fail("invalid escape in string")
			}
		case c < 0x20:
			return s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.b[s.pos:])
			if r == utf8.RuneError && n == 1 {
				return s.fail("invalid UTF-8 in string")
			}
			s.pos += n
		}
	}
	return s.fail("unterminated string")
}

// number reads a JSON number and returns its bytes.
func (s *scanner) number() ([]byte, error) {
	start := s.pos
	if s.pos < len(s.b) && s.b[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.b) {
		return nil, s.fail("invalid number")
	}
	if s.b[s.pos] == '0' {
		s.pos++
	} else if s.b[s.pos] >= '1' && s.b[s.pos] <= '9' {
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
		}
	} else {
		return nil, s.fail("invalid number")
	}
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		d := s.pos
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
		}
		if s.pos == d {
			return nil, s.fail("invalid number")
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		d := s.pos
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
		}
		if s.pos == d {
			return nil, s.fail("invalid number")
		}
	}
	return s.b[start:s.pos], nil
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.pos < len(word) || string(s.b[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.pos += len(word)
	return nil
}

const maxDepth = 512

// skipValue validates one JSON value at pos and moves past it.
func (s *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	switch s.peek() {
	case '{':
		s.pos++
		if s.peek() == '}' {
			s.pos++
			return nil
		}
		for {
			if s.peek() != '"' {
				return s.fail("expected a string key")
			}
			if err := s.skipString(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return nil
			default:
				return s.fail("expected ',' or '}' in object")
			}
		}
	case '[':
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.fail("expected ',' or ']' in array")
			}
		}
	case '"':
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		if s.pos >= len(s.b) {
			return s.fail("unexpected end of input")
		}
		return s.fail("unexpected NUL byte")
	default:
		if c := s.b[s.pos]; c == '-' || (c >= '0' && c <= '9') {
			_, err := s.number()
			return err
		}
		return s.fail(fmt.Sprintf("unexpected %q", s.b[s.pos]))
	}
}
