package pgwire

import (
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource/pgwire/pgsql"
)

// extended handles one message of the extended query protocol.
func (c *conn) extended(msg pgproto3.FrontendMessage) error {
	ss := c.sess
	switch m := msg.(type) {
	case *pgproto3.Parse:
		stmts, err := c.parseStatements(m.Query)
		if err != nil {
			return err
		}
		if len(stmts) > 1 {
			return &pgsql.Error{Code: "42601", Message: "cannot insert multiple commands into a prepared statement"}
		}
		if m.Name != "" {
			if _, exists := ss.stmts[m.Name]; exists {
				return &pgsql.Error{Code: "42P05", Message: fmt.Sprintf("prepared statement %q already exists", m.Name)}
			}
		}
		if err := c.checkAborted(stmts[0]); err != nil {
			return err
		}
		ctx, done := c.statementContext()
		ps, err := c.prepare(ctx, stmts[0], m.ParameterOIDs)
		if err != nil {
			err = c.statementError(ctx, err)
		}
		done()
		if err != nil {
			return err
		}
		ss.stmts[m.Name] = ps
		c.be.Send(&pgproto3.ParseComplete{})
	case *pgproto3.Bind:
		ps, ok := ss.stmts[m.PreparedStatement]
		if !ok {
			return &pgsql.Error{Code: "26000", Message: fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement)}
		}
		if m.DestinationPortal != "" {
			if _, exists := ss.portals[m.DestinationPortal]; exists {
				return &pgsql.Error{Code: "42P03", Message: fmt.Sprintf("portal %q already exists", m.DestinationPortal)}
			}
		}
		if len(m.Parameters) != len(ps.paramOIDs) {
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("bind message supplies %d parameters, but prepared statement %q requires %d",
				len(m.Parameters), m.PreparedStatement, len(ps.paramOIDs))}
		}
		if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("bind message has %d parameter formats but %d parameters", n, len(m.Parameters))}
		}
		args := make([]driver.NamedValue, len(m.Parameters))
		for i, raw := range m.Parameters {
			v, err := decodeParam(raw, formatOf(m.ParameterFormatCodes, i), ps.paramOIDs[i])
			if err != nil {
				return &pgsql.Error{Code: "22P02", Message: fmt.Sprintf("parameter $%d: %v", i+1, err)}
			}
			args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		for _, f := range m.ResultFormatCodes {
			if f != 0 && f != 1 {
				return &pgsql.Error{Code: "22023", Message: fmt.Sprintf("unsupported format code: %d", f)}
			}
		}
		formats := append([]int16(nil), m.ResultFormatCodes...)
		if ps.sh != nil && len(formats) > 1 && len(formats) != len(ps.sh.cols) {
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("bind message has %d result formats but query has %d columns", len(formats), len(ps.sh.cols))}
		}
		ss.portals[m.DestinationPortal] = &portal{ps: ps, args: args, formats: formats}
		c.be.Send(&pgproto3.BindComplete{})
	case *pgproto3.Describe:
		switch m.ObjectType {
		case 'S':
			ps, ok := ss.stmts[m.Name]
			if !ok {
				return &pgsql.Error{Code: "26000", Message: fmt.Sprintf("prepared statement %q does not exist", m.Name)}
			}
			c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: ps.paramOIDs})
			c.describeResult(ps, nil)
		case 'P':
			pt, ok := ss.portals[m.Name]
			if !ok {
				// A DECLAREd cursor is a portal too (psycopg describes its
				// named cursors so).
				if cur := ss.cursors[m.Name]; cur != nil {
					formats := cur.pt.formats
					if !cur.pt.started && cur.binary {
						formats = []int16{1}
					}
					c.describeResult(cur.pt.ps, formats)
					return nil
				}
				return &pgsql.Error{Code: "34000", Message: fmt.Sprintf("portal %q does not exist", m.Name)}
			}
			c.describeResult(pt.ps, pt.formats)
		default:
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("invalid DESCRIBE message subtype %d", m.ObjectType)}
		}
	case *pgproto3.Execute:
		pt, ok := ss.portals[m.Portal]
		if !ok {
			return &pgsql.Error{Code: "34000", Message: fmt.Sprintf("portal %q does not exist", m.Portal)}
		}
		if err := c.checkAborted(pt.ps.stmt); err != nil {
			return err
		}
		ctx, done := c.statementContext()
		defer done()
		return c.execute(ctx, pt, int(m.MaxRows), false)
	case *pgproto3.Close:
		switch m.ObjectType {
		case 'S':
			delete(ss.stmts, m.Name)
		case 'P':
			delete(ss.portals, m.Name)
			delete(ss.cursors, m.Name)
		default:
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("invalid CLOSE message subtype %d", m.ObjectType)}
		}
		c.be.Send(&pgproto3.CloseComplete{})
	}
	return nil
}

// decodeParam turns one Bind parameter into an engine value. Text values
// are passed as text and cast by the engine to the parameter's type.
func decodeParam(raw []byte, format int16, oid uint32) (driver.Value, error) {
	if raw == nil {
		return nil, nil
	}
	if format == 0 {
		s := string(raw)
		switch oid {
		case oidBool:
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "t", "true", "yes", "on", "1", "y":
				return true, nil
			case "f", "false", "no", "off", "0", "n":
				return false, nil
			}
			return nil, fmt.Errorf("invalid input syntax for type boolean: %q", s)
		case oidBytea:
			if strings.HasPrefix(s, `\x`) {
				b, err := hex.DecodeString(s[2:])
				if err != nil {
					return nil, fmt.Errorf("invalid hexadecimal bytea: %v", err)
				}
				return b, nil
			}
			return []byte(s), nil
		}
		if _, isArray := elemOf[oid]; isArray {
			return pgArrayToList(s)
		}
		return s, nil
	}
	if format != 1 {
		return nil, fmt.Errorf("unsupported format code %d", format)
	}
	need := func(n int) error {
		if len(raw) != n {
			return fmt.Errorf("binary value of type %d has %d bytes, want %d", oid, len(raw), n)
		}
		return nil
	}
	switch oid {
	case oidBool:
		if err := need(1); err != nil {
			return nil, err
		}
		return raw[0] != 0, nil
	case oidInt2:
		if err := need(2); err != nil {
			return nil, err
		}
		return int64(int16(binary.BigEndian.Uint16(raw))), nil
	case oidInt4:
		if err := need(4); err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(raw))), nil
	case oidInt8, oidOID:
		if oid == oidOID {
			if err := need(4); err != nil {
				return nil, err
			}
			return int64(binary.BigEndian.Uint32(raw)), nil
		}
		if err := need(8); err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case oidFloat4:
		if err := need(4); err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case oidFloat8:
		if err := need(8); err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case oidBytea:
		return append([]byte(nil), raw...), nil
	case oidDate:
		if err := need(4); err != nil {
			return nil, err
		}
		days := int32(binary.BigEndian.Uint32(raw))
		return pgEpoch.AddDate(0, 0, int(days)), nil
	case oidTimestamp, oidTimestampTZ:
		if err := need(8); err != nil {
			return nil, err
		}
		us := int64(binary.BigEndian.Uint64(raw))
		switch us {
		case math.MaxInt64:
			return "infinity", nil
		case math.MinInt64:
			return "-infinity", nil
		}
		if us > math.MaxInt64-pgEpochUnixMicros {
			return nil, fmt.Errorf("timestamp out of range")
		}
		return time.UnixMicro(us + pgEpochUnixMicros).UTC(), nil
	case oidTime:
		if err := need(8); err != nil {
			return nil, err
		}
		return clockText(int64(binary.BigEndian.Uint64(raw))), nil
	case oidTimeTZ:
		if err := need(12); err != nil {
			return nil, err
		}
		west := int32(binary.BigEndian.Uint32(raw[8:])) // seconds west of UTC
		t := time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", int(-west)))
		return clockText(int64(binary.BigEndian.Uint64(raw))) + string(appendOffset(nil, t)), nil
	case oidInterval:
		if err := need(16); err != nil {
			return nil, err
		}
		return duckdb.Interval{Micros: int64(binary.BigEndian.Uint64(raw)), Days: int32(binary.BigEndian.Uint32(raw[8:])),
			Months: int32(binary.BigEndian.Uint32(raw[12:]))}, nil
	case oidUUID:
		if err := need(16); err != nil {
			return nil, err
		}
		return string(appendUUID(nil, raw)), nil
	case oidNumeric:
		return decodeNumericBinary(raw)
	case oidJSONB:
		if len(raw) == 0 || raw[0] != 1 {
			return nil, fmt.Errorf("unsupported jsonb version")
		}
		return string(raw[1:]), nil
	}
	if elem, ok := elemOf[oid]; ok {
		xs, err := decodeArrayBinary(raw, elem)
		if err != nil {
			return nil, err
		}
		return listLiteral(xs), nil
	}
	// text, varchar, json, name, unknown: the bytes are the text.
	return string(raw), nil
}

func decodeNumericBinary(raw []byte) (driver.Value, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("numeric value too short")
	}
	n := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	dscale := int(binary.BigEndian.Uint16(raw[6:]))
	if len(raw) != 8+2*n {
		return nil, fmt.Errorf("numeric value has %d bytes for %d digits", len(raw), n)
	}
	switch sign {
	case 0xC000:
		return math.NaN(), nil
	case 0xD000:
		return math.Inf(1), nil
	case 0xF000:
		return math.Inf(-1), nil
	}
	if dscale > 0x3FFF {
		return nil, fmt.Errorf("invalid numeric display scale %d", dscale)
	}
	// The digits as decimal text (linear in their number), then scaled
	// by 10000^(weight-n+1) and shown with dscale fraction digits.
	digits := make([]byte, 0, 4*n)
	for i := 0; i < n; i++ {
		d := binary.BigEndian.Uint16(raw[8+2*i:])
		if d > 9999 {
			return nil, fmt.Errorf("invalid numeric digit %d", d)
		}
		digits = append(digits, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
	}
	exp := 4 * (weight - n + 1)
	s := strings.TrimLeft(string(digits), "0")
	if s == "" {
		s = "0"
		exp = 0
	}
	if exp >= 0 {
		s += strings.Repeat("0", exp)
	} else {
		if len(s) <= -exp {
			s = strings.Repeat("0", -exp-len(s)+1) + s
		}
		s = s[:len(s)+exp] + "." + s[len(s)+exp:]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac := s[i+1:]
		if len(frac) > dscale {
			frac = frac[:dscale]
		}
		s = s[:i]
		if frac != "" {
			s += "." + frac
		}
	}
	if sign == 0x4000 {
		s = "-" + s
	}
	return s, nil
}

// clockText formats microseconds since midnight as hh:mm:ss.ffffff.
func clockText(us int64) string {
	if us < 0 {
		us = 0
	}
	return fmt.Sprintf("%02d:%02d:%02d.%06d", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000)
}

// listLiteral renders array elements as the engine's list text, which it
// casts to the parameter's list type: every element quoted, NULL bare.
func listLiteral(xs []any) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		switch v := x.(type) {
		case nil:
			b.WriteString("NULL")
		case []any:
			b.WriteString(listLiteral(v))
		default:
			var text string
			switch v := v.(type) {
			case string:
				text = v
			case time.Time:
				text = v.Format("2006-01-02 15:04:05.999999Z07:00")
			default:
				text = fmt.Sprint(v)
			}
			pgsql.WriteListElement(&b, text)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// pgArrayToList converts a Postgres array literal ('{1,"a b",NULL}') to the
// engine's list text.
func pgArrayToList(s string) (string, error) {
	xs, rest, err := parsePGArray(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(rest) != "" {
		return "", fmt.Errorf("malformed array literal: %q", s)
	}
	return listLiteral(xs), nil
}

func parsePGArray(s string) ([]any, string, error) {
	if !strings.HasPrefix(s, "{") {
		return nil, s, fmt.Errorf("malformed array literal: %q (want {...})", s)
	}
	s = s[1:]
	var out []any
	for {
		s = strings.TrimLeft(s, " \t\n")
		if strings.HasPrefix(s, "}") {
			return out, s[1:], nil
		}
		if s == "" {
			return nil, s, fmt.Errorf("malformed array literal: missing }")
		}
		switch {
		case s[0] == '{':
			inner, rest, err := parsePGArray(s)
			if err != nil {
				return nil, rest, err
			}
			out = append(out, inner)
			s = rest
		case s[0] == '"':
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, "", fmt.Errorf("malformed array literal: unterminated quote")
			}
			out = append(out, b.String())
			s = s[i+1:]
		default:
			var b strings.Builder
			i := 0
			for ; i < len(s) && s[i] != ',' && s[i] != '}'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, "", fmt.Errorf("malformed array literal: missing }")
			}
			el := strings.TrimSpace(b.String())
			if strings.EqualFold(el, "NULL") && !strings.Contains(s[:i], "\\") {
				out = append(out, nil)
			} else {
				out = append(out, el)
			}
			s = s[i:]
		}
		s = strings.TrimLeft(s, " \t\n")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		}
	}
}

func decodeArrayBinary(raw []byte, elem uint32) ([]any, error) {
	if len(raw) < 12 {
		return nil, fmt.Errorf("array value too short")
	}
	ndim := int(binary.BigEndian.Uint32(raw))
	if ndim == 0 {
		return []any{}, nil
	}
	if ndim != 1 {
		return nil, fmt.Errorf("only one-dimensional arrays are supported as parameters")
	}
	if len(raw) < 20 {
		return nil, fmt.Errorf("array value too short")
	}
	n := int(binary.BigEndian.Uint32(raw[12:]))
	p := raw[20:]
	out := make([]any, 0, min(n, 1<<16))
	for i := 0; i < n; i++ {
		if len(p) < 4 {
			return nil, fmt.Errorf("array element %d truncated", i+1)
		}
		l := int32(binary.BigEndian.Uint32(p))
		p = p[4:]
		if l < 0 {
			out = append(out, nil)
			continue
		}
		if int(l) > len(p) {
			return nil, fmt.Errorf("array element %d truncated", i+1)
		}
		v, err := decodeParam(p[:l], 1, elem)
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", i+1, err)
		}
		out = append(out, v)
		p = p[l:]
	}
	return out, nil
}
