package projections

import (
	"strings"
	"testing"

	"github.com/allsource/allsource"
)

func TestPredicates(t *testing.T) {
	doc := map[string]any{"amount": 150.0, "country": "DE", "vip": true, "n": "42", "nested": map[string]any{"x": 1.0}, "none": nil}
	for _, c := range []struct {
		pred string
		want bool
	}{
		{"payload.amount>100", true}, {"payload.amount>=150", true}, {"payload.amount<150", false}, {"payload.amount<=150", true},
		{"payload.amount=150", true}, {"payload.amount!=150", false}, {"payload.country=DE", true}, {`payload.country="DE"`, true},
		{"payload.country!=FR", true}, {"payload.country>CH", true}, {"payload.vip=true", true}, {"payload.vip=false", false},
		{"payload.n>41", true}, {"payload.nested.x=1", true}, {"data.nested.x>=2", false}, {"payload.missing=1", false},
		{"payload.missing!=1", true}, {"payload.none=null", true}, {"payload.amount = 150", true}, {"payload.country.deeper=1", false},
	} {
		p, err := ParsePredicate(c.pred)
		if err != nil {
			t.Fatalf("%s: %v", c.pred, err)
		}
		if got := p.holds(doc); got != c.want {
			t.Errorf("%s: %v, want %v", c.pred, got, c.want)
		}
	}
	for _, bad := range []string{"amount>1", "payload.a", "payload.>1", "payload.a=>1", "payload.a={}", "payload..a=1", "=1"} {
		if _, err := ParsePredicate(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestSubscribeWithPredicate: stored and live events are both filtered by
// the payload; a predicate on a hidden field is refused.
func TestSubscribeWithPredicate(t *testing.T) {
	s := newStore(t)
	s.add(t, "acme", 50) // payload n = seq
	p, _ := ParsePredicate("payload.n>40")
	f := Filter{Tenant: "acme", Where: []Predicate{p}}
	done := make(chan []Event)
	go func() {
		got, err := collect(t, s, f, Start{}, 20)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	s.add(t, "acme", 20)
	got := <-done
	for i, e := range got {
		if e.Seq != uint64(41+i) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	hidden, _ := ParsePredicate("payload.email=x@y")
	_, err := collect(t, s, Filter{Tenant: "acme", Where: []Predicate{hidden}, Restrict: allsource.ReadRestriction{HiddenFields: []string{"payload.email"}}}, Start{}, 1)
	if err == nil || !strings.Contains(err.Error(), "hidden") {
		t.Fatalf("predicate on a hidden field: %v", err)
	}
}
