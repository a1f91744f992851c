// Package demo generates a realistic, deterministic history of an online shop
// as events in AllSource's input format (NDJSON, one event per line), so that
// AllSource can be tried, tested and benchmarked on data with real structure.
//
// # What is in the data
//
// Every event belongs to a user: entity_id is the user id, "user-000001",
// "user-000002", and so on. Users sign up spread over the period, a little
// more towards its end, and then come back on later days less and less often.
// Times are RFC 3339 in UTC with milliseconds; visits follow the users' local
// time of day (quiet at night, busy in the evening) and weekends are busier.
// Events come out in time order, and each user's events in strictly
// increasing time.
//
// Event types and their payloads:
//
//   - user.signed_up: country, device, os, channel (organic, paid_search,
//     social, referral, email, affiliate), referrer, utm_campaign, plan
//     (free or plus), age_band, marketing_opt_in. The first event of
//     every user.
//   - session.started: session_id, device, os, platform (web or app),
//     country, source, referrer, landing_page.
//   - page.viewed: session_id, path, title, referrer_path, load_ms,
//     scroll_pct.
//   - product.viewed: session_id, product_id, name, category, price,
//     position, list.
//   - cart.item_added: session_id, product_id, category, quantity, price,
//     cart_items.
//   - checkout.started: session_id, cart_value, items, currency,
//     shipping_method and, sometimes, coupon.
//   - order.placed: session_id, order_id, subtotal, discount, tax,
//     shipping, total, currency (USD), items, payment_method (which
//     depends on the country).
//   - order.refunded: order_id, amount, currency, reason, items; 2 to 21
//     days after about 7% of orders (if that is still within the period).
//
// Every session event carries its session_id. Metadata says which SDK sent
// the event ({"source":"demo","sdk":"ios-5.2.0"}). Every event has an id, a
// UUID that follows from the options (seed, period, tenant) and the event's
// place in its user's history: the same options give the same ids, so a
// store that skips duplicate ids keeps one copy of a history loaded twice.
//
// # Shapes to find
//
// The funnel within a session: about 60% of sessions view a product, about
// 30% of those add to the cart, about half of those start a checkout and
// about 70% of checkouts end in an order. Desktop converts better than
// mobile at every step, and the checkout and order steps vary by country
// (Germany, the Netherlands and Australia convert best, India and Brazil
// worst). Plus members and returning buyers convert better.
//
// Retention: about 40% of a signup cohort is active in week 1 (days 7–13
// after signing up), falling to about 15% by week 8. Users from referrals
// and email come back most, users from social ads least. Each user also has
// a favourite category that half of their product views fall in, and
// products have Zipf-like popularity.
//
// With the default Options (2,000 users over 90 days) the history holds
// about 32,000 events (some 11 MB).
package demo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// DefaultEnd is where the default period ends: the default Start is Days
// before it.
var DefaultEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Defaults of Options.
const (
	DefaultUsers = 2000
	DefaultDays  = 90
	DefaultSeed  = 1
)

// Limits of Options.
const (
	MaxUsers = 10_000_000
	MaxDays  = 3650
)

// Options shape a generated history. Zero fields take their defaults.
type Options struct {
	Users  int       // number of users; default 2000
	Days   int       // length of the period in days; default 90
	Start  time.Time // first day (its UTC date is used); default Days before DefaultEnd
	Seed   int64     // random seed; default 1
	Tenant string    // when set, every event carries this tenant
}

// WithDefaults returns o with its zero fields set to the defaults.
func (o Options) WithDefaults() Options {
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.Start.IsZero() {
		o.Start = DefaultEnd.AddDate(0, 0, -o.Days)
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	return o
}

// Validate reports options out of range. It applies the defaults first, so
// zero fields are valid.
func (o Options) Validate() error {
	o = o.WithDefaults()
	switch {
	case o.Users < 1 || o.Users > MaxUsers:
		return fmt.Errorf("demo: users must be between 1 and %d, not %d", MaxUsers, o.Users)
	case o.Days < 1 || o.Days > MaxDays:
		return fmt.Errorf("demo: days must be between 1 and %d, not %d", MaxDays, o.Days)
	case o.Start.Year() < 1970 || o.Start.AddDate(0, 0, o.Days+30).Year() > 9999:
		return fmt.Errorf("demo: start %s is out of range", o.Start.Format(time.DateOnly))
	case len(o.Tenant) > 64:
		return errors.New("demo: tenant is longer than 64 bytes")
	}
	for _, r := range o.Tenant {
		if r == '"' || r == '\\' || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("demo: tenant %q has a character that is not allowed", o.Tenant)
		}
	}
	return nil
}

// Generate writes the history described in the package comment to w as
// NDJSON and returns the number of events written. The output depends only
// on opts: the same options give the same bytes.
func Generate(w io.Writer, opts Options) (int, error) {
	if err := opts.Validate(); err != nil {
		return 0, err
	}
	opts = opts.WithDefaults()
	bw := bufio.NewWriterSize(w, 256<<10)
	g := newGenerator(opts)
	n, err := g.run(bw)
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// user is one simulated customer.
type user struct {
	id         string
	rng        *rand.Rand
	signupDay  int
	country    *country
	device     *device
	os         string
	channel    *channel
	plan       *plan
	favorite   int     // favourite category
	engagement float64 // how likely to come back, around 1
	ageBand    string
	optIn      bool
	campaign   string
	referrer   string

	last     int64 // time of the last event, ms since the epoch
	seq      uint32
	sessions int
	orders   int
	refunds  []pendingRefund
}

type pendingRefund struct {
	at      int64
	orderID string
	cents   int64
	items   int64
}

// pooled is one encoded event waiting to be written in time order.
type pooled struct {
	ts       int64
	user     int32
	seq      uint32
	off, end int
}

type generator struct {
	opts   Options
	idBase uint64 // the options' share of every event id
	start  int64  // first day, ms
	users  []*user
	tenant []byte // `,"tenant":"…"` or nil

	arena []byte // encoded events of the pool
	spare []byte // the other arena, reused by flush
	pool  []pooled
	cur   *user
	curN  int32
	first bool // no payload field written yet
}

func newGenerator(o Options) *generator {
	y, m, d := o.Start.UTC().Date()
	g := &generator{
		opts:  o,
		start: time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli(),
	}
	h := fnv.New64a()
	// Not the number of users: a user's history does not depend on it.
	fmt.Fprintf(h, "%d|%d|%d|%s", o.Seed, g.start, o.Days, o.Tenant)
	g.idBase = h.Sum64()
	if o.Tenant != "" {
		g.tenant = append([]byte(`,"tenant":"`), o.Tenant...)
		g.tenant = append(g.tenant, '"')
	}
	g.users = make([]*user, o.Users)
	for i := range g.users {
		g.users[i] = g.newUser(i)
	}
	return g
}

// newUser draws a user's fixed traits from its own random stream, so that a
// user does not change when the number of users does.
func (g *generator) newUser(i int) *user {
	r := rand.New(rand.NewPCG(uint64(g.opts.Seed), uint64(i)+1))
	u := &user{id: fmt.Sprintf("user-%06d", i+1), rng: r}
	// More sign-ups towards the end of the period: the shop grows.
	u.signupDay = min(int(float64(g.opts.Days)*math.Pow(r.Float64(), 0.85)), g.opts.Days-1)
	u.country = &countries[pickIndex(r, countries, func(c *country) float64 { return c.weight })]
	u.device = &devices[pickIndex(r, devices, func(d *device) float64 { return d.weight })]
	u.os = pick(r, u.device.oses)
	u.channel = &channels[pickIndex(r, channels, func(c *channel) float64 { return c.weight })]
	u.plan = &plans[pickIndex(r, plans, func(p *plan) float64 { return p.weight })]
	u.favorite = r.IntN(len(categories))
	u.engagement = math.Exp(0.6*r.NormFloat64() - 0.18)
	u.ageBand = pick(r, ageBands)
	u.optIn = r.Float64() < 0.45
	u.referrer = u.channel.referrers[r.IntN(len(u.channel.referrers))]
	u.campaign = u.channel.campaigns[r.IntN(len(u.channel.campaigns))]
	return u
}

// localDay returns when day d starts in u's local time, in ms since the
// epoch.
func (g *generator) localDay(u *user, d int) int64 {
	return g.start + int64(d)*day - u.country.offset*minute
}

// timeOfDay draws a local time of day, in ms after midnight.
func timeOfDay(r *rand.Rand) int64 {
	h := int64(pickCum(r, hourCum))
	return h*hour + r.Int64N(hour)
}

// returnChance is the chance that u visits on a day that is since days after
// signing up. It decays from about 12% a day in the first week to a floor of
// under 2%.
func (g *generator) returnChance(u *user, d, since int) float64 {
	p := 0.024 + 0.15*math.Exp(-float64(since)/9)
	p *= u.engagement * u.channel.retention * u.plan.retention
	if u.orders > 0 {
		p *= 1.15
	}
	switch time.UnixMilli(g.start + int64(d)*day).UTC().Weekday() {
	case time.Saturday, time.Sunday:
		p *= 1.2
	case time.Friday:
		p *= 0.9
	}
	return min(p, 0.85)
}

// activity is something a user does on a day.
type activity struct {
	at     int64
	kind   int // actSignup, actSession, actRefund
	refund int
}

const (
	actSignup = iota
	actSession
	actRefund
)

// run simulates the period day by day and writes the events in time order.
func (g *generator) run(w *bufio.Writer) (int, error) {
	written := 0
	var acts []activity
	for d := 0; d < g.opts.Days; d++ {
		for n, u := range g.users {
			if d < u.signupDay {
				continue
			}
			g.cur, g.curN = u, int32(n)
			r := u.rng
			base := g.localDay(u, d)
			acts = acts[:0]
			if d == u.signupDay {
				at := base + timeOfDay(r)
				acts = append(acts, activity{at: at, kind: actSignup})
				if r.Float64() < 0.85 {
					acts = append(acts, activity{at: at + 3*second + r.Int64N(40*second), kind: actSession})
				}
			} else if r.Float64() < g.returnChance(u, d, d-u.signupDay) {
				acts = append(acts, activity{at: base + timeOfDay(r), kind: actSession})
				if r.Float64() < 0.12 {
					acts = append(acts, activity{at: base + timeOfDay(r), kind: actSession})
				}
			}
			end := base + day
			for i, rf := range u.refunds {
				if rf.at < end && rf.orderID != "" {
					acts = append(acts, activity{at: rf.at, kind: actRefund, refund: i})
				}
			}
			if len(acts) == 0 {
				continue
			}
			slices.SortStableFunc(acts, func(a, b activity) int { return cmpInt(a.at, b.at) })
			for _, a := range acts {
				switch a.kind {
				case actSignup:
					g.signup(a.at)
				case actSession:
					g.session(a.at)
				case actRefund:
					g.refund(a.refund)
				}
			}
			u.refunds = slices.DeleteFunc(u.refunds, func(rf pendingRefund) bool { return rf.orderID == "" })
		}
		// Day d+1 starts no earlier than this in any user's local time, so
		// everything before it is final.
		watermark := g.start + int64(d+1)*day - maxEastOffset - hour
		if d == g.opts.Days-1 {
			watermark = math.MaxInt64
		}
		n, err := g.flush(w, watermark)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// flush writes the pooled events before watermark in time order and keeps
// the rest.
func (g *generator) flush(w *bufio.Writer, watermark int64) (int, error) {
	slices.SortFunc(g.pool, func(a, b pooled) int {
		if c := cmpInt(a.ts, b.ts); c != 0 {
			return c
		}
		if c := cmpInt(int64(a.user), int64(b.user)); c != 0 {
			return c
		}
		return cmpInt(int64(a.seq), int64(b.seq))
	})
	n := 0
	for n < len(g.pool) && g.pool[n].ts < watermark {
		p := g.pool[n]
		if _, err := w.Write(g.arena[p.off:p.end]); err != nil {
			return n, err
		}
		n++
	}
	// Move the rest to the spare arena, which becomes the current one.
	rest := g.pool[n:]
	arena := g.spare[:0]
	for i := range rest {
		p := &rest[i]
		off := len(arena)
		arena = append(arena, g.arena[p.off:p.end]...)
		p.off, p.end = off, len(arena)
	}
	g.pool = append(g.pool[:0], rest...)
	g.spare, g.arena = g.arena, arena
	return n, nil
}

// begin starts an event of the current user at ts (moved after the user's
// previous event if need be) and opens its payload. It returns the time used.
func (g *generator) begin(ts int64, typ string) int64 {
	u := g.cur
	if ts <= u.last {
		ts = u.last + 1 + u.rng.Int64N(900)
	}
	u.last = ts
	u.seq++
	g.pool = append(g.pool, pooled{ts: ts, user: g.curN, seq: u.seq, off: len(g.arena)})
	b := append(g.arena, `{"id":"`...)
	b = g.appendID(b, g.curN, u.seq)
	b = append(b, `","entity_id":"`...)
	b = append(b, u.id...)
	b = append(b, `","event_type":"`...)
	b = append(b, typ...)
	b = append(b, `","timestamp":"`...)
	b = time.UnixMilli(ts).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","payload":{`...)
	g.arena = b
	g.first = true
	return ts
}

// end closes the payload, adds metadata and the tenant and ends the line.
func (g *generator) end(sdk string) {
	b := append(g.arena, `},"metadata":{"source":"demo","sdk":"`...)
	b = append(b, sdk...)
	b = append(b, `"}`...)
	b = append(b, g.tenant...)
	b = append(b, "}\n"...)
	g.arena = b
	g.pool[len(g.pool)-1].end = len(b)
}

func (g *generator) key(k string) {
	if !g.first {
		g.arena = append(g.arena, ',')
	}
	g.first = false
	g.arena = append(g.arena, '"')
	g.arena = append(g.arena, k...)
	g.arena = append(g.arena, `":`...)
}

// str adds a string field; values come from the tables and need no escaping.
func (g *generator) str(k, v string) {
	g.key(k)
	g.arena = append(g.arena, '"')
	g.arena = append(g.arena, v...)
	g.arena = append(g.arena, '"')
}

func (g *generator) num(k string, v int64) {
	g.key(k)
	g.arena = strconv.AppendInt(g.arena, v, 10)
}

// money adds an amount of cents as a number with two decimals.
func (g *generator) money(k string, cents int64) {
	g.key(k)
	g.arena = strconv.AppendInt(g.arena, cents/100, 10)
	g.arena = append(g.arena, '.', byte('0'+cents%100/10), byte('0'+cents%10))
}

func (g *generator) flag(k string, v bool) {
	g.key(k)
	g.arena = strconv.AppendBool(g.arena, v)
}

// sdkFor names the SDK of a device and OS.
func sdkFor(os string, app bool) string {
	switch {
	case !app:
		return "web-3.8.1"
	case os == "iOS" || os == "iPadOS":
		return "ios-5.2.0"
	default:
		return "android-5.1.3"
	}
}

// appendID appends the id of user n's seq-th event: a UUID (version 8,
// custom) drawn from the options and the event's place, so the same
// options give the same ids and loading a history twice stores it once.
func (g *generator) appendID(b []byte, n int32, seq uint32) []byte {
	hi := mix(g.idBase ^ uint64(n)<<32 ^ uint64(seq))
	lo := mix(hi ^ 0x9e3779b97f4a7c15)
	hi = hi&^0xf000 | 0x8000     // version 8
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 9562 variant
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], hi)
	binary.BigEndian.PutUint64(u[8:], lo)
	return append(b, u.String()...)
}

// mix is the splitmix64 finaliser: a bijection that spreads every input
// bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hexID returns a random id of 16 hex digits with a prefix.
func hexID(r *rand.Rand, prefix string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, len(prefix), len(prefix)+16)
	copy(b, prefix)
	v := r.Uint64()
	for range 16 {
		b = append(b, digits[v&15])
		v >>= 4
	}
	return string(b)
}

func (g *generator) signup(at int64) {
	u := g.cur
	g.begin(at, "user.signed_up")
	g.str("country", u.country.code)
	g.str("device", u.device.name)
	g.str("os", u.os)
	g.str("channel", u.channel.name)
	g.str("referrer", u.referrer)
	g.str("utm_campaign", u.campaign)
	g.str("plan", u.plan.name)
	g.str("age_band", u.ageBand)
	g.flag("marketing_opt_in", u.optIn)
	g.end(sdkFor(u.os, u.device.app > 0.5))
}

// gap draws a pause of about mean ms, at least lo ms, with millisecond
// noise.
func gap(r *rand.Rand, lo, mean int64) int64 {
	return lo + int64(r.ExpFloat64()*float64(mean-lo)) + r.Int64N(1000)
}

// session simulates one visit of the current user starting at start.
func (g *generator) session(start int64) {
	u := g.cur
	r := u.rng
	if start <= u.last {
		start = u.last + 20*minute + r.Int64N(3*hour)
	}
	u.sessions++
	dev := u.device
	os := u.os
	if r.Float64() < 0.15 {
		dev = &devices[pickIndex(r, devices, func(d *device) float64 { return d.weight })]
		os = pick(r, dev.oses)
	}
	app := r.Float64() < dev.app
	sdk := sdkFor(os, app)
	platform := "web"
	if app {
		platform = "app"
	}
	sid := hexID(r, "s_")

	source, referrer := u.channel.name, u.referrer
	if u.sessions > 1 {
		switch x := r.Float64(); {
		case x < 0.45:
			source, referrer = "direct", "direct"
		case x < 0.65:
			source, referrer = "email", "newsletter"
		case x < 0.80 && app:
			source, referrer = "push", "push_notification"
		}
	}
	// Pages first; the landing page is the first of them.
	nPages := 1 + min(int(r.ExpFloat64()*1.6), 7)
	paths := make([]string, nPages)
	titles := make([]string, nPages)
	for i := range paths {
		pg := pages[pickCum(r, pageCum)]
		paths[i], titles[i] = pg.path, pg.title
		if pg.path == "/category" {
			c := categories[g.favoriteOr(r, 0.6)]
			paths[i], titles[i] = "/category/"+c.name, c.title
		}
	}

	t := g.begin(start, "session.started")
	g.str("session_id", sid)
	g.str("device", dev.name)
	g.str("os", os)
	g.str("platform", platform)
	g.str("country", u.country.code)
	g.str("source", source)
	g.str("referrer", referrer)
	g.str("landing_page", paths[0])
	g.end(sdk)

	for i := range paths {
		t = g.begin(t+gap(r, 2*second, 35*second), "page.viewed")
		g.str("session_id", sid)
		g.str("path", paths[i])
		g.str("title", titles[i])
		if i > 0 {
			g.str("referrer_path", paths[i-1])
		} else {
			g.str("referrer_path", "")
		}
		g.num("load_ms", 120+int64(r.ExpFloat64()*380))
		g.num("scroll_pct", int64(10+r.IntN(91)))
		g.end(sdk)
	}

	// The funnel. Each step's chance depends on device, country, channel,
	// plan and whether the user bought before.
	conv := u.plan.conv
	if u.orders > 0 {
		conv *= 1.2
	}
	if r.Float64() >= 0.60*dev.steps[0] {
		return
	}
	nViews := 1 + min(int(r.ExpFloat64()*1.2), 5)
	cartChance := 0.30 * dev.steps[1] * u.channel.conv * conv
	addToCart := r.Float64() < cartChance
	addAt := -1
	if addToCart {
		addAt = r.IntN(nViews)
	}
	list := "category"
	if paths[len(paths)-1] == "/search" {
		list = "search_results"
	} else if paths[len(paths)-1] == "/sale" {
		list = "sale"
	}
	var cartItems, cartCents int64
	var added []int
	for i := range nViews {
		pi := g.pickProduct(r)
		p := &catalog[pi]
		t = g.begin(t+gap(r, 3*second, 40*second), "product.viewed")
		g.str("session_id", sid)
		g.str("product_id", p.id)
		g.str("name", p.name)
		g.str("category", categories[p.category].name)
		g.money("price", p.cents)
		g.num("position", int64(1+r.IntN(24)))
		g.str("list", list)
		g.end(sdk)
		// The chosen product, and now and then another, go into the cart.
		if i == addAt || (addAt >= 0 && i > addAt && r.Float64() < 0.25) {
			qty := int64(1)
			if x := r.Float64(); x < 0.05 {
				qty = 3
			} else if x < 0.2 {
				qty = 2
			}
			cartItems += qty
			cartCents += qty * p.cents
			added = append(added, pi)
			t = g.begin(t+gap(r, 4*second, 25*second), "cart.item_added")
			g.str("session_id", sid)
			g.str("product_id", p.id)
			g.str("category", categories[p.category].name)
			g.num("quantity", qty)
			g.money("price", p.cents)
			g.num("cart_items", cartItems)
			g.end(sdk)
		}
	}
	if len(added) == 0 {
		return
	}
	if r.Float64() >= 0.50*dev.steps[2]*math.Sqrt(u.country.conv)*conv {
		return
	}
	coupon := ""
	if r.Float64() < 0.18 {
		coupon = coupons[r.IntN(len(coupons))]
	}
	shipping := "standard"
	if r.Float64() < 0.2 {
		shipping = "express"
	}
	t = g.begin(t+gap(r, 10*second, 60*second), "checkout.started")
	g.str("session_id", sid)
	g.money("cart_value", cartCents)
	g.num("items", cartItems)
	g.str("currency", "USD")
	g.str("shipping_method", shipping)
	if coupon != "" {
		g.str("coupon", coupon)
	}
	g.end(sdk)

	if r.Float64() >= 0.70*dev.steps[3]*u.country.conv*math.Sqrt(conv) {
		return
	}
	discount := int64(0)
	if coupon != "" {
		discount = cartCents / 10
	}
	ship := int64(0)
	if cartCents-discount < 5000 || shipping == "express" {
		ship = 499
		if shipping == "express" {
			ship = 1299
		}
	}
	tax := int64(math.Round(float64(cartCents-discount) * u.country.taxRate))
	total := cartCents - discount + tax + ship
	orderID := hexID(r, "o_")
	t = g.begin(t+gap(r, 20*second, 90*second), "order.placed")
	g.str("session_id", sid)
	g.str("order_id", orderID)
	g.money("subtotal", cartCents)
	g.money("discount", discount)
	g.money("tax", tax)
	g.money("shipping", ship)
	g.money("total", total)
	g.str("currency", "USD")
	g.num("items", cartItems)
	g.str("payment_method", pick(r, u.country.payments))
	g.end(sdk)
	u.orders++

	if r.Float64() < 0.07 {
		amount := total
		items := cartItems
		if cartItems > 1 && r.Float64() < 0.5 {
			items = 1
			amount = catalog[added[0]].cents
		}
		at := t + 2*day + r.Int64N(19*day)
		u.refunds = append(u.refunds, pendingRefund{at: at, orderID: orderID, cents: amount, items: items})
	}
}

// favoriteOr returns the user's favourite category with chance p, another
// one otherwise.
func (g *generator) favoriteOr(r *rand.Rand, p float64) int {
	if r.Float64() < p {
		return g.cur.favorite
	}
	return r.IntN(len(categories))
}

// pickProduct draws a product: from the favourite category half of the
// time, by popularity otherwise.
func (g *generator) pickProduct(r *rand.Rand) int {
	if r.Float64() < 0.5 {
		ps := byCategory[g.cur.favorite]
		// Earlier products of a category are a little more popular.
		return ps[min(int(r.ExpFloat64()*4), len(ps)-1)]
	}
	return pickCum(r, catalogCum)
}

// refund emits the current user's pending refund i.
func (g *generator) refund(i int) {
	u := g.cur
	rf := &u.refunds[i]
	g.begin(rf.at, "order.refunded")
	g.str("order_id", rf.orderID)
	g.money("amount", rf.cents)
	g.str("currency", "USD")
	g.str("reason", pick(u.rng, refundReasons))
	g.num("items", rf.items)
	g.end("server-2.4.0")
	rf.orderID = ""
}
