package bench

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Shape of the analytics generator (GenSessions).
const (
	// DefaultAnalyticsEvents is the number of events RunAnalytics loads.
	DefaultAnalyticsEvents = 10_000_000
	// DefaultAnalyticsEntities is the number of entities they belong to.
	DefaultAnalyticsEntities = 1_000_000
	// AnalyticsSpan is the time range the sessions cover from GenStart: 26
	// weeks, so a 26-week retention matrix has a full first row.
	AnalyticsSpan = 26 * 7 * 24 * time.Hour
)

// Event type indexes into EventTypes used by the session model.
const (
	etPageViewed = iota
	etProductViewed
	etSearch
	etCartAdded
	etLoggedIn
	etCheckout
	etOrderPlaced
	etOrderPaid
	etCartRemoved
	etShipped
	etDelivered
	etWishlist
	etLoggedOut
	etCoupon
	etReview
	etProfile
	etCancelled
	etSignedUp
	etTicket
	etRefunded
)

// SessionEvent is one event of the session model in compact form: 24 bytes
// instead of ~230 as JSON, so 10 M of them fit comfortably in memory. Its
// payload is derived from R when rendered.
type SessionEvent struct {
	Unix    int64  // seconds since the Unix epoch; distinct per entity
	Entity  int32  // "user-<Entity>"
	R       uint32 // seeds the payload
	Type    uint8  // index into EventTypes
	Channel uint8  // index into channels; the session's channel
}

// SessionOptions shapes GenSessions.
type SessionOptions struct {
	Events   int   // total events; default DefaultAnalyticsEvents
	Entities int   // entity pool; default DefaultAnalyticsEntities
	Seed     int64 // default DefaultSeed
	// Span is the covered time range from GenStart; default AnalyticsSpan.
	Span time.Duration
}

// GenSessions returns opts.Events events from a session model of a shop,
// sorted by time (then entity), so that funnels and retention have
// realistic shapes: every entity signs up once, at a uniformly random time
// in the span, in a first session; returning sessions follow after
// exponentially distributed gaps (mean 10 days), given to entities drawn
// with a skew towards low ids (heavy users), until the event budget is
// spent. A session is a walk through the shop: an optional login, page
// views, an optional search, product views, and with falling probabilities
// cart, checkout, coupon, order and payment, seconds to minutes apart; an
// order is later shipped (hours), delivered (days) and sometimes reviewed,
// cancelled or refunded. Each entity's events have distinct whole-second
// timestamps, so event order within an entity never depends on tie
// breaking, and ClickHouse's DateTime holds them exactly. When the first
// sessions alone exceed the budget, the last entities get none.
func GenSessions(opts SessionOptions) []SessionEvent {
	if opts.Events <= 0 {
		opts.Events = DefaultAnalyticsEvents
	}
	if opts.Entities <= 0 {
		opts.Entities = DefaultAnalyticsEntities
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.Span <= 0 {
		opts.Span = AnalyticsSpan
	}
	g := &sessionGen{
		rng:   rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed5e55)),
		start: GenStart.Unix(),
		end:   GenStart.Add(opts.Span).Unix() - 1,
		out:   make([]SessionEvent, 0, opts.Events+64),
		last:  make([]int64, opts.Entities),
	}
	span := float64(g.end - g.start)
	for e := 0; e < opts.Entities && len(g.out) < opts.Events; e++ {
		g.session(int32(e), g.start+int64(g.rng.Float64()*span*0.98), true)
	}
	for misses := 0; len(g.out) < opts.Events && misses < 100*opts.Entities; {
		u := g.rng.Float64()
		e := int32(u * u * float64(opts.Entities))
		gap := int64(g.rng.ExpFloat64()*10*86400) + 1800
		t := g.last[e] + gap
		if g.last[e] == 0 || t > g.end {
			misses++
			continue
		}
		g.session(e, t, false)
	}
	out := g.out[:min(len(g.out), opts.Events)]
	byTime := func(a, b SessionEvent) int {
		return cmp.Or(cmp.Compare(a.Unix, b.Unix), cmp.Compare(a.Entity, b.Entity))
	}
	slices.SortStableFunc(out, byTime)
	// Make each entity's timestamps distinct by nudging later collisions
	// one second on, then restore the global order.
	clear(g.last)
	bumped := false
	for i := range out {
		ev := &out[i]
		if l := g.last[ev.Entity]; l != 0 && ev.Unix <= l {
			ev.Unix = l + 1
			bumped = true
		}
		g.last[ev.Entity] = ev.Unix
	}
	if bumped {
		slices.SortStableFunc(out, byTime)
	}
	return out
}

type sessionGen struct {
	rng        *rand.Rand
	start, end int64
	out        []SessionEvent
	last       []int64 // per entity: time of its last session's last event
}

func (g *sessionGen) emit(e int32, t int64, typ, ch int) {
	if t > g.end {
		return
	}
	g.out = append(g.out, SessionEvent{Unix: t, Entity: e, R: g.rng.Uint32(), Type: uint8(typ), Channel: uint8(ch)})
}

func (g *sessionGen) p(x float64) bool { return g.rng.Float64() < x }

// geom returns 1 + a geometric count with continuation probability q.
func (g *sessionGen) geom(q float64) int {
	n := 1
	for n < 20 && g.p(q) {
		n++
	}
	return n
}

// session emits one session of entity e starting at t.
func (g *sessionGen) session(e int32, t int64, first bool) {
	r := g.rng
	ch := r.IntN(len(channels))
	step := func() { t += 5 + int64(r.ExpFloat64()*60) }
	switch {
	case first:
		g.emit(e, t, etSignedUp, ch)
		step()
	case g.p(0.6):
		g.emit(e, t, etLoggedIn, ch)
		step()
	}
	for range g.geom(0.4) {
		g.emit(e, t, etPageViewed, ch)
		step()
	}
	if g.p(0.35) {
		g.emit(e, t, etSearch, ch)
		step()
	}
	if g.p(0.6) {
		for range g.geom(0.4) {
			g.emit(e, t, etProductViewed, ch)
			step()
		}
		if g.p(0.1) {
			g.emit(e, t, etWishlist, ch)
			step()
		}
		if g.p(0.4) {
			g.emit(e, t, etCartAdded, ch)
			step()
			if g.p(0.1) {
				g.emit(e, t, etCartRemoved, ch)
				step()
			}
			if g.p(0.5) {
				g.emit(e, t, etCheckout, ch)
				step()
				if g.p(0.3) {
					g.emit(e, t, etCoupon, ch)
					step()
				}
				if g.p(0.6) {
					g.order(e, t, ch)
					step()
					step()
				}
			}
		}
	}
	if g.p(0.05) {
		g.emit(e, t, etProfile, ch)
		step()
	}
	if g.p(0.03) {
		g.emit(e, t, etTicket, ch)
		step()
	}
	if g.p(0.3) {
		g.emit(e, t, etLoggedOut, ch)
	}
	g.last[e] = max(g.last[e], min(t, g.end))
}

// order emits an order placed at t and what follows it.
func (g *sessionGen) order(e int32, t int64, ch int) {
	r := g.rng
	g.emit(e, t, etOrderPlaced, ch)
	if !g.p(0.9) {
		return
	}
	t += 3 + int64(r.IntN(60))
	g.emit(e, t, etOrderPaid, ch)
	if g.p(0.05) {
		g.emit(e, t+int64(r.IntN(7200))+60, etCancelled, ch)
		return
	}
	if !g.p(0.9) {
		return
	}
	t += 2*3600 + int64(r.IntN(28*3600))
	g.emit(e, t, etShipped, ch)
	if !g.p(0.95) {
		return
	}
	t += 86400 + int64(r.IntN(4*86400))
	g.emit(e, t, etDelivered, ch)
	if g.p(0.25) {
		g.emit(e, t+3600+int64(r.IntN(7*86400)), etReview, ch)
	}
	if g.p(0.04) {
		g.emit(e, t+86400+int64(r.IntN(14*86400)), etRefunded, ch)
	}
}

// sessionPayloadRNG is a splitmix64 stream seeded by an event's R.
type sessionPayloadRNG uint64

func (s *sessionPayloadRNG) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *sessionPayloadRNG) intn(n int) int { return int(s.next() % uint64(n)) }

// EntityID returns the event's entity id, "user-<n>".
func (ev SessionEvent) EntityID() string { return "user-" + strconv.Itoa(int(ev.Entity)) }

// Time returns the event's timestamp.
func (ev SessionEvent) Time() time.Time { return time.Unix(ev.Unix, 0).UTC() }

// AppendPayload appends the event's payload object: channel and session id
// always; path, referrer and duration for page views; query and results for
// searches; ip and user agent for user events; sku, qty, amount and
// currency for commerce events.
func (ev SessionEvent) AppendPayload(dst []byte) []byte {
	s := sessionPayloadRNG(uint64(ev.R)<<32 | uint64(ev.Entity))
	dst = append(dst, `{"session_id":"s-`...)
	dst = appendHex(dst, uint32(s.next()))
	dst = append(dst, `","channel":"`...)
	dst = append(dst, channels[ev.Channel]...)
	dst = append(dst, '"')
	switch et := int(ev.Type); et {
	case etPageViewed:
		dst = append(dst, `,"path":"`...)
		dst = append(dst, paths[s.intn(len(paths))]...)
		dst = append(dst, `","referrer":"https://example.com/r/`...)
		dst = strconv.AppendInt(dst, int64(s.intn(1000)), 10)
		dst = append(dst, `","duration_ms":`...)
		dst = strconv.AppendInt(dst, int64(s.intn(60000)), 10)
	case etSearch:
		dst = append(dst, `,"query":"`...)
		dst = append(dst, queries[s.intn(len(queries))]...)
		dst = append(dst, `","results":`...)
		dst = strconv.AppendInt(dst, int64(s.intn(500)), 10)
	case etLoggedIn, etLoggedOut, etProfile, etSignedUp, etTicket:
		dst = append(dst, `,"ip":"10.`...)
		dst = strconv.AppendInt(dst, int64(s.intn(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(s.intn(256)), 10)
		dst = append(dst, `.1","user_agent":"Mozilla/5.0 v`...)
		dst = strconv.AppendInt(dst, int64(100+s.intn(30)), 10)
		dst = append(dst, '"')
	default:
		dst = append(dst, `,"sku":"SKU-`...)
		dst = appendPadded(dst, s.intn(100000), 5)
		dst = append(dst, `","qty":`...)
		dst = strconv.AppendInt(dst, int64(1+int(math.Sqrt(float64(s.intn(16))))), 10)
		dst = append(dst, `,"amount":`...)
		cents := 100 + s.intn(50000)
		dst = strconv.AppendInt(dst, int64(cents/100), 10)
		dst = append(dst, '.')
		dst = appendPadded(dst, cents%100, 2)
		dst = append(dst, `,"currency":"`...)
		dst = append(dst, currencies[s.intn(len(currencies))]...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// AppendJSON appends the event in the POST /v1/events format, without a
// trailing newline.
func (ev SessionEvent) AppendJSON(dst []byte) []byte {
	return ev.appendJSON(dst, "user-", int64(ev.Entity))
}

// appendJSON appends the event with the entity id prefix followed by id.
func (ev SessionEvent) appendJSON(dst []byte, prefix string, id int64) []byte {
	dst = append(dst, `{"entity_id":"`...)
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, `","event_type":"`...)
	dst = append(dst, EventTypes[ev.Type]...)
	dst = append(dst, `","timestamp":"`...)
	dst = ev.Time().AppendFormat(dst, "2006-01-02T15:04:05Z")
	dst = append(dst, `","payload":`...)
	dst = ev.AppendPayload(dst)
	return append(dst, '}')
}

// SessionJSON renders events as GenEvents does: one JSON object per
// element, sharing one backing array.
func SessionJSON(events []SessionEvent) [][]byte {
	buf := make([]byte, 0, len(events)*230)
	ends := make([]int, len(events))
	for i, ev := range events {
		buf = ev.AppendJSON(buf)
		ends[i] = len(buf)
	}
	out := make([][]byte, len(events))
	start := 0
	for i, end := range ends {
		out[i] = buf[start:end:end]
		start = end
	}
	return out
}
