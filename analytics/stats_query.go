package analytics

import (
	"context"
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
