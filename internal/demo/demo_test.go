package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allsource/allsource/internal/source"
)

// event is a parsed line of the output.
type event struct {
	EntityID   string          `json:"entity_id"`
	EventType  string          `json:"event_type"`
	Timestamp  string          `json:"timestamp"`
	RawPayload json.RawMessage `json:"payload"`
	Metadata   map[string]any  `json:"metadata"`
	Tenant     *string         `json:"tenant"`
	ID         *string         `json:"id"`

	Payload map[string]any `json:"-"` // decoded with numbers as json.Number
	time    time.Time
	size    int // bytes of the payload
}

// generated holds the output for the default options, made once.
var generated struct {
	once   sync.Once
	data   []byte
	n      int
	err    error
	events []event
}

func defaultHistory(t *testing.T) ([]byte, []event) {
	t.Helper()
	generated.once.Do(func() {
		var buf bytes.Buffer
		generated.n, generated.err = Generate(&buf, Options{})
		generated.data = buf.Bytes()
		if generated.err == nil {
			generated.events, generated.err = parse(generated.data)
		}
	})
	if generated.err != nil {
		t.Fatal(generated.err)
	}
	if generated.n != len(generated.events) {
		t.Fatalf("Generate returned %d, wrote %d lines", generated.n, len(generated.events))
	}
	return generated.data, generated.events
}

const timeLayout = "2006-01-02T15:04:05.000Z"

// parse checks that every line is an input-format event and decodes it.
func parse(data []byte) ([]event, error) {
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		// One strict decode checks the keys and types; the payload is
		// decoded on its own to keep its size.
		var e event
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one value", line)
		}
		if e.EntityID == "" || len(e.EntityID) > 256 || e.EventType == "" || len(e.EventType) > 128 || e.RawPayload == nil || e.Metadata == nil {
			return nil, fmt.Errorf("line %d: missing or bad required field: %s", line, sc.Bytes())
		}
		e.size = len(e.RawPayload)
		pdec := json.NewDecoder(bytes.NewReader(e.RawPayload))
		pdec.UseNumber()
		if err := pdec.Decode(&e.Payload); err != nil || e.Payload == nil {
			return nil, fmt.Errorf("line %d: payload: %v", line, err)
		}
		t, err := time.Parse(timeLayout, e.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp: %v", line, err)
		}
		e.time = t
		out = append(out, e)
	}
	return out, sc.Err()
}

// eventTypes are all the types the generator emits, in funnel order.
var eventTypes = []string{
	"user.signed_up", "session.started", "page.viewed", "product.viewed",
	"cart.item_added", "checkout.started", "order.placed", "order.refunded",
}

func TestDefaultHistory(t *testing.T) {
	data, events := defaultHistory(t)
	counts := map[string]int{}
	for _, e := range events {
		counts[e.EventType]++
	}
	var report strings.Builder
	for _, typ := range eventTypes {
		fmt.Fprintf(&report, "\n  %-17s %6d", typ, counts[typ])
	}
	t.Logf("defaults: %d events, %.1f MB:%s", len(events), float64(len(data))/1e6, report.String())
	if len(counts) != len(eventTypes) {
		t.Errorf("event types %v, want %v", slices.Sorted(maps.Keys(counts)), eventTypes)
	}
	if n := len(events); n < 25_000 || n > 45_000 {
		t.Errorf("%d events with the defaults, want about 32,000", n)
	}
	if counts["user.signed_up"] != DefaultUsers {
		t.Errorf("%d sign-ups, want %d", counts["user.signed_up"], DefaultUsers)
	}
	start, end := DefaultEnd.AddDate(0, 0, -DefaultDays), DefaultEnd
	for _, e := range events {
		if e.time.Before(start.Add(-12*time.Hour)) || e.time.After(end.Add(12*time.Hour)) {
			t.Fatalf("%s %s at %s is outside the period", e.EntityID, e.EventType, e.Timestamp)
		}
	}
}

func TestEventShape(t *testing.T) {
	_, events := defaultHistory(t)
	ids := map[string]bool{}
	for i, e := range events {
		if e.Tenant != nil {
			t.Fatalf("event %d has a tenant", i)
		}
		if e.ID == nil || !uuidRE.MatchString(*e.ID) || ids[*e.ID] {
			t.Fatalf("event %d: id %v is not a fresh version-8 UUID", i, e.ID)
		}
		ids[*e.ID] = true
		if !strings.HasPrefix(e.EntityID, "user-") || len(e.EntityID) != len("user-000042") {
			t.Fatalf("event %d: entity_id %q", i, e.EntityID)
		}
		if e.size < 60 || e.size > 300 {
			t.Errorf("event %d (%s): payload of %d bytes", i, e.EventType, e.size)
		}
		p := e.Payload
		str := func(k string) string {
			s, ok := p[k].(string)
			if !ok {
				t.Fatalf("event %d (%s): %s is %T, want a string", i, e.EventType, k, p[k])
			}
			return s
		}
		num := func(k string) float64 {
			n, ok := p[k].(json.Number)
			if !ok {
				t.Fatalf("event %d (%s): %s is %T, want a number", i, e.EventType, k, p[k])
			}
			f, _ := n.Float64()
			return f
		}
		switch e.EventType {
		case "user.signed_up":
			str("country")
			str("device")
			str("channel")
			str("plan")
			str("referrer")
		case "order.refunded":
			str("order_id")
			if num("amount") <= 0 {
				t.Errorf("event %d: refund amount %v", i, p["amount"])
			}
		default:
			if !strings.HasPrefix(str("session_id"), "s_") {
				t.Fatalf("event %d: session_id %v", i, p["session_id"])
			}
		}
		switch e.EventType {
		case "page.viewed":
			str("path")
		case "product.viewed":
			str("product_id")
			str("category")
			num("price")
		case "cart.item_added":
			str("product_id")
			num("quantity")
			num("price")
		case "checkout.started":
			num("cart_value")
			num("items")
		case "order.placed":
			str("order_id")
			str("currency")
			str("payment_method")
			num("items")
			if total := num("total"); total <= 0 {
				t.Errorf("event %d: order total %v", i, total)
			}
		}
	}
}

func TestTimeOrder(t *testing.T) {
	_, events := defaultHistory(t)
	last := map[string]time.Time{}
	lastSession := map[string]string{}
	for i, e := range events {
		if prev, ok := last[e.EntityID]; ok && !e.time.After(prev) {
			t.Fatalf("event %d: %s at %s is not after the user's previous event at %s", i, e.EntityID, e.Timestamp, prev.Format(timeLayout))
		} else if !ok && e.EventType != "user.signed_up" {
			t.Fatalf("event %d: %s's first event is %s", i, e.EntityID, e.EventType)
		}
		last[e.EntityID] = e.time
		if i > 0 && e.time.Before(events[i-1].time) {
			t.Fatalf("event %d at %s comes after one at %s", i, e.Timestamp, events[i-1].Timestamp)
		}
		// Within a user, a session's events are contiguous and start with
		// session.started.
		sid, _ := e.Payload["session_id"].(string)
		switch {
		case e.EventType == "session.started":
			lastSession[e.EntityID] = sid
		case sid != "" && sid != lastSession[e.EntityID]:
			t.Fatalf("event %d: %s of session %s outside it", i, e.EventType, sid)
		}
	}
}

func TestFunnel(t *testing.T) {
	_, events := defaultHistory(t)
	reached := map[string]map[string]bool{}
	for _, typ := range eventTypes {
		reached[typ] = map[string]bool{}
	}
	type counts struct{ sessions, orders int }
	byDevice := map[string]*counts{}
	sessionDevice := map[string]string{}
	for _, e := range events {
		reached[e.EventType][e.EntityID] = true
		switch e.EventType {
		case "session.started":
			dev := e.Payload["device"].(string)
			sessionDevice[e.Payload["session_id"].(string)] = dev
			if byDevice[dev] == nil {
				byDevice[dev] = &counts{}
			}
			byDevice[dev].sessions++
		case "order.placed":
			byDevice[sessionDevice[e.Payload["session_id"].(string)]].orders++
		}
	}
	steps := []string{"user.signed_up", "session.started", "product.viewed", "cart.item_added", "checkout.started", "order.placed", "order.refunded"}
	var report strings.Builder
	for i, step := range steps {
		n := len(reached[step])
		fmt.Fprintf(&report, "\n  %-17s %5d users", step, n)
		if i > 0 && n >= len(reached[steps[i-1]]) {
			t.Errorf("%d users reached %s, not fewer than the %d who reached %s", n, step, len(reached[steps[i-1]]), steps[i-1])
		}
		if n == 0 {
			t.Errorf("no user reached %s", step)
		}
	}
	t.Logf("funnel:%s", report.String())
	rate := func(d string) float64 { return float64(byDevice[d].orders) / float64(byDevice[d].sessions) }
	t.Logf("orders per session: desktop %.3f, tablet %.3f, mobile %.3f", rate("desktop"), rate("tablet"), rate("mobile"))
	if rate("desktop") < 1.3*rate("mobile") {
		t.Errorf("desktop converts at %.3f, mobile at %.3f: want a clear difference", rate("desktop"), rate("mobile"))
	}
}

// weeklyRetention returns, for weeks 0..weeks-1 after signing up, the share
// of users whose week lies inside the data who had a session in it.
func weeklyRetention(events []event, end time.Time, weeks int, keep func(signup event) bool) []float64 {
	signup := map[string]time.Time{}
	active := map[string]map[int]bool{}
	for _, e := range events {
		switch e.EventType {
		case "user.signed_up":
			if keep == nil || keep(e) {
				y, m, d := e.time.Date()
				signup[e.EntityID] = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
				active[e.EntityID] = map[int]bool{}
			}
		case "session.started":
			if s, ok := signup[e.EntityID]; ok {
				active[e.EntityID][int(e.time.Sub(s)/(7*24*time.Hour))] = true
			}
		}
	}
	out := make([]float64, weeks)
	for w := range weeks {
		n, a := 0, 0
		for u, s := range signup {
			if s.AddDate(0, 0, 7*(w+1)).After(end) {
				continue
			}
			n++
			if active[u][w] {
				a++
			}
		}
		if n > 0 {
			out[w] = float64(a) / float64(n)
		}
	}
	return out
}

func TestRetention(t *testing.T) {
	_, events := defaultHistory(t)
	r := weeklyRetention(events, DefaultEnd, 10, nil)
	t.Logf("weekly retention: %.2f", r)
	if r[1] < 0.30 || r[1] > 0.50 {
		t.Errorf("week-1 retention %.2f, want about 0.40", r[1])
	}
	if r[8] < 0.07 || r[8] > 0.22 {
		t.Errorf("week-8 retention %.2f, want about 0.15", r[8])
	}
	if r[8] > r[1]*0.6 {
		t.Errorf("retention does not drop: week 1 %.2f, week 8 %.2f", r[1], r[8])
	}
	byChannel := func(ch string) float64 {
		return weeklyRetention(events, DefaultEnd, 2, func(e event) bool { return e.Payload["channel"] == ch })[1]
	}
	referral, social := byChannel("referral"), byChannel("social")
	t.Logf("week-1 retention: referral %.2f, social %.2f", referral, social)
	if referral < social+0.1 {
		t.Errorf("referral users (%.2f) should come back clearly more than social ones (%.2f)", referral, social)
	}
}

func TestDeterministic(t *testing.T) {
	gen := func(o Options) []byte {
		var buf bytes.Buffer
		if _, err := Generate(&buf, o); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	o := Options{Users: 300, Days: 45, Seed: 7}
	a, b := gen(o), gen(o)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same options differ")
	}
	o.Seed = 8
	if bytes.Equal(a, gen(o)) {
		t.Fatal("different seeds give the same output")
	}
	// The defaults are spelled out the same as left zero.
	full := Options{Users: DefaultUsers, Days: DefaultDays, Seed: DefaultSeed, Start: time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC)}
	data, _ := defaultHistory(t)
	if !bytes.Equal(gen(full), data) {
		t.Fatal("explicit default options give other output than zero options")
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestIDsFollowOptions: the same options give the same event ids (loading
// a history twice stores it once); another seed, period or tenant gives
// other ids.
func TestIDsFollowOptions(t *testing.T) {
	ids := func(o Options) []string {
		var buf bytes.Buffer
		if _, err := Generate(&buf, o); err != nil {
			t.Fatal(err)
		}
		var out []string
		for line := range bytes.Lines(buf.Bytes()) {
			out = append(out, string(line[len(`{"id":"`):len(`{"id":"`)+36]))
		}
		return out
	}
	base := Options{Users: 20, Days: 10}
	a, b := ids(base), ids(base)
	if !slices.Equal(a, b) {
		t.Fatal("the same options gave other ids")
	}
	for _, o := range []Options{
		{Users: 20, Days: 10, Seed: 2},
		{Users: 20, Days: 10, Start: DefaultEnd.AddDate(0, 0, -11)},
		{Users: 20, Days: 10, Tenant: "acme"},
	} {
		if c := ids(o); slices.ContainsFunc(c, func(id string) bool { return slices.Contains(a, id) }) {
			t.Errorf("%+v shares ids with the defaults", o)
		}
	}
}

func TestUsersAreIndependent(t *testing.T) {
	// A user's history does not depend on how many other users there are.
	userLines := func(users int, id string) []byte {
		var buf bytes.Buffer
		if _, err := Generate(&buf, Options{Users: users, Days: 30}); err != nil {
			t.Fatal(err)
		}
		var out []byte
		for line := range bytes.Lines(buf.Bytes()) {
			if bytes.Contains(line, []byte(`"entity_id":"`+id+`"`)) {
				out = append(out, line...)
			}
		}
		return out
	}
	for _, id := range []string{"user-000001", "user-000017"} {
		a, b := userLines(20, id), userLines(200, id)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: history differs with 20 and 200 users", id)
		}
	}
}

func TestTenantAndStart(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2024, 2, 27, 15, 30, 0, 0, time.UTC)
	n, err := Generate(&buf, Options{Users: 25, Days: 5, Tenant: "acme", Start: start})
	if err != nil {
		t.Fatal(err)
	}
	events, err := parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(events) || n == 0 {
		t.Fatalf("Generate returned %d for %d lines", n, len(events))
	}
	for _, e := range events {
		if e.Tenant == nil || *e.Tenant != "acme" {
			t.Fatalf("event without tenant acme: %+v", e)
		}
		if e.EventType == "user.signed_up" && (e.time.Before(time.Date(2024, 2, 26, 0, 0, 0, 0, time.UTC)) || e.time.After(time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC))) {
			t.Errorf("sign-up at %s is outside the period", e.Timestamp)
		}
	}
}

func TestOptions(t *testing.T) {
	d := Options{}.WithDefaults()
	if d.Users != 2000 || d.Days != 90 || d.Seed != 1 || !d.Start.Equal(time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults: %+v", d)
	}
	if d := (Options{Days: 10}).WithDefaults(); !d.Start.Equal(time.Date(2025, 12, 22, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start for 10 days: %s", d.Start)
	}
	for _, o := range []Options{
		{Users: -1}, {Users: MaxUsers + 1}, {Days: -5}, {Days: MaxDays + 1},
		{Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, {Tenant: `a"b`}, {Tenant: strings.Repeat("t", 65)},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
		if _, err := Generate(io.Discard, o); err == nil {
			t.Errorf("Generate(%+v): no error", o)
		}
	}
	if err := (Options{Users: 1, Days: 1, Tenant: "t-1"}).Validate(); err != nil {
		t.Error(err)
	}
	// The smallest history: one user, one day.
	var buf bytes.Buffer
	n, err := Generate(&buf, Options{Users: 1, Days: 1})
	if err != nil || n < 1 {
		t.Fatalf("one user, one day: %d events, %v", n, err)
	}
}

// failWriter fails after some bytes.
type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, io.ErrShortWrite
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	if _, err := Generate(&failWriter{left: 1 << 20}, Options{}); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

func BenchmarkGenerate(b *testing.B) {
	var cw countWriter
	n := 0
	for b.Loop() {
		var err error
		n, err = Generate(&cw, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(cw.n / int64(b.N))
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func TestImportable(t *testing.T) {
	// The import reader takes the events as they are.
	var buf bytes.Buffer
	n, err := Generate(&buf, Options{Users: 100, Days: 20, Tenant: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	r, err := source.NewReader(&buf, "demo.ndjson", "", source.Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("read %d events, generated %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Event, lines[i]) {
			t.Fatalf("line %d changed on import:\n%s\n%s", rec.Line, lines[i], rec.Event)
		}
	}
}
