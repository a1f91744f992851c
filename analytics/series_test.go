package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func mustInterval(t testing.TB, s string) SeriesInterval {
	t.Helper()
	iv, err := ParseSeriesInterval(s)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

// at parses "2006-01-02T15:04" in loc, or an RFC 3339 time with offset.
func at(t testing.TB, s string, loc *time.Location) time.Time {
	t.Helper()
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if v, err := time.ParseInLocation(layout, s, loc); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func fp(v float64) *float64 { return &v }

func TestParseSeriesInterval(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SeriesInterval
		fail bool
	}{
		{in: "5m", want: SeriesInterval{N: 5, Unit: SeriesMinute}},
		{in: "1h", want: SeriesInterval{N: 1, Unit: SeriesHour}},
		{in: "30s", want: SeriesInterval{N: 30, Unit: SeriesSecond}},
		{in: "1d", want: SeriesInterval{N: 1, Unit: SeriesDay}},
		{in: "2w", want: SeriesInterval{N: 2, Unit: SeriesWeek}},
		{in: "1mo", want: SeriesInterval{N: 1, Unit: SeriesMonth}},
		{in: "1q", want: SeriesInterval{N: 1, Unit: SeriesQuarter}},
		{in: "1y", want: SeriesInterval{N: 1, Unit: SeriesYear}},
		{in: "h", want: SeriesInterval{N: 1, Unit: SeriesHour}},
		{in: " 15 Minutes ", want: SeriesInterval{N: 15, Unit: SeriesMinute}},
		{in: "3 months", want: SeriesInterval{N: 3, Unit: SeriesMonth}},
		{in: "", fail: true},
		{in: "0h", fail: true},
		{in: "-1h", fail: true},
		{in: "1x", fail: true},
		{in: "1.5h", fail: true},
		{in: "99999999999999999999h", fail: true},
	} {
		got, err := ParseSeriesInterval(c.in)
		if c.fail {
			if err == nil {
				t.Errorf("%q: want error, got %v", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
		if err == nil {
			back, err := ParseSeriesInterval(got.String())
			if err != nil || back != got {
				t.Errorf("%q: String %q does not round-trip", c.in, got.String())
			}
		}
	}
}

func TestSeriesBucketOf(t *testing.T) {
	for _, c := range []struct {
		zone, iv, t, want string
		sunday            bool
	}{
		{"UTC", "5m", "2024-05-05T10:07:59", "2024-05-05T10:05", false},
		{"UTC", "1h", "2024-05-05T10:00", "2024-05-05T10:00", false},
		{"UTC", "90m", "1970-01-01T02:59", "1970-01-01T01:30", false},
		{"UTC", "1h", "1969-12-31T23:30", "1969-12-31T23:00", false},
		{"Asia/Kolkata", "1h", "2024-05-05T10:59", "2024-05-05T10:00", false},    // +05:30: local full hours
		{"Asia/Kathmandu", "15m", "2024-05-05T10:14", "2024-05-05T10:00", false}, // +05:45
		{"Europe/Berlin", "1h", "2024-10-27T02:30+02:00", "2024-10-27T02:00+02:00", false},
		{"Europe/Berlin", "1h", "2024-10-27T02:30+01:00", "2024-10-27T02:00+01:00", false},
		{"Europe/Berlin", "2h", "2024-03-31T03:30", "2024-03-31T00:00", false}, // 02:00 was skipped
		{"Europe/Berlin", "1d", "2024-03-31T23:59", "2024-03-31T00:00", false},
		{"Europe/Berlin", "1d", "2024-03-30T23:59", "2024-03-30T00:00", false},
		{"America/New_York", "1d", "2024-11-03T23:30", "2024-11-03T00:00", false},
		{"America/New_York", "1d", "2024-11-04T03:30Z", "2024-11-03T00:00", false}, // 22:30 local
		{"UTC", "1w", "2024-05-05T12:00", "2024-04-29", false},                     // Sunday → Monday before
		{"UTC", "1w", "2024-05-06T00:00", "2024-05-06", false},
		{"UTC", "1w", "2024-05-05T12:00", "2024-05-05", true},
		{"UTC", "1w", "2024-05-04T12:00", "2024-04-28", true},
		{"UTC", "1mo", "2024-02-29T23:59", "2024-02-01", false}, // leap day
		{"UTC", "1mo", "2023-12-31T23:59", "2023-12-01", false},
		{"Europe/Berlin", "1mo", "2024-03-31T23:59", "2024-03-01", false},
		{"UTC", "1q", "2024-06-30T23:00", "2024-04-01", false},
		{"UTC", "1q", "2024-07-01T00:00", "2024-07-01", false},
		{"UTC", "6mo", "2024-12-31T00:00", "2024-07-01", false},
		{"UTC", "1y", "2024-12-31T23:59", "2024-01-01", false},
		{"UTC", "10y", "2024-06-01", "2020-01-01", false},
		{"UTC", "2d", "1970-01-02T05:00", "1970-01-01", false},
		{"UTC", "2d", "1969-12-31T05:00", "1969-12-30", false},
		{"America/Sao_Paulo", "1d", "2018-11-04T12:00", "2018-11-04T01:00-02:00", false}, // midnight skipped
		{"America/Sao_Paulo", "1d", "2019-02-16T23:30-03:00", "2019-02-16T00:00-02:00", false},
		{"Europe/Berlin", "1y", "2024-01-01T00:30", "2024-01-01", false},
		{"Europe/Berlin", "1y", "2023-12-31T23:30Z", "2024-01-01", false}, // 00:30 local
	} {
		loc := mustLoc(t, c.zone)
		iv := mustInterval(t, c.iv)
		iv.SundayWeeks = c.sunday
		in, want := at(t, c.t, loc), at(t, c.want, loc)
		got := SeriesBucketOf(in, iv, loc)
		if !got.Equal(want) || got.Location() != loc {
			t.Errorf("%s %s %s: got %v, want %v", c.zone, c.iv, c.t, got, want)
		}
	}
}

func TestSeriesBucketsDST(t *testing.T) {
	for _, c := range []struct {
		zone, day, iv string
		n             int
		lengths       []time.Duration // expected lengths of the first buckets
	}{
		{"Europe/Berlin", "2024-03-31", "1h", 23, nil},
		{"Europe/Berlin", "2024-10-27", "1h", 25, nil},
		{"Europe/Berlin", "2024-06-01", "1h", 24, nil},
		{"America/New_York", "2024-03-10", "1h", 23, nil},
		{"America/New_York", "2024-11-03", "1h", 25, nil},
		{"Europe/Berlin", "2024-03-31", "15m", 92, nil},
		{"Europe/Berlin", "2024-10-27", "15m", 100, nil},
		{"Europe/Berlin", "2024-03-31", "1d", 1, []time.Duration{23 * time.Hour}},
		{"Europe/Berlin", "2024-10-27", "1d", 1, []time.Duration{25 * time.Hour}},
		{"America/New_York", "2024-03-10", "1d", 1, []time.Duration{23 * time.Hour}},
		{"America/New_York", "2024-11-03", "1d", 1, []time.Duration{25 * time.Hour}},
		{"Europe/Berlin", "2024-03-31", "2h", 11, []time.Duration{3 * time.Hour, 2 * time.Hour}},
		{"Europe/Berlin", "2024-10-27", "6h", 4, []time.Duration{7 * time.Hour, 6 * time.Hour}},
	} {
		loc := mustLoc(t, c.zone)
		iv := mustInterval(t, c.iv)
		from := at(t, c.day, loc)
		y, m, d := from.Date()
		to := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		bs := SeriesBuckets(from, to, iv, loc)
		if len(bs) != c.n {
			t.Errorf("%s %s %s: %d buckets, want %d", c.zone, c.day, c.iv, len(bs), c.n)
		}
		var total time.Duration
		for i, b := range bs {
			l := SeriesBucketEnd(b, iv, loc).Sub(b)
			total += l
			if i < len(c.lengths) && l != c.lengths[i] {
				t.Errorf("%s %s %s: bucket %d lasts %v, want %v", c.zone, c.day, c.iv, i, l, c.lengths[i])
			}
		}
		if total != to.Sub(from) {
			t.Errorf("%s %s %s: buckets cover %v, want %v", c.zone, c.day, c.iv, total, to.Sub(from))
		}
	}
}

func TestSeriesBucketsCalendar(t *testing.T) {
	utc := time.UTC
	for _, c := range []struct {
		iv, from, to string
		want         []string
	}{
		{"1mo", "2024-01-31", "2024-04-15", []string{"2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"}},
		{"1d", "2024-02-28", "2024-03-01", []string{"2024-02-28", "2024-02-29"}},
		{"1d", "2023-02-28", "2023-03-01", []string{"2023-02-28"}},
		{"1q", "2024-02-10", "2024-12-31", []string{"2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"}},
		{"1y", "2023-06-01", "2025-01-01", []string{"2023-01-01", "2024-01-01"}},
		{"1w", "2024-12-30", "2025-01-13", []string{"2024-12-30", "2025-01-06"}},
		{"1h", "2024-01-01T10:30", "2024-01-01T12:00", []string{"2024-01-01T10:00", "2024-01-01T11:00"}},
		{"1h", "2024-01-01T10:30", "2024-01-01T10:30", nil},
		{"1h", "2024-01-01T10:30", "2024-01-01T09:30", nil},
	} {
		got := SeriesBuckets(at(t, c.from, utc), at(t, c.to, utc), mustInterval(t, c.iv), nil)
		var want []time.Time
		for _, w := range c.want {
			want = append(want, at(t, w, utc))
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s [%s, %s): got %v, want %v", c.iv, c.from, c.to, got, want)
		}
	}
}

// TestSeriesBucketsPartition checks, for random instants in zones with DST,
// half-hour offsets and skipped midnights, that buckets partition time: every
// instant lies in exactly the bucket SeriesBucketOf names, and SeriesBuckets
// lists that bucket.
func TestSeriesBucketsPartition(t *testing.T) {
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Chatham"}
	ivs := []string{"1m", "7m", "1h", "2h", "3h", "5h", "1d", "3d", "1w", "2w", "1mo", "1q", "1y"}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, z := range zones {
		loc := mustLoc(t, z)
		for _, s := range ivs {
			iv := mustInterval(t, s)
			for range 200 {
				ti := base.Add(time.Duration(rng.Int64N(int64(7 * 365 * 24 * time.Hour))))
				b := SeriesBucketOf(ti, iv, loc)
				e := SeriesBucketEnd(b, iv, loc)
				if ti.Before(b) || !ti.Before(e) {
					t.Fatalf("%s %s: %v not in [%v, %v)", z, s, ti, b, e)
				}
				if !SeriesBucketOf(b, iv, loc).Equal(b) || !SeriesBucketOf(e, iv, loc).Equal(e) {
					t.Fatalf("%s %s: bucket starts %v, %v are not fixed points", z, s, b, e)
				}
				if iv.Unit <= SeriesHour {
					bs := SeriesBuckets(ti.Add(-6*time.Hour), ti.Add(time.Nanosecond), iv, loc)
					if len(bs) == 0 || !bs[len(bs)-1].Equal(b) {
						t.Fatalf("%s %s: buckets up to %v end %v, want %v", z, s, ti, bs[len(bs)-1], b)
					}
					for i := 1; i < len(bs); i++ {
						if !SeriesBucketEnd(bs[i-1], iv, loc).Equal(bs[i]) {
							t.Fatalf("%s %s: gap between %v and %v", z, s, bs[i-1], bs[i])
						}
					}
				}
			}
		}
	}
}

func points(t testing.TB, loc *time.Location, kv ...any) []SeriesPoint {
	t.Helper()
	var out []SeriesPoint
	for i := 0; i < len(kv); i += 2 {
		p := SeriesPoint{Time: at(t, kv[i].(string), loc)}
		if v, ok := kv[i+1].(float64); ok {
			p.Value = fp(v)
		} else if v, ok := kv[i+1].(int); ok {
			p.Value = fp(float64(v))
		}
		out = append(out, p)
	}
	return out
}

// vals renders a series as values, NaN standing for nil (tests only).
func vals(ps []SeriesPoint) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = math.NaN()
		if p.Value != nil {
			out[i] = *p.Value
		}
	}
	return out
}

var null = math.NaN()

func sameVals(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.IsNaN(x) && math.IsNaN(y)
		}
		return math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y))
	})
}

func series(vs ...float64) []SeriesPoint {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]SeriesPoint, len(vs))
	for i, v := range vs {
		out[i].Time = base.Add(time.Duration(i) * time.Hour)
		if !math.IsNaN(v) {
			out[i].Value = fp(v)
		}
	}
	return out
}

func TestSeriesFill(t *testing.T) {
	utc := time.UTC
	hours := SeriesBuckets(at(t, "2024-01-01T00:00", utc), at(t, "2024-01-01T06:00", utc), mustInterval(t, "1h"), utc)
	months := SeriesBuckets(at(t, "2024-01-01", utc), at(t, "2024-04-01", utc), mustInterval(t, "1mo"), utc)
	sparse := points(t, utc, "2024-01-01T01:00", 1, "2024-01-01T02:00", nil, "2024-01-01T04:00", 4)
	for _, c := range []struct {
		name    string
		pts     []SeriesPoint
		buckets []time.Time
		mode    SeriesFillMode
		want    []float64
		times   []time.Time // for none
	}{
		{name: "null", pts: sparse, buckets: hours, mode: SeriesFillNull, want: []float64{null, 1, null, null, 4, null}},
		{name: "zero", pts: sparse, buckets: hours, mode: SeriesFillZero, want: []float64{0, 1, 0, 0, 4, 0}},
		{name: "previous", pts: sparse, buckets: hours, mode: SeriesFillPrevious, want: []float64{null, 1, 1, 1, 4, 4}},
		{name: "linear", pts: sparse, buckets: hours, mode: SeriesFillLinear, want: []float64{null, 1, 2, 3, 4, null}},
		{name: "none", pts: sparse, buckets: hours, mode: SeriesFillNone, want: []float64{1, 4}, times: []time.Time{hours[1], hours[4]}},
		{name: "empty points zero", pts: nil, buckets: hours, mode: SeriesFillZero, want: []float64{0, 0, 0, 0, 0, 0}},
		{name: "empty points linear", pts: nil, buckets: hours, mode: SeriesFillLinear, want: []float64{null, null, null, null, null, null}},
		{name: "no buckets", pts: sparse, buckets: nil, mode: SeriesFillZero, want: []float64{}},
		{name: "single point previous", pts: points(t, utc, "2024-01-01T03:00", 7), buckets: hours, mode: SeriesFillPrevious, want: []float64{null, null, null, 7, 7, 7}},
		{name: "single point linear", pts: points(t, utc, "2024-01-01T03:00", 7), buckets: hours, mode: SeriesFillLinear, want: []float64{null, null, null, 7, null, null}},
		{name: "off-grid and outside points dropped", pts: points(t, utc, "2023-12-31T23:00", 9, "2024-01-01T00:30", 9, "2024-01-01T05:00", 5, "2024-01-01T06:00", 9), buckets: hours, mode: SeriesFillNull, want: []float64{null, null, null, null, null, 5}},
		{name: "unsorted, duplicate last wins", pts: points(t, utc, "2024-01-01T05:00", 5, "2024-01-01T00:00", 1, "2024-01-01T00:00", 2), buckets: hours, mode: SeriesFillLinear, want: []float64{2, 2.6, 3.2, 3.8, 4.4, 5}},
		{name: "other zone same instant", pts: points(t, utc, "2024-01-01T03:00+02:00", 3), buckets: hours, mode: SeriesFillNull, want: []float64{null, 3, null, null, null, null}},
		// Linear by time: January has 31 days, February 29 (2024).
		{name: "linear by time over months", pts: points(t, utc, "2024-01-01", 0, "2024-03-01", 60), buckets: months, mode: SeriesFillLinear, want: []float64{0, 31, 60}},
		{name: "all equal", pts: points(t, utc, "2024-01-01T00:00", 2, "2024-01-01T05:00", 2), buckets: hours, mode: SeriesFillLinear, want: []float64{2, 2, 2, 2, 2, 2}},
	} {
		got := SeriesFill(c.pts, c.buckets, c.mode)
		if !sameVals(vals(got), c.want) {
			t.Errorf("%s: got %v, want %v", c.name, vals(got), c.want)
			continue
		}
		wantTimes := c.times
		if wantTimes == nil {
			wantTimes = c.buckets
		}
		for i := range got {
			if !got[i].Time.Equal(wantTimes[i]) {
				t.Errorf("%s: point %d at %v, want %v", c.name, i, got[i].Time, wantTimes[i])
			}
			if got[i].Value != nil && math.IsNaN(*got[i].Value) {
				t.Errorf("%s: NaN at %d", c.name, i)
			}
		}
	}
	// The result does not alias the input.
	in := points(t, utc, "2024-01-01T01:00", 1)
	out := SeriesFill(in, hours, SeriesFillNull)
	*out[1].Value = 99
	if *in[0].Value != 1 {
		t.Error("SeriesFill aliases its input")
	}
}

func TestSeriesFillGroups(t *testing.T) {
	utc := time.UTC
	hours := SeriesBuckets(at(t, "2024-01-01T00:00", utc), at(t, "2024-01-01T03:00", utc), mustInterval(t, "1h"), utc)
	got := SeriesFillGroups(map[string][]SeriesPoint{
		"a": points(t, utc, "2024-01-01T01:00", 1),
		"b": nil,
	}, hours, SeriesFillZero)
	if !sameVals(vals(got["a"]), []float64{0, 1, 0}) || !sameVals(vals(got["b"]), []float64{0, 0, 0}) || len(got) != 2 {
		t.Errorf("got %v", got)
	}
}

func TestParseSeriesFillMode(t *testing.T) {
	for i, n := range []string{"none", "null", "zero", "previous", "linear"} {
		m, err := ParseSeriesFillMode(n)
		if err != nil || m != SeriesFillMode(i) || m.String() != n {
			t.Errorf("%s: %v %v", n, m, err)
		}
	}
	if _, err := ParseSeriesFillMode("nearest"); err == nil {
		t.Error("want error")
	}
}

func TestSeriesMovingAverage(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     []float64
		k, min int
		want   []float64
	}{
		{"empty", nil, 3, 1, []float64{}},
		{"single", []float64{5}, 3, 1, []float64{5}},
		{"single min periods", []float64{5}, 3, 3, []float64{null}},
		{"k=1 identity", []float64{1, null, 3}, 1, 1, []float64{1, null, 3}},
		{"trailing", []float64{1, 2, 3, 4, 5}, 3, 1, []float64{1, 1.5, 2, 3, 4}},
		{"full window", []float64{1, 2, 3, 4, 5}, 3, 3, []float64{null, null, 2, 3, 4}},
		{"nulls skipped", []float64{1, null, 3, null, null, null, 7}, 3, 1, []float64{1, 1, 2, 3, 3, null, 7}},
		{"nulls vs min periods", []float64{1, null, 3, 5}, 3, 2, []float64{null, null, 2, 4}},
		{"all equal", []float64{2, 2, 2, 2}, 2, 1, []float64{2, 2, 2, 2}},
		{"k<1", []float64{1, 2}, 0, 0, []float64{1, 2}},
		{"min > k clamps", []float64{1, 2, 3}, 2, 9, []float64{null, 1.5, 2.5}},
		{"big offset", []float64{1e15 + 1, 1e15 + 2, 1e15 + 3}, 2, 1, []float64{1e15 + 1, 1e15 + 1.5, 1e15 + 2.5}},
	} {
		got := vals(SeriesMovingAverage(series(c.in...), c.k, c.min))
		if !sameVals(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSeriesChange(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        []float64
		lag       int
		delta, pc []float64
	}{
		{"empty", nil, 1, []float64{}, []float64{}},
		{"single", []float64{3}, 1, []float64{null}, []float64{null}},
		{"lag 1", []float64{10, 15, 12}, 1, []float64{null, 5, -3}, []float64{null, 50, -20}},
		{"lag 2", []float64{10, 20, 15, 10}, 2, []float64{null, null, 5, -10}, []float64{null, null, 50, -50}},
		{"zero base", []float64{0, 5}, 1, []float64{null, 5}, []float64{null, null}},
		{"negative base", []float64{-10, -5}, 1, []float64{null, 5}, []float64{null, 50}},
		{"nulls", []float64{1, null, 3}, 1, []float64{null, null, null}, []float64{null, null, null}},
		{"lag beyond length", []float64{1, 2}, 5, []float64{null, null}, []float64{null, null}},
		{"all equal", []float64{4, 4, 4}, 1, []float64{null, 0, 0}, []float64{null, 0, 0}},
	} {
		if got := vals(SeriesDelta(series(c.in...), c.lag)); !sameVals(got, c.delta) {
			t.Errorf("%s delta: got %v, want %v", c.name, got, c.delta)
		}
		if got := vals(SeriesPercentChange(series(c.in...), c.lag)); !sameVals(got, c.pc) {
			t.Errorf("%s percent: got %v, want %v", c.name, got, c.pc)
		}
	}
	// Week over week on daily buckets is lag 7.
	days := make([]float64, 14)
	for i := range days {
		days[i] = float64(i%7 + 1 + i/7) // second week is one higher every day
	}
	got := vals(SeriesDelta(series(days...), 7))
	for i := 7; i < 14; i++ {
		if got[i] != 1 {
			t.Fatalf("wow delta %v", got)
		}
	}
}

func TestSeriesCumulativeSum(t *testing.T) {
	for _, c := range []struct {
		name     string
		in, want []float64
	}{
		{"empty", nil, []float64{}},
		{"single", []float64{2}, []float64{2}},
		{"running", []float64{1, 2, 3}, []float64{1, 3, 6}},
		{"leading nulls stay, later nulls carry", []float64{null, 1, null, 2}, []float64{null, 1, 1, 3}},
		{"compensated", []float64{1e16, 1, 1, -1e16}, []float64{1e16, 1e16 + 1, 1e16 + 2, 2}},
	} {
		if got := vals(SeriesCumulativeSum(series(c.in...))); !sameVals(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSeriesRate(t *testing.T) {
	for _, c := range []struct {
		zone, day, iv string
		secs          float64
	}{
		{"Europe/Berlin", "2024-03-31", "1d", 23 * 3600},
		{"Europe/Berlin", "2024-10-27", "1d", 25 * 3600},
		{"America/New_York", "2024-03-10", "1d", 23 * 3600},
		{"America/New_York", "2024-11-03", "1d", 25 * 3600},
		{"UTC", "2024-02-01", "1mo", 29 * 86400}, // leap February
		{"UTC", "2023-02-01", "1mo", 28 * 86400},
		{"Europe/Berlin", "2024-03-01", "1mo", 31*86400 - 3600},
		{"UTC", "2024-01-01", "1y", 366 * 86400},
		{"Europe/Berlin", "2024-03-25", "1w", 7*86400 - 3600},
		{"UTC", "2024-01-01", "5m", 300},
		{"Europe/Berlin", "2024-03-31", "2h", 3 * 3600}, // 00:00–04:00 local
	} {
		loc := mustLoc(t, c.zone)
		iv := mustInterval(t, c.iv)
		b := at(t, c.day, loc)
		got := SeriesRate([]SeriesPoint{{Time: b, Value: fp(c.secs * 2)}, {Time: b}}, iv, loc)
		if got[0].Value == nil || *got[0].Value != 2 || got[1].Value != nil {
			t.Errorf("%s %s %s: got %v", c.zone, c.day, c.iv, vals(got))
		}
	}
	if got := SeriesRate(nil, mustInterval(t, "1h"), nil); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

// TestSeriesProperties checks the derived metrics against naive loops on
// random sparse series.
func TestSeriesProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	utc := time.UTC
	iv := mustInterval(t, "1h")
	from := at(t, "2024-01-01T00:00", utc)
	for trial := range 200 {
		n := 1 + rng.IntN(200)
		buckets := SeriesBuckets(from, from.Add(time.Duration(n)*time.Hour), iv, utc)
		var pts []SeriesPoint
		for _, b := range buckets {
			if rng.Float64() < 0.4 {
				pts = append(pts, SeriesPoint{Time: b, Value: fp(math.Round(rng.NormFloat64()*1000) / 10)})
			}
		}
		// Zero fill then moving average equals the naive window mean.
		k := 1 + rng.IntN(10)
		zero := SeriesFill(pts, buckets, SeriesFillZero)
		ma := SeriesMovingAverage(zero, k, 1)
		for i := range zero {
			var sum float64
			cnt := 0
			for j := max(0, i-k+1); j <= i; j++ {
				sum += *zero[j].Value
				cnt++
			}
			if got := *ma[i].Value; math.Abs(got-sum/float64(cnt)) > 1e-9 {
				t.Fatalf("trial %d: ma[%d] = %v, naive %v", trial, i, got, sum/float64(cnt))
			}
		}
		// Cumulative sum of the zero fill equals the naive prefix sum and
		// its last value the plain sum of the points.
		cs := SeriesCumulativeSum(zero)
		var total float64
		for _, p := range pts {
			total += *p.Value
		}
		if math.Abs(*cs[len(cs)-1].Value-total) > 1e-9 {
			t.Fatalf("trial %d: cumsum %v, sum %v", trial, *cs[len(cs)-1].Value, total)
		}
		// Delta then cumulative sum telescopes back to v[i] - v[0] (lag 1).
		d := SeriesDelta(zero, 1)
		var acc float64
		for i := 1; i < len(zero); i++ {
			acc += *d[i].Value
			if math.Abs(acc-(*zero[i].Value-*zero[0].Value)) > 1e-9 {
				t.Fatalf("trial %d: telescoping fails at %d", trial, i)
			}
		}
		// Previous fill never invents values: each is some earlier point's.
		prev := SeriesFill(pts, buckets, SeriesFillPrevious)
		last := math.NaN()
		j := 0
		for i, b := range buckets {
			if j < len(pts) && pts[j].Time.Equal(b) {
				last = *pts[j].Value
				j++
			}
			if got := vals(prev[i : i+1])[0]; !sameVals([]float64{got}, []float64{last}) {
				t.Fatalf("trial %d: previous[%d] = %v, want %v", trial, i, got, last)
			}
		}
	}
}

// TestSeriesLinearFillLine: linear fill of samples of a straight line
// reproduces the line at every bucket between the first and last sample,
// also over unequal month and DST-day buckets.
func TestSeriesLinearFillLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	berlin := mustLoc(t, "Europe/Berlin")
	for _, iv := range []string{"1h", "1d", "1mo", "15m"} {
		sv := mustInterval(t, iv)
		from := at(t, "2024-01-01", berlin)
		buckets := SeriesBuckets(from, from.AddDate(1, 0, 0), sv, berlin)
		buckets = buckets[:min(len(buckets), 5000)]
		slope, icpt := rng.NormFloat64(), rng.NormFloat64()*100
		line := func(ti time.Time) float64 { return icpt + slope*ti.Sub(from).Hours() }
		var pts []SeriesPoint
		for i, b := range buckets {
			if i == 0 || i == len(buckets)-1 || rng.Float64() < 0.1 {
				pts = append(pts, SeriesPoint{Time: b, Value: fp(line(b))})
			}
		}
		got := SeriesFill(pts, buckets, SeriesFillLinear)
		for i, p := range got {
			if p.Value == nil || math.Abs(*p.Value-line(p.Time)) > 1e-6*max(1, math.Abs(line(p.Time))) {
				t.Fatalf("%s: bucket %d %v: got %v, want %v", iv, i, p.Time, vals(got[i:i+1]), line(p.Time))
			}
		}
		// And its trend recovers the slope (per second).
		tr, ok := StatsSeriesTrend(got, from)
		if !ok || math.Abs(tr.Slope*3600-slope) > 1e-9 || math.Abs(tr.Intercept-icpt) > 1e-6 || math.Abs(tr.R2-1) > 1e-9 {
			t.Fatalf("%s: trend %+v, want slope %v/h intercept %v", iv, tr, slope, icpt)
		}
	}
}

// TestSeriesScenarios runs the scripts in testdata/series/*.txt. A script
// sets the zone, interval and range of the bucket grid, lists sparse input
// points under "in", and under each "eval PIPELINE" the expected output, one
// "TIME VALUE" line per point ("_" is null). A pipeline is stages joined by
// "|": fill MODE, movavg K [MIN_PERIODS], delta LAG, pct LAG, rate, cumsum.
// Blank lines end a block; "#" starts a comment line.
func TestSeriesScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/series/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runSeriesScenario(t, f) })
	}
}

type seriesScenario struct {
	loc      *time.Location
	iv       SeriesInterval
	buckets  []time.Time
	in       []SeriesPoint
	evals    int
	fileName string
}

func runSeriesScenario(t *testing.T, name string) {
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sc := seriesScenario{loc: time.UTC, fileName: name}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		// block collects the following non-blank lines.
		block := func() (rows [][2]string, lineNos []int) {
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				l := strings.TrimSpace(lines[i])
				if strings.HasPrefix(l, "#") {
					continue
				}
				f := strings.Fields(l)
				if len(f) != 2 {
					t.Fatalf("%s:%d: want TIME VALUE, got %q", name, i+1, l)
				}
				rows = append(rows, [2]string{f[0], f[1]})
				lineNos = append(lineNos, i+1)
			}
			return rows, lineNos
		}
		switch cmd {
		case "zone":
			sc.loc = mustLoc(t, arg)
		case "interval":
			sc.iv = mustInterval(t, arg)
		case "range":
			f := strings.Fields(arg)
			if len(f) != 2 {
				t.Fatalf("%s:%d: range FROM TO", name, i+1)
			}
			sc.buckets = SeriesBuckets(at(t, f[0], sc.loc), at(t, f[1], sc.loc), sc.iv, sc.loc)
		case "buckets":
			// "buckets N" asserts the grid size.
			if n, _ := strconv.Atoi(arg); n != len(sc.buckets) {
				t.Errorf("%s:%d: %d buckets, want %d", name, i+1, len(sc.buckets), n)
			}
		case "in":
			rows, _ := block()
			sc.in = sc.in[:0]
			for _, r := range rows {
				sc.in = append(sc.in, SeriesPoint{Time: at(t, r[0], sc.loc), Value: scenarioValue(t, r[1])})
			}
		case "eval":
			rows, lineNos := block()
			got := sc.eval(t, arg, i+1)
			sc.evals++
			if len(got) != len(rows) {
				t.Errorf("%s:%d: eval %s: %d points, want %d\n%s", name, i+1, arg, len(got), len(rows), formatPoints(got, sc.loc))
				continue
			}
			for k, r := range rows {
				wantT, wantV := at(t, r[0], sc.loc), scenarioValue(t, r[1])
				if !got[k].Time.Equal(wantT) || !sameVals(vals(got[k:k+1]), vals([]SeriesPoint{{Value: wantV}})) {
					t.Errorf("%s:%d: eval %s: got %s, want %s %s\n%s", name, lineNos[k], arg, formatPoints(got[k:k+1], sc.loc), r[0], r[1], formatPoints(got, sc.loc))
					break
				}
			}
		default:
			t.Fatalf("%s:%d: unknown command %q", name, i+1, cmd)
		}
	}
	if sc.evals == 0 {
		t.Fatalf("%s: no eval", name)
	}
}

func scenarioValue(t *testing.T, s string) *float64 {
	if s == "_" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad value %q", s)
	}
	return &v
}

func (sc *seriesScenario) eval(t *testing.T, pipeline string, line int) []SeriesPoint {
	cur := sc.in
	for _, stage := range strings.Split(pipeline, "|") {
		f := strings.Fields(stage)
		if len(f) == 0 {
			t.Fatalf("%s:%d: empty stage", sc.fileName, line)
		}
		num := func(k, def int) int {
			if len(f) <= k {
				return def
			}
			n, err := strconv.Atoi(f[k])
			if err != nil {
				t.Fatalf("%s:%d: bad number %q", sc.fileName, line, f[k])
			}
			return n
		}
		switch f[0] {
		case "fill":
			m, err := ParseSeriesFillMode(f[1])
			if err != nil {
				t.Fatal(err)
			}
			cur = SeriesFill(cur, sc.buckets, m)
		case "movavg":
			cur = SeriesMovingAverage(cur, num(1, 1), num(2, 1))
		case "delta":
			cur = SeriesDelta(cur, num(1, 1))
		case "pct":
			cur = SeriesPercentChange(cur, num(1, 1))
		case "rate":
			cur = SeriesRate(cur, sc.iv, sc.loc)
		case "cumsum":
			cur = SeriesCumulativeSum(cur)
		default:
			t.Fatalf("%s:%d: unknown stage %q", sc.fileName, line, f[0])
		}
	}
	return cur
}

func formatPoints(ps []SeriesPoint, loc *time.Location) string {
	var b strings.Builder
	for _, p := range ps {
		v := "_"
		if p.Value != nil {
			v = strconv.FormatFloat(*p.Value, 'g', -1, 64)
		}
		fmt.Fprintf(&b, "  %s %s\n", p.Time.In(loc).Format("2006-01-02T15:04Z07:00"), v)
	}
	return b.String()
}

func BenchmarkSeriesFill(b *testing.B) {
	const n = 1_000_000
	full := benchSeries(n, 0)
	buckets := make([]time.Time, n)
	var sparse []SeriesPoint
	for i, p := range full {
		buckets[i] = p.Time
		if i%3 != 0 { // a third of the buckets empty
			sparse = append(sparse, p)
		}
	}
	for _, mode := range []SeriesFillMode{SeriesFillNull, SeriesFillZero, SeriesFillPrevious, SeriesFillLinear} {
		b.Run("mode="+mode.String()+"/points=1M", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SeriesFill(sparse, buckets, mode)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

func BenchmarkSeriesMovingAverage(b *testing.B) {
	const n = 1_000_000
	pts := benchSeries(n, 0.1)
	for _, k := range []int{7, 1440} {
		b.Run("k="+itoa(k)+"/points=1M", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SeriesMovingAverage(pts, k, 1)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

func BenchmarkSeriesBuckets(b *testing.B) {
	loc := mustLoc(b, "Europe/Berlin")
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
	for _, iv := range []string{"1m", "1d"} {
		sv := mustInterval(b, iv)
		to := from.AddDate(1, 0, 0)
		n := len(SeriesBuckets(from, to, sv, loc))
		b.Run("interval="+iv+"/year", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SeriesBuckets(from, to, sv, loc)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "buckets/s")
		})
	}
}
