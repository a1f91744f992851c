package analytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
)

// DecodeQuestion decodes a question's JSON (the body of an analytics
// endpoint, the argument of a table function) strictly into spec. Times
// under "from" and "to", at any depth, may be relative to now: "now",
// "now-30d", "now-12h", "now+1h" (units s, m, h, d, w); they are read
// against now, so a dashboard's "the last 30 days" needs no date.
func DecodeQuestion(body []byte, spec any, now time.Time) error {
	var tree any
	if json.Unmarshal(body, &tree) == nil {
		changed, err := resolveRelative(tree, now)
		if err != nil {
			return allsource.Errorf(allsource.CodeInvalid, "%v", err)
		}
		if changed {
			body, _ = json.Marshal(tree)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(spec); err != nil {
		return allsource.Errorf(allsource.CodeInvalid, "invalid question: %v", err)
	}
	return nil
}

// resolveRelative replaces relative "from" and "to" times in a decoded
// JSON tree by RFC 3339 ones.
func resolveRelative(v any, now time.Time) (bool, error) {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "from" || k == "to") && strings.HasPrefix(s, "now") {
				t, err := RelativeTime(s, now)
				if err != nil {
					return false, fmt.Errorf("%s: %w", k, err)
				}
				x[k] = t.Format(time.RFC3339Nano)
				changed = true
				continue
			}
			c, err := resolveRelative(e, now)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
	case []any:
		for _, e := range x {
			c, err := resolveRelative(e, now)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
	}
	return changed, nil
}

// RelativeTime reads now, now-N<unit> or now+N<unit> against now.
func RelativeTime(s string, now time.Time) (time.Time, error) {
	rest := strings.TrimSpace(strings.TrimPrefix(s, "now"))
	if rest == "" {
		return now.UTC(), nil
	}
	bad := fmt.Errorf("%q is not a time: want RFC 3339 (2026-01-02T15:04:05Z) or now, now-7d, now-12h, now+30m (units s, m, h, d, w)", s)
	if rest[0] != '-' && rest[0] != '+' || len(rest) < 3 {
		return time.Time{}, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(rest[1 : len(rest)-1]))
	if err != nil || n < 0 || n > 100_000 {
		return time.Time{}, bad
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[rest[len(rest)-1]]
	if unit == 0 {
		return time.Time{}, bad
	}
	d := time.Duration(n) * unit
	if rest[0] == '-' {
		d = -d
	}
	return now.Add(d).UTC(), nil
}
