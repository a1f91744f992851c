// Package source reads import files and turns each record into one event in
// AllSource's input format: a compact JSON object with entity_id, event_type
// and, when known, timestamp, payload, metadata, id, tenant and
// expected_version. It backs `allsource import FILE...`.
//
// # Formats
//
//   - ndjson: one JSON object per line (.ndjson, .jsonl). Blank lines are
//     skipped. A line that is not valid JSON is an error for that line only.
//   - json: one JSON array of objects, a single object, or several top-level
//     objects or arrays one after another (.json). Records are numbered by
//     element: the first object is element 1.
//   - csv: a header row naming the columns, then one record per row (.csv).
//     Cells that are JSON numbers (within float64 range) become numbers, true
//     and false become booleans, empty cells are left out and everything else
//     is a string; a payload or metadata cell holding a JSON object stays an
//     object. Quoted cells may span lines; a record's line is the line it
//     starts on. A header that lacks a mapped column makes NewReader fail.
//
// Any file may be gzip-compressed (it is recognised by its first bytes, and a
// trailing .gz is ignored when the format is guessed from the name). A UTF-8
// byte-order mark is skipped. Files are streamed: memory use depends on the
// largest record, never on the size of the file.
//
// # Mapping
//
// A record that already is in the input format (it has entity_id and
// event_type, no keys the input format lacks, and values of the right types)
// passes through unchanged, apart from being compacted, when the Mapping is
// empty; only a timestamp string that is not RFC 3339 is rewritten. Its
// entity_id, event_type and tenant are checked against the input format's
// limits.
//
// Any other record is mapped: the Mapping names the source fields that hold
// the entity id (required), the event type (required), the time, the event id
// and the tenant. Numbers are accepted as entity ids and event types. Times
// are normalised to RFC 3339 in UTC, keeping fractions of a second. The
// remaining fields (or only those listed in PayloadFields) become the
// payload, in their order in the source. A field named payload that holds an
// object is the base of the payload, one named metadata that holds an object
// becomes the metadata, and an integer expected_version is kept. A field
// named id that is not a UUID, or one named tenant that is not a string, is an
// ordinary payload field unless the Mapping names it.
//
// # Errors
//
// Next returns a *RecordError for a record that cannot be used (a mapped
// field is missing, a line is not JSON, a CSV row has the wrong number of
// cells); the stream goes on and the caller may skip the record or stop. Any
// other error (an I/O error, broken gzip data, a JSON array whose structure is
// broken) ends the stream: Next returns it again on every later call. Every
// error names the file and the line (or element).
package source

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/allsource/allsource"
)

// Format names the layout of an import file.
type Format string

// The supported formats.
const (
	FormatNDJSON Format = "ndjson" // one JSON object per line
	FormatJSON   Format = "json"   // a JSON array of objects, or objects one after another
	FormatCSV    Format = "csv"    // a header row, then one record per row
)

// MaxRecordBytes is the largest record (an NDJSON line, a JSON array element
// or a CSV row) that a Reader accepts; a larger one is a *RecordError and is
// skipped without being held in memory.
const MaxRecordBytes = 16 << 20

// maxRecord is MaxRecordBytes, lowered by tests.
var maxRecord = MaxRecordBytes

// bufSize is the size of the read buffer; sniffing looks at most this far.
const bufSize = 256 << 10

// ParseFormat returns the Format named by s: "ndjson" (or "jsonl"), "json" or
// "csv", in any case. The empty string yields the empty Format, which means
// "detect it".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "ndjson", "jsonl", "jsonlines":
		return FormatNDJSON, nil
	case "json":
		return FormatJSON, nil
	case "csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("unknown format %q (want ndjson, json or csv)", s)
}

// DetectFormat guesses the format of the file at path from its name: .ndjson
// and .jsonl are ndjson, .csv is csv and .json is json, each also with a
// trailing .gz. A .json file whose first value is an object written on one
// line and followed by another value is ndjson. For any other name the content
// decides: a file starting with '[' is json, one starting with '{' is ndjson
// or json as above. DetectFormat returns "" when it cannot tell.
func DetectFormat(path string) Format {
	base := strings.ToLower(filepath.Base(path))
	base = strings.TrimSuffix(base, ".gz")
	ext := filepath.Ext(base)
	switch ext {
	case ".ndjson", ".jsonl":
		return FormatNDJSON
	case ".csv":
		return FormatCSV
	}
	sniffed := Format("")
	if f, err := os.Open(path); err == nil {
		if br, zr, err := decompress(f); err == nil {
			sniffed = sniff(br)
			if zr != nil {
				zr.Close()
			}
		}
		f.Close()
	}
	if ext == ".json" && sniffed != FormatNDJSON {
		return FormatJSON
	}
	return sniffed
}

// Mapping tells how the fields of a source record become an event. Field
// names are JSON keys or CSV column names; an empty name means the input
// format's own name (entity_id, event_type, timestamp, id, tenant).
type Mapping struct {
	EntityField string // source of entity_id (required in every record)
	TypeField   string // source of event_type (required in every record)
	TimeField   string // source of timestamp; when set, required in every record
	IDField     string // source of id (optional; a UUID, 32 hex digits are accepted)
	TenantField string // source of tenant (optional; Tenant is the fallback)

	// Tenant is the tenant of every event when TenantField is empty (a
	// record's own tenant field is then dropped), and the fallback for records
	// without the field otherwise.
	Tenant string

	// TimeFormat is how times are written: "" detects RFC 3339 (with or
	// without a zone; none means UTC), "2006-01-02 15:04:05", a date alone, and
	// epoch numbers, which are seconds, milliseconds, microseconds or
	// nanoseconds by magnitude. "unix", "unix_ms", "unix_us" and "unix_ns" fix
	// the epoch unit. Anything else is a Go time layout (see package time);
	// a layout without a zone reads UTC.
	TimeFormat string

	// PayloadFields lists the source fields that go into the payload; empty
	// means every field that is not mapped to something else.
	PayloadFields []string

	// TypePrefix is put before every event_type, e.g. "github.".
	TypePrefix string
}

// empty reports whether m is the zero Mapping.
func (m Mapping) empty() bool {
	return m.EntityField == "" && m.TypeField == "" && m.TimeField == "" &&
		m.IDField == "" && m.TenantField == "" && m.Tenant == "" &&
		m.TimeFormat == "" && len(m.PayloadFields) == 0 && m.TypePrefix == ""
}

// Validate reports a Mapping that cannot work: a tenant or type prefix over
// the input format's limits, or an empty name in PayloadFields.
func (m Mapping) Validate() error {
	if len(m.Tenant) > allsource.MaxTenantBytes {
		return fmt.Errorf("tenant %q is longer than %d bytes", m.Tenant, allsource.MaxTenantBytes)
	}
	if len(m.TypePrefix) >= allsource.MaxEventTypeBytes {
		return fmt.Errorf("type prefix %q is too long: event types are at most %d bytes", m.TypePrefix, allsource.MaxEventTypeBytes)
	}
	if err := checkPrintable(m.TypePrefix); err != nil {
		return fmt.Errorf("type prefix %q %s", m.TypePrefix, err.Error())
	}
	for _, f := range m.PayloadFields {
		if f == "" {
			return errors.New("empty field name in payload fields")
		}
	}
	return nil
}

// Record is one event read from a file.
type Record struct {
	// Line is where the record is: the 1-based line for ndjson and csv (the
	// line a multi-line CSV record starts on), the 1-based element number for
	// json.
	Line int
	// Event is one compact JSON object in the input format. It belongs to the
	// caller: the Reader does not touch it again.
	Event []byte
}

// Reader yields the records of one file.
type Reader interface {
	// Next returns the next record, or io.EOF after the last. A
	// *RecordError concerns that record alone and the next call goes on;
	// any other error ends the stream and is returned by every later call.
	Next() (Record, error)
	// Close releases the file. Next must not be called afterwards.
	Close() error
}

// RecordError is an error in one record. The stream goes on after it.
type RecordError struct {
	File  string // the name given to Open or NewReader
	Line  int    // as Record.Line
	Field string // the source field or column at fault, if any
	Msg   string // what is wrong, e.g. "missing"
	// Element is true when Line counts JSON elements rather than lines.
	Element bool
}

// Error formats e as "events.csv:42: msg" or, for json,
// `github.json: element 17: field "actor_login" missing`.
func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Element {
		fmt.Fprintf(&b, ": element %d", e.Line)
	} else if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Open opens the file at path and returns a Reader for it. An empty format is
// detected with DetectFormat. Gzip-compressed files are read transparently.
// Error messages name the file as path is written.
func Open(path string, format Format, m Mapping) (Reader, error) {
	if format == "" {
		format = DetectFormat(path)
		if format == "" {
			return nil, fmt.Errorf("%s: cannot tell the format from the name or the content; give one of ndjson, json, csv", path)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, path, format, m, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewReader returns a Reader over r, which may be gzip-compressed. name is
// used in error messages and, when format is empty, to detect the format (by
// extension, then by content as DetectFormat does). Close does not close r.
func NewReader(r io.Reader, name string, format Format, m Mapping) (Reader, error) {
	return newReader(r, name, format, m, nil)
}

func newReader(r io.Reader, name string, format Format, m Mapping, file io.Closer) (Reader, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	br, zr, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rd := &reader{}
	if zr != nil {
		rd.closers = append(rd.closers, quietCloser{zr})
	}
	if file != nil {
		rd.closers = append(rd.closers, file)
	}
	if format == "" {
		format = formatFromName(name, br)
		if format == "" {
			rd.Close()
			return nil, fmt.Errorf("%s: cannot tell the format from the name or the content; give one of ndjson, json, csv", name)
		}
	}
	mp := newMapper(m, name, format == FormatJSON)
	switch format {
	case FormatNDJSON:
		rd.src = &ndjsonSource{name: name, br: br, mp: mp}
	case FormatJSON:
		rd.src = &jsonSource{name: name, br: br, mp: mp, line: 1}
	case FormatCSV:
		cs, err := newCSVSource(br, name, mp)
		if err != nil {
			rd.Close()
			return nil, err
		}
		rd.src = cs
	default:
		rd.Close()
		return nil, fmt.Errorf("%s: unknown format %q (want ndjson, json or csv)", name, format)
	}
	return rd, nil
}

// formatFromName detects the format from name's extension, then from the
// buffered content.
func formatFromName(name string, br *bufio.Reader) Format {
	base := strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch filepath.Ext(base) {
	case ".ndjson", ".jsonl":
		return FormatNDJSON
	case ".csv":
		return FormatCSV
	}
	f := sniff(br)
	if filepath.Ext(base) == ".json" && f != FormatNDJSON {
		return FormatJSON
	}
	return f
}

// decompress wraps r in a buffered reader, gunzipping it when it starts with
// the gzip magic number, and skips a UTF-8 byte-order mark. The returned
// closer, if not nil, is the gzip reader.
func decompress(r io.Reader) (*bufio.Reader, io.Closer, error) {
	br := bufio.NewReaderSize(r, bufSize)
	var zc io.Closer
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		br = bufio.NewReaderSize(zr, bufSize)
		zc = zr
	}
	if bom, _ := br.Peek(3); len(bom) == 3 && bom[0] == 0xef && bom[1] == 0xbb && bom[2] == 0xbf {
		br.Discard(3)
	}
	return br, zc, nil
}

// sniff looks at the buffered start of br (without consuming it) and returns
// FormatJSON for content starting with '[', FormatNDJSON for an object written
// on one line that is followed by another value, FormatJSON for any other
// content starting with '{', and "" otherwise.
func sniff(br *bufio.Reader) Format {
	b, _ := br.Peek(bufSize)
	return sniffBytes(b)
}

func sniffBytes(b []byte) Format {
	i := skipSpace(b, 0)
	if i == len(b) {
		return ""
	}
	switch b[i] {
	case '[':
		return FormatJSON
	case '{':
	default:
		return ""
	}
	end := valueEnd(b, i)
	if end < 0 {
		// The first value does not end in the sniffed prefix (or is broken).
		return FormatJSON
	}
	oneLine := true
	for _, c := range b[i:end] {
		if c == '\n' {
			oneLine = false
			break
		}
	}
	j := skipSpace(b, end)
	if j < len(b) && oneLine {
		return FormatNDJSON
	}
	return FormatJSON
}

// errClosed is returned by Next after Close.
var errClosed = errors.New("source: reader is closed")

// recordSource is the format-specific half of a Reader.
type recordSource interface {
	next() (Record, error)
}

// reader makes stream-ending errors sticky and closes what it opened.
type reader struct {
	src     recordSource
	closers []io.Closer
	err     error
}

func (r *reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.src.next()
	if err != nil {
		var re *RecordError
		if errors.As(err, &re) {
			return Record{Line: re.Line}, err
		}
		r.err = err
		return Record{}, err
	}
	return rec, nil
}

func (r *reader) Close() error {
	var first error
	for _, c := range r.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	if r.err == nil || r.err == io.EOF {
		r.err = errClosed
	}
	return first
}

// quietCloser drops the error of closing a decompressor, which only repeats
// a read error that Next has already reported.
type quietCloser struct{ c io.Closer }

func (q quietCloser) Close() error {
	q.c.Close()
	return nil
}
