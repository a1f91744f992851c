// Package projections keeps derived views of the events current as they
// arrive. This file holds live subscriptions: a Hub that the ingest
// applier publishes every stored batch to, and subscriptions that replay
// stored events from a position and then continue with live ones, with no
// gap and no duplicate at the switch.
//
// Ingest never waits on a subscriber: Publish hands each subscriber its
// matching events without blocking, and a subscriber whose buffer is full
// is ended with a reason (it resumes from the last seq it saw).
package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/warehouse"
)

// Filter selects events: a tenant (required; AllTenants for every
// tenant but the server's own), event types (glob
// patterns, "order.*"; none: all) and entity ids (none: all), with the
// reader's restriction applied.
type Filter struct {
	Tenant    string
	Types     []string
	Entities  []string
	Where     []Predicate // all must hold
	Restrict  allsource.ReadRestriction
	entitySet map[string]bool
}

// Predicate compares a payload field with a value: payload.amount>=100,
// payload.country=DE, payload.vip=true. Numbers compare as numbers,
// everything else as text; a missing field matches only !=.
type Predicate struct {
	Path  []string // keys below payload
	Op    string   // = != > >= < <=
	Value any      // float64, string, bool or nil (JSON null)
}

// ParsePredicate reads "payload.a.b<op>value" (data. is accepted for
// payload.). The value is JSON (a number, true, false, null, "text") or
// bare text.
func ParsePredicate(s string) (Predicate, error) {
	var p Predicate
	i := strings.IndexAny(s, "=!<>")
	if i <= 0 {
		return p, fmt.Errorf("%q: want payload.<field><op><value>, op one of = != > >= < <=", s)
	}
	field, rest := strings.TrimSpace(s[:i]), s[i:]
	for _, op := range []string{">=", "<=", "!=", "=", ">", "<"} {
		if strings.HasPrefix(rest, op) {
			p.Op, rest = op, strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if p.Op == "" || strings.ContainsAny(rest[:min(1, len(rest))], "=!<>") {
		return p, fmt.Errorf("%q: unknown operator (want = != > >= < <=)", s)
	}
	switch {
	case strings.HasPrefix(field, "payload."):
		field = field[len("payload."):]
	case strings.HasPrefix(field, "data."):
		field = field[len("data."):]
	default:
		return p, fmt.Errorf("%q: the field must start with payload.", s)
	}
	p.Path = strings.Split(field, ".")
	for _, k := range p.Path {
		if k == "" {
			return p, fmt.Errorf("%q: empty key in the field", s)
		}
	}
	if err := json.Unmarshal([]byte(rest), &p.Value); err != nil {
		p.Value = rest // bare text
	}
	switch p.Value.(type) {
	case map[string]any, []any:
		return p, fmt.Errorf("%q: compare with a number, text, true, false or null", s)
	}
	return p, nil
}

// holds reports whether the payload (decoded) satisfies p.
func (p *Predicate) holds(doc any) bool {
	cur := doc
	for _, k := range p.Path {
		m, ok := cur.(map[string]any)
		if !ok {
			return p.Op == "!="
		}
		if cur, ok = m[k]; !ok {
			return p.Op == "!="
		}
	}
	cmp, ok := compareJSON(cur, p.Value)
	if !ok {
		return p.Op == "!="
	}
	switch p.Op {
	case "=":
		return cmp == 0
	case "!=":
		return cmp != 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "<":
		return cmp < 0
	default:
		return cmp <= 0
	}
}

// compareJSON orders two JSON values of the same kind (numbers, strings,
// booleans, nulls); a number compared with text that parses as one is
// compared as a number.
func compareJSON(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			s, isStr := b.(string)
			if !isStr {
				return 0, false
			}
			var err error
			if y, err = strconv.ParseFloat(s, 64); err != nil {
				return 0, false
			}
		}
		return cmpOrdered(x, y), true
	case string:
		switch y := b.(type) {
		case string:
			return strings.Compare(x, y), true
		case float64:
			return strings.Compare(x, strconv.FormatFloat(y, 'f', -1, 64)), true
		case bool:
			return strings.Compare(x, strconv.FormatBool(y)), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			if x == y {
				return 0, true
			}
			return 1, true
		}
	case nil:
		if b == nil {
			return 0, true
		}
	}
	return 0, false
}

func cmpOrdered(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Validate reports what is wrong with f as a subscription's filter: no
// tenant, an event type pattern that is not valid (invalid), or a where
// on a field hidden from the reader (forbidden). Subscribe checks the
// same; a front end calls Validate to refuse a request before it answers
// anything.
func (f Filter) Validate() error { return f.prepare() }

// prepare checks f and builds what matching needs.
func (f *Filter) prepare() error {
	if f.Tenant == "" {
		return errors.New("projections: a subscription needs a tenant")
	}
	for _, g := range append(append([]string(nil), f.Types...), f.Restrict.OnlyTypes...) {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return allsource.Errorf(allsource.CodeInvalid, "event type pattern %q is not valid", g)
		}
	}
	for _, p := range f.Where {
		field := "payload." + strings.Join(p.Path, ".")
		for _, h := range f.Restrict.HiddenFields {
			if field == h || strings.HasPrefix(field, h+".") || strings.HasPrefix(h, field+".") {
				return allsource.Errorf(allsource.CodeForbidden, "where: %s is hidden from you", field)
			}
		}
	}
	if len(f.Entities) > 0 {
		f.entitySet = make(map[string]bool, len(f.Entities))
		for _, e := range f.Entities {
			f.entitySet[e] = true
		}
	}
	return nil
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// takesAll reports whether f selects every event of a batch unchanged (no
// type, entity or payload filter, no restriction, one tenant), so the
// batch can be shared.
func (f *Filter) takesAll(events []allsource.Event) bool {
	if len(f.Types) > 0 || f.entitySet != nil || len(f.Where) > 0 || len(f.Restrict.OnlyTypes) > 0 ||
		len(f.Restrict.HiddenTypes) > 0 || len(f.Restrict.HiddenFields) > 0 || f.Tenant == allsource.AllTenants {
		return false
	}
	for i := range events {
		if events[i].Tenant != f.Tenant {
			return false
		}
	}
	return true
}

// Match reports whether f selects e.
func (f *Filter) Match(e *allsource.Event) bool {
	if e.Tenant != f.Tenant && !(f.Tenant == allsource.AllTenants && !allsource.Reserved(e.Tenant)) {
		return false
	}
	if len(f.Types) > 0 && !matchAny(f.Types, e.EventType) {
		return false
	}
	if f.entitySet != nil && !f.entitySet[e.EntityID] {
		return false
	}
	if len(f.Restrict.OnlyTypes) > 0 && !matchAny(f.Restrict.OnlyTypes, e.EventType) {
		return false
	}
	if matchAny(f.Restrict.HiddenTypes, e.EventType) {
		return false
	}
	if len(f.Where) > 0 {
		var doc any
		if json.Unmarshal(e.Payload, &doc) != nil {
			return false
		}
		for i := range f.Where {
			if !f.Where[i].holds(doc) {
				return false
			}
		}
	}
	return true
}

// Event is an event as subscribers receive it: the JSON of the entity
// stream endpoint.
type Event = warehouse.EntityEvent

func eventOf(e *allsource.Event) Event {
	return Event{Seq: e.Seq, ID: e.ID, Tenant: e.Tenant, EntityID: e.EntityID, EventType: e.EventType, Version: e.Version,
		Timestamp: e.Timestamp, IngestedAt: e.IngestedAt, Payload: e.Payload, Metadata: e.Metadata}
}

// view is what f's reader may see of e: hidden payload fields removed.
func (f *Filter) view(e *allsource.Event) Event {
	out := eventOf(e)
	if len(f.Restrict.HiddenFields) > 0 {
		out.Payload = withoutFields(e.Payload, f.Restrict.HiddenFields)
	}
	return out
}

// withoutFields removes payload paths ("payload.a.b") from a JSON object.
func withoutFields(payload json.RawMessage, fields []string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return payload
	}
	for _, f := range fields {
		keys := strings.Split(strings.TrimPrefix(f, "payload."), ".")
		cur := m
		for i, k := range keys {
			if i == len(keys)-1 {
				delete(cur, k)
				break
			}
			next, ok := cur[k].(map[string]any)
			if !ok {
				break
			}
			cur = next
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return b
}

// Hub fans stored events out to live subscribers.
type Hub struct {
	mu      sync.Mutex
	last    uint64 // highest seq published
	subs    map[*sub]struct{}
	limited map[string]int // subscriptions with a TenantLimit, per tenant
	closed  bool

	// Subscribers that send JSON share one encoding of each live event,
	// kept in a ring by seq for as long as it is likely to be sent.
	jsonSubs atomic.Int64
	ring     [encodedRing]atomic.Pointer[encoded]
}

// encoded is one event's JSON, as every unrestricted subscriber sends it.
type encoded struct {
	seq  uint64
	json []byte
}

const encodedRing = 1 << 16

// EncodedJSON is the shared JSON of a live event (nil when not kept):
// what json.Marshal of the event gives, for readers without a restriction.
func (h *Hub) EncodedJSON(seq uint64) []byte {
	if p := h.ring[seq%encodedRing].Load(); p != nil && p.seq == seq {
		return p.json
	}
	return nil
}

// encodeJSON keeps the JSON of events for the JSON subscribers.
func (h *Hub) encodeJSON(events []allsource.Event) {
	for i := range events {
		b, err := json.Marshal(eventOf(&events[i]))
		if err != nil {
			continue
		}
		h.ring[events[i].Seq%encodedRing].Store(&encoded{seq: events[i].Seq, json: b})
	}
}

// sub is one subscriber: its batches of matching events (one per
// Publish), and how many events are queued in them, which its buffer
// bounds.
type sub struct {
	f      *Filter
	ch     chan []Event
	queued atomic.Int64
	limit  int64
	reason chan string // one reason, when the hub ends it
	client bool        // not Internal
}

// NewHub returns a hub whose events so far end at last (the warehouse's
// data watermark at start).
func NewHub(last uint64) *Hub {
	return &Hub{last: last, subs: map[*sub]struct{}{}, limited: map[string]int{}}
}

// Advance records that events up to seq are stored (recovered at start,
// before anyone subscribed).
func (h *Hub) Advance(seq uint64) {
	h.mu.Lock()
	h.last = max(h.last, seq)
	h.mu.Unlock()
}

// Publish hands stored events (in seq order) to the subscribers. It never
// blocks: a subscriber without room is ended as a slow consumer.
func (h *Hub) Publish(events []allsource.Event) {
	if len(events) == 0 {
		return
	}
	if h.jsonSubs.Load() > 0 {
		h.encodeJSON(events)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var shared []Event // the whole batch, for subscribers that see all of it
	for s := range h.subs {
		var batch []Event
		if s.f.takesAll(events) {
			if shared == nil {
				shared = make([]Event, len(events))
				for i := range events {
					shared[i] = eventOf(&events[i])
				}
			}
			batch = shared // read-only for every subscriber
		} else {
			for i := range events {
				if e := &events[i]; s.f.Match(e) {
					batch = append(batch, s.f.view(e))
				}
			}
		}
		if len(batch) == 0 {
			continue
		}
		if s.queued.Add(int64(len(batch))) > s.limit {
			h.endLocked(s, fmt.Sprintf("slow consumer: more than %d events behind; resume from the last seq received", s.limit))
			continue
		}
		select {
		case s.ch <- batch:
		default: // as many batches queued as events allowed: also too far behind
			h.endLocked(s, fmt.Sprintf("slow consumer: more than %d events behind; resume from the last seq received", s.limit))
		}
	}
	h.last = max(h.last, events[len(events)-1].Seq)
}

func (h *Hub) endLocked(s *sub, reason string) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.reason <- reason
	close(s.ch)
}

// Close ends every subscription ("the server is shutting down") and
// refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, "the server is shutting down; resume from the last seq received")
	}
}

// Closed reports whether Close was called: a subscription the hub ended
// since then ended because the server is going away.
func (h *Hub) Closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Subscribers is how many clients' subscriptions are live (the server's
// own, such as projection runners, are not counted).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.subs {
		if s.client {
			n++
		}
	}
	return n
}

// Start says where a subscription begins: after a seq, at the end (from
// now), or at a time.
type Start struct {
	AfterSeq uint64    // events with a larger seq
	Now      bool      // only events published from now on
	Since    time.Time // events at or after this time (when not zero)
}

// SubOptions tune a subscription.
type SubOptions struct {
	Buffer    int           // live events held for a slow reader; default 10,000
	Heartbeat time.Duration // with Idle: how often an idle live stream calls it
	Idle      func() error  // keeps an idle stream open (a comment line)
	// Ready, when set, is called once the subscription is registered:
	// events stored from then on are certain to reach it (what from=now
	// means), so a front end answers its client only then.
	Ready func()
	// CaughtUp, when set, is called once the stored events are sent, with
	// the seq up to which every event was considered.
	CaughtUp func(seq uint64)
	// MaxBatch, when set, merges live batches already queued into one
	// send of up to this many events.
	MaxBatch int
	// Linger, when set, spaces live sends at least this far apart: a
	// batch that arrives sooner after the last send waits out the rest,
	// merged with what comes meanwhile (up to MaxBatch). A reader whose
	// every send has a fixed cost (a projection's engine statements)
	// then pays it at most 1/Linger times a second under a fast stream,
	// and not at all more late under a slow one.
	Linger time.Duration
	// JSON says the subscriber sends events as JSON: the hub then keeps
	// one encoding of each live event for every such subscriber
	// (EncodedJSON).
	JSON bool
	// TenantLimit, when set, bounds the subscriptions with a TenantLimit
	// that the filter's tenant holds at once (clients' subscriptions;
	// the server's own, such as projection runners, set none): past it,
	// SubscribeBatches refuses with CodeRateLimited.
	TenantLimit int
	// Internal marks the server's own subscriptions (projection runners):
	// Subscribers does not count them.
	Internal bool
}

// Subscribe streams f's events from start to send, stored ones first, then
// live ones, until ctx ends, send fails, or the hub ends the subscription
// (the returned error says why).
func (h *Hub) Subscribe(ctx context.Context, wh *warehouse.Warehouse, f Filter, start Start, o SubOptions, send func(Event) error) error {
	return h.SubscribeBatches(ctx, wh, f, start, o, func(batch []Event) error {
		for _, e := range batch {
			if err := send(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// SubscribeBatches is Subscribe handing events over in batches (a page of
// stored events, or the matching part of one published batch), in seq
// order, never empty.
func (h *Hub) SubscribeBatches(ctx context.Context, wh *warehouse.Warehouse, f Filter, start Start, o SubOptions, send func([]Event) error) error {
	if err := f.prepare(); err != nil {
		return err
	}
	if o.Buffer <= 0 {
		o.Buffer = 10_000
	}
	if o.JSON {
		h.jsonSubs.Add(1)
		defer h.jsonSubs.Add(-1)
	}
	s := &sub{f: &f, ch: make(chan []Event, min(o.Buffer, 4096)), limit: int64(o.Buffer), reason: make(chan string, 1), client: !o.Internal}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return &Ended{Reason: "the server is shutting down"}
	}
	if o.TenantLimit > 0 {
		if n := h.limited[f.Tenant]; n >= o.TenantLimit {
			h.mu.Unlock()
			return allsource.Errorf(allsource.CodeRateLimited, "tenant %s has %d live subscriptions, the most it may hold at once; close one first", f.Tenant, n)
		}
		h.limited[f.Tenant]++
	}
	upTo := h.last // stored events up to here; later ones arrive live
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	if o.Ready != nil {
		o.Ready()
	}
	defer func() {
		h.mu.Lock()
		if _, ok := h.subs[s]; ok {
			delete(h.subs, s)
		}
		if o.TenantLimit > 0 {
			if h.limited[f.Tenant]--; h.limited[f.Tenant] <= 0 {
				delete(h.limited, f.Tenant)
			}
		}
		h.mu.Unlock()
	}()

	sent := start.AfterSeq
	if start.Now {
		sent = upTo
	} else if err := catchUp(ctx, wh, &f, start, upTo, func(batch []Event) error {
		sent = batch[len(batch)-1].Seq
		return send(batch)
	}); err != nil {
		return err
	}
	if o.CaughtUp != nil {
		o.CaughtUp(max(upTo, start.AfterSeq))
	}
	var lastSend time.Time
	var beat <-chan time.Time
	if o.Idle != nil && o.Heartbeat > 0 {
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat:
			if err := o.Idle(); err != nil {
				return err
			}
		case batch, ok := <-s.ch:
			if !ok {
				return &Ended{Reason: <-s.reason}
			}
			s.queued.Add(-int64(len(batch)))
			closed := false
		more:
			for o.MaxBatch > 0 && len(batch) < o.MaxBatch {
				select {
				case next, ok := <-s.ch:
					if !ok {
						closed = true
						break more
					}
					s.queued.Add(-int64(len(next)))
					batch = append(batch[:len(batch):len(batch)], next...)
				default:
					break more
				}
			}
			if wait := time.Until(lastSend.Add(o.Linger)); o.Linger > 0 && !closed && wait > 0 {
				t := time.NewTimer(wait)
			linger:
				for o.MaxBatch <= 0 || len(batch) < o.MaxBatch {
					select {
					case <-ctx.Done():
						t.Stop()
						return ctx.Err()
					case <-t.C:
						break linger
					case next, ok := <-s.ch:
						if !ok {
							closed = true
							break linger
						}
						s.queued.Add(-int64(len(next)))
						batch = append(batch[:len(batch):len(batch)], next...)
					}
				}
				t.Stop()
			}
			i := 0
			for i < len(batch) && batch[i].Seq <= sent {
				i++ // already sent from storage
			}
			if i == len(batch) {
				continue
			}
			lastSend = time.Now()
			if err := send(batch[i:]); err != nil {
				return err
			}
			sent = batch[len(batch)-1].Seq
			if closed {
				return &Ended{Reason: <-s.reason}
			}
		}
	}
}

// Ended is a subscription the hub ended, with the reason.
type Ended struct{ Reason string }

func (e *Ended) Error() string { return "subscription ended: " + e.Reason }

// catchUp sends f's stored events after start up to seq upTo, a page at a
// time.
func catchUp(ctx context.Context, wh *warehouse.Warehouse, f *Filter, start Start, upTo uint64, send func([]Event) error) error {
	const page = 5000
	after := start.AfterSeq
	if after >= upTo {
		return nil
	}
	if len(f.Entities) > 0 && len(f.Entities) <= maxIndexedEntities && f.Tenant != allsource.AllTenants {
		return catchUpEntities(ctx, wh, f, start, upTo, send)
	}
	return catchUpQuery(ctx, wh, f, start, upTo, send)
}

// catchUpQuery sends f's stored events after start up to seq upTo from a
// query over the events, a page at a time.
func catchUpQuery(ctx context.Context, wh *warehouse.Warehouse, f *Filter, start Start, upTo uint64, send func([]Event) error) error {
	const page = 5000
	after := start.AfterSeq
	var conds []string
	var args []any
	if len(f.Types) > 0 {
		var ors []string
		for _, g := range f.Types {
			ors = append(ors, "event_type GLOB ?")
			args = append(args, g)
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if len(f.Entities) > 0 {
		conds = append(conds, "entity_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Entities)), ", ")+")")
		for _, e := range f.Entities {
			args = append(args, e)
		}
	}
	if !start.Since.IsZero() {
		conds = append(conds, `"timestamp" >= ?`)
		args = append(args, start.Since.UTC())
	}
	where := ""
	if len(conds) > 0 {
		where = " AND " + strings.Join(conds, " AND ")
	}
	// The scope and restriction of the reader bind the view; the filter
	// runs again in Go on every event.
	qctx := allsource.WithReadRestriction(allsource.WithTenantScope(ctx, f.Tenant), f.Restrict)
	q := `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload::VARCHAR, metadata::VARCHAR
		FROM events WHERE seq > ? AND seq <= ?` + where + ` ORDER BY seq LIMIT ` + fmt.Sprint(page)
	for after < upTo {
		rows, err := wh.QueryInternal(qctx, q, append([]any{after, upTo}, args...)...)
		if err != nil {
			return err
		}
		n := 0
		var batch []Event
		for rows.Next() {
			var e allsource.Event
			var payload, metadata sql.NullString
			if err := rows.Scan(&e.Seq, &e.ID, &e.Tenant, &e.EntityID, &e.EventType, &e.Version, &e.Timestamp, &e.IngestedAt, &payload, &metadata); err != nil {
				rows.Close()
				return err
			}
			e.Payload, e.Metadata = json.RawMessage(payload.String), json.RawMessage(metadata.String)
			n++
			after = e.Seq
			if f.Match(&e) {
				batch = append(batch, eventOf(&e))
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := send(batch); err != nil {
				return err
			}
		}
		if n < page {
			return nil
		}
	}
	return nil
}

// maxIndexedEntities is the most entities a subscription names for its
// catch-up to read their streams rather than query the events.
const maxIndexedEntities = 100

// catchUpEntities sends f's stored events after start up to upTo from the
// streams of its entities (the entity index and the hot tier, as
// Warehouse.EntityEvents reads them, a page of each at a time), merged in
// seq order.
func catchUpEntities(ctx context.Context, wh *warehouse.Warehouse, f *Filter, start Start, upTo uint64, send func([]Event) error) error {
	const page = 5000
	qctx := allsource.WithReadRestriction(allsource.WithTenantScope(ctx, f.Tenant), f.Restrict)
	type cursor struct {
		entity string
		buf    []warehouse.EntityEvent
		next   uint64 // the version the next page starts at
		done   bool   // no page after buf
	}
	fill := func(c *cursor) error {
		for len(c.buf) == 0 && !c.done {
			evs, err := wh.EntityEvents(qctx, f.Tenant, c.entity, c.next, page)
			if err != nil {
				return err
			}
			c.done = len(evs) < page
			if len(evs) > 0 {
				c.next = evs[len(evs)-1].Version + 1
			}
			for _, e := range evs {
				if e.Seq > start.AfterSeq && e.Seq <= upTo {
					c.buf = append(c.buf, e)
				}
			}
		}
		return nil
	}
	seen := map[string]bool{}
	var cursors []*cursor
	for _, e := range f.Entities {
		if !seen[e] {
			seen[e] = true
			cursors = append(cursors, &cursor{entity: e})
		}
	}
	var batch []Event
	for {
		var low *cursor
		for _, c := range cursors {
			if err := fill(c); err != nil {
				return err
			}
			if len(c.buf) > 0 && (low == nil || c.buf[0].Seq < low.buf[0].Seq) {
				low = c
			}
		}
		if low == nil {
			break
		}
		ee := low.buf[0]
		low.buf = low.buf[1:]
		e := allsource.Event{Seq: ee.Seq, ID: ee.ID, Tenant: ee.Tenant, EntityID: ee.EntityID, EventType: ee.EventType, Version: ee.Version,
			Timestamp: ee.Timestamp, IngestedAt: ee.IngestedAt, Payload: ee.Payload, Metadata: ee.Metadata}
		if (start.Since.IsZero() || !e.Timestamp.Before(start.Since)) && f.Match(&e) {
			batch = append(batch, eventOf(&e))
		}
		if len(batch) == page {
			if err := send(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}
