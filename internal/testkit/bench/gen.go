package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
)

// Generator shape: the values GenEvents draws from.
const (
	// EntityPool is the number of distinct entity ids ("user-0" …).
	EntityPool = 100_000
	// Span is the time range the generated timestamps cover, starting at
	// GenStart.
	Span = 30 * 24 * time.Hour
)

// GenStart is the earliest generated timestamp: 2026-01-01T00:00:00Z.
var GenStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// EventTypes are the 20 generated event types; earlier ones are more frequent.
var EventTypes = []string{
	"page.viewed", "product.viewed", "search.performed", "cart.item_added",
	"user.logged_in", "checkout.started", "order.placed", "order.paid",
	"cart.item_removed", "order.shipped", "order.delivered", "wishlist.item_added",
	"user.logged_out", "coupon.applied", "review.submitted", "user.profile_updated",
	"order.cancelled", "user.signed_up", "support.ticket_opened", "order.refunded",
}

var (
	currencies = []string{"EUR", "USD", "GBP", "CHF", "SEK"}
	channels   = []string{"web", "ios", "android", "email", "partner"}
	paths      = []string{"/", "/search", "/cart", "/checkout", "/account", "/deals", "/category/shoes", "/category/books"}
	queries    = []string{"running shoes", "usb-c cable", "espresso machine", "winter jacket", "headphones", "desk lamp"}
)

// Generator produces a deterministic stream of realistic input events in the
// POST /v1/events format, about 200 bytes each: entity ids from a pool of
// EntityPool users (mildly skewed towards low ids), 20 event types with skewed
// frequencies, timestamps in increasing order (with a few minutes of jitter)
// spread over Span from GenStart, and a payload of 4–6 fields depending on
// the type.
type Generator struct {
	rng   *rand.Rand
	n     int // events planned; spreads timestamps over Span
	i     int
	cumW  []float64
	total float64
}

// NewGenerator returns a Generator for a stream of n events (n only sets the
// timestamp spacing; Next may be called any number of times) seeded by seed.
func NewGenerator(n int, seed int64) *Generator {
	if n < 1 {
		n = 1
	}
	g := &Generator{rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), n: n}
	// Weights 1/(rank+1)^0.9: page views are ~20x as frequent as refunds.
	for r := range EventTypes {
		g.total += 1 / pow09(float64(r+1))
		g.cumW = append(g.cumW, g.total)
	}
	return g
}

func pow09(x float64) float64 { return math.Pow(x, 0.9) }

// Append appends the next event, as one JSON object without a trailing
// newline, to dst.
func (g *Generator) Append(dst []byte) []byte {
	r := g.rng
	i := g.i
	g.i++

	step := Span / time.Duration(g.n)
	jitter := time.Duration(r.Int64N(int64(10*time.Minute))) - 5*time.Minute
	ts := GenStart.Add(step*time.Duration(i) + jitter)
	if ts.Before(GenStart) {
		ts = GenStart
	}
	if end := GenStart.Add(Span - time.Millisecond); ts.After(end) {
		ts = end
	}
	ts = ts.Truncate(time.Millisecond)

	u := r.Float64()
	user := int(u * u * EntityPool)
	et := g.pickType()

	dst = append(dst, `{"entity_id":"user-`...)
	dst = strconv.AppendInt(dst, int64(user), 10)
	dst = append(dst, `","event_type":"`...)
	dst = append(dst, et...)
	dst = append(dst, `","timestamp":"`...)
	dst = ts.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","payload":{"session_id":"s-`...)
	dst = appendHex(dst, r.Uint32())
	dst = append(dst, `","channel":"`...)
	dst = append(dst, channels[r.IntN(len(channels))]...)
	dst = append(dst, '"')
	switch {
	case strings.HasPrefix(et, "page."):
		dst = append(dst, `,"path":"`...)
		dst = append(dst, paths[r.IntN(len(paths))]...)
		dst = append(dst, `","referrer":"https://example.com/r/`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
		dst = append(dst, `","duration_ms":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(60000)), 10)
	case et == "search.performed":
		dst = append(dst, `,"query":"`...)
		dst = append(dst, queries[r.IntN(len(queries))]...)
		dst = append(dst, `","results":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(500)), 10)
		dst = append(dst, `,"page":`...)
		dst = strconv.AppendInt(dst, int64(1+r.IntN(5)), 10)
	case strings.HasPrefix(et, "user."), et == "support.ticket_opened":
		dst = append(dst, `,"ip":"10.`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
		dst = append(dst, `","user_agent":"Mozilla/5.0 (X11; Linux x86_64) v`...)
		dst = strconv.AppendInt(dst, int64(100+r.IntN(30)), 10)
		dst = append(dst, '"')
	default: // commerce
		dst = append(dst, `,"sku":"SKU-`...)
		dst = appendPadded(dst, r.IntN(100000), 5)
		dst = append(dst, `","qty":`...)
		dst = strconv.AppendInt(dst, int64(1+r.IntN(4)), 10)
		dst = append(dst, `,"amount":`...)
		cents := 100 + r.IntN(50000)
		dst = strconv.AppendInt(dst, int64(cents/100), 10)
		dst = append(dst, '.')
		dst = appendPadded(dst, cents%100, 2)
		dst = append(dst, `,"currency":"`...)
		dst = append(dst, currencies[r.IntN(len(currencies))]...)
		dst = append(dst, '"')
	}
	return append(dst, "}}"...)
}

func (g *Generator) pickType() string {
	x := g.rng.Float64() * g.total
	for i, c := range g.cumW {
		if x < c {
			return EventTypes[i]
		}
	}
	return EventTypes[len(EventTypes)-1]
}

func appendHex(dst []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(v>>uint(shift))&0xf])
	}
	return dst
}

func appendPadded(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// GenEvents returns n generated input events (see Generator), one JSON object
// per element without a trailing newline. The same n and seed always yield
// the same events. The events share one backing array.
func GenEvents(n int, seed int64) [][]byte {
	g := NewGenerator(n, seed)
	buf := make([]byte, 0, n*210)
	ends := make([]int, n)
	for i := range n {
		buf = g.Append(buf)
		ends[i] = len(buf)
	}
	out := make([][]byte, n)
	start := 0
	for i, end := range ends {
		out[i] = buf[start:end:end]
		start = end
	}
	return out
}

// NDJSONBodies groups events into request bodies of batch events each (the
// last may be shorter), one event per line, each line ending in '\n'.
func NDJSONBodies(events [][]byte, batch int) [][]byte {
	if batch < 1 {
		batch = 1
	}
	bodies := make([][]byte, 0, (len(events)+batch-1)/batch)
	for start := 0; start < len(events); start += batch {
		end := min(start+batch, len(events))
		size := 0
		for _, e := range events[start:end] {
			size += len(e) + 1
		}
		b := make([]byte, 0, size)
		for _, e := range events[start:end] {
			b = append(b, e...)
			b = append(b, '\n')
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// inputEvent is the input format of POST /v1/events.
type inputEvent struct {
	ID        string          `json:"id"`
	EntityID  string          `json:"entity_id"`
	EventType string          `json:"event_type"`
	Timestamp time.Time       `json:"timestamp"`
	Payload   json.RawMessage `json:"payload"`
	Metadata  json.RawMessage `json:"metadata"`
}

// emptyObject is the metadata stored for events that carry none.
var emptyObject = json.RawMessage(`{}`)

// ToStored turns input events into the rows a warehouse stores, as the
// server would: seq numbered from 1 in order, a UUIDv7 id (derived from the
// timestamp and seed, so deterministic) unless the event has one, tenant
// "default", a per-entity version counting from 1, ingested_at = now, and
// metadata {} when absent. The baselines load these rows; decoding is not
// part of their timed work.
func ToStored(events [][]byte, seed int64) ([]allsource.Event, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xda3e39cb94b95bdb))
	versions := make(map[string]uint64, min(len(events), EntityPool))
	now := time.Now().UTC()
	out := make([]allsource.Event, len(events))
	for i, raw := range events {
		var in inputEvent
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		id := in.ID
		if id == "" {
			id = uuidV7(in.Timestamp, rng)
		}
		meta := in.Metadata
		if len(meta) == 0 || string(meta) == "null" {
			meta = emptyObject
		}
		versions[in.EntityID]++
		out[i] = allsource.Event{
			Seq:        uint64(i + 1),
			ID:         id,
			Tenant:     allsource.DefaultTenant,
			EntityID:   in.EntityID,
			EventType:  in.EventType,
			Version:    versions[in.EntityID],
			Timestamp:  in.Timestamp.UTC(),
			IngestedAt: now,
			Payload:    in.Payload,
			Metadata:   meta,
		}
	}
	return out, nil
}

// uuidV7 formats a version-7 UUID for time t with random bits from rng.
func uuidV7(t time.Time, rng *rand.Rand) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	r1, r2 := rng.Uint64(), rng.Uint64()
	b[6], b[7] = byte(r1), byte(r1>>8)
	for i := range 8 {
		b[8+i] = byte(r2 >> (8 * i))
	}
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[x>>4], hexd[x&0xf])
	}
	return string(out)
}
