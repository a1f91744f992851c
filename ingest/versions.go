package ingest

// versionMap knows each entity's current version, per tenant, for the
// writer goroutine (which alone uses it). It holds at most about limit
// entities: the rest are in the entity index, which answers for an entity
// the map does not hold. An entity whose latest event is not yet in the
// index (in the hot tier, or flushed while the index step failed) is
// never dropped, so the map may exceed limit by the entities of the hot
// tier, which the flush settings bound.
type versionMap struct {
	m     map[string]map[string]*verEntry
	n     int
	limit int
	src   versionSource
	// stuckAt is the indexed seq at which an eviction found too few
	// entries to drop: none is tried again until the index moves on.
	stuckAt uint64
	stuck   bool
}

// verEntry is an entity's current version and the seq of the event that
// set it (0 when read from the index).
type verEntry struct {
	v, seq uint64
}

// versionSource answers for the entities the map does not hold.
type versionSource interface {
	// EntityVersion is the highest indexed version of the entity, 0 when
	// none of its events is indexed.
	EntityVersion(tenant, entity string) (uint64, error)
	// IndexedSeq is the seq up to which every stored event is indexed.
	IndexedSeq() uint64
}

func newVersionMap(limit int, src versionSource) *versionMap {
	return &versionMap{m: map[string]map[string]*verEntry{}, limit: limit, src: src}
}

// tenant returns the entity map of a tenant, creating it.
func (m *versionMap) tenant(t string) map[string]*verEntry {
	em := m.m[t]
	if em == nil {
		em = map[string]*verEntry{}
		m.m[t] = em
	}
	return em
}

// entry returns an entity's entry, reading its version from the index
// when the map does not hold it. Entries stay valid until evict.
func (m *versionMap) entry(em map[string]*verEntry, tenant, entity string) (*verEntry, error) {
	if p := em[entity]; p != nil {
		return p, nil
	}
	v, err := m.src.EntityVersion(tenant, entity)
	if err != nil {
		return nil, err
	}
	p := &verEntry{v: v}
	em[entity] = p
	m.n++
	return p, nil
}

// get returns an entity's current version (0 for a new entity).
func (m *versionMap) get(tenant, entity string) (uint64, error) {
	p, err := m.entry(m.tenant(tenant), tenant, entity)
	if err != nil {
		return 0, err
	}
	return p.v, nil
}

// raise records the event at seq with version v (replaying the WAL: the
// newest events, so no lookup is needed for an entity first seen there).
func (m *versionMap) raise(tenant, entity string, v, seq uint64) {
	em := m.tenant(tenant)
	if p := em[entity]; p != nil {
		if v >= p.v {
			p.v, p.seq = v, seq
		}
		return
	}
	em[entity] = &verEntry{v: v, seq: seq}
	m.n++
}

// evict drops entries the index answers for until the map holds a tenth
// less than its limit (or only entries it must keep).
func (m *versionMap) evict() {
	if m.n <= m.limit {
		return
	}
	indexed := m.src.IndexedSeq()
	if m.stuck && indexed == m.stuckAt {
		return
	}
	target := m.limit - m.limit/10
	m.stuck = false
	defer func() {
		if m.n > m.limit {
			m.stuck, m.stuckAt = true, indexed
		}
	}()
	for t, em := range m.m {
		for e, p := range em {
			if m.n <= target {
				return
			}
			if p.seq <= indexed {
				delete(em, e)
				m.n--
			}
		}
		if len(em) == 0 {
			delete(m.m, t)
		}
	}
}

func (m *versionMap) entities() int { return m.n }
