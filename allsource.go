// Package allsource holds the domain types shared by every layer of AllSource:
// the stored Event, the user-facing error type with its codes, and the limits
// that validation enforces. It imports nothing of the project; every other
// package may import it.
package allsource

import (
	"encoding/json"
	"time"
)

// Limits enforced on every input event.
const (
	MaxEntityIDBytes  = 256
	MaxEventTypeBytes = 128
	MaxTenantBytes    = 64
	DefaultTenant     = "default"
)

// Event is one stored event: an input event after validation, with the
// server-assigned seq, version and ingest time.
//
// Payload and Metadata are validated JSON objects kept as raw bytes; they are
// never decoded on the write path.
type Event struct {
	Seq        uint64
	ID         string // UUID text; client-supplied or generated (UUIDv7)
	Tenant     string
	EntityID   string
	EventType  string
	Version    uint64
	Timestamp  time.Time
	IngestedAt time.Time
	Payload    json.RawMessage
	Metadata   json.RawMessage
}
