package analytics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// StatsSpec asks for the statistics of a series, as POST
// /v1/analytics/stats takes it: the series fields, and the percentiles to
// report (default 50, 90, 99).
type StatsSpec struct {
	SeriesSpec
	Percentiles []float64 `json:"percentiles,omitempty"`
}

// StatsOut are the statistics of one group's series: over its bucket
// values (gaps as the fill mode leaves them; null buckets are skipped).
type StatsOut struct {
	Group       *string            `json:"group"`
	Count       int                `json:"count"`
	Mean        *float64           `json:"mean"`
	StdDev      *float64           `json:"stddev"`
	Min         *float64           `json:"min"`
	Max         *float64           `json:"max"`
	Percentiles map[string]float64 `json:"percentiles"`
	// Trend is the least-squares line through the values against time:
	// slope per hour (of the bucket start), intercept at the first bucket,
	// and r².
	Trend *TrendOut `json:"trend"`
}

// TrendOut is a fitted line.
type TrendOut struct {
	SlopePerHour float64 `json:"slope_per_hour"`
	Intercept    float64 `json:"intercept"`
	R2           float64 `json:"r2"`
}

// RunStats computes a series and its statistics per group.
func RunStats(ctx context.Context, wh *warehouse.Warehouse, spec StatsSpec) ([]StatsOut, error) {
	ps := spec.Percentiles
	if len(ps) == 0 {
		ps = []float64{50, 90, 99}
	}
	for _, p := range ps {
		if p < 0 || p > 100 {
			return nil, allsource.Errorf(allsource.CodeInvalid, "percentiles are between 0 and 100, got %g", p)
		}
	}
	ss := spec.SeriesSpec
	ss.MovingAverage, ss.Change, ss.Rate = 0, 0, false
	res, err := RunSeries(ctx, wh, ss)
	if err != nil {
		return nil, err
	}
	out := []StatsOut{}
	for _, g := range res.Series {
		pts := make([]SeriesPoint, len(g.Points))
		for i, p := range g.Points {
			pts[i] = SeriesPoint{Time: p.Time, Value: p.Value}
		}
		xs := SeriesValues(pts)
		o := StatsOut{Group: g.Group, Count: len(xs), Percentiles: map[string]float64{}}
		if len(xs) > 0 {
			sum := StatsSummarize(xs)
			mean, min, max := sum.Mean, sum.Min, sum.Max
			o.Mean, o.Min, o.Max = &mean, &min, &max
			if len(xs) > 1 {
				sd := sum.StdDev
				o.StdDev = &sd
			}
			if vs, ok := StatsPercentiles(xs, scale(ps)...); ok {
				for i, p := range ps {
					o.Percentiles[formatPercent(p)] = vs[i]
				}
			}
		}
		if len(pts) > 0 {
			if tr, ok := StatsSeriesTrend(pts, pts[0].Time); ok {
				o.Trend = &TrendOut{SlopePerHour: tr.Slope * 3600, Intercept: tr.Intercept, R2: tr.R2}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func scale(ps []float64) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p / 100
	}
	return out
}

func formatPercent(p float64) string { return "p" + strconv.FormatFloat(p, 'g', -1, 64) }

// ForecastSpec asks for a Holt-Winters forecast of a series, as POST
// /v1/analytics/forecast takes it.
type ForecastSpec struct {
	SeriesSpec
	Horizon int `json:"horizon"`          // buckets to forecast; default 24
	Season  int `json:"season,omitempty"` // season length in buckets (24 on hourly for daily); 0: none
}

// ForecastOut is one group's forecast: the next Horizon buckets with a
// band, and the smoothing factors fitted.
type ForecastOut struct {
	Group  *string         `json:"group"`
	Points []ForecastPoint `json:"points"`
	Alpha  float64         `json:"alpha"`
	Beta   float64         `json:"beta"`
	Gamma  float64         `json:"gamma"`
	Sigma  float64         `json:"sigma"`
}

// ForecastPoint is one forecast bucket.
type ForecastPoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	Lower float64   `json:"lower"`
	Upper float64   `json:"upper"`
}

// RunForecast computes a series and forecasts each group.
func RunForecast(ctx context.Context, wh *warehouse.Warehouse, spec ForecastSpec) ([]ForecastOut, error) {
	h := spec.Horizon
	if h == 0 {
		h = 24
	}
	if h < 1 || h > 10_000 || spec.Season < 0 {
		return nil, allsource.Errorf(allsource.CodeInvalid, "horizon is 1 to 10000 buckets and season not negative")
	}
	ss := spec.SeriesSpec
	ss.MovingAverage, ss.Change, ss.Rate = 0, 0, false
	if ss.Fill == "" || ss.Fill == "none" || ss.Fill == "null" {
		ss.Fill = "zero" // a forecast needs a value in every bucket
	}
	res, err := RunSeries(ctx, wh, ss)
	if err != nil {
		return nil, err
	}
	p, err := ss.plan()
	if err != nil {
		return nil, err
	}
	out := []ForecastOut{}
	for _, g := range res.Series {
		pts := make([]SeriesPoint, len(g.Points))
		for i, pt := range g.Points {
			pts[i] = SeriesPoint{Time: pt.Time, Value: pt.Value}
		}
		xs := SeriesValues(pts)
		fc, err := StatsHoltWinters(xs, StatsForecastOptions{Period: spec.Season, Horizon: h})
		if err != nil {
			return nil, allsource.Errorf(allsource.CodeInvalid, "forecast: %v", err)
		}
		o := ForecastOut{Group: g.Group, Alpha: fc.Alpha, Beta: fc.Beta, Gamma: fc.Gamma, Sigma: fc.Sigma}
		next := g.Points[len(g.Points)-1].Time
		for i := range fc.Forecast {
			next = SeriesBucketEnd(next, p.iv, p.loc)
			o.Points = append(o.Points, ForecastPoint{Time: next, Value: fc.Forecast[i], Lower: fc.Lower[i], Upper: fc.Upper[i]})
		}
		out = append(out, o)
	}
	return out, nil
}

// CorrelationSpec asks how two series move together, as POST
// /v1/analytics/correlation takes it. Y takes X's interval, time zone and
// range where it gives none (and must agree where it does); neither may
// be grouped. Lags shift Y later by that many buckets (lag 2 pairs x at t
// with y at t+2 buckets: "does y follow x?"); default [0].
type CorrelationSpec struct {
	X    SeriesSpec `json:"x"`
	Y    SeriesSpec `json:"y"`
	Lags []int      `json:"lags,omitempty"`
}

// CorrelationOut is the relation at one lag: the Pearson coefficient, and
// the least-squares line of y on x (slope per unit of x, intercept, r²),
// over the buckets where both have a value. Undefined values (fewer than
// two pairs, a constant series) are null.
type CorrelationOut struct {
	Lag       int      `json:"lag"`
	Pairs     int      `json:"pairs"`
	R         *float64 `json:"r"`
	Slope     *float64 `json:"slope"`
	Intercept *float64 `json:"intercept"`
	R2        *float64 `json:"r2"`
}

const maxCorrelationLags = 100

// RunCorrelation computes both series and relates them at each lag.
func RunCorrelation(ctx context.Context, wh *warehouse.Warehouse, spec CorrelationSpec) ([]CorrelationOut, error) {
	x, y := spec.X, spec.Y
	for _, s := range []struct {
		name string
		spec *SeriesSpec
	}{{"x", &x}, {"y", &y}} {
		if s.spec.GroupBy != "" {
			return nil, allsource.Errorf(allsource.CodeInvalid, "%s.group_by: a correlation relates two single series", s.name)
		}
		if s.spec.Fill == "none" {
			return nil, allsource.Errorf(allsource.CodeInvalid, "%s.fill: a correlation pairs every bucket; use zero, null, previous or linear", s.name)
		}
		s.spec.MovingAverage, s.spec.Change, s.spec.Rate = 0, 0, false
	}
	inherit := func(field string, yv *string, xv string) error {
		if *yv == "" {
			*yv = xv
		} else if *yv != xv {
			return allsource.Errorf(allsource.CodeInvalid, "y.%s is %q but x.%s is %q; both series need the same buckets", field, *yv, field, xv)
		}
		return nil
	}
	if err := inherit("interval", &y.Interval, x.Interval); err != nil {
		return nil, err
	}
	if err := inherit("time_zone", &y.TimeZone, x.TimeZone); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		field  string
		yv, xv **time.Time
	}{{"from", &y.From, &x.From}, {"to", &y.To, &x.To}} {
		switch {
		case *b.yv == nil:
			*b.yv = *b.xv
		case *b.xv == nil || !(*b.yv).Equal(**b.xv):
			return nil, allsource.Errorf(allsource.CodeInvalid, "y.%s differs from x.%s; both series need the same buckets", b.field, b.field)
		}
	}
	lags := spec.Lags
	if len(lags) == 0 {
		lags = []int{0}
	}
	if len(lags) > maxCorrelationLags {
		return nil, allsource.Errorf(allsource.CodeInvalid, "lags: at most %d, got %d", maxCorrelationLags, len(lags))
	}
	xs, err := RunSeries(ctx, wh, x)
	if err != nil {
		return nil, prefixError("x", err)
	}
	ys, err := RunSeries(ctx, wh, y)
	if err != nil {
		return nil, prefixError("y", err)
	}
	// A series with no events at all has no buckets; it pairs with none.
	xp, yp := onlyPoints(xs), onlyPoints(ys)
	if len(xp) > 0 && len(yp) > 0 && (len(xp) != len(yp) || !xp[0].Time.Equal(yp[0].Time)) {
		return nil, fmt.Errorf("analytics: correlation: the series have different buckets (%d and %d)", len(xp), len(yp))
	}
	n := max(len(xp), len(yp))
	out := make([]CorrelationOut, 0, len(lags))
	for _, lag := range lags {
		if n > 0 && (lag <= -n || lag >= n) {
			return nil, allsource.Errorf(allsource.CodeInvalid, "lags: %d is beyond the series' %d buckets", lag, n)
		}
		var a, b []float64
		for i := range xp {
			j := i + lag
			if j < 0 || j >= len(yp) || xp[i].Value == nil || yp[j].Value == nil {
				continue
			}
			a, b = append(a, *xp[i].Value), append(b, *yp[j].Value)
		}
		o := CorrelationOut{Lag: lag, Pairs: len(a)}
		if r, ok := StatsCorrelation(a, b); ok {
			o.R = &r
		}
		if tr, ok := StatsLinearTrend(a, b); ok {
			o.Slope, o.Intercept, o.R2 = &tr.Slope, &tr.Intercept, &tr.R2
		}
		out = append(out, o)
	}
	return out, nil
}

// onlyPoints is the points of an ungrouped series (none when it is empty).
func onlyPoints(r SeriesResult) []SeriesOutPoint {
	if len(r.Series) == 0 {
		return nil
	}
	return r.Series[0].Points
}

// prefixError names the series an invalid-input error is about.
func prefixError(name string, err error) error {
	var e *allsource.Error
	if errors.As(err, &e) && e.Code == allsource.CodeInvalid {
		c := *e
		c.Message = name + ": " + e.Message
		return &c
	}
	return err
}
