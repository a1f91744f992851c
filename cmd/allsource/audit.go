package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/allsource/allsource/authz"
	"github.com/allsource/allsource/ingest"
)

// startAuditor continues the audit chain stored in the warehouse: records
// are appended through ingest (so they are as durable as events) to the
// reserved tenant authz.AuditTenant.
func startAuditor(ctx context.Context, st *store, log *slog.Logger) (*authz.Auditor, error) {
	rows, err := st.wh.QueryInternal(ctx, `SELECT json_extract_string(payload, '$.hash') FROM events
		WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`, authz.AuditTenant)
	if err != nil {
		return nil, fmt.Errorf("audit: find the chain's end: %w", err)
	}
	var last string
	if rows.Next() {
		var h *string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, err
		}
		if h != nil {
			last = *h
		}
	}
	rows.Close()
	sink := func(ctx context.Context, recs []authz.AuditRecord) error {
		inputs := make([]ingest.Input, len(recs))
		for i, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			subject := r.Subject
			if subject == "" {
				subject = "anonymous"
			}
			inputs[i] = ingest.Input{EntityID: subject, EventType: "audit." + r.Kind, Timestamp: r.Time,
				Payload: b, Metadata: []byte(`{}`), ExpectedVersion: -1}
		}
		_, err := st.ingest.Append(ctx, authz.AuditTenant, inputs)
		return err
	}
	return authz.NewAuditor(last, sink, log.With("component", "audit")), nil
}

// startAudit starts the audit log when authentication is on: logins,
// refusals, queries and changes of the keys file are recorded.
func (a *auth) startAudit(ctx context.Context, st *store, log *slog.Logger) error {
	if !a.on {
		return nil
	}
	au, err := startAuditor(ctx, st, log)
	if err != nil {
		return err
	}
	a.gate.SetAuditor(au)
	a.authn.Keys.OnChange(func(before, after map[string]authz.APIKey) {
		for _, r := range keyChanges(before, after) {
			a.gate.Record(r)
		}
	})
	return nil
}

const auditUsage = `Usage: allsource audit verify [--server URL]

Reads the audit log of a running server (as an administrator: set
ALLSOURCE_TOKEN to an admin API key or token) and checks its hash chain:
every record must carry the hash of the one before it and a hash of its own
contents. Prints how many records were checked, or where the chain breaks
(exit status 1).
`

func (m *Main) runAudit(ctx context.Context, args []string) error {
	fs := newFlags("audit verify", auditUsage)
	if len(args) > 0 && isHelpArg(args[0]) {
		args = []string{"verify", "--help"}
	}
	if _, err := m.pickCommand("audit", auditUsage, args, "verify"); err != nil {
		return err
	}
	server := fs.String("server", "http://127.0.0.1:8080", "the server's HTTP address")
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"sql": "SELECT payload::VARCHAR AS record FROM events ORDER BY seq"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*server, "/")+"/v1/query?tenant="+authz.AuditTenant, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	setClientAuth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("reading the audit log: %s: %s", resp.Status, e.Error.Message)
	}
	start := time.Now()
	n, err := authz.VerifyChain("", func(yield func(authz.AuditRecord) bool) error {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for line := 1; sc.Scan(); line++ {
			var row struct {
				Record *string `json:"record"`
				Error  *struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				return fmt.Errorf("line %d of the answer: %w", line, err)
			}
			if row.Error != nil {
				return fmt.Errorf("reading the audit log: %s", row.Error.Message)
			}
			if row.Record == nil {
				return fmt.Errorf("line %d of the answer has no record", line)
			}
			var r authz.AuditRecord
			dec := json.NewDecoder(strings.NewReader(*row.Record))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return fmt.Errorf("record %d is not an audit record: %w", line, err)
			}
			if !yield(r) {
				return nil
			}
		}
		return sc.Err()
	})
	if err != nil {
		fmt.Fprintf(m.Stdout, "audit chain BROKEN after %d records: %v\n", n-1, err)
		return &exitError{code: 1, err: errors.New("the audit chain is broken")}
	}
	fmt.Fprintf(m.Stdout, "audit chain intact: %d records (checked in %v)\n", n, time.Since(start).Round(time.Microsecond))
	return nil
}

// keyChanges are the audit records of a keys file changed by the CLI: keys
// created and keys revoked.
func keyChanges(before, after map[string]authz.APIKey) []authz.AuditRecord {
	var out []authz.AuditRecord
	for id, k := range after {
		old, existed := before[id]
		switch {
		case !existed:
			out = append(out, authz.AuditRecord{Kind: "keys_changed", Action: "create_key", Tenant: k.Tenant, Target: "key:" + id,
				Reason: fmt.Sprintf("key %s (%q) created for tenant %s with roles %s", id, k.Name, k.Tenant, strings.Join(k.Roles, ","))})
		case old.RevokedAt == nil && k.RevokedAt != nil:
			out = append(out, authz.AuditRecord{Kind: "keys_changed", Action: "revoke_key", Tenant: k.Tenant, Target: "key:" + id,
				Reason: fmt.Sprintf("key %s (%q) of tenant %s revoked", id, k.Name, k.Tenant)})
		}
	}
	for id, k := range before {
		if _, ok := after[id]; !ok {
			out = append(out, authz.AuditRecord{Kind: "keys_changed", Action: "delete_key", Tenant: k.Tenant, Target: "key:" + id,
				Reason: fmt.Sprintf("key %s (%q) of tenant %s removed from the keys file", id, k.Name, k.Tenant)})
		}
	}
	return out
}
