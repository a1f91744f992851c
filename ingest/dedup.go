package ingest

import "github.com/google/uuid"

// dedupWindow remembers the ids of the most recent events (tenant-scoped)
// and the seq they were stored at. The window is the last N events, whether
// or not they carried a client id: a generated id only advances the event
// count (it cannot be re-sent, so it is not remembered). On start the
// window is refilled from the newest N stored events, so it means the same
// after a restart. Writer goroutine only.
type dedupWindow struct {
	ids   map[dedupKey]dedupSeen
	queue []dedupEntry // remembered ids, oldest first, from head
	head  int
	seen  uint64 // events counted so far
	size  uint64
}

// dedupKey scopes an id to its tenant: the same id in two tenants is two
// events.
type dedupKey struct {
	id     uuid.UUID
	tenant string
}

type dedupEntry struct {
	key dedupKey
	ord uint64 // the event's position in the count
}

// dedupSeen is what the window knows of an id: the seq of its first
// occurrence, which duplicates point at, and the position of its latest one,
// which decides when it leaves the window.
type dedupSeen struct {
	seq  uint64
	last uint64
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{ids: make(map[dedupKey]dedupSeen), size: uint64(n)}
}

func (d *dedupWindow) lookup(id uuid.UUID, tenant string) (uint64, bool) {
	e, ok := d.ids[dedupKey{id, tenant}]
	return e.seq, ok
}

// skip counts an event whose id was generated.
func (d *dedupWindow) skip() {
	d.seen++
	d.evict()
}

// add counts an event and remembers its id at seq. An id seen again keeps
// its first seq (duplicates point at the original) and stays until its
// latest occurrence leaves the window.
func (d *dedupWindow) add(id uuid.UUID, tenant string, seq uint64) {
	d.seen++
	k := dedupKey{id, tenant}
	e, ok := d.ids[k]
	if !ok {
		e.seq = seq
	}
	e.last = d.seen
	d.ids[k] = e
	d.queue = append(d.queue, dedupEntry{key: k, ord: d.seen})
	d.evict()
}

// evict forgets ids that fell out of the last size events.
func (d *dedupWindow) evict() {
	for d.head < len(d.queue) && d.queue[d.head].ord+d.size <= d.seen {
		q := d.queue[d.head]
		if e, ok := d.ids[q.key]; ok && e.last == q.ord {
			delete(d.ids, q.key) // its latest occurrence left the window
		}
		d.queue[d.head] = dedupEntry{}
		d.head++
	}
	if d.head > 1024 && d.head > len(d.queue)/2 {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
		d.head = 0
	}
}
