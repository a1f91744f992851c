package analytics

import (
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true}, {"7d", 7 * 24 * time.Hour, true}, {"2w", 14 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true}, {"", 0, false}, {"-1d", 0, false}, {"1e30d", 0, false},
		{"NaNd", 0, false}, {"infd", 0, false}, {"soon", 0, false},
	} {
		got, err := ParseWindow(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%q: %v %v", tc.in, got, err)
		}
	}
}
