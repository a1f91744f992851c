package source

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/jsontext"
)

// mapper turns source records into input-format events.
type mapper struct {
	file string
	elem bool // Line counts JSON elements

	entity, typ, tim, id string
	idExplicit           bool   // IDField was given
	tenant               string // field holding the tenant; "" for none
	tenantExplicit       bool   // TenantField was given
	dropTenant           bool   // a fixed tenant replaces the records' "tenant"
	fixedTenant          string // fixed tenant, or fallback when tenant is set
	timeRequired         bool
	timeFormat           string
	epochUnit            int64           // for the unix* time formats: nanoseconds per unit
	payload              map[string]bool // PayloadFields as a set; nil for all
	payloadList          []string        // PayloadFields
	prefix               string
	passThrough          bool

	// scratch
	members  []member
	pmembers []member
	extras   []int
	out      []byte
}

// inputKeys are the keys of the input format.
var inputKeys = map[string]bool{
	"entity_id": true, "event_type": true, "timestamp": true, "payload": true,
	"metadata": true, "id": true, "tenant": true, "expected_version": true,
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newMapper(m Mapping, file string, elem bool) *mapper {
	mp := &mapper{
		file:         file,
		elem:         elem,
		entity:       or(m.EntityField, "entity_id"),
		typ:          or(m.TypeField, "event_type"),
		tim:          or(m.TimeField, "timestamp"),
		id:           or(m.IDField, "id"),
		timeRequired: m.TimeField != "",
		idExplicit:   m.IDField != "",
		timeFormat:   m.TimeFormat,
		prefix:       m.TypePrefix,
		passThrough:  m.empty(),
	}
	switch {
	case m.TenantField != "":
		mp.tenant = m.TenantField
		mp.tenantExplicit = true
		mp.fixedTenant = m.Tenant
	case m.Tenant != "":
		mp.fixedTenant = m.Tenant
		mp.dropTenant = true
	default:
		mp.tenant = "tenant"
	}
	switch m.TimeFormat {
	case "unix":
		mp.epochUnit = 1e9
	case "unix_ms":
		mp.epochUnit = 1e6
	case "unix_us":
		mp.epochUnit = 1e3
	case "unix_ns":
		mp.epochUnit = 1
	}
	if len(m.PayloadFields) > 0 {
		mp.payloadList = m.PayloadFields
		mp.payload = make(map[string]bool, len(m.PayloadFields))
		for _, f := range m.PayloadFields {
			mp.payload[f] = true
		}
	}
	return mp
}

// fail returns a *RecordError for the record at line.
func (mp *mapper) fail(line int, field, format string, args ...any) *RecordError {
	return &RecordError{File: mp.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...), Element: mp.elem}
}

// mapObject maps obj, a compact and valid JSON object, to an event. The
// result is a new slice.
func (mp *mapper) mapObject(obj []byte, line int) ([]byte, error) {
	mp.members = splitMembers(obj, mp.members[:0])
	if mp.passThrough && isInputFormat(mp.members) {
		return mp.passThroughEvent(obj, mp.members, line)
	}
	return mp.mapMembers(mp.members, line)
}

// isInputFormat reports whether members already form an input-format event:
// entity_id and event_type are there, every key belongs to the input format
// and every value has the type the input format wants.
func isInputFormat(members []member) bool {
	var entity, typ bool
	for _, m := range members {
		c := m.raw[0]
		ok := true
		switch string(m.key) {
		case "entity_id":
			entity = c == '"'
			ok = entity
		case "event_type":
			typ = c == '"'
			ok = typ
		case "timestamp":
			ok = c == '"' || c == 'n' || isNumber(m.raw)
		case "payload", "metadata":
			ok = c == '{' || c == 'n'
		case "id":
			ok = c == 'n' || (c == '"' && isUUID(unquote(m.raw)))
		case "tenant":
			ok = c == '"' || c == 'n'
		case "expected_version":
			ok = c == 'n' || isInteger(m.raw)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return entity && typ
}

// passThroughEvent checks an input-format event and returns it unchanged,
// except that a timestamp string that is not RFC 3339 is normalised.
func (mp *mapper) passThroughEvent(obj []byte, members []member, line int) ([]byte, error) {
	ts := -1
	var tsText []byte
	for i, m := range members {
		switch string(m.key) {
		case "entity_id":
			s := unquote(m.raw)
			if s == "" {
				return nil, mp.fail(line, "entity_id", "is empty")
			}
			if len(s) > allsource.MaxEntityIDBytes {
				return nil, mp.fail(line, "entity_id", "is longer than %d bytes", allsource.MaxEntityIDBytes)
			}
		case "event_type":
			if err := checkType(unquote(m.raw)); err != nil {
				return nil, mp.fail(line, "event_type", "%s", err.Error())
			}
		case "tenant":
			if m.raw[0] == '"' && len(unquote(m.raw)) > allsource.MaxTenantBytes {
				return nil, mp.fail(line, "tenant", "is longer than %d bytes", allsource.MaxTenantBytes)
			}
		case "timestamp":
			if m.raw[0] != '"' {
				continue
			}
			if _, err := time.Parse(time.RFC3339, unquote(m.raw)); err == nil {
				continue
			}
			t, err := mp.parseTime(m.raw)
			if err != nil {
				return nil, mp.fail(line, "timestamp", "%s", err.Error())
			}
			ts = i
			tsText = t.AppendFormat(append(tsText[:0], '"'), time.RFC3339Nano)
			tsText = append(tsText, '"')
		}
	}
	if ts < 0 {
		return append([]byte(nil), obj...), nil
	}
	out := append(mp.out[:0], '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, m.rawKey...)
		out = append(out, ':')
		if i == ts {
			out = append(out, tsText...)
		} else {
			out = append(out, m.raw...)
		}
	}
	out = append(out, '}')
	mp.out = out
	return append([]byte(nil), out...), nil
}

// checkType checks an event type against the input format's rules.
func checkType(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > allsource.MaxEventTypeBytes {
		return fmt.Errorf("is longer than %d bytes", allsource.MaxEventTypeBytes)
	}
	return checkPrintable(s)
}

func isNull(raw []byte) bool { return string(raw) == "null" }

// isUUID reports a UUID in its canonical 36-character form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// uuidText returns s as a canonical UUID: s itself when it is one, s with
// hyphens added when it is 32 hex digits, and "" otherwise.
func uuidText(s string) string {
	if isUUID(s) {
		return s
	}
	if len(s) != 32 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return ""
		}
	}
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// mapMembers builds an event from the fields of one record.
func (mp *mapper) mapMembers(members []member, line int) ([]byte, error) {
	var entityRaw, typeRaw, timeRaw, idRaw, tenantRaw, payloadObj, metaRaw, evRaw []byte
	extras := mp.extras[:0]
	for i, mb := range members {
		k := mb.key
		used := false
		if string(k) == mp.entity {
			entityRaw, used = mb.raw, true
		}
		if string(k) == mp.typ {
			typeRaw, used = mb.raw, true
		}
		if string(k) == mp.tim {
			timeRaw, used = mb.raw, true
		}
		// The input format's own id and tenant are taken only when they
		// fit; otherwise, say a numeric row id, they are ordinary fields.
		if string(k) == mp.id && (mp.idExplicit || isNull(mb.raw) || (mb.raw[0] == '"' && uuidText(unquote(mb.raw)) != "")) {
			idRaw, used = mb.raw, true
		}
		if mp.tenant != "" && string(k) == mp.tenant && (mp.tenantExplicit || mb.raw[0] == '"' || isNull(mb.raw)) {
			tenantRaw, used = mb.raw, true
		}
		if mp.dropTenant && string(k) == "tenant" {
			used = true
		}
		if used {
			continue
		}
		if mp.payload != nil && mp.payload[string(k)] {
			extras = append(extras, i)
			continue
		}
		switch string(k) {
		case "payload":
			if mp.payload == nil && mb.raw[0] == '{' {
				payloadObj = mb.raw
				continue
			}
		case "metadata":
			if mb.raw[0] == '{' {
				metaRaw = mb.raw
				continue
			}
		case "expected_version":
			if isInteger(mb.raw) {
				evRaw = mb.raw
				continue
			}
		}
		if mp.payload == nil {
			extras = append(extras, i)
		}
	}
	mp.extras = extras

	entity, err := mp.text(entityRaw, mp.entity, line)
	if err != nil {
		return nil, err
	}
	if len(entity) > allsource.MaxEntityIDBytes {
		return nil, mp.fail(line, mp.entity, "is longer than %d bytes", allsource.MaxEntityIDBytes)
	}
	typ, err := mp.text(typeRaw, mp.typ, line)
	if err != nil {
		return nil, err
	}
	typ = mp.prefix + typ
	if err := checkType(typ); err != nil {
		return nil, mp.fail(line, mp.typ, "%s", err.Error())
	}

	out := mp.out[:0]
	out = append(out, `{"entity_id":`...)
	out = jsontext.AppendString(out, entity)
	out = append(out, `,"event_type":`...)
	out = jsontext.AppendString(out, typ)

	if timeRaw != nil && !isNull(timeRaw) {
		t, err := mp.parseTime(timeRaw)
		if err != nil {
			return nil, mp.fail(line, mp.tim, "%s", err.Error())
		}
		out = append(out, `,"timestamp":"`...)
		out = t.AppendFormat(out, time.RFC3339Nano)
		out = append(out, '"')
	} else if mp.timeRequired {
		return nil, mp.fail(line, mp.tim, "missing")
	}

	if payloadObj != nil || len(extras) > 0 {
		start := len(out)
		out = append(out, `,"payload":{`...)
		n := 0
		var pm []member
		if payloadObj != nil && len(payloadObj) > 2 {
			out = append(out, payloadObj[1:len(payloadObj)-1]...)
			n++
			if len(extras) > 0 {
				pm = splitMembers(payloadObj, mp.pmembers[:0])
				mp.pmembers = pm
			}
		}
	extra:
		for _, i := range extras {
			mb := members[i]
			for _, p := range pm {
				if string(p.key) == string(mb.key) {
					continue extra
				}
			}
			if n > 0 {
				out = append(out, ',')
			}
			n++
			if mb.rawKey != nil {
				out = append(out, mb.rawKey...)
			} else {
				out = jsontext.AppendString(out, string(mb.key))
			}
			out = append(out, ':')
			out = append(out, mb.raw...)
		}
		if n == 0 {
			out = out[:start]
		} else {
			out = append(out, '}')
		}
	}
	if metaRaw != nil {
		out = append(out, `,"metadata":`...)
		out = append(out, metaRaw...)
	}
	if idRaw != nil && !isNull(idRaw) {
		if idRaw[0] != '"' {
			return nil, mp.fail(line, mp.id, "must be a string, not %s", kind(idRaw))
		}
		id := uuidText(unquote(idRaw))
		if id == "" {
			return nil, mp.fail(line, mp.id, "is not a UUID")
		}
		out = append(out, `,"id":"`...)
		out = append(out, id...)
		out = append(out, '"')
	}
	tenant := mp.fixedTenant
	if tenantRaw != nil && !isNull(tenantRaw) {
		if tenantRaw[0] != '"' {
			return nil, mp.fail(line, mp.tenant, "must be a string, not %s", kind(tenantRaw))
		}
		tenant = unquote(tenantRaw)
		if len(tenant) > allsource.MaxTenantBytes {
			return nil, mp.fail(line, mp.tenant, "is longer than %d bytes", allsource.MaxTenantBytes)
		}
	}
	if tenant != "" {
		out = append(out, `,"tenant":`...)
		out = jsontext.AppendString(out, tenant)
	}
	if evRaw != nil {
		out = append(out, `,"expected_version":`...)
		out = append(out, evRaw...)
	}
	out = append(out, '}')
	mp.out = out
	return append([]byte(nil), out...), nil
}

// text returns the string or number in raw as text, or an error naming field.
func (mp *mapper) text(raw []byte, field string, line int) (string, error) {
	if raw == nil || isNull(raw) {
		return "", mp.fail(line, field, "missing")
	}
	var s string
	switch {
	case raw[0] == '"':
		s = unquote(raw)
	case isNumber(raw):
		s = string(raw)
	default:
		return "", mp.fail(line, field, "must be a string, not %s", kind(raw))
	}
	if s == "" {
		return "", mp.fail(line, field, "is empty")
	}
	return s, nil
}

// autoLayouts are tried in order when Mapping.TimeFormat is empty. Layouts
// without a zone read UTC; fractional seconds are accepted after seconds.
var autoLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	time.RFC1123Z,
}

// parseTime reads the valid JSON value raw as a time, in UTC.
func (mp *mapper) parseTime(raw []byte) (time.Time, error) {
	var s string
	switch {
	case raw[0] == '"':
		s = unquote(raw)
	case isNumber(raw):
		s = string(raw)
	default:
		return time.Time{}, fmt.Errorf("must be a string or a number, not %s", kind(raw))
	}
	var t time.Time
	var err error
	switch {
	case mp.epochUnit != 0:
		t, err = parseEpoch(strings.TrimSpace(s), mp.epochUnit)
	case mp.timeFormat != "":
		t, err = time.Parse(mp.timeFormat, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot parse %q with layout %q", s, mp.timeFormat)
		}
	default:
		t, err = parseAuto(s)
	}
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("time %q is out of range", s)
	}
	return t, nil
}

// looksNumeric reports a decimal number with an optional sign, fraction and
// exponent.
func looksNumeric(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// parseAuto reads s in one of the autoLayouts or as an epoch number.
func parseAuto(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if looksNumeric(s) {
		return parseEpoch(s, 0)
	}
	if len(s) >= 10 && s[4] == '-' {
		for _, layout := range autoLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
	} else if t, err := time.Parse(time.RFC1123Z, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time", s)
}

// parseEpoch reads the decimal number s as a time since the Unix epoch in
// units of unit nanoseconds; unit 0 picks seconds, milliseconds, microseconds
// or nanoseconds by the magnitude of the number.
func parseEpoch(s string, unit int64) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("cannot parse %q as an epoch time", s)
	}
	t := s
	neg := false
	if strings.ContainsAny(t, "eE") {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad()
		}
		neg = f < 0
		t = strconv.FormatFloat(math.Abs(f), 'f', -1, 64)
	} else if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac := t, ""
	if i := strings.IndexByte(t, '.'); i >= 0 {
		intPart, frac = t[:i], t[i+1:]
	}
	if intPart == "" && frac == "" {
		return bad()
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return bad()
	}
	var ip int64
	if intPart != "" {
		var err error
		ip, err = strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("epoch time %q is out of range", s)
		}
	}
	if unit == 0 {
		switch {
		case ip < 1e11:
			unit = 1e9
		case ip < 1e14:
			unit = 1e6
		case ip < 1e17:
			unit = 1e3
		default:
			unit = 1
		}
	}
	perSec := int64(1e9) / unit
	sec, rem := ip/perSec, ip%perSec
	nsec := rem * unit
	if frac != "" && unit > 1 {
		width := len(strconv.FormatInt(unit, 10)) - 1 // digits of a unit in ns
		f := frac
		if len(f) > width {
			f = f[:width]
		}
		f += strings.Repeat("0", width-len(f))
		fn, _ := strconv.ParseInt(f, 10, 64)
		nsec += fn
	}
	if sec > maxUnixSec {
		return time.Time{}, fmt.Errorf("epoch time %q is out of range", s)
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec), nil
}

// maxUnixSec bounds epoch seconds well past year 9999, so that time.Unix
// cannot overflow.
const maxUnixSec = 1 << 40

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
