package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/allsource/allsource/internal/jsontext"
)

// The CSV reader is written here rather than taken from encoding/csv so that
// a broken quote cannot make it buffer the rest of a large file: a record
// over MaxRecordBytes is dropped as it is read.
//
// Dialect: RFC 4180 with comma separators. Quoted fields may hold commas,
// doubled quotes and line breaks; CRLF becomes LF. A quote inside an unquoted
// field is kept as it is. Text after a quoted field's closing quote is an
// error for that record. Blank lines are skipped.

// csvColumn is one column of the header.
type csvColumn struct {
	name   string
	key    []byte
	rawKey []byte // name as a JSON string literal
	skip   bool   // unnamed column: its cells are ignored
	object bool   // payload or metadata column: a JSON object cell stays an object
}

// csvSource reads a CSV file with a header row.
type csvSource struct {
	name string
	p    csvParser
	mp   *mapper
	cols []csvColumn

	members []member
	vals    []byte
	offs    []int
	cb      bytes.Buffer
}

func newCSVSource(br *bufio.Reader, name string, mp *mapper) (*csvSource, error) {
	s := &csvSource{name: name, p: csvParser{br: br}, mp: mp}
	line, msg, tooBig, err := s.p.read()
	if err == io.EOF {
		return s, nil // no header, no records
	}
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, s.p.line, err)
	}
	if tooBig {
		return nil, fmt.Errorf("%s:%d: the header is longer than %d bytes", name, line, maxRecord)
	}
	if msg != "" {
		return nil, fmt.Errorf("%s:%d: header: %s", name, line, msg)
	}
	seen := make(map[string]bool, s.p.fields())
	for i := range s.p.fields() {
		h := strings.TrimSpace(string(s.p.field(i)))
		col := csvColumn{name: h, skip: h == ""}
		if h != "" {
			if seen[h] {
				return nil, fmt.Errorf("%s:%d: duplicate column %q", name, line, h)
			}
			seen[h] = true
			col.key = []byte(h)
			col.rawKey = jsontext.AppendString(nil, h)
			col.object = h == "payload" || h == "metadata"
		}
		s.cols = append(s.cols, col)
	}
	// A mapped column that is not there would fail every row: say so once.
	need := []string{mp.entity, mp.typ}
	if mp.timeRequired {
		need = append(need, mp.tim)
	}
	if mp.idExplicit {
		need = append(need, mp.id)
	}
	if mp.tenantExplicit {
		need = append(need, mp.tenant)
	}
	need = append(need, mp.payloadList...)
	for _, f := range need {
		if !seen[f] {
			names := make([]string, 0, len(s.cols))
			for _, c := range s.cols {
				if !c.skip {
					names = append(names, c.name)
				}
			}
			return nil, fmt.Errorf("%s:%d: no column %q (the columns are %s)", name, line, f, strings.Join(names, ", "))
		}
	}
	return s, nil
}

func (s *csvSource) next() (Record, error) {
	if s.cols == nil {
		return Record{}, io.EOF
	}
	line, msg, tooBig, err := s.p.read()
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, fmt.Errorf("%s:%d: %w", s.name, line, err)
	}
	if tooBig {
		return Record{}, &RecordError{File: s.name, Line: line, Msg: fmt.Sprintf("record is longer than %d bytes", maxRecord)}
	}
	if msg != "" {
		return Record{}, &RecordError{File: s.name, Line: line, Msg: msg}
	}
	if n := s.p.fields(); n != len(s.cols) {
		return Record{}, &RecordError{File: s.name, Line: line, Msg: fmt.Sprintf("column count %d, header has %d", n, len(s.cols))}
	}
	// Encode the cells first, then slice them: vals may move while growing.
	s.vals = s.vals[:0]
	s.offs = s.offs[:0]
	for i := range s.cols {
		col := &s.cols[i]
		cell := s.p.field(i)
		start := len(s.vals)
		if !col.skip && len(cell) > 0 {
			switch c := string(cell); {
			case c == "true" || c == "false" || isFiniteNumber(c):
				s.vals = append(s.vals, cell...)
			case col.object && cell[0] == '{' && json.Valid(cell):
				s.cb.Reset()
				json.Compact(&s.cb, cell)
				s.vals = append(s.vals, s.cb.Bytes()...)
			default:
				s.vals = jsontext.AppendString(s.vals, c)
			}
		}
		s.offs = append(s.offs, start, len(s.vals))
	}
	s.members = s.members[:0]
	for i := range s.cols {
		a, b := s.offs[2*i], s.offs[2*i+1]
		if a == b {
			continue
		}
		col := &s.cols[i]
		s.members = append(s.members, member{key: col.key, rawKey: col.rawKey, raw: s.vals[a:b]})
	}
	ev, err := s.mp.mapMembers(s.members, line)
	if err != nil {
		return Record{}, err
	}
	return Record{Line: line, Event: ev}, nil
}

// csvParser splits a byte stream into CSV records.
type csvParser struct {
	br   *bufio.Reader
	line int    // line breaks consumed so far
	buf  []byte // the fields of the current record, one after another
	ends []int  // where each field ends in buf
}

func (p *csvParser) fields() int { return len(p.ends) }

func (p *csvParser) field(i int) []byte {
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.buf[start:p.ends[i]]
}

const (
	csvStart    = iota // at the start of a field
	csvUnquoted        // in an unquoted field
	csvQuoted          // in a quoted field
	csvQuote           // just after a quote in a quoted field
)

// read parses the next record. It returns the line the record starts on;
// msg describes a syntax error in the record (the record was still consumed
// to its end); tooBig says that the record was too long and its fields were
// dropped. err is io.EOF at the end of the input, or an error that ends the
// stream.
func (p *csvParser) read() (startLine int, msg string, tooBig bool, err error) {
	p.buf = p.buf[:0]
	p.ends = p.ends[:0]
	state := csvStart
	startLine = p.line + 1
	content := false // anything but a line break seen in this record
	size := 0
	add := func(c byte) {
		size++
		if size > maxRecord {
			if !tooBig {
				tooBig = true
				p.buf, p.ends = p.buf[:0], p.ends[:0]
			}
			return
		}
		p.buf = append(p.buf, c)
	}
	end := func() {
		size++
		if !tooBig {
			p.ends = append(p.ends, len(p.buf))
		}
	}
	for {
		if p.br.Buffered() < 2 {
			p.br.Peek(2)
		}
		n := p.br.Buffered()
		if n == 0 {
			if _, err := p.br.Peek(1); err != io.EOF {
				return startLine, "", false, err
			}
			if !content {
				return startLine, "", false, io.EOF
			}
			if state == csvQuoted {
				return startLine, "", false, fmt.Errorf("the quoted field that starts on line %d is not closed at the end of the input", startLine)
			}
			end()
			return startLine, msg, tooBig, nil
		}
		chunk, _ := p.br.Peek(n)
		i := 0
		done := false
	scan:
		for ; i < len(chunk); i++ {
			c := chunk[i]
			if c == '\r' {
				// CR LF is a line break; at the end of the buffer wait for
				// the next byte unless the input ends here.
				if i+1 < len(chunk) {
					if chunk[i+1] == '\n' {
						continue
					}
				} else if len(chunk) > 1 {
					break scan
				} else if state != csvQuoted {
					continue
				}
			}
			switch state {
			case csvStart:
				switch c {
				case '"':
					state = csvQuoted
					content = true
				case ',':
					end()
					content = true
				case '\n':
					p.line++
					if !content {
						startLine = p.line + 1
						continue
					}
					end()
					done = true
					i++
					break scan
				default:
					add(c)
					state = csvUnquoted
					content = true
				}
			case csvUnquoted:
				switch c {
				case ',':
					end()
					state = csvStart
				case '\n':
					p.line++
					end()
					done = true
					i++
					break scan
				default:
					add(c)
				}
			case csvQuoted:
				if c == '"' {
					state = csvQuote
					continue
				}
				if c == '\n' {
					p.line++
				}
				add(c)
			case csvQuote:
				switch c {
				case '"':
					add('"')
					state = csvQuoted
				case ',':
					end()
					state = csvStart
				case '\n':
					p.line++
					end()
					done = true
					i++
					break scan
				default:
					if msg == "" {
						msg = fmt.Sprintf("unexpected %q after the closing quote of field %d (line %d)", rune(c), len(p.ends)+1, p.line+1)
					}
					add('"')
					add(c)
					state = csvUnquoted
				}
			}
		}
		p.br.Discard(i)
		if done {
			return startLine, msg, tooBig, nil
		}
	}
}

// isFiniteNumber reports a JSON number that also fits a float64, so that
// "1e999" stays a string.
func isFiniteNumber(s string) bool {
	if !isJSONNumber(s) {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
