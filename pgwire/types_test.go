package pgwire

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func TestIntervalText(t *testing.T) {
	for _, tc := range []struct {
		iv   duckdb.Interval
		want string
	}{
		{duckdb.Interval{}, "00:00:00"},
		{duckdb.Interval{Days: 1, Micros: 2 * 3600e6}, "1 day 02:00:00"},
		{duckdb.Interval{Days: -1, Micros: 2 * 3600e6}, "-1 days +02:00:00"},
		{duckdb.Interval{Months: 14, Days: 3, Micros: 4*3600e6 + 5*60e6 + 6.5e6}, "1 year 2 mons 3 days 04:05:06.5"},
		{duckdb.Interval{Months: -1}, "-1 mons"},
		{duckdb.Interval{Micros: -90e6}, "-00:01:30"},
		{duckdb.Interval{Months: -12, Days: 2}, "-1 years +2 days"},
	} {
		if got := string(appendInterval(nil, tc.iv)); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.iv, got, tc.want)
		}
	}
}

func TestDateBinaryFarFromEpoch(t *testing.T) {
	for _, d := range []time.Time{
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		b, err := appendBinary(nil, d, oidDate)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeParam(b, 1, oidDate)
		if err != nil {
			t.Fatal(err)
		}
		if !back.(time.Time).Equal(d) {
			t.Errorf("%s → %d days → %s", d.Format(time.DateOnly), int32(binary.BigEndian.Uint32(b)), back.(time.Time).Format(time.DateOnly))
		}
	}
}

func TestNumericBinaryRoundTrip(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "123.45", "-0.001", "100000000", "0.00000001", "12345678901234567890.0123456789"} {
		b, err := appendNumericBinary(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeNumericBinary(b)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got != s {
			t.Errorf("%s → %q", s, got)
		}
	}
	// A digit above 9999 is refused; an extreme weight is decoded in
	// linear time.
	bad := []byte{0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10}
	if _, err := decodeNumericBinary(bad); err == nil {
		t.Error("digit 10000 accepted")
	}
	tiny := []byte{0, 1, 0x80, 0x00, 0, 0, 0, 0, 0, 1} // weight -32768
	start := time.Now()
	for i := 0; i < 100; i++ {
		if _, err := decodeNumericBinary(tiny); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 decodes of weight -32768 took %v", d)
	}
}

func TestTimestampBinaryInfinity(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		want string
	}{{math.MaxInt64, "infinity"}, {math.MinInt64, "-infinity"}} {
		got, err := decodeParam(binary.BigEndian.AppendUint64(nil, uint64(tc.us)), 1, oidTimestampTZ)
		if err != nil || got != tc.want {
			t.Errorf("%d: %v %v", tc.us, got, err)
		}
	}
}

func TestTimeTZBinary(t *testing.T) {
	in := time.Date(2000, 1, 1, 10, 30, 0, 0, time.FixedZone("", 2*3600))
	b, err := appendBinary(nil, in, oidTimeTZ)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 12 || int32(binary.BigEndian.Uint32(b[8:])) != -7200 {
		t.Fatalf("timetz binary = %x", b)
	}
	got, err := decodeParam(b, 1, oidTimeTZ)
	if err != nil || got != "10:30:00.000000+02" {
		t.Fatalf("decode: %v %v", got, err)
	}
}

func TestArrayLiterals(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{1,2,NULL}`, `["1", "2", NULL]`},
		{`{a\,b,"c d","NULL",\N}`, `["a,b", "c d", "NULL", "N"]`},
		{`{{1,2},{3,4}}`, `[["1", "2"], ["3", "4"]]`},
		{`{}`, `[]`},
	} {
		got, err := pgArrayToList(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := pgArrayToList(`{1,2`); err == nil {
		t.Error("unterminated array accepted")
	}
}

func TestCopyTextEscapes(t *testing.T) {
	got, err := unescapeText([]byte(`a\tb\\c\101\x41\x4g\n`))
	if err != nil || got != "a\tb\\cAA\x04g\n" {
		t.Errorf("unescape = %q %v", got, err)
	}
	rows, err := splitCopyRows([]byte("x\\\ty\tz\n\\N\tq\tr\n"), &copyOpts{format: "text", delimiter: '\t', null: `\N`})
	if err != nil || len(rows) != 2 || *rows[0][0] != "x\ty" || rows[1][0] != nil {
		t.Errorf("rows = %v %v", rows, err)
	}
}

func TestCopyTimestampZone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2024-01-01 09:00:00", tokyo, "2024-01-01T00:00:00Z"},
		{"2024-01-01 09:00:00+00", tokyo, "2024-01-01T09:00:00Z"},
		{"2024-01-01T09:00:00.5Z", nil, "2024-01-01T09:00:00.5Z"},
	} {
		got, err := parseTimestamp(tc.in, tc.loc)
		if err != nil || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestHideFileNames(t *testing.T) {
	plan := strings.Split(strings.Join([]string{
		"┌───────────────┐┌───────────────┐",
		"│  Filename(s): ││   Projection  │",
		"│/srv/data/ware ││     a, b      │",
		"│house/x.parquet││               │",
		"│               ││               │",
		"│   0.01s       ││               │",
	}, "\n"), "\n")
	got := strings.Join(hideFileNames(plan), "\n")
	if strings.Contains(got, "/srv") || strings.Contains(got, "parquet") || !strings.Contains(got, "Projection") ||
		!strings.Contains(got, "0.01s") || !strings.Contains(got, "a, b") {
		t.Errorf("hidden plan:\n%s", got)
	}
	if !bytes.Contains([]byte(got), []byte("Filename(s)")) {
		t.Errorf("label gone:\n%s", got)
	}
}
