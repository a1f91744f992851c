package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allsource/allsource"
)

// Rows returns at most limit of a projection's rows as JSON objects in
// column order, with the projection's status when they were read (its
// version and position). With key set, only that key's row: code
// projections keep one row per key; SQL projections have no keys (filter
// them with a query instead), and asking for one is invalid.
func (e *Engine) Rows(ctx context.Context, tenant, name string, key *string, limit int) (Status, []json.RawMessage, error) {
	st, err := e.Get(tenant, name)
	if err != nil {
		return st, nil, err
	}
	q := "SELECT * FROM projections." + quoteIdent(name)
	var args []any
	if key != nil {
		if st.Kind != KindJS {
			return st, nil, &allsource.Error{Code: allsource.CodeInvalid, Field: "key", Index: -1, Message: "key: only code projections have keys; filter SQL projections with a query"}
		}
		q += " WHERE key = ?"
		args = append(args, *key)
	}
	q += fmt.Sprintf(" LIMIT %d", limit)
	rows, err := e.wh.QueryInternal(allsource.WithTenantScope(ctx, tenant), q, args...)
	if err != nil {
		return st, nil, err
	}
	defer rows.Close()
	out, err := rowObjects(rows.Rows)
	return st, out, err
}

// rowObjects reads rows as JSON objects in column order.
func rowObjects(rows *sql.Rows) ([]json.RawMessage, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		b.WriteByte('{')
		for i, col := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			b.Write(k)
			b.WriteByte(':')
			v, err := json.Marshal(jsonValue(vals[i]))
			if err != nil {
				return nil, err
			}
			b.Write(v)
		}
		b.WriteByte('}')
		out = append(out, json.RawMessage(b.String()))
	}
	return out, rows.Err()
}

// jsonValue makes engine values marshal well (big integers as numbers).
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		if n, err := strconv.ParseFloat(x.String(), 64); err == nil {
			return json.Number(strconv.FormatFloat(n, 'f', -1, 64))
		}
		return x.String()
	}
	return v
}

// EntityStateResult is an entity's state in a projection.
type EntityStateResult struct {
	Projection string            `json:"projection"`
	EntityID   string            `json:"entity_id"`
	At         *time.Time        `json:"at,omitempty"`
	Version    int64             `json:"version"`
	Rows       []json.RawMessage `json:"rows,omitempty"`  // SQL projections: its rows over the entity's events
	State      json.RawMessage   `json:"state,omitempty"` // code projections: the entity's partition
	// FromSnapshot is the seq of the snapshot the state was rebuilt from
	// (0: from the entity's first event).
	FromSnapshot uint64 `json:"from_snapshot_seq,omitempty"`
	Events       int    `json:"events_folded"`
}

var errNoEntityState = allsource.Errorf(allsource.CodeInvalid, "this code projection is not partitioned by entity (use foreachStream() or partitionBy(e => e.entity_id)); read its rows instead")

// EntityState is entity's state in a projection, now (zero at) or as of
// at: a SQL projection's definition run over the entity's events up to at;
// a code projection partitioned by entity folded from the newest snapshot
// whose state of the entity holds only events up to at.
func (e *Engine) EntityState(ctx context.Context, tenant, name, entity string, at time.Time) (*EntityStateResult, error) {
	st, err := e.Get(tenant, name)
	if err != nil {
		return nil, err
	}
	res := &EntityStateResult{Projection: name, EntityID: entity, Version: st.Version}
	if !at.IsZero() {
		res.At = &at
	}
	sctx := allsource.WithTenantScope(ctx, tenant)
	if st.Kind == KindSQL {
		d, err := parseSQLDef(st.Source)
		if err != nil {
			return nil, err
		}
		q, args := d.entityQuery(entity, at)
		rows, err := e.wh.QueryInternal(sctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		if res.Rows, err = rowObjects(rows.Rows); err != nil {
			return nil, err
		}
		return res, nil
	}
	if r := allsource.ReadRestrictionFrom(ctx); len(r.OnlyTypes) > 0 || len(r.HiddenTypes) > 0 || len(r.HiddenFields) > 0 {
		// Its states and snapshots fold every event of the tenant.
		return nil, allsource.Errorf(allsource.CodeForbidden, "code projections are not open to readers with hidden event types or fields")
	}
	p, err := compileJS(st.Source)
	if err != nil {
		return nil, err
	}
	rt, err := p.runtime(e.opts.JS)
	if err != nil {
		return nil, err
	}
	defer rt.close()
	byEntity := rt.perEntity || rt.partitionsByEntity()
	if !byEntity {
		return nil, errNoEntityState
	}
	states := map[string]string{}
	var after uint64
	if at.IsZero() {
		// Now: the projection's own row.
		rows, err := e.wh.QueryInternal(sctx, "SELECT CAST(state AS VARCHAR) FROM projections."+quoteIdent(name)+" WHERE key = ?", entity)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		if rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			res.State = json.RawMessage(s)
		}
		return res, rows.Err()
	}
	if snap, state, ok := e.snapshotFor(ctx, tenant, name, entity, at); ok {
		after, res.FromSnapshot = snap, snap
		if state != "" {
			states[entity] = state
		}
	}
	// The entity's stream (the entity index, see warehouse.EntityEvents),
	// a page at a time, folding the events after the snapshot up to at.
	fold := rt.newFold(states)
	for from := uint64(0); ; {
		page, err := e.wh.EntityEvents(sctx, tenant, entity, from, 10_000)
		if err != nil {
			return nil, err
		}
		for _, we := range page {
			if we.Seq <= after || we.Timestamp.After(at) {
				continue
			}
			ev := Event{Seq: we.Seq, ID: we.ID, Tenant: we.Tenant, EntityID: we.EntityID, EventType: we.EventType, Version: we.Version,
				Timestamp: we.Timestamp, IngestedAt: we.IngestedAt, Payload: we.Payload, Metadata: we.Metadata}
			if err := fold.step(&ev); err != nil {
				return nil, allsource.Errorf(allsource.CodeInvalid, "event seq %d: %v", ev.Seq, err)
			}
			res.Events++
		}
		if len(page) < 10_000 {
			break
		}
		from = page[len(page)-1].Version + 1
	}
	if err := fold.finish(); err != nil {
		return nil, err
	}
	if c, ok := fold.changed[entity]; ok {
		res.State = json.RawMessage(c.json)
	} else if s, ok := states[entity]; ok {
		res.State = json.RawMessage(s)
	}
	return res, nil
}

// snapshotFor finds the newest snapshot of the active version whose state
// of entity folds only events up to at: its seq and the entity's state.
func (e *Engine) snapshotFor(ctx context.Context, tenant, name, entity string, at time.Time) (uint64, string, bool) {
	e.mu.Lock()
	p, err := e.get(tenant, name)
	var r *runner
	if err == nil {
		r = p.active
	}
	e.mu.Unlock()
	if r == nil {
		return 0, "", false
	}
	cp, err := readCheckpoint(r.dir)
	if err != nil || cp == nil {
		return 0, "", false
	}
	lease, err := e.wh.Engine(ctx, r.def.Tenant)
	if err != nil {
		return 0, "", false
	}
	defer lease.Release()
	conn, err := lease.Conn(ctx)
	if err != nil {
		return 0, "", false
	}
	defer conn.Close()
	for i := len(cp.Snapshots) - 1; i >= 0; i-- {
		s := cp.Snapshots[i]
		if len(s.Files) == 0 {
			continue
		}
		var state sql.NullString
		var last sql.NullTime
		err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT CAST(state AS VARCHAR), last_event_at FROM read_parquet(%s) WHERE key = ?",
			sqlString(r.dir+"/"+s.Files[0])), entity).Scan(&state, &last)
		switch {
		case err == sql.ErrNoRows:
			// The entity had no events by then: folding starts empty after
			// the snapshot's seq all the same.
			return s.Seq, "", true
		case err != nil:
			continue
		case last.Valid && !last.Time.After(at):
			return s.Seq, state.String, true
		}
	}
	return 0, "", false
}

// entityQuery is the definition restricted to one entity's events up to at.
func (d *sqlDef) entityQuery(entity string, at time.Time) (string, []any) {
	var sel []string
	for _, c := range d.cols {
		if c.agg == "" {
			sel = append(sel, c.expr+" AS "+quoteIdent(c.name))
			continue
		}
		arg := c.arg
		if arg == "" {
			arg = "*"
		}
		call := ""
		switch c.agg {
		case "count_distinct":
			call = "count(DISTINCT " + arg + ")"
		case "first", "last":
			call = c.agg + "(" + arg + " ORDER BY seq)"
		default:
			call = c.agg + "(" + arg + ")"
		}
		if c.filt != "" {
			call += " FILTER (WHERE " + c.filt + ")"
		}
		sel = append(sel, call+" AS "+quoteIdent(c.name))
	}
	where := []string{"entity_id = ?"}
	args := []any{entity}
	if !at.IsZero() {
		where = append(where, `"timestamp" <= ?`)
		args = append(args, at.UTC())
	}
	if d.where != "" {
		where = append(where, "("+d.where+")")
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM events AS " + quoteIdent(d.alias) + " WHERE " + strings.Join(where, " AND ")
	if len(d.groups) > 0 {
		q += " GROUP BY " + strings.Join(d.groups, ", ")
	}
	return q, args
}
