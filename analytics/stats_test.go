package analytics

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

func near(a, b, tol float64) bool {
	return a == b || math.Abs(a-b) <= tol*max(1, math.Abs(a), math.Abs(b))
}

func TestStatsSummarize(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want StatsSummary
	}{
		{"empty", nil, StatsSummary{}},
		{"single", []float64{3}, StatsSummary{Count: 1, Mean: 3, Min: 3, Max: 3}},
		{"all equal", []float64{2, 2, 2}, StatsSummary{Count: 3, Mean: 2, Min: 2, Max: 2}},
		{"basic", []float64{2, 4, 4, 4, 5, 5, 7, 9}, StatsSummary{Count: 8, Mean: 5, Variance: 32.0 / 7, StdDev: math.Sqrt(32.0 / 7), Min: 2, Max: 9}},
		{"big offset", []float64{1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16}, StatsSummary{Count: 4, Mean: 1e9 + 10, Variance: 30, StdDev: math.Sqrt(30), Min: 1e9 + 4, Max: 1e9 + 16}},
		{"negative", []float64{-1, -3}, StatsSummary{Count: 2, Mean: -2, Variance: 2, StdDev: math.Sqrt2, Min: -3, Max: -1}},
	} {
		got := StatsSummarize(c.in)
		if got.Count != c.want.Count || !near(got.Mean, c.want.Mean, 1e-12) || !near(got.Variance, c.want.Variance, 1e-9) ||
			!near(got.StdDev, c.want.StdDev, 1e-9) || got.Min != c.want.Min || got.Max != c.want.Max {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		_, okMean := StatsMean(c.in)
		_, okVar := StatsVariance(c.in)
		_, okSD := StatsStdDev(c.in)
		_, okMin := StatsMin(c.in)
		_, okMax := StatsMax(c.in)
		if okMean != (len(c.in) > 0) || okMin != okMean || okMax != okMean || okVar != (len(c.in) > 1) || okSD != okVar {
			t.Errorf("%s: ok flags %v %v %v %v %v", c.name, okMean, okVar, okSD, okMin, okMax)
		}
	}
}

func TestStatsPercentile(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		p    float64
		want float64
		ok   bool
	}{
		{"empty", nil, 0.5, 0, false},
		{"p<0", []float64{1}, -0.1, 0, false},
		{"p>1", []float64{1}, 1.1, 0, false},
		{"p NaN", []float64{1}, math.NaN(), 0, false},
		{"single", []float64{7}, 0.9, 7, true},
		{"median odd", []float64{3, 1, 2}, 0.5, 2, true},
		{"median even", []float64{4, 1, 3, 2}, 0.5, 2.5, true},
		{"p0 is min", []float64{5, 1, 9}, 0, 1, true},
		{"p1 is max", []float64{5, 1, 9}, 1, 9, true},
		{"interpolated", []float64{10, 20, 30, 40}, 0.9, 37, true}, // r = 2.7
		{"p25 of 1..5", []float64{1, 2, 3, 4, 5}, 0.25, 2, true},
		{"all equal", []float64{3, 3, 3}, 0.33, 3, true},
	} {
		got, ok := StatsPercentile(c.in, c.p)
		if ok != c.ok || (ok && !near(got, c.want, 1e-12)) {
			t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	in := []float64{3, 1, 2}
	if m, ok := StatsMedian(in); !ok || m != 2 || in[0] != 3 {
		t.Errorf("median %v, input modified: %v", m, in)
	}
	ps, ok := StatsPercentiles([]float64{1, 2, 3, 4, 5}, 0, 0.5, 0.99)
	if !ok || ps[0] != 1 || ps[1] != 3 || !near(ps[2], 4.96, 1e-12) {
		t.Errorf("percentiles %v %v", ps, ok)
	}
	if _, ok := StatsPercentiles([]float64{1}, 0.5, 2); ok {
		t.Error("percentiles with p=2 ok")
	}
}

func TestStatsCorrelationAndTrend(t *testing.T) {
	for _, c := range []struct {
		name        string
		x, y        []float64
		corr        float64
		corrOK      bool
		slope, icpt float64
		r2          float64
		trendOK     bool
	}{
		{name: "empty"},
		{name: "single", x: []float64{1}, y: []float64{2}},
		{name: "length mismatch", x: []float64{1, 2}, y: []float64{1}},
		{name: "perfect", x: []float64{1, 2, 3}, y: []float64{3, 5, 7}, corr: 1, corrOK: true, slope: 2, icpt: 1, r2: 1, trendOK: true},
		{name: "negative", x: []float64{1, 2, 3}, y: []float64{3, 2, 1}, corr: -1, corrOK: true, slope: -1, icpt: 4, r2: 1, trendOK: true},
		{name: "constant y", x: []float64{1, 2, 3}, y: []float64{5, 5, 5}, slope: 0, icpt: 5, r2: 1, trendOK: true},
		{name: "constant x", x: []float64{2, 2, 2}, y: []float64{1, 2, 3}},
		{name: "noisy", x: []float64{1, 2, 3, 4}, y: []float64{2, 1, 4, 3}, corr: 0.6, corrOK: true, slope: 0.6, icpt: 1, r2: 0.36, trendOK: true},
	} {
		r, ok := StatsCorrelation(c.x, c.y)
		if ok != c.corrOK || (ok && !near(r, c.corr, 1e-12)) {
			t.Errorf("%s corr: %v %v, want %v %v", c.name, r, ok, c.corr, c.corrOK)
		}
		tr, ok := StatsLinearTrend(c.x, c.y)
		if ok != c.trendOK || (ok && (!near(tr.Slope, c.slope, 1e-12) || !near(tr.Intercept, c.icpt, 1e-12) || !near(tr.R2, c.r2, 1e-12))) {
			t.Errorf("%s trend: %+v %v", c.name, tr, ok)
		}
	}
}

func TestStatsSeriesTrend(t *testing.T) {
	s := series(1, null, 3, 4) // hourly: +1 per hour
	tr, ok := StatsSeriesTrend(s, s[0].Time)
	if !ok || tr.N != 3 || !near(tr.Slope*3600, 1, 1e-12) || !near(tr.Intercept, 1, 1e-12) {
		t.Errorf("got %+v %v", tr, ok)
	}
	if _, ok := StatsSeriesTrend(series(null, 2), s[0].Time); ok {
		t.Error("one point: ok")
	}
}

// TestStatsDuckDB cross-checks percentile, stddev, correlation and
// regression against DuckDB's aggregates on random data.
func TestStatsDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	for trial, n := range []int{2, 3, 10, 101, 1000, 5000} {
		xs := make([]float64, n)
		ys := make([]float64, n)
		var rows []string
		for i := range n {
			xs[i] = math.Round(rng.NormFloat64()*1e6) / 1e3
			ys[i] = math.Round((0.3*xs[i]+rng.NormFloat64()*500)*1e3) / 1e3
			if trial == 2 {
				xs[i] += 1e9 // a timestamp-like offset
			}
			rows = append(rows, fmt.Sprintf("(%v, %v)", xs[i], ys[i]))
		}
		ps := []float64{0, 0.01, 0.25, 0.5, 0.9, 0.999, 1}
		var qs []string
		for _, p := range ps {
			qs = append(qs, fmt.Sprintf("quantile_cont(x, %v)", p))
		}
		q := fmt.Sprintf(`SELECT stddev_samp(x), var_samp(x), avg(x), corr(y, x), regr_slope(y, x), regr_intercept(y, x), regr_r2(y, x), %s
			FROM (SELECT x::DOUBLE AS x, y::DOUBLE AS y FROM (VALUES %s) v(x, y))`, strings.Join(qs, ", "), strings.Join(rows, ","))
		dst := make([]float64, 7+len(ps))
		ptrs := make([]any, len(dst))
		for i := range dst {
			ptrs[i] = &dst[i]
		}
		if err := db.QueryRow(q).Scan(ptrs...); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		s := StatsSummarize(xs)
		corr, _ := StatsCorrelation(xs, ys)
		tr, _ := StatsLinearTrend(xs, ys)
		gotPs, _ := StatsPercentiles(xs, ps...)
		check := func(what string, got, want, tol float64) {
			if !near(got, want, tol) {
				t.Errorf("n=%d %s: ours %.17g, duckdb %.17g", n, what, got, want)
			}
		}
		check("stddev_samp", s.StdDev, dst[0], 1e-9)
		check("var_samp", s.Variance, dst[1], 1e-9)
		check("avg", s.Mean, dst[2], 1e-12)
		check("corr", corr, dst[3], 1e-9)
		check("regr_slope", tr.Slope, dst[4], 1e-9)
		check("regr_intercept", tr.Intercept, dst[5], 1e-6)
		check("regr_r2", tr.R2, dst[6], 1e-9)
		for i, p := range ps {
			check(fmt.Sprintf("quantile_cont(%v)", p), gotPs[i], dst[7+i], 1e-12)
		}
	}
	// Edge cases: constant y gives regr_r2 = 1; constant x leaves the slope
	// undefined (DuckDB returns NaN, we return ok == false).
	var r2, slope sql.NullFloat64
	if err := db.QueryRow(`SELECT regr_r2(y, x), regr_slope(x, y) FROM (VALUES (1.0, 5.0), (2.0, 5.0), (3.0, 5.0)) t(x, y)`).Scan(&r2, &slope); err != nil {
		t.Fatal(err)
	}
	tr, ok := StatsLinearTrend([]float64{1, 2, 3}, []float64{5, 5, 5})
	if !ok || !r2.Valid || tr.R2 != r2.Float64 {
		t.Errorf("constant y: ours %v, duckdb %v", tr.R2, r2)
	}
	if _, ok := StatsLinearTrend([]float64{5, 5, 5}, []float64{1, 2, 3}); ok || (slope.Valid && !math.IsNaN(slope.Float64)) {
		t.Errorf("constant x: ours ok=%v, duckdb %v", ok, slope)
	}
}

// TestSeriesWindowsDuckDB checks that moving average, cumulative sum and
// delta match the SQL window functions they claim to mirror, nulls included.
func TestSeriesWindowsDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	in := make([]float64, 300)
	var rows []string
	for i := range in {
		in[i] = math.Round(rng.NormFloat64() * 100)
		v := fmt.Sprint(in[i])
		if rng.Float64() < 0.3 {
			in[i], v = null, "NULL"
		}
		rows = append(rows, fmt.Sprintf("(%d, %s::DOUBLE)", i, v))
	}
	const k, lag = 5, 3
	q := fmt.Sprintf(`SELECT avg(v) OVER w, sum(v) OVER (ORDER BY i ROWS UNBOUNDED PRECEDING), v - lag(v, %d) OVER (ORDER BY i)
		FROM (VALUES %s) t(i, v) WINDOW w AS (ORDER BY i ROWS %d PRECEDING) ORDER BY i`, lag, strings.Join(rows, ","), k-1)
	res, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	s := series(in...)
	ma, cs, d := vals(SeriesMovingAverage(s, k, 1)), vals(SeriesCumulativeSum(s)), vals(SeriesDelta(s, lag))
	for i := 0; res.Next(); i++ {
		var a, b, c sql.NullFloat64
		if err := res.Scan(&a, &b, &c); err != nil {
			t.Fatal(err)
		}
		for _, pair := range []struct {
			what string
			got  float64
			want sql.NullFloat64
		}{{"avg", ma[i], a}, {"sum", cs[i], b}, {"lag", d[i], c}} {
			if math.IsNaN(pair.got) != !pair.want.Valid || (pair.want.Valid && !near(pair.got, pair.want.Float64, 1e-12)) {
				t.Fatalf("row %d %s: ours %v, duckdb %v", i, pair.what, pair.got, pair.want)
			}
		}
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStatsHoltWinters(t *testing.T) {
	// A straight line is forecast exactly, with a zero band.
	line := make([]float64, 30)
	for i := range line {
		line[i] = 5 + 2*float64(i)
	}
	fc, err := StatsHoltWinters(line, StatsForecastOptions{Horizon: 3})
	if err != nil {
		t.Fatal(err)
	}
	for h, f := range fc.Forecast {
		if want := 5 + 2*float64(30+h); !near(f, want, 1e-9) || fc.Lower[h] != f || fc.Upper[h] != f {
			t.Errorf("line h=%d: %v [%v, %v], want %v", h+1, f, fc.Lower[h], fc.Upper[h], want)
		}
	}
	if fc.Gamma != 0 || fc.SSE > 1e-18 || fc.Fitted[0].Value != nil || fc.Fitted[1].Value != nil || fc.Fitted[2].Value == nil {
		t.Errorf("line fit: %+v", fc)
	}

	// A pure season plus trend is learnt and forecast closely.
	const m = 7
	seasonal := make([]float64, 10*m)
	shape := []float64{10, 12, 15, 11, 9, 3, 2}
	for i := range seasonal {
		seasonal[i] = 100 + 0.5*float64(i) + shape[i%m]
	}
	fc, err = StatsHoltWinters(seasonal, StatsForecastOptions{Period: m, Horizon: 2 * m})
	if err != nil {
		t.Fatal(err)
	}
	for h, f := range fc.Forecast {
		i := len(seasonal) + h
		want := 100 + 0.5*float64(i) + shape[i%m]
		if !near(f, want, 1e-6) {
			t.Errorf("seasonal h=%d: %v, want %v (%+v)", h+1, f, want, fc.Alpha)
		}
	}

	// Noise: the band is symmetric, widens with √h, and the factors lie on
	// the documented grid.
	rng := rand.New(rand.NewPCG(11, 12))
	noisy := make([]float64, 200)
	for i := range noisy {
		noisy[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/24) + rng.NormFloat64()
	}
	fc, err = StatsHoltWinters(noisy, StatsForecastOptions{Period: 24, Horizon: 4})
	if err != nil {
		t.Fatal(err)
	}
	if fc.Sigma <= 0 || fc.Sigma > 2 {
		t.Errorf("sigma %v", fc.Sigma)
	}
	for h := range 4 {
		w := fc.Upper[h] - fc.Forecast[h]
		if !near(w, 1.96*fc.Sigma*math.Sqrt(float64(h+1)), 1e-12) || !near(fc.Forecast[h]-fc.Lower[h], w, 1e-12) {
			t.Errorf("band h=%d: %v", h+1, w)
		}
	}
	for _, f := range []float64{fc.Alpha, fc.Beta, fc.Gamma} {
		if f < 0.01 || f > 0.99 || !near(f*100, math.Round(f*100), 1e-9) {
			t.Errorf("factor %v off grid", f)
		}
	}
	// Fixed factors are used as given.
	fc, err = StatsHoltWinters(noisy, StatsForecastOptions{Period: 24, Horizon: 1, Alpha: 0.3, Beta: 0.05, Gamma: 0.2, Z: 1})
	if err != nil || fc.Alpha != 0.3 || fc.Beta != 0.05 || fc.Gamma != 0.2 || !near(fc.Upper[0]-fc.Forecast[0], fc.Sigma, 1e-12) {
		t.Errorf("fixed: %+v %v", fc, err)
	}

	for _, c := range []struct {
		name string
		xs   []float64
		opt  StatsForecastOptions
		err  error
	}{
		{"empty", nil, StatsForecastOptions{}, ErrStatsTooShort},
		{"two points", []float64{1, 2}, StatsForecastOptions{}, ErrStatsTooShort},
		{"one season", make([]float64, 7), StatsForecastOptions{Period: 7}, ErrStatsTooShort},
		{"period 1", make([]float64, 7), StatsForecastOptions{Period: 1}, ErrStatsParam},
		{"negative horizon", make([]float64, 7), StatsForecastOptions{Horizon: -1}, ErrStatsParam},
		{"alpha > 1", make([]float64, 7), StatsForecastOptions{Alpha: 2}, ErrStatsParam},
	} {
		if _, err := StatsHoltWinters(c.xs, c.opt); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	// All equal: flat forecast, no NaN.
	fc, err = StatsHoltWinters([]float64{4, 4, 4, 4}, StatsForecastOptions{Horizon: 2})
	if err != nil || fc.Forecast[1] != 4 || fc.Sigma != 0 {
		t.Errorf("flat: %+v %v", fc, err)
	}
}
