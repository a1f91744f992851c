package analytics

// Anomaly detection on a series by comparing each value with a trailing
// window of the values before it.

import (
	"math"
	"slices"
	"time"
)

// AnomalyMethod selects the detector.
type AnomalyMethod uint8

const (
	// AnomalyZScore scores (x - mean) / stddev of the window (sample
	// standard deviation). Fast; sensitive to outliers inside the window.
	AnomalyZScore AnomalyMethod = iota
	// AnomalyMAD scores the robust z = 0.6745·(x - median) / MAD, MAD being
	// the median absolute deviation from the window's median (Iglewicz and
	// Hoaglin's modified z-score; 3.5 is their usual threshold).
	AnomalyMAD
)

// AnomalyDirection tells whether a flagged value is above or below the
// expected one.
type AnomalyDirection int8

const (
	AnomalyBelow AnomalyDirection = -1
	AnomalyAbove AnomalyDirection = 1
)

func (d AnomalyDirection) String() string {
	if d < 0 {
		return "below"
	}
	return "above"
}

// AnomalyOptions configures AnomalyDetect.
type AnomalyOptions struct {
	Method AnomalyMethod
	// Window is the number of preceding non-nil values that form the
	// baseline of each value (the value itself is excluded so an outlier
	// does not mask itself). Values with fewer predecessors are not
	// scored. Window < 2 is treated as 2.
	Window int
	// Threshold flags a value when |score| > Threshold; 0 means 3.
	Threshold float64
}

// Anomaly is one flagged point.
type Anomaly struct {
	Index     int       // position in the input series
	Time      time.Time // the point's bucket
	Value     float64
	Expected  float64 // window mean (z-score) or median (MAD)
	Score     float64 // signed; ±Inf when the window has no spread
	Direction AnomalyDirection
}

// AnomalyDetect scores every non-nil point of a series against the trailing
// window of the Window non-nil values before it and returns the points whose
// |score| exceeds Threshold, in order. Nil points are skipped: neither
// scored nor part of any window.
//
// A window without spread (standard deviation, or MAD, of zero) cannot
// scale a deviation. For MAD the scale then falls back to the mean absolute
// deviation from the median times 1.2533 (which estimates σ like
// MAD/0.6745 does). If the spread is still zero, the window is constant: a
// value equal to it is normal, any other value is flagged with Score ±Inf
// (encoders that reject Inf, like encoding/json, must map it). A standard
// deviation below 1e-12 of the mean's magnitude counts as zero, so rounding
// noise of a constant window does not produce huge finite scores.
func AnomalyDetect(points []SeriesPoint, opt AnomalyOptions) []Anomaly {
	w := max(opt.Window, 2)
	th := opt.Threshold
	if th == 0 {
		th = 3
	}
	idx := make([]int, 0, len(points))
	xs := make([]float64, 0, len(points))
	for i, p := range points {
		if p.Value != nil {
			idx = append(idx, i)
			xs = append(xs, *p.Value)
		}
	}
	var out []Anomaly
	emit := func(k int, expected, score float64) {
		if !(math.Abs(score) > th) {
			return
		}
		i := idx[k]
		dir := AnomalyAbove
		if xs[k] < expected {
			dir = AnomalyBelow
		}
		out = append(out, Anomaly{Index: i, Time: points[i].Time, Value: xs[k], Expected: expected, Score: score, Direction: dir})
	}
	if opt.Method == AnomalyMAD {
		anomalyMAD(xs, w, emit)
	} else {
		anomalyZ(xs, w, emit)
	}
	return out
}

// anomalyScore divides a deviation by a scale, mapping a zero scale to 0 for
// no deviation and ±Inf otherwise.
func anomalyScore(dev, scale float64) float64 {
	if scale > 0 {
		return dev / scale
	}
	switch {
	case dev > 0:
		return math.Inf(1)
	case dev < 0:
		return math.Inf(-1)
	}
	return 0
}

// anomalyZ slides mean and M2 over the window (Welford's replace update) and
// recomputes them exactly every w steps so rounding cannot accumulate.
func anomalyZ(xs []float64, w int, emit func(k int, expected, score float64)) {
	if len(xs) <= w {
		return
	}
	var mean, m2 float64
	exact := func(win []float64) {
		mean = 0
		for _, x := range win {
			mean += x
		}
		mean /= float64(len(win))
		m2 = 0
		for _, x := range win {
			d := x - mean
			m2 += d * d
		}
	}
	exact(xs[:w])
	for k := w; k < len(xs); k++ {
		if k > w {
			if (k-w)%w == 0 {
				exact(xs[k-w : k])
			} else {
				in, old := xs[k-1], xs[k-1-w]
				nm := mean + (in-old)/float64(w)
				m2 += (in - old) * (in - nm + old - mean)
				mean = nm
			}
		}
		sd := math.Sqrt(max(m2, 0) / float64(w-1))
		if sd <= 1e-12*math.Abs(mean) {
			sd = 0
		}
		emit(k, mean, anomalyScore(xs[k]-mean, sd))
	}
}

// anomalyMAD keeps the window sorted (binary search and one copy per step)
// and takes the MAD from it without sorting the deviations.
func anomalyMAD(xs []float64, w int, emit func(k int, expected, score float64)) {
	if len(xs) <= w {
		return
	}
	win := slices.Clone(xs[:w])
	slices.Sort(win)
	for k := w; k < len(xs); k++ {
		if k > w {
			old, in := xs[k-1-w], xs[k-1]
			i, _ := slices.BinarySearch(win, old)
			copy(win[i:], win[i+1:])
			win = win[:w-1]
			j, _ := slices.BinarySearch(win, in)
			win = slices.Insert(win, j, in)
		}
		med := anomalyMedianSorted(win)
		mad := anomalyMADSorted(win, med)
		x := xs[k]
		var score float64
		if mad > 0 {
			score = 0.6745 * (x - med) / mad
		} else {
			var sum float64
			for _, v := range win {
				sum += math.Abs(v - med)
			}
			score = anomalyScore(x-med, 1.253314*sum/float64(len(win)))
		}
		emit(k, med, score)
	}
}

func anomalyMedianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// anomalyMADSorted is the median of |s[i] - med| for s sorted ascending.
// The deviations form two ascending runs, A (med - s[r-1], med - s[r-2],
// …) and B (s[r] - med, s[r+1] - med, …), so each order statistic is a
// binary search over how many elements come from A: O(log n), no copy.
func anomalyMADSorted(s []float64, med float64) float64 {
	n := len(s)
	r, _ := slices.BinarySearch(s, med)
	la, lb := r, n-r
	a := func(i int) float64 { return med - s[r-1-i] }
	b := func(j int) float64 { return s[r+j] - med }
	// kth returns the k-th smallest deviation, 0-based.
	kth := func(k int) float64 {
		lo, hi := max(0, k+1-lb), min(k+1, la)
		for lo < hi {
			i := int(uint(lo+hi) >> 1)
			if j := k + 1 - i; j > 0 && a(i) < b(j-1) {
				lo = i + 1
			} else {
				hi = i
			}
		}
		i, j := lo, k+1-lo
		v := math.Inf(-1)
		if i > 0 {
			v = a(i - 1)
		}
		if j > 0 {
			v = max(v, b(j-1))
		}
		return v
	}
	if n%2 == 1 {
		return kth(n / 2)
	}
	return (kth(n/2-1) + kth(n/2)) / 2
}
