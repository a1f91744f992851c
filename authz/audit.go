package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// AuditTenant is the tenant the audit log is stored in. Names starting
// with "_" are reserved: no key, token or append may use them, so only
// administrators (reading with ?tenant=_audit) see the log.
const AuditTenant = "_audit"

// AuditRecord is one audited action. Records form a hash chain: Prev is
// the previous record's Hash, and Hash covers Prev and every other field
// (ChainHash), so changing, inserting or removing a record breaks the
// chain from there on.
type AuditRecord struct {
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"` // login, login_failed, denied, query, keys_changed
	Subject    string    `json:"subject,omitempty"`
	Tenant     string    `json:"tenant,omitempty"`
	Via        string    `json:"via,omitempty"`
	Remote     string    `json:"remote,omitempty"`
	Interface  string    `json:"interface,omitempty"` // http or pgwire
	Action     string    `json:"action,omitempty"`
	Target     string    `json:"target,omitempty"` // the route or statement kind
	Query      string    `json:"query,omitempty"`
	Status     string    `json:"status,omitempty"`
	DurationMS float64   `json:"duration_ms,omitempty"`
	Rows       int64     `json:"rows,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Prev       string    `json:"prev"`
	Hash       string    `json:"hash"`
}

// maxAuditQuery bounds the query text a record keeps.
const maxAuditQuery = 4096

// ChainHash is the hash of r (its Hash field aside) after prev: hex
// SHA-256 of prev, a newline, and r's JSON with Prev set to prev and Hash
// empty.
func ChainHash(prev string, r AuditRecord) string {
	r.Prev, r.Hash = prev, ""
	b, _ := json.Marshal(r) // a struct of strings, numbers and a time
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyChain checks records in their stored order: each must link to the
// one before (the first to genesis, "", unless after is given) and carry
// its own hash. It returns how many were checked, and the first break.
func VerifyChain(after string, records func(yield func(AuditRecord) bool) error) (int, error) {
	prev, n := after, 0
	var broken error
	err := records(func(r AuditRecord) bool {
		n++
		if r.Prev != prev {
			broken = fmt.Errorf("record %d (%s %s): links to %.12s…, but the record before it hashes to %.12s… (a record was removed, inserted or reordered)", n, r.Time.Format(time.RFC3339Nano), r.Kind, r.Prev, prev)
			return false
		}
		if want := ChainHash(prev, r); r.Hash != want {
			broken = fmt.Errorf("record %d (%s %s): its contents do not match its hash (it was changed)", n, r.Time.Format(time.RFC3339Nano), r.Kind)
			return false
		}
		prev = r.Hash
		return true
	})
	if err != nil {
		return n, err
	}
	return n, broken
}

// AuditSink stores records durably, in the given order, atomically.
type AuditSink func(ctx context.Context, recs []AuditRecord) error

// Auditor chains records and hands them to a sink from one goroutine, in
// batches. Record never drops a record: when the queue is full it waits.
type Auditor struct {
	sink AuditSink
	log  *slog.Logger
	ch   chan AuditRecord
	done chan struct{}
	last string // hash of the last stored record
	now  func() time.Time

	mu     sync.Mutex
	closed bool
}

// NewAuditor starts an auditor whose chain continues after last (the hash
// of the newest stored record, "" for none).
func NewAuditor(last string, sink AuditSink, log *slog.Logger) *Auditor {
	a := &Auditor{sink: sink, log: log, ch: make(chan AuditRecord, 4096), done: make(chan struct{}), last: last, now: time.Now}
	go a.run()
	return a
}

// Record queues r (its Time is set when zero). A nil Auditor records
// nothing.
func (a *Auditor) Record(r AuditRecord) {
	if a == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = a.now()
	}
	r.Time = r.Time.UTC()
	if len(r.Query) > maxAuditQuery {
		r.Query = r.Query[:maxAuditQuery] + "…"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.ch <- r
}

func (a *Auditor) run() {
	defer close(a.done)
	batch := make([]AuditRecord, 0, 256)
	for r := range a.ch {
		batch = append(batch[:0], r)
	more:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-a.ch:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		prev := a.last
		for i := range batch {
			batch[i].Prev = prev
			batch[i].Hash = ChainHash(prev, batch[i])
			prev = batch[i].Hash
		}
		if err := a.sink(context.Background(), batch); err != nil {
			// The chain continues from the last stored record, so what
			// is stored stays verifiable; the lost records are logged.
			a.log.Error("audit records not stored", "records", len(batch), "err", err)
			for _, r := range batch {
				a.log.Error("audit record", "kind", r.Kind, "subject", r.Subject, "tenant", r.Tenant, "target", r.Target, "time", r.Time)
			}
			continue
		}
		a.last = prev
	}
}

// Close stores what is queued and stops.
func (a *Auditor) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	a.mu.Unlock()
	<-a.done
}
