package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestBinaryCopyFrom: pgx's CopyFrom (binary COPY, the driver's bulk
// path) appends events with every column in its binary format; a
// malformed stream is refused with the row named and stores nothing.
func TestBinaryCopyFrom(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	c := ts.connect(t)
	defer c.Close(ctx)
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	var rows [][]any
	for i := 0; i < 500; i++ {
		rows = append(rows, []any{"bin-" + string(rune('a'+i%3)), "copied", at.Add(time.Duration(i) * time.Second), map[string]any{"i": i, "s": "é"}, nil})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"entity_id", "event_type", "timestamp", "payload", "metadata"}, pgx.CopyFromRows(rows))
	if err != nil || n != 500 {
		t.Fatalf("CopyFrom: %d %v", n, err)
	}
	var count, sum int64
	var first time.Time
	var s string
	if err := c.QueryRow(ctx, `select count(*), sum((payload->>'i')::int), min("timestamp"), min(payload->>'s') from events where event_type = 'copied'`).Scan(&count, &sum, &first, &s); err != nil {
		t.Fatal(err)
	}
	if count != 500 || sum != 499*500/2 || !first.Equal(at) || s != "é" {
		t.Fatalf("stored: %d rows, sum %d, first %v, s %q", count, sum, first, s)
	}

	// A stream cut short: the error names the row, nothing is stored.
	conn := c.PgConn()
	var data []byte
	data = append(data, binaryCopySignature...)
	data = binary.BigEndian.AppendUint32(data, 0)
	data = binary.BigEndian.AppendUint32(data, 0)
	for _, e := range []string{"ok-1", "ok-2"} {
		data = binary.BigEndian.AppendUint16(data, 2)
		for _, f := range []string{e, "cut"} {
			data = binary.BigEndian.AppendUint32(data, uint32(len(f)))
			data = append(data, f...)
		}
	}
	data = binary.BigEndian.AppendUint16(data, 2)
	data = binary.BigEndian.AppendUint32(data, 100) // longer than what follows
	data = append(data, "short"...)
	_, err = conn.CopyFrom(ctx, strings.NewReader(string(data)), "COPY events (entity_id, event_type) FROM STDIN (FORMAT binary)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22P04" || !strings.Contains(pgErr.Message, "binary row 3") {
		t.Fatalf("truncated stream: %v", err)
	}
	if err := c.QueryRow(ctx, `select count(*) from events where event_type = 'cut'`).Scan(&count); err != nil || count != 0 {
		t.Fatalf("rows stored from a refused stream: %d %v", count, err)
	}
	if _, err := conn.CopyFrom(ctx, strings.NewReader("not a copy stream"), "COPY events (entity_id, event_type) FROM STDIN (FORMAT binary)"); !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "PGCOPY") {
		t.Fatalf("no signature: %v", err)
	}
}

// FuzzSplitBinaryRows: no input makes the binary COPY reader panic or
// return a row of the wrong width.
func FuzzSplitBinaryRows(f *testing.F) {
	var ok []byte
	ok = append(ok, binaryCopySignature...)
	ok = binary.BigEndian.AppendUint32(ok, 0)
	ok = binary.BigEndian.AppendUint32(ok, 0)
	ok = binary.BigEndian.AppendUint16(ok, 2)
	ok = binary.BigEndian.AppendUint32(ok, 1)
	ok = append(ok, 'e')
	ok = binary.BigEndian.AppendUint32(ok, 8)
	ok = binary.BigEndian.AppendUint64(ok, 1)
	f.Add(ok)
	f.Add(append(ok, 0xff, 0xff))
	f.Add(binaryCopySignature)
	c := &conn{srv: &Server{eventTypes: map[string]uint32{"entity_id": oidText, "timestamp": oidTimestampTZ}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := c.splitBinaryRows(data, []string{"entity_id", "timestamp"})
		for _, r := range rows {
			if err == nil && len(r) != 2 {
				t.Fatalf("row of %d fields", len(r))
			}
		}
	})
}
