package bench

import (
	"encoding/json"
	"testing"
)

// The entity benchmark imports events under the ids pgbench and the
// stream reads draw: entityIDOf.
func TestImportedEntityIDs(t *testing.T) {
	for _, ev := range GenSessions(SessionOptions{Events: 50, Entities: 7}) {
		var got struct {
			EntityID string `json:"entity_id"`
		}
		line := ev.appendJSON(nil, "", int64(ev.Entity)+1)
		if err := json.Unmarshal(line, &got); err != nil || got.EntityID != entityIDOf(ev.Entity) {
			t.Fatalf("%s: entity %q, want %q (%v)", line, got.EntityID, entityIDOf(ev.Entity), err)
		}
	}
}
