package ingest

import "github.com/google/uuid"

// dedupWindow remembers the most recent client-supplied ids (tenant-scoped)
// and the seq they were stored at. When full, the oldest id is forgotten.
// Writer goroutine only.
type dedupWindow struct {
	ids  map[uuid.UUID]dedupEntry
	ring []uuid.UUID
	next int
	full bool
}

type dedupEntry struct {
	seq    uint64
	tenant string
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{ids: make(map[uuid.UUID]dedupEntry), ring: make([]uuid.UUID, n)}
}

func (d *dedupWindow) lookup(id uuid.UUID, tenant string) (uint64, bool) {
	e, ok := d.ids[id]
	if !ok || e.tenant != tenant {
		return 0, false
	}
	return e.seq, true
}

func (d *dedupWindow) add(id uuid.UUID, tenant string, seq uint64) {
	if _, ok := d.ids[id]; ok {
		d.ids[id] = dedupEntry{seq: seq, tenant: tenant}
		return
	}
	if d.full {
		delete(d.ids, d.ring[d.next])
	}
	d.ring[d.next] = id
	d.ids[id] = dedupEntry{seq: seq, tenant: tenant}
	d.next++
	if d.next == len(d.ring) {
		d.next = 0
		d.full = true
	}
}
