package analytics

// Descriptive statistics, correlation, least-squares trend and Holt-Winters
// forecasting over plain []float64.
//
// Input must be NaN-free. SQL NULLs are not represented: drop them first
// (SeriesValues does), which is what SQL aggregates do. Where SQL returns
// NULL (mean of nothing, sample variance of one value, correlation with a
// constant series) these functions return ok == false and a zero value, so
// results are never NaN. The definitions match DuckDB's aggregates of the
// same name; the tests cross-check them against DuckDB.

import (
	"errors"
	"math"
	"slices"
	"time"
)

// StatsSummary holds the one-pass statistics of a sample. Mean, Min and Max
// are meaningful when Count > 0, Variance and StdDev (sample, n-1) when
// Count > 1; otherwise they are 0.
type StatsSummary struct {
	Count    int
	Mean     float64
	Variance float64 // sample variance, var_samp
	StdDev   float64 // sample standard deviation, stddev_samp
	Min      float64
	Max      float64
}

// StatsSummarize computes count, mean, sample variance and standard
// deviation (Welford's update, stable for large offsets), min and max.
func StatsSummarize(xs []float64) StatsSummary {
	var s StatsSummary
	if len(xs) == 0 {
		return s
	}
	var m2 float64
	s.Min, s.Max = xs[0], xs[0]
	for i, x := range xs {
		d := x - s.Mean
		s.Mean += d / float64(i+1)
		m2 += d * (x - s.Mean)
		s.Min = min(s.Min, x)
		s.Max = max(s.Max, x)
	}
	s.Count = len(xs)
	if s.Count > 1 {
		s.Variance = max(m2/float64(s.Count-1), 0)
		s.StdDev = math.Sqrt(s.Variance)
	}
	return s
}

// StatsMean is the arithmetic mean; ok is false for no values.
func StatsMean(xs []float64) (mean float64, ok bool) {
	if len(xs) == 0 {
		return 0, false
	}
	return StatsSummarize(xs).Mean, true
}

// StatsVariance is the sample variance (n-1 denominator, var_samp); ok is
// false for fewer than two values.
func StatsVariance(xs []float64) (float64, bool) {
	s := StatsSummarize(xs)
	return s.Variance, s.Count > 1
}

// StatsStdDev is the sample standard deviation (stddev_samp); ok is false
// for fewer than two values.
func StatsStdDev(xs []float64) (float64, bool) {
	s := StatsSummarize(xs)
	return s.StdDev, s.Count > 1
}

// StatsMin is the smallest value; ok is false for no values.
func StatsMin(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	return slices.Min(xs), true
}

// StatsMax is the largest value; ok is false for no values.
func StatsMax(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	return slices.Max(xs), true
}

// StatsPercentile is the p-quantile (0 <= p <= 1) with linear interpolation,
// DuckDB's quantile_cont: with the values sorted ascending and r = (n-1)·p,
// it is x[⌊r⌋] + (r-⌊r⌋)·(x[⌈r⌉] - x[⌊r⌋]) (Hyndman & Fan type 7, also
// PostgreSQL's percentile_cont and numpy's default). ok is false for no
// values or p outside [0, 1]. xs is not modified; it is copied and sorted,
// so use StatsPercentiles for several p.
func StatsPercentile(xs []float64, p float64) (float64, bool) {
	if len(xs) == 0 || !(p >= 0 && p <= 1) {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return StatsPercentileSorted(s, p)
}

// StatsPercentiles returns the quantiles for every p with one sort; ok is
// false if xs is empty or any p is outside [0, 1].
func StatsPercentiles(xs []float64, ps ...float64) ([]float64, bool) {
	if len(xs) == 0 {
		return nil, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	out := make([]float64, len(ps))
	for i, p := range ps {
		v, ok := StatsPercentileSorted(s, p)
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// StatsPercentileSorted is StatsPercentile on values already sorted
// ascending; it does not allocate.
func StatsPercentileSorted(sorted []float64, p float64) (float64, bool) {
	n := len(sorted)
	if n == 0 || !(p >= 0 && p <= 1) {
		return 0, false
	}
	r := float64(n-1) * p
	lo := math.Floor(r)
	i := int(lo)
	if i >= n-1 {
		return sorted[n-1], true
	}
	a, b := sorted[i], sorted[i+1]
	return a + (r-lo)*(b-a), true
}

// StatsMedian is StatsPercentile(xs, 0.5): the middle value, or the mean of
// the two middle values.
func StatsMedian(xs []float64) (float64, bool) { return StatsPercentile(xs, 0.5) }

// statsMeans returns the means of xs and ys (same length, > 0).
func statsMeans(xs, ys []float64) (mx, my float64) {
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	n := float64(len(xs))
	return mx / n, my / n
}

// statsMoments returns the centred sums Σ(x-x̄)², Σ(y-ȳ)², Σ(x-x̄)(y-ȳ)
// (two passes: exact enough for timestamps as x).
func statsMoments(xs, ys []float64) (mx, my, sxx, syy, sxy float64) {
	mx, my = statsMeans(xs, ys)
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	return mx, my, sxx, syy, sxy
}

// StatsCorrelation is the Pearson correlation coefficient of paired samples,
// DuckDB's corr(y, x). ok is false when the lengths differ, there are fewer
// than two pairs, or either series is constant (SQL NULL). The result is
// clamped to [-1, 1].
func StatsCorrelation(xs, ys []float64) (float64, bool) {
	if len(xs) != len(ys) || len(xs) < 2 {
		return 0, false
	}
	_, _, sxx, syy, sxy := statsMoments(xs, ys)
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy))), true
}

// StatsTrend is a least-squares line y = Intercept + Slope·x.
type StatsTrend struct {
	N         int
	Slope     float64 // regr_slope(y, x): per unit of x
	Intercept float64 // regr_intercept(y, x): y at x = 0
	R2        float64 // regr_r2(y, x): 1 when y is constant
}

// StatsLinearTrend fits y on x by ordinary least squares, as DuckDB's
// regr_slope, regr_intercept and regr_r2. ok is false when the lengths
// differ, there are fewer than two pairs, or x is constant (slope
// undefined; DuckDB answers NaN there, corr likewise for a constant series). R2 is the squared correlation, and 1 when y is constant, as in
// SQL.
func StatsLinearTrend(xs, ys []float64) (StatsTrend, bool) {
	if len(xs) != len(ys) || len(xs) < 2 {
		return StatsTrend{}, false
	}
	mx, my, sxx, syy, sxy := statsMoments(xs, ys)
	if sxx == 0 {
		return StatsTrend{}, false
	}
	tr := StatsTrend{N: len(xs), Slope: sxy / sxx}
	tr.Intercept = my - tr.Slope*mx
	tr.R2 = 1
	if syy != 0 {
		tr.R2 = min(1, sxy*sxy/(sxx*syy))
	}
	return tr, true
}

// StatsSeriesTrend fits a line through the non-nil points of a series with x
// the time in seconds since origin: Slope is per second (multiply by 86400
// for per day) and Intercept the value at origin. Pass the first bucket as
// origin for a readable intercept. For a slope per bucket, use
// StatsLinearTrend with x = bucket index.
func StatsSeriesTrend(points []SeriesPoint, origin time.Time) (StatsTrend, bool) {
	xs := make([]float64, 0, len(points))
	ys := make([]float64, 0, len(points))
	for _, p := range points {
		if p.Value != nil {
			xs = append(xs, p.Time.Sub(origin).Seconds())
			ys = append(ys, *p.Value)
		}
	}
	return StatsLinearTrend(xs, ys)
}

// ErrStatsTooShort is returned by StatsHoltWinters for a series too short to
// initialise the model: 3 values without seasonality, 2 full seasons with.
var ErrStatsTooShort = errors.New("analytics: series too short to forecast")

// ErrStatsParam is returned by StatsHoltWinters for options out of range.
var ErrStatsParam = errors.New("analytics: invalid forecast parameter")

// StatsForecastOptions configures StatsHoltWinters.
type StatsForecastOptions struct {
	// Period is the season length m in points (7 for weekly seasonality
	// on daily buckets, 24 for daily on hourly); 0 disables seasonality
	// (Holt's double exponential smoothing).
	Period int
	// Horizon is the number of points to forecast.
	Horizon int
	// Alpha (level), Beta (trend) and Gamma (season) in (0, 1] fix a
	// smoothing factor; 0 fits it by grid search.
	Alpha, Beta, Gamma float64
	// Z is the band half-width in residual standard deviations; 0 means
	// 1.96 (a nominal 95 % band for normal errors).
	Z float64
}

// StatsForecast is a fitted Holt-Winters model and its forecast.
type StatsForecast struct {
	Alpha, Beta, Gamma float64 // the factors used (Gamma is 0 without seasonality)
	// SSE is the sum of squared one-step-ahead errors over the fitted
	// points, Sigma their root mean square.
	SSE, Sigma float64
	// Fitted holds the one-step-ahead prediction for each input point;
	// it is nil for the first points, which initialise the model.
	Fitted []SeriesPoint
	// Forecast, Lower and Upper have Horizon entries: the point forecast
	// h = 1..Horizon steps past the last input and the band
	// Forecast ± Z·Sigma·√h.
	Forecast, Lower, Upper []float64
}

// StatsHoltWinters fits additive Holt-Winters (level, trend and, with
// Period m > 0, an additive season of m points) to xs and forecasts Horizon
// points ahead.
//
// Initialisation: without season, level = x[1] and trend = x[1]-x[0], and
// the one-step errors are counted from x[2] on (n >= 3). With season, the
// first two seasons give the trend (difference of their means / m), the
// level at x[m-1] and the seasonal indices as the detrended first season;
// errors are counted from x[m] on (n >= 2m).
//
// Fitting: each free factor is chosen to minimise SSE of the one-step
// errors by a grid search, first on 0.1, 0.2, …, 0.9, then on steps of 0.01
// within ±0.05 of the best coarse value (clamped to [0.01, 0.99]): 729 +
// 1331 passes over the data with season, 81 + 121 without. Ties keep the
// first (smallest) factors.
//
// Band: ±Z·σ·√h, with σ the root mean square of the one-step errors. This is
// the random-walk approximation of the forecast variance; the exact
// Holt-Winters variance grows differently with the factors, so read the band
// as indicative.
func StatsHoltWinters(xs []float64, opt StatsForecastOptions) (StatsForecast, error) {
	m := opt.Period
	switch {
	case m < 0 || opt.Horizon < 0:
		return StatsForecast{}, ErrStatsParam
	case opt.Alpha < 0 || opt.Alpha > 1 || opt.Beta < 0 || opt.Beta > 1 || opt.Gamma < 0 || opt.Gamma > 1:
		return StatsForecast{}, ErrStatsParam
	case m == 0 && len(xs) < 3, m > 0 && len(xs) < 2*m, m == 1:
		if m == 1 {
			return StatsForecast{}, ErrStatsParam // a season of one point is the level
		}
		return StatsForecast{}, ErrStatsTooShort
	}
	z := opt.Z
	if z == 0 {
		z = 1.96
	}
	hw := statsHW{xs: xs, m: m}
	if m > 0 {
		hw.season = make([]float64, m)
	}
	a, b, g := statsFitHW(&hw, opt)

	fc := StatsForecast{Alpha: a, Beta: b, Gamma: g}
	fc.Fitted = make([]SeriesPoint, len(xs))
	fitted := make([]float64, len(xs))
	var level, trend float64
	fc.SSE, level, trend = hw.run(a, b, g, fitted)
	first := 2
	if m > 0 {
		first = m
	}
	for i := first; i < len(xs); i++ {
		fc.Fitted[i].Value = &fitted[i]
	}
	fc.Sigma = math.Sqrt(fc.SSE / float64(len(xs)-first))
	fc.Forecast = make([]float64, opt.Horizon)
	fc.Lower = make([]float64, opt.Horizon)
	fc.Upper = make([]float64, opt.Horizon)
	n := len(xs)
	for h := 1; h <= opt.Horizon; h++ {
		f := level + float64(h)*trend
		if m > 0 {
			f += hw.season[(n-1+h)%m]
		}
		w := z * fc.Sigma * math.Sqrt(float64(h))
		fc.Forecast[h-1], fc.Lower[h-1], fc.Upper[h-1] = f, f-w, f+w
	}
	return fc, nil
}

// statsHW runs the Holt-Winters recursion; season is scratch space that
// holds the seasonal indices after run.
type statsHW struct {
	xs     []float64
	m      int
	season []float64
}

// run returns the SSE of one-step errors and the final level and trend; it
// stores predictions in fitted when non-nil.
func (hw *statsHW) run(a, b, g float64, fitted []float64) (sse, level, trend float64) {
	xs, m := hw.xs, hw.m
	first := 2
	if m == 0 {
		level, trend = xs[1], xs[1]-xs[0]
	} else {
		var s1, s2 float64
		for i := range m {
			s1 += xs[i]
			s2 += xs[m+i]
		}
		s1 /= float64(m)
		s2 /= float64(m)
		trend = (s2 - s1) / float64(m)
		mid := float64(m-1) / 2
		for i := range m {
			hw.season[i] = xs[i] - (s1 + trend*(float64(i)-mid))
		}
		level = s1 + trend*mid
		first = m
	}
	for t := first; t < len(xs); t++ {
		x := xs[t]
		var s float64
		if m > 0 {
			s = hw.season[t%m]
		}
		pred := level + trend + s
		if fitted != nil {
			fitted[t] = pred
		}
		e := x - pred
		sse += e * e
		nl := a*(x-s) + (1-a)*(level+trend)
		trend = b*(nl-level) + (1-b)*trend
		level = nl
		if m > 0 {
			hw.season[t%m] = g*(x-nl) + (1-g)*s
		}
	}
	return sse, level, trend
}

// statsFitHW picks the smoothing factors by the coarse-then-fine grid
// search documented on StatsHoltWinters.
func statsFitHW(hw *statsHW, opt StatsForecastOptions) (a, b, g float64) {
	seasonal := hw.m > 0
	axis := func(fixed, centre, step float64, k int) []float64 {
		if fixed > 0 {
			return []float64{fixed}
		}
		out := make([]float64, 0, 2*k+1)
		for i := -k; i <= k; i++ {
			v := math.Round((centre+float64(i)*step)*100) / 100
			if v >= 0.01 && v <= 0.99 && (len(out) == 0 || v != out[len(out)-1]) {
				out = append(out, v)
			}
		}
		return out
	}
	search := func(as, bs, gs []float64) (ba, bb, bg float64) {
		best := math.Inf(1)
		for _, a := range as {
			for _, b := range bs {
				for _, g := range gs {
					sse, _, _ := hw.run(a, b, g, nil)
					if sse < best {
						best, ba, bb, bg = sse, a, b, g
					}
				}
			}
		}
		return ba, bb, bg
	}
	gFixed := opt.Gamma
	if !seasonal {
		gFixed = 1 // unused by the recursion; one grid point
	}
	a, b, g = search(axis(opt.Alpha, 0.5, 0.1, 4), axis(opt.Beta, 0.5, 0.1, 4), axis(gFixed, 0.5, 0.1, 4))
	a, b, g = search(axis(opt.Alpha, a, 0.01, 5), axis(opt.Beta, b, 0.01, 5), axis(gFixed, g, 0.01, 5))
	if !seasonal {
		g = 0
	}
	return a, b, g
}
