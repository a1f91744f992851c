package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestAnomalyDetect(t *testing.T) {
	base := []float64{10, 11, 9, 10, 12, 10, 9, 11}
	spike := append(slices.Clone(base), 30, 10, 2)
	for _, c := range []struct {
		name  string
		in    []float64
		opt   AnomalyOptions
		want  []int // flagged indices
		dirs  []AnomalyDirection
		check func(t *testing.T, a []Anomaly)
	}{
		{name: "empty", in: nil, opt: AnomalyOptions{Window: 3}},
		{name: "single", in: []float64{1}, opt: AnomalyOptions{Window: 3}},
		{name: "shorter than window", in: []float64{1, 100}, opt: AnomalyOptions{Window: 3}},
		{name: "z spike", in: spike, opt: AnomalyOptions{Window: 8}, want: []int{8}, dirs: []AnomalyDirection{AnomalyAbove}},
		{name: "mad spike and dip", in: spike, opt: AnomalyOptions{Method: AnomalyMAD, Window: 8, Threshold: 3.5}, want: []int{8, 10}, dirs: []AnomalyDirection{AnomalyAbove, AnomalyBelow}},
		{name: "all equal", in: []float64{5, 5, 5, 5, 5}, opt: AnomalyOptions{Window: 3}},
		{name: "all equal mad", in: []float64{5, 5, 5, 5, 5}, opt: AnomalyOptions{Method: AnomalyMAD, Window: 3}},
		{name: "zero variance then change", in: []float64{5, 5, 5, 6}, opt: AnomalyOptions{Window: 3}, want: []int{3}, dirs: []AnomalyDirection{AnomalyAbove},
			check: func(t *testing.T, a []Anomaly) {
				if !math.IsInf(a[0].Score, 1) || a[0].Expected != 5 {
					t.Errorf("got %+v", a[0])
				}
			}},
		{name: "zero mad falls back to mean abs dev", in: []float64{5, 5, 5, 5, 9, 5, 20}, opt: AnomalyOptions{Method: AnomalyMAD, Window: 5}, want: []int{6},
			check: func(t *testing.T, a []Anomaly) {
				// window 5,5,5,9,5: median 5, MAD 0, mean abs dev 0.8
				if want := 15 / (1.253314 * 0.8); math.Abs(a[0].Score-want) > 1e-9 {
					t.Errorf("score %v, want %v", a[0].Score, want)
				}
			}},
		{name: "constant window mad change below", in: []float64{5, 5, 5, 1}, opt: AnomalyOptions{Method: AnomalyMAD, Window: 3}, want: []int{3}, dirs: []AnomalyDirection{AnomalyBelow}},
		{name: "nulls skipped", in: []float64{10, null, 11, 9, null, 10, 50}, opt: AnomalyOptions{Window: 4}, want: []int{6}},
		{name: "threshold", in: spike, opt: AnomalyOptions{Window: 8, Threshold: 100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := AnomalyDetect(series(c.in...), c.opt)
			var idx []int
			for i, a := range got {
				idx = append(idx, a.Index)
				if math.IsNaN(a.Score) || math.IsNaN(a.Expected) {
					t.Errorf("NaN in %+v", a)
				}
				if !a.Time.Equal(series(c.in...)[a.Index].Time) || a.Value != c.in[a.Index] {
					t.Errorf("point mismatch %+v", a)
				}
				if i < len(c.dirs) && a.Direction != c.dirs[i] {
					t.Errorf("direction %v, want %v", a.Direction, c.dirs[i])
				}
			}
			if !slices.Equal(idx, c.want) {
				t.Fatalf("flagged %v, want %v (%+v)", idx, c.want, got)
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

// TestAnomalyNaive compares both detectors with a direct recomputation of
// every window on random data with outliers.
func TestAnomalyNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := range 50 {
		n, w := 50+rng.IntN(300), 2+rng.IntN(30)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = 1e6 + math.Round(rng.NormFloat64()*10) // large offset, ties
			if rng.Float64() < 0.05 {
				xs[i] += 100 * rng.NormFloat64()
			}
		}
		for _, method := range []AnomalyMethod{AnomalyZScore, AnomalyMAD} {
			got := AnomalyDetect(series(xs...), AnomalyOptions{Method: method, Window: w, Threshold: 2})
			var want []Anomaly
			for k := w; k < n; k++ {
				win := slices.Clone(xs[k-w : k])
				var exp, score float64
				if method == AnomalyZScore {
					s := StatsSummarize(win)
					exp, score = s.Mean, anomalyScore(xs[k]-s.Mean, s.StdDev)
				} else {
					exp, _ = StatsMedian(win)
					dev := make([]float64, w)
					for i, v := range win {
						dev[i] = math.Abs(v - exp)
					}
					mad, _ := StatsMedian(dev)
					if mad > 0 {
						score = 0.6745 * (xs[k] - exp) / mad
					} else {
						var sum float64
						for _, d := range dev {
							sum += d
						}
						score = anomalyScore(xs[k]-exp, 1.253314*sum/float64(w))
					}
				}
				if math.Abs(score) > 2 {
					want = append(want, Anomaly{Index: k, Expected: exp, Score: score})
				}
			}
			if len(got) != len(want) {
				t.Fatalf("trial %d method %d: %d flagged, naive %d", trial, method, len(got), len(want))
			}
			for i := range got {
				if got[i].Index != want[i].Index || !near(got[i].Expected, want[i].Expected, 1e-12) || !near(got[i].Score, want[i].Score, 1e-6) {
					t.Fatalf("trial %d method %d: %+v, naive %+v", trial, method, got[i], want[i])
				}
			}
		}
	}
}

func benchSeries(n int, nullFrac float64) []SeriesPoint {
	rng := rand.New(rand.NewPCG(1, 1))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]float64, n)
	out := make([]SeriesPoint, n)
	for i := range out {
		out[i].Time = base.Add(time.Duration(i) * time.Minute)
		if rng.Float64() >= nullFrac {
			vals[i] = 100 + 10*math.Sin(float64(i)/60) + rng.NormFloat64()
			out[i].Value = &vals[i]
		}
	}
	return out
}

func BenchmarkAnomalyDetect(b *testing.B) {
	const n = 1_000_000
	pts := benchSeries(n, 0.01)
	for _, c := range []struct {
		name   string
		method AnomalyMethod
		w      int
	}{{"zscore", AnomalyZScore, 60}, {"mad", AnomalyMAD, 60}, {"mad", AnomalyMAD, 1440}} {
		b.Run("method="+c.name+"/window="+itoa(c.w)+"/points=1M", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				AnomalyDetect(pts, AnomalyOptions{Method: c.method, Window: c.w, Threshold: 3.5})
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
