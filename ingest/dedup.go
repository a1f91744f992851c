package ingest

import "github.com/google/uuid"

// dedupWindow remembers the ids of the most recent events (tenant-scoped)
// and the seq they were stored at: a ring with one slot per event, so the
// window is the last N events whether or not they carried a client id (a
// generated id takes a slot but is not remembered: it cannot be re-sent).
// On start the window is refilled from the newest N stored events, so it
// means the same after a restart. Writer goroutine only.
type dedupWindow struct {
	ids  map[dedupKey]uint64 // -> seq
	ring []dedupKey
	next int
	full bool
}

// dedupKey scopes an id to its tenant: the same id in two tenants is two
// events.
type dedupKey struct {
	id     uuid.UUID
	tenant string
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{ids: make(map[dedupKey]uint64), ring: make([]dedupKey, n)}
}

func (d *dedupWindow) lookup(id uuid.UUID, tenant string) (uint64, bool) {
	seq, ok := d.ids[dedupKey{id, tenant}]
	return seq, ok
}

// skip takes a slot for an event whose id was generated.
func (d *dedupWindow) skip() {
	if d.full {
		delete(d.ids, d.ring[d.next])
	}
	d.ring[d.next] = dedupKey{}
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
}

// add remembers id at seq. An id already remembered keeps its first seq: the
// original event is the one duplicates point at.
func (d *dedupWindow) add(id uuid.UUID, tenant string, seq uint64) {
	k := dedupKey{id, tenant}
	if _, ok := d.ids[k]; ok {
		return
	}
	if d.full {
		delete(d.ids, d.ring[d.next])
	}
	d.ring[d.next] = k
	d.ids[k] = seq
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
}
