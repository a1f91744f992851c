package analytics

import (
	"strings"
	"testing"
	"time"
)

func TestRelativeTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"now", now, ""},
		{"now-7d", now.AddDate(0, 0, -7), ""},
		{"now - 12h", now.Add(-12 * time.Hour), ""},
		{"now+30m", now.Add(30 * time.Minute), ""},
		{"now-2w", now.AddDate(0, 0, -14), ""},
		{"now-90s", now.Add(-90 * time.Second), ""},
		{"now-7y", time.Time{}, "units s, m, h, d, w"},
		{"now-d", time.Time{}, "not a time"},
		{"nowish", time.Time{}, "not a time"},
		{"now-99999999d", time.Time{}, "not a time"},
	}
	for _, c := range cases {
		got, err := RelativeTime(c.in, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
}

func TestDecodeQuestionRelative(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var spec CorrelationSpec
	err := DecodeQuestion([]byte(`{"x": {"event_type": "a", "interval": "1d", "from": "now-7d", "to": "now"}, "y": {"event_type": "b"}}`), &spec, now)
	if err != nil || spec.X.From == nil || !spec.X.From.Equal(now.AddDate(0, 0, -7)) || !spec.X.To.Equal(now) {
		t.Fatalf("%+v %v", spec.X, err)
	}
	if err := DecodeQuestion([]byte(`{"steps": ["a"], "from": "now-3y"}`), &FunnelSpec{}, now); err == nil || !strings.Contains(err.Error(), "from:") {
		t.Fatalf("bad relative time: %v", err)
	}
	if err := DecodeQuestion([]byte(`{"steps": ["a"], "form": "now"}`), &FunnelSpec{}, now); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
}
