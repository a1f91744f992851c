package warehouse

import (
	"context"
	"encoding/json"
	"time"
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
// at most limit.
func (w *Warehouse) EntityEvents(ctx context.Context, tenant, entity string, fromVersion uint64, limit int) ([]EntityEvent, error) {
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
