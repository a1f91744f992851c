package ingest

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/allsource/allsource"
	"github.com/google/uuid"
)

// Input is one event as a client sent it, after syntax and field validation
// but before it is ordered: seq and version are assigned by the writer.
type Input struct {
	ID        string // canonical UUID text, or "" to generate one
	Tenant    string
	EntityID  string
	EventType string
	Timestamp time.Time // zero: use the ingest time
	Payload   []byte    // raw JSON object
	Metadata  []byte    // raw JSON object
	// ExpectedVersion is the entity's required current version, or -1.
	ExpectedVersion int64
	// Line is the event's line in an NDJSON body (1-based), or 0.
	Line int
}

// Limits bound what one input event and one batch may hold.
type Limits struct {
	MaxPayloadBytes int // payload + metadata of one event; default 1 MiB
	MaxBatchEvents  int // default 100,000
}

func (l *Limits) setDefaults() {
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = 1 << 20
	}
	if l.MaxBatchEvents <= 0 {
		l.MaxBatchEvents = 100_000
	}
}

var emptyObject = []byte("{}")

// fieldError is an invalid field of one event; the batch parser adds the
// event's index or line.
type fieldError struct {
	field string
	msg   string
	code  allsource.Code
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return fmt.Sprintf("field %q: %s", e.field, e.msg)
}

func invalidField(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...), code: allsource.CodeInvalid}
}

// decodeInput reads one event object at the scanner's position.
func decodeInput(s *scanner, lim *Limits) (Input, error) {
	in := Input{ExpectedVersion: -1}
	if s.peek() != '{' {
		if s.pos >= len(s.b) {
			return in, &fieldError{msg: "expected an event object, got end of input", code: allsource.CodeInvalid}
		}
		return in, &fieldError{msg: fmt.Sprintf("expected an event object at byte %d", s.pos), code: allsource.CodeInvalid}
	}
	s.pos++
	seen := 0
	if s.peek() == '}' {
		s.pos++
	} else {
		for {
			key, err := s.str()
			if err != nil {
				return in, err
			}
			if err := s.expect(':'); err != nil {
				return in, err
			}
			if err := decodeField(s, &in, key, &seen, lim); err != nil {
				return in, err
			}
			c := s.peek()
			if c == ',' {
				s.pos++
				continue
			}
			if c == '}' {
				s.pos++
				break
			}
			return in, s.fail("expected ',' or '}' in event object")
		}
	}
	if in.EntityID == "" {
		return in, invalidField("entity_id", "is required")
	}
	if in.EventType == "" {
		return in, invalidField("event_type", "is required")
	}
	if n := len(in.Payload) + len(in.Metadata); n > lim.MaxPayloadBytes {
		return in, &fieldError{field: "payload", code: allsource.CodeTooLarge,
			msg: fmt.Sprintf("payload and metadata are %d bytes, over the limit of %d", n, lim.MaxPayloadBytes)}
	}
	if in.Payload == nil {
		in.Payload = emptyObject
	}
	if in.Metadata == nil {
		in.Metadata = emptyObject
	}
	return in, nil
}

// Field bits, to reject a field given twice (also through an alias).
const (
	fEntity = 1 << iota
	fType
	fTime
	fPayload
	fMetadata
	fID
	fTenant
	fExpected
)

func decodeField(s *scanner, in *Input, key []byte, seen *int, lim *Limits) error {
	var bit int
	var name string
	switch string(key) {
	case "entity_id", "subject":
		bit, name = fEntity, "entity_id"
	case "event_type", "type":
		bit, name = fType, "event_type"
	case "timestamp", "time":
		bit, name = fTime, "timestamp"
	case "payload", "data":
		bit, name = fPayload, "payload"
	case "metadata":
		bit, name = fMetadata, "metadata"
	case "id":
		bit, name = fID, "id"
	case "tenant", "tenant_id":
		bit, name = fTenant, "tenant"
	case "expected_version":
		bit, name = fExpected, "expected_version"
	default:
		return invalidField(string(key), "unknown field (known: entity_id, event_type, timestamp, payload, metadata, id, tenant, expected_version)")
	}
	if *seen&bit != 0 {
		return invalidField(name, "given more than once")
	}
	*seen |= bit
	switch bit {
	case fEntity:
		v, err := stringField(s, name)
		if err != nil {
			return err
		}
		if err := checkText(name, v, allsource.MaxEntityIDBytes); err != nil {
			return err
		}
		in.EntityID = string(v)
	case fType:
		v, err := stringField(s, name)
		if err != nil {
			return err
		}
		if err := checkText(name, v, allsource.MaxEventTypeBytes); err != nil {
			return err
		}
		in.EventType = string(v)
	case fTenant:
		v, err := stringField(s, name)
		if err != nil {
			return err
		}
		if err := CheckTenant(string(v)); err != nil {
			return invalidField(name, "%s", err.Error())
		}
		in.Tenant = string(v)
	case fID:
		v, err := stringField(s, name)
		if err != nil {
			return err
		}
		u, perr := uuid.ParseBytes(v)
		if perr != nil {
			return invalidField(name, "must be a UUID, got %q", truncate(v))
		}
		in.ID = u.String()
	case fPayload, fMetadata:
		c := s.peek()
		start := s.pos
		if c == 'n' {
			if err := s.literal("null"); err != nil {
				return err
			}
			return nil
		}
		if c != '{' {
			if err := s.skipValue(0); err != nil {
				return err
			}
			return invalidField(name, "must be a JSON object, got %s", jsonKind(c))
		}
		if err := s.skipValue(0); err != nil {
			return err
		}
		raw := s.b[start:s.pos]
		if len(raw) > lim.MaxPayloadBytes {
			return &fieldError{field: name, code: allsource.CodeTooLarge,
				msg: fmt.Sprintf("is %d bytes, over the limit of %d", len(raw), lim.MaxPayloadBytes)}
		}
		if bit == fPayload {
			in.Payload = raw
		} else {
			in.Metadata = raw
		}
	case fTime:
		c := s.peek()
		switch {
		case c == '"':
			v, err := s.str()
			if err != nil {
				return err
			}
			t, perr := time.Parse(time.RFC3339Nano, string(v))
			if perr != nil {
				return invalidField(name, "must be RFC 3339 (2026-01-02T15:04:05Z) or epoch milliseconds, got %q", truncate(v))
			}
			if t.Year() < 1 || t.Year() > 9999 {
				return invalidField(name, "year %d out of range", t.Year())
			}
			in.Timestamp = t.UTC()
		case c == '-' || (c >= '0' && c <= '9'):
			v, err := s.number()
			if err != nil {
				return err
			}
			ms, perr := strconv.ParseInt(string(v), 10, 64)
			if perr != nil {
				return invalidField(name, "epoch milliseconds must be an integer, got %s", truncate(v))
			}
			if ms < -62135596800000 || ms > 253402300799999 {
				return invalidField(name, "epoch milliseconds %d out of range", ms)
			}
			in.Timestamp = time.UnixMilli(ms).UTC()
		case c == 'n':
			return s.literal("null")
		default:
			if err := s.skipValue(0); err != nil {
				return err
			}
			return invalidField(name, "must be a string (RFC 3339) or a number (epoch milliseconds), got %s", jsonKind(c))
		}
	case fExpected:
		c := s.peek()
		if c == 'n' {
			return s.literal("null")
		}
		if !(c == '-' || (c >= '0' && c <= '9')) {
			if err := s.skipValue(0); err != nil {
				return err
			}
			return invalidField(name, "must be a non-negative integer, got %s", jsonKind(c))
		}
		v, err := s.number()
		if err != nil {
			return err
		}
		n, perr := strconv.ParseInt(string(v), 10, 64)
		if perr != nil || n < 0 {
			return invalidField(name, "must be a non-negative integer, got %s", truncate(v))
		}
		in.ExpectedVersion = n
	}
	return nil
}

func stringField(s *scanner, name string) ([]byte, error) {
	c := s.peek()
	if c != '"' {
		if err := s.skipValue(0); err != nil {
			return nil, err
		}
		return nil, invalidField(name, "must be a string, got %s", jsonKind(c))
	}
	return s.str()
}

// checkText validates entity ids and event types: non-empty, bounded, and
// printable (no control characters, which includes NUL).
func checkText(name string, v []byte, max int) error {
	if len(v) == 0 {
		return invalidField(name, "must not be empty")
	}
	if len(v) > max {
		return invalidField(name, "is %d bytes, over the limit of %d", len(v), max)
	}
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n <= 1 {
			return invalidField(name, "is not valid UTF-8")
		}
		if unicode.IsControl(r) {
			return invalidField(name, "contains control character %U at byte %d", r, i)
		}
		i += n
	}
	if bytes.TrimSpace(v) == nil || len(bytes.TrimSpace(v)) == 0 {
		return invalidField(name, "must not be blank")
	}
	return nil
}

// CheckTenant validates a tenant name: 1–64 bytes of [A-Za-z0-9_-], not
// starting with '_' (reserved for the server's own tenants, such as the
// audit log). Tenant names become directory names in the warehouse.
func CheckTenant(t string) error {
	if t == "" {
		return fmt.Errorf("must not be empty")
	}
	if t[0] == '_' {
		return fmt.Errorf("names starting with '_' are reserved, got %q", t)
	}
	if len(t) > allsource.MaxTenantBytes {
		return fmt.Errorf("is %d bytes, over the limit of %d", len(t), allsource.MaxTenantBytes)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("may contain only letters, digits, '_' and '-', got %q", t)
		}
	}
	return nil
}

func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func truncate(v []byte) string {
	if len(v) > 64 {
		return string(v[:64]) + "…"
	}
	return string(v)
}
