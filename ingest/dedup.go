package ingest

import (
	"time"

	"github.com/google/uuid"
)

// dedupWindow answers whether an event id (tenant-scoped) was stored
// recently enough to make a new event with it a duplicate, and at which
// seq. Recently enough: within the last size events (by seq), or, with an
// age, ingested within that age. Every stored event's id is in the entity
// index once its event is indexed; the window holds in memory only the ids
// of events not yet indexed, so nothing is loaded at start-up (the WAL
// replay brings the hot tier's) and memory is bounded by the hot tier.
// Writer goroutine only.
type dedupWindow struct {
	ids   map[dedupKey]dedupSeen
	queue []dedupEntry // in seq order, from head
	head  int
	size  uint64
	age   time.Duration
	src   idSource
}

// idSource answers for ids the window does not hold.
type idSource interface {
	// StoredID reports the latest indexed event with id in tenant.
	StoredID(tenant string, id uuid.UUID) (seq uint64, ingestedAt time.Time, ok bool, err error)
	// IndexedSeq is the seq up to which every stored event is indexed.
	IndexedSeq() uint64
}

// dedupKey scopes an id to its tenant: the same id in two tenants is two
// events.
type dedupKey struct {
	id     uuid.UUID
	tenant string
}

type dedupEntry struct {
	key dedupKey
	seq uint64
}

// dedupSeen is an id's first event in the window: duplicates point at it.
type dedupSeen struct {
	seq uint64
	at  time.Time
}

func newDedupWindow(size int, age time.Duration, src idSource) *dedupWindow {
	return &dedupWindow{ids: make(map[dedupKey]dedupSeen), size: uint64(size), age: age, src: src}
}

// within reports whether an event stored at seq and at is inside the window
// when the latest seq is last.
func (d *dedupWindow) within(seq uint64, at time.Time, last uint64, now time.Time) bool {
	return seq+d.size > last || (d.age > 0 && now.Sub(at) < d.age)
}

// lookup finds id's stored event inside the window (last is the latest
// seq given out).
func (d *dedupWindow) lookup(id uuid.UUID, tenant string, last uint64, now time.Time) (uint64, bool, error) {
	if e, ok := d.ids[dedupKey{id, tenant}]; ok {
		return e.seq, d.within(e.seq, e.at, last, now), nil
	}
	seq, at, ok, err := d.src.StoredID(tenant, id)
	if err != nil || !ok {
		return 0, false, err
	}
	return seq, d.within(seq, at, last, now), nil
}

// add remembers an id stored at seq. An id already held keeps its first
// seq (duplicates point at the original) unless that one is indexed: then
// the index answers for it, and the map for the new one until it is too.
func (d *dedupWindow) add(id uuid.UUID, tenant string, seq uint64, at time.Time) {
	k := dedupKey{id, tenant}
	if e, ok := d.ids[k]; !ok || e.seq <= d.src.IndexedSeq() {
		d.ids[k] = dedupSeen{seq: seq, at: at}
	}
	d.queue = append(d.queue, dedupEntry{key: k, seq: seq})
}

// evict forgets the ids of events the entity index now holds.
func (d *dedupWindow) evict() {
	indexed := d.src.IndexedSeq()
	for d.head < len(d.queue) && d.queue[d.head].seq <= indexed {
		q := d.queue[d.head]
		if e, ok := d.ids[q.key]; ok && e.seq <= indexed {
			delete(d.ids, q.key)
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
