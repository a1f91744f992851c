package pgclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Event is one fixture event as both servers hold it. Payload is compact JSON
// text, byte for byte what the servers store and return.
type Event struct {
	EntityID  string
	EventType string
	Version   int64
	Timestamp time.Time
	Payload   string
}

// ts parses an RFC 3339 time for the fixture.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Fixture is the event set every runner expects, in order of arrival: three
// accounts, three event types, versions counted per entity from 1 as the
// server assigns them. Timestamps are UTC with at most microsecond precision
// and increase with arrival. The payloads hold unicode (including a 4-byte
// emoji), a single and a double quote, a backslash, a JSON-escaped tab,
// nested objects and arrays, a JSON null and numbers beyond 32 bits. They
// avoid <, > and & so that no JSON encoder rewrites them.
var Fixture = []Event{
	{"acct-1", "opened", 1, ts("2024-01-15T09:30:00Z"),
		`{"owner":"Zoë Müller","currency":"EUR","tags":["vip","beta"]}`},
	{"acct-2", "opened", 1, ts("2024-01-15T10:00:00.5Z"),
		`{"owner":"李小龙","currency":"CNY","tags":[]}`},
	{"acct-1", "credited", 2, ts("2024-01-16T08:00:00.123456Z"),
		`{"amount":100.5,"ref":"inv \"42\"","note":"C:\\temp\\x"}`},
	{"acct-3", "opened", 1, ts("2024-02-01T00:00:00Z"),
		`{"owner":"O'Brien","currency":"USD","limits":{"daily":500,"monthly":null}}`},
	{"acct-1", "credited", 3, ts("2024-02-02T12:34:56.789Z"),
		`{"amount":-3,"ref":"refund","nested":{"a":[1,2,{"b":true}]}}`},
	{"acct-2", "credited", 2, ts("2024-02-03T23:59:59.999999Z"),
		`{"amount":1000000000000,"ref":"big"}`},
	{"acct-3", "closed", 2, ts("2024-03-01T00:00:00Z"),
		`{"reason":"party 🎉\tdone"}`},
	{"acct-1", "closed", 4, ts("2024-03-02T06:07:08.000001Z"),
		`{"reason":"moved","balance":97.5}`},
}

// FixtureEntities returns the fixture's entity ids, sorted. Runners filter on
// them so that rows added by other checks (COPY FROM) do not disturb counts.
func FixtureEntities() []string {
	return []string{"acct-1", "acct-2", "acct-3"}
}

// ndjsonEvent is one line of FixtureNDJSON, in AllSource's ingest format.
type ndjsonEvent struct {
	EntityID  string          `json:"entity_id"`
	EventType string          `json:"event_type"`
	Timestamp string          `json:"timestamp"`
	Payload   json.RawMessage `json:"payload"`
}

// FixtureNDJSON returns the fixture as AllSource ingest input: one JSON
// object per line, in Fixture order, without versions (the server assigns
// them in that order).
func FixtureNDJSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, e := range Fixture {
		err := enc.Encode(ndjsonEvent{
			EntityID:  e.EntityID,
			EventType: e.EventType,
			Timestamp: e.Timestamp.Format(time.RFC3339Nano),
			Payload:   json.RawMessage(e.Payload),
		})
		if err != nil {
			panic(fmt.Sprintf("pgclient: encoding fixture: %v", err))
		}
	}
	return buf.Bytes()
}

// scriptEvent is the fixture as the client scripts read it (fixture.json).
type scriptEvent struct {
	EntityID  string `json:"entity_id"`
	EventType string `json:"event_type"`
	Version   int64  `json:"version"`
	Timestamp string `json:"timestamp"` // RFC 3339, UTC
	// Payload is the JSON text as a string, so that scripts can compare
	// both the text (COPY) and the parsed value.
	Payload string `json:"payload"`
}

// fixtureJSON encodes Fixture for the client scripts.
func fixtureJSON() []byte {
	evs := make([]scriptEvent, len(Fixture))
	for i, e := range Fixture {
		evs[i] = scriptEvent{e.EntityID, e.EventType, e.Version, e.Timestamp.Format(time.RFC3339Nano), e.Payload}
	}
	b, err := json.MarshalIndent(evs, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("pgclient: encoding fixture: %v", err))
	}
	return b
}

// eventsDDL is AllSource's events relation as a PostgreSQL table. Every
// column is nullable, as AllSource reports them, which also lets COPY FROM
// with four columns insert rows on PostgreSQL.
const eventsDDL = `CREATE TABLE public.events (
	seq bigint,
	id uuid,
	tenant_id text,
	entity_id text,
	event_type text,
	version bigint,
	"timestamp" timestamptz,
	ingested_at timestamptz,
	payload json,
	metadata json
)`

// LoadPostgres replaces public.events in the PostgreSQL server at dsn with
// the fixture, in one transaction.
func LoadPostgres(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("pgclient: connect: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgclient: begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS public.events`); err != nil {
		return fmt.Errorf("pgclient: drop events: %w", err)
	}
	if _, err := tx.Exec(ctx, eventsDDL); err != nil {
		return fmt.Errorf("pgclient: create events: %w", err)
	}
	for i, e := range Fixture {
		_, err := tx.Exec(ctx, `INSERT INTO public.events
			(seq, id, tenant_id, entity_id, event_type, version, "timestamp", ingested_at, payload, metadata)
			VALUES ($1, $2, 'default', $3, $4, $5, $6, now(), $7::json, '{}')`,
			int64(i+1), uuid.NewString(), e.EntityID, e.EventType, e.Version, e.Timestamp, e.Payload)
		if err != nil {
			return fmt.Errorf("pgclient: insert event %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgclient: commit: %w", err)
	}
	return nil
}
