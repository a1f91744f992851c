package pgwire

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/pgwire/pgsql"
	"github.com/allsource/allsource/warehouse"
)

// copyOpts are a COPY's format options with defaults filled in.
type copyOpts struct {
	format    string // text, csv, binary
	header    bool
	delimiter byte
	null      string
	quote     byte
	escape    byte
}

func copyOptions(cp *pgsql.Copy) (copyOpts, error) {
	o := copyOpts{format: strings.ToLower(cp.Format)}
	if o.format == "" {
		o.format = "text"
	}
	switch o.format {
	case "text":
		o.delimiter, o.null = '\t', `\N`
	case "csv":
		o.delimiter, o.null, o.quote, o.escape = ',', "", '"', '"'
	case "binary":
	default:
		return o, &pgsql.Error{Code: "22023", Message: fmt.Sprintf("COPY format %q not recognized", cp.Format)}
	}
	o.header = cp.Header
	one := func(name, v string, dst *byte) error {
		if v == "" {
			return nil
		}
		if len(v) != 1 {
			return &pgsql.Error{Code: "22023", Message: fmt.Sprintf("COPY %s must be a single one-byte character", name)}
		}
		*dst = v[0]
		return nil
	}
	if err := one("delimiter", cp.Delimiter, &o.delimiter); err != nil {
		return o, err
	}
	if err := one("quote", cp.Quote, &o.quote); err != nil {
		return o, err
	}
	if err := one("escape", cp.Escape, &o.escape); err != nil {
		return o, err
	}
	if cp.Null != "" {
		o.null = cp.Null
	}
	return o, nil
}

var binaryCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

// copyOut runs COPY (query) TO STDOUT.
func (c *conn) copyOut(ctx context.Context, pt *portal) error {
	o, err := copyOptions(pt.ps.stmt.Copy)
	if err != nil {
		return err
	}
	cols := pt.ps.sh.cols
	overall := byte(0)
	colFormats := make([]uint16, len(cols))
	if o.format == "binary" {
		overall = 1
		for i := range colFormats {
			colFormats[i] = 1
		}
	}
	n := 0
	var buf []byte
	err = c.srv.opts.Warehouse.Stream(ctx, pt.ps.sh.engine, pt.args, func(ecols []warehouse.Column, next func([]driver.Value) error) error {
		if err := sameShape(pt, ecols, false); err != nil {
			return err
		}
		c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: overall, ColumnFormatCodes: colFormats})
		if err := c.be.Flush(); err != nil {
			return err
		}
		emit := func(data []byte) error {
			// CopyData framing: 'd', length, data.
			var hdr [5]byte
			hdr[0] = 'd'
			binary.BigEndian.PutUint32(hdr[1:], uint32(len(data)+4))
			if _, err := c.out.Write(hdr[:]); err != nil {
				return err
			}
			_, err := c.out.Write(data)
			return err
		}
		// The binary header travels in one message with the first row (or
		// the trailer), as PostgreSQL sends it; psycopg reads it so.
		var pending []byte
		switch o.format {
		case "binary":
			pending = append(pending, binaryCopySignature...)
			pending = binary.BigEndian.AppendUint32(pending, 0)
			pending = binary.BigEndian.AppendUint32(pending, 0)
		default:
			if o.header {
				buf = buf[:0]
				for i, col := range cols {
					if i > 0 {
						buf = append(buf, o.delimiter)
					}
					buf = appendCopyField(buf, []byte(col.name), &o)
				}
				buf = append(buf, '\n')
				if err := emit(buf); err != nil {
					return err
				}
			}
		}
		dest := make([]driver.Value, len(cols))
		for {
			if err := next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return err
			}
			buf = append(buf[:0], pending...)
			pending = nil
			if o.format == "binary" {
				buf = binary.BigEndian.AppendUint16(buf, uint16(len(cols)))
			}
			for i, v := range dest {
				if o.format == "binary" {
					if v == nil {
						buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
						continue
					}
					at := len(buf)
					buf = append(buf, 0, 0, 0, 0)
					var err error
					if buf, err = appendBinary(buf, v, cols[i].oid); err != nil {
						return err
					}
					binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
					continue
				}
				if i > 0 {
					buf = append(buf, o.delimiter)
				}
				if v == nil {
					buf = append(buf, o.null...)
					continue
				}
				text, err := appendText(nil, v, cols[i].oid, &c.sess.env)
				if err != nil {
					return err
				}
				buf = appendCopyField(buf, text, &o)
			}
			if o.format != "binary" {
				buf = append(buf, '\n')
			}
			if err := emit(buf); err != nil {
				return err
			}
			n++
		}
		if o.format == "binary" {
			if err := emit(append(pending, 0xff, 0xff)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.be.Send(&pgproto3.CopyDone{})
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.Itoa(n))})
	return nil
}

// appendCopyField writes one non-null field in text or CSV format.
func appendCopyField(buf, v []byte, o *copyOpts) []byte {
	if o.format == "csv" {
		quote := len(v) == 0 && o.null == "" || string(v) == o.null
		for _, ch := range v {
			if ch == o.delimiter || ch == o.quote || ch == '\n' || ch == '\r' {
				quote = true
				break
			}
		}
		if !quote {
			return append(buf, v...)
		}
		buf = append(buf, o.quote)
		for _, ch := range v {
			if ch == o.quote || ch == o.escape {
				buf = append(buf, o.escape)
			}
			buf = append(buf, ch)
		}
		return append(buf, o.quote)
	}
	for _, ch := range v {
		switch ch {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			if ch == o.delimiter {
				buf = append(buf, '\\')
			}
			buf = append(buf, ch)
		}
	}
	return buf
}

// eventColumns are the events table's columns in order, for COPY FROM
// without a column list. seq, version and ingested_at are assigned by the
// server; values given for them are ignored.
var eventColumns = []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "ingested_at", "payload", "metadata"}

var copyColumns = map[string]bool{"seq": true, "id": true, "tenant_id": true, "entity_id": true, "event_type": true,
	"version": true, "timestamp": true, "ingested_at": true, "payload": true, "metadata": true}

// copyIn runs COPY events FROM STDIN: it reads every row, validates all of
// them as one batch the way POST /v1/events does, then appends.
func (c *conn) copyIn(ctx context.Context, st *pgsql.Statement) error {
	if err := c.authorize(authz.ActionAppend); err != nil {
		return err
	}
	cp := st.Copy
	o, err := copyOptions(cp)
	if err != nil {
		return err
	}
	if o.format == "csv" && (o.quote != '"' || o.escape != '"') {
		return &pgsql.Error{Code: "0A000", Message: "COPY events FROM STDIN supports CSV with the default QUOTE and ESCAPE (\") only"}
	}
	cols := cp.Columns
	if len(cols) == 0 {
		cols = eventColumns
	}
	seen := map[string]bool{}
	for _, col := range cols {
		// Unquoted names arrive lower-cased; a quoted "Payload" is another
		// column, as in Postgres.
		if !copyColumns[col] {
			return &pgsql.Error{Code: "42703", Message: fmt.Sprintf("column %q of relation \"events\" does not exist", col)}
		}
		if seen[col] {
			return &pgsql.Error{Code: "42701", Message: fmt.Sprintf("column %q specified more than once", col)}
		}
		seen[col] = true
	}
	for _, need := range []string{"entity_id", "event_type"} {
		if !seen[need] {
			return &pgsql.Error{Code: "23502", Message: fmt.Sprintf("COPY into events needs column %q", need),
				Hint: "Name the columns: COPY events (entity_id, event_type, \"timestamp\", payload) FROM STDIN"}
		}
	}
	if c.srv.opts.Ingest == nil {
		return &pgsql.Error{Code: "25006", Message: "this server does not accept writes"}
	}
	in := &pgproto3.CopyInResponse{ColumnFormatCodes: make([]uint16, len(cols))}
	if o.format == "binary" {
		in.OverallFormat = 1
		for i := range in.ColumnFormatCodes {
			in.ColumnFormatCodes[i] = 1
		}
	}
	c.be.Send(in)
	if err := c.flush(); err != nil {
		return err
	}
	// Read the whole stream first; a failure leaves nothing stored.
	var data bytes.Buffer
	var readErr error
	for {
		msg, err := c.be.Receive()
		if err != nil {
			c.fatal = true
			if pe := receiveError(err); pe != nil {
				return pe
			}
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if int64(data.Len()+len(m.Data)) > c.srv.opts.MaxResultBytes && readErr == nil {
				readErr = &pgsql.Error{Code: "54000", Message: fmt.Sprintf("COPY FROM data is larger than the server's limit of %d bytes", c.srv.opts.MaxResultBytes),
					Hint: "Split the load into several COPY commands."}
			}
			if readErr == nil {
				data.Write(m.Data)
			}
			continue
		case *pgproto3.CopyDone:
		case *pgproto3.CopyFail:
			return &pgsql.Error{Code: "57014", Message: "COPY from stdin failed: " + m.Message}
		case *pgproto3.Flush, *pgproto3.Sync:
			continue // allowed during COPY in the extended protocol
		default:
			return &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("unexpected message type %T during COPY from stdin", msg)}
		}
		break
	}
	if readErr != nil {
		return readErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	inputs, err := c.parseCopy(data.Bytes(), cols, &o)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY 0")})
		return nil
	}
	batch := c.srv.opts.Limits.MaxBatchEvents
	if batch <= 0 {
		batch = 100_000
	}
	stored := 0
	tenant := c.tenant()
	// Every row's tenant is checked before the first batch is stored, so
	// a refused row leaves nothing half-written.
	if err := ingest.AuthorizeTenants(ctx, tenant, inputs); err != nil {
		var ae *allsource.Error
		if errors.As(err, &ae) && ae.Index >= 0 {
			return &pgsql.Error{Code: "42501", Message: ae.Message, Detail: fmt.Sprintf("COPY data row %d, column tenant_id; nothing was stored", ae.Index+1)}
		}
		return err
	}
	for len(inputs) > 0 {
		part := inputs[:min(batch, len(inputs))]
		var res ingest.Result
		err := c.admit(tenant, part, stored)
		if err == nil {
			res, err = c.srv.opts.Ingest.Append(context.WithoutCancel(ctx), tenant, part)
		}
		if err != nil {
			if stored > 0 {
				return &pgsql.Error{Code: sqlstateOf(err), Message: allsource.ErrorMessage(err),
					Detail: fmt.Sprintf("%d rows were stored before the failure (COPY commits in batches of %d rows)", stored, batch)}
			}
			return err
		}
		stored += res.Count
		inputs = inputs[len(part):]
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.Itoa(stored))})
	return nil
}

// parseCopy turns COPY data into ingest inputs through the same parser and
// validation as NDJSON over HTTP: each row becomes one JSON line, so errors
// name the row (line) and field.
func (c *conn) parseCopy(data []byte, cols []string, o *copyOpts) ([]ingest.Input, error) {
	var rows [][]*string
	var err error
	if o.format == "binary" {
		rows, err = c.splitBinaryRows(data, cols)
	} else {
		rows, err = splitCopyRows(data, o)
	}
	if err != nil {
		return nil, err
	}
	if o.header && len(rows) > 0 {
		rows = rows[1:]
	}
	var nd bytes.Buffer
	for i, row := range rows {
		if len(row) != len(cols) {
			return nil, &pgsql.Error{Code: "22P04", Message: fmt.Sprintf("COPY events, line %d: expected %d columns, got %d", i+1+boolInt(o.header), len(cols), len(row))}
		}
		nd.WriteByte('{')
		first := true
		for j, col := range cols {
			v := row[j]
			switch col {
			case "seq", "version", "ingested_at":
				continue
			}
			if v == nil {
				continue
			}
			if !first {
				nd.WriteByte(',')
			}
			first = false
			key, _ := json.Marshal(col)
			nd.Write(key)
			nd.WriteByte(':')
			switch col {
			case "payload", "metadata":
				if len(bytes.TrimSpace([]byte(*v))) == 0 {
					nd.WriteString("null")
				} else {
					// Raw JSON: the batch parser validates it and names the row.
					nd.WriteString(strings.ReplaceAll(strings.ReplaceAll(*v, "\n", " "), "\r", " "))
				}
			case "timestamp":
				ts, err := parseTimestamp(*v, c.sess.env.loc)
				if err != nil {
					return nil, &pgsql.Error{Code: "22007", Message: fmt.Sprintf("COPY events, line %d, column timestamp: %v", i+1+boolInt(o.header), err)}
				}
				s, _ := json.Marshal(ts.Format(time.RFC3339Nano))
				nd.Write(s)
			default:
				s, _ := json.Marshal(*v)
				nd.Write(s)
			}
		}
		nd.WriteString("}\n")
	}
	lim := c.srv.opts.Limits
	lim.MaxBatchEvents = len(rows) + 1
	inputs, err := ingest.ParseBatch(nd.Bytes(), ingest.FormatNDJSON, lim)
	if err != nil {
		msg := allsource.ErrorMessage(err)
		if o.header {
			msg += " (line numbers count data rows after the header)"
		}
		return nil, &pgsql.Error{Code: "22P04", Message: "COPY events: " + msg}
	}
	return inputs, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseTimestamp reads a timestamptz as Postgres prints or accepts it; a
// value without a zone is in the session's TimeZone, as in Postgres.
func parseTimestamp(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if loc == nil {
		loc = time.UTC
	}
	zoned := []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999Z07:00:00"}
	for _, l := range zoned {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid input syntax for type timestamp with time zone: %q", s)
}

// splitBinaryRows reads COPY binary data (a header, tuples of
// length-prefixed fields, a -1 trailer) into rows of text fields, each
// field read in the binary format of its column's type as the catalog
// describes events (text as its bytes, timestamptz as microseconds, json
// as its text, jsonb's version byte accepted).
func (c *conn) splitBinaryRows(data []byte, cols []string) ([][]*string, error) {
	bad := func(row int, format string, args ...any) error {
		return &pgsql.Error{Code: "22P04", Message: fmt.Sprintf("COPY events, binary row %d: ", row) + fmt.Sprintf(format, args...)}
	}
	if !bytes.HasPrefix(data, binaryCopySignature) || len(data) < len(binaryCopySignature)+8 {
		return nil, &pgsql.Error{Code: "22P04", Message: "COPY events: binary data does not start with the PGCOPY signature"}
	}
	p := data[len(binaryCopySignature):]
	flags := binary.BigEndian.Uint32(p)
	if flags&(1<<16) != 0 {
		return nil, &pgsql.Error{Code: "22P04", Message: "COPY events: binary data with OIDs is not supported"}
	}
	ext := binary.BigEndian.Uint32(p[4:])
	p = p[8:]
	if uint64(ext) > uint64(len(p)) {
		return nil, &pgsql.Error{Code: "22P04", Message: "COPY events: binary header extension is truncated"}
	}
	p = p[ext:]
	var rows [][]*string
	for n := 1; ; n++ {
		if len(p) == 0 {
			break // the trailer is optional: PostgreSQL (and pgx) end at a row boundary too
		}
		if len(p) < 2 {
			return nil, bad(n, "truncated field count")
		}
		count := int16(binary.BigEndian.Uint16(p))
		p = p[2:]
		if count == -1 {
			break
		}
		if int(count) != len(cols) {
			return nil, bad(n, "expected %d fields, got %d", len(cols), count)
		}
		row := make([]*string, len(cols))
		for j, col := range cols {
			if len(p) < 4 {
				return nil, bad(n, "column %s is truncated", col)
			}
			l := int32(binary.BigEndian.Uint32(p))
			p = p[4:]
			if l < 0 {
				continue // NULL
			}
			if int(l) > len(p) {
				return nil, bad(n, "column %s is truncated", col)
			}
			raw := p[:l]
			p = p[l:]
			oid := c.srv.eventTypes[col]
			if oid == oidJSON && len(raw) > 0 && raw[0] == 1 {
				raw = raw[1:] // jsonb's binary form: a version byte, then the text
			}
			v, err := decodeParam(raw, 1, oid)
			if err != nil {
				return nil, bad(n, "column %s: %v", col, err)
			}
			var text string
			switch x := v.(type) {
			case string:
				text = x
			case []byte:
				text = string(x)
			case time.Time:
				text = x.Format(time.RFC3339Nano)
			default:
				text = fmt.Sprint(x)
			}
			if !utf8.ValidString(text) {
				return nil, bad(n, "column %s is not valid UTF-8", col)
			}
			row[j] = &text
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// splitCopyRows splits COPY text or CSV data into rows of fields; nil is
// NULL.
func splitCopyRows(data []byte, o *copyOpts) ([][]*string, error) {
	if o.format == "csv" {
		// A line holding only \. ends the data, as in Postgres.
		if bytes.HasPrefix(data, []byte("\\.\n")) || bytes.Equal(data, []byte("\\.")) {
			data = nil
		} else if i := bytes.Index(data, []byte("\n\\.\n")); i >= 0 {
			data = data[:i+1]
		} else if bytes.HasSuffix(data, []byte("\n\\.")) || bytes.HasSuffix(data, []byte("\n\\.\r\n")) {
			data = data[:bytes.LastIndex(data, []byte("\n\\."))+1]
		}
		r := csv.NewReader(bytes.NewReader(data))
		r.Comma = rune(o.delimiter)
		r.FieldsPerRecord = -1
		r.LazyQuotes = false
		r.ReuseRecord = false
		var rows [][]*string
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return rows, nil
			}
			if err != nil {
				return nil, &pgsql.Error{Code: "22P04", Message: fmt.Sprintf("COPY events, CSV: %v", err)}
			}
			row := make([]*string, len(rec))
			for i := range rec {
				if rec[i] == o.null {
					// An unquoted empty field is NULL in Postgres CSV; the
					// csv package cannot tell quoted "" apart, so both are.
					continue
				}
				v := rec[i]
				row[i] = &v
			}
			rows = append(rows, row)
		}
	}
	var rows [][]*string
	for lineNo, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		if string(line) == `\.` {
			break
		}
		var row []*string
		for _, f := range splitEscaped(line, o.delimiter) {
			if string(f) == o.null {
				row = append(row, nil)
				continue
			}
			v, err := unescapeText(f)
			if err != nil {
				return nil, &pgsql.Error{Code: "22P04", Message: fmt.Sprintf("COPY events, line %d: %v", lineNo+1, err)}
			}
			row = append(row, &v)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// splitEscaped splits a text-format line at delimiters that are not
// escaped with a backslash.
func splitEscaped(line []byte, delim byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case delim:
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// unescapeText undoes COPY text-format escapes.
func unescapeText(f []byte) (string, error) {
	if bytes.IndexByte(f, '\\') < 0 {
		return string(f), nil
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		ch := f[i]
		if ch != '\\' || i+1 == len(f) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch f[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			// \xN or \xNN: a byte in hex.
			n, v := 0, 0
			for n < 2 && i+1+n < len(f) && isHex(f[i+1+n]) {
				v = v*16 + hexVal(f[i+1+n])
				n++
			}
			if n == 0 {
				b.WriteByte('x')
				continue
			}
			b.WriteByte(byte(v))
			i += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			// \N, \NN or \NNN: a byte in octal.
			v, n := int(f[i]-'0'), 1
			for n < 3 && i+n < len(f) && f[i+n] >= '0' && f[i+n] <= '7' {
				v = v*8 + int(f[i+n]-'0')
				n++
			}
			b.WriteByte(byte(v))
			i += n - 1
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

// tenant is the tenant the session works in.
func (c *conn) tenant() string {
	if p := c.sess.principal; p != nil {
		return sessionTenant(*p, c.srv.opts.Tenant)
	}
	return c.srv.opts.Tenant
}

// admit checks a COPY batch (after before rows) through the Gate: the
// policies on appending its event types and the tenant's quotas.
func (c *conn) admit(tenant string, part []ingest.Input, before int) error {
	var size int64
	for _, in := range part {
		size += int64(len(in.Payload) + len(in.Metadata) + len(in.EntityID) + len(in.EventType))
	}
	err := c.srv.opts.Gate.AdmitAppend(c.sess.scope.Ctx, tenant, func(i int) string { return part[i].EventType }, len(part), size,
		func() int64 { return c.srv.opts.Warehouse.TenantBytes(tenant) })
	if err == nil {
		return nil
	}
	switch allsource.ErrorCode(err) {
	case allsource.CodeNoStorage:
		return &pgsql.Error{Code: "53100", Message: allsource.ErrorMessage(err)}
	case allsource.CodeRateLimited:
		return &pgsql.Error{Code: "53400", Message: allsource.ErrorMessage(err)}
	}
	var ae *allsource.Error
	if errors.As(err, &ae) && ae.Index >= 0 {
		return &pgsql.Error{Code: "42501", Message: fmt.Sprintf("row %d: permission denied: %s", before+ae.Index+1, ae.Message)}
	}
	return &pgsql.Error{Code: "42501", Message: "permission denied: " + errorMessage(err)}
}
