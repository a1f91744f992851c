package ingest

import "github.com/google/uuid"

// dedupWindow remembers the most recent client-supplied ids (tenant-scoped)
// and the seq they were stored at. When full, the oldest id is forgotten.
// Writer goroutine only.
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
