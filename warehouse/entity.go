package warehouse

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/allsource/allsource"
)

// EntityEvent is one event of an entity's stream, as
// GET /v1/entities/:entity_id/events returns it.
type EntityEvent struct {
	Seq        uint64          `json:"seq"`
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	EntityID   string          `json:"entity_id"`
	EventType  string          `json:"event_type"`
	Version    uint64          `json:"version"`
	Timestamp  time.Time       `json:"timestamp"`
	IngestedAt time.Time       `json:"ingested_at"`
	Payload    json.RawMessage `json:"payload"`
	Metadata   json.RawMessage `json:"metadata"`
}

// EntityEvents returns an entity's events in version order, from fromVersion,
// at most limit: from the entity index and the hot tier when it can (see
// entityIndex), else, and under a read restriction (which the events view
// applies), with a query.
func (w *Warehouse) EntityEvents(ctx context.Context, tenant, entity string, fromVersion uint64, limit int) ([]EntityEvent, error) {
	if out, ok, err := w.indexedEntityEvents(ctx, tenant, entity, fromVersion, limit, nil); ok || err != nil {
		return out, err
	}
	return w.entityEventsSQL(ctx, tenant, entity, fromVersion, limit)
}

// indexedEntityEvents answers from the entity index and the generations of
// one pinned version; ok is false when it cannot (no index, an index
// behind that version, a read restriction, a scope of another tenant).
func (w *Warehouse) indexedEntityEvents(ctx context.Context, tenant, entity string, fromVersion uint64, limit int, buf []EntityEvent) ([]EntityEvent, bool, error) {
	sc := scopeOf(ctx)
	r := sc.restrict
	if w.index == nil || len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 ||
		(sc.tenant != allScopes && sc.tenant != tenant && !(sc.tenant == allsource.AllTenants && !allsource.Reserved(tenant))) {
		return nil, false, nil
	}
	v := w.pin()
	defer w.unpin(v)
	if w.index.indexed.Load() < v.watermark {
		return nil, false, nil
	}
	out, err := w.index.events(tenant, entity, fromVersion, v.watermark, limit, buf)
	if err != nil {
		return nil, false, err
	}
	if out == nil {
		out = []EntityEvent{}
	}
	// The hot tier: events past the version's flushed seq, whose versions
	// all come after the indexed ones.
	var hot []EntityEvent
	for _, g := range v.gens {
		for _, e := range g.entityRows(entity) {
			if e.Tenant == tenant && e.Version >= fromVersion {
				hot = append(hot, EntityEvent{Seq: e.Seq, ID: e.ID, Tenant: e.Tenant, EntityID: e.EntityID, EventType: e.EventType,
					Version: e.Version, Timestamp: e.Timestamp.UTC(), IngestedAt: e.IngestedAt.UTC(), Payload: e.Payload, Metadata: e.Metadata})
			}
		}
	}
	slices.SortFunc(hot, func(a, b EntityEvent) int { return cmp.Compare(a.Version, b.Version) })
	for _, e := range hot {
		if len(out) >= limit {
			break
		}
		out = append(out, e)
	}
	return out, true, nil
}

func (w *Warehouse) entityEventsSQL(ctx context.Context, tenant, entity string, fromVersion uint64, limit int) ([]EntityEvent, error) {
	rows, err := w.QueryInternal(ctx, `SELECT seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at,
			CAST(payload AS VARCHAR), CAST(metadata AS VARCHAR)
		FROM events WHERE tenant_id = ? AND entity_id = ? AND version >= ? ORDER BY version LIMIT ?`,
		tenant, entity, fromVersion, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EntityEvent{}
	for rows.Next() {
		var e EntityEvent
		var p, m string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Tenant, &e.EntityID, &e.EventType, &e.Version, &e.Timestamp, &e.IngestedAt, &p, &m); err != nil {
			return nil, err
		}
		e.Timestamp, e.IngestedAt = e.Timestamp.UTC(), e.IngestedAt.UTC()
		e.Payload, e.Metadata = json.RawMessage(p), json.RawMessage(m)
		out = append(out, e)
	}
	return out, rows.Err()
}
