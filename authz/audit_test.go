package authz

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink stores records in memory; fail makes the next call fail.
type memSink struct {
	mu   sync.Mutex
	recs []AuditRecord
	fail bool
}

func (m *memSink) store(_ context.Context, recs []AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		m.fail = false
		return errors.New("disk full")
	}
	m.recs = append(m.recs, recs...)
	return nil
}

func each(recs []AuditRecord) func(func(AuditRecord) bool) error {
	return func(yield func(AuditRecord) bool) error {
		for _, r := range recs {
			if !yield(r) {
				return nil
			}
		}
		return nil
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestAuditChain(t *testing.T) {
	sink := &memSink{}
	a := NewAuditor("", sink.store, quiet)
	for i := range 300 {
		a.Record(AuditRecord{Kind: "query", Subject: "ana", Tenant: "acme", Query: strings.Repeat("x", i*20), DurationMS: float64(i) / 7, Rows: int64(i)})
	}
	a.Close()
	a.Record(AuditRecord{Kind: "late"}) // after Close: ignored, no panic
	if len(sink.recs) != 300 {
		t.Fatalf("stored %d", len(sink.recs))
	}
	if len(sink.recs[299].Query) != maxAuditQuery+len("…") {
		t.Fatalf("long query kept whole: %d", len(sink.recs[299].Query))
	}
	if n, err := VerifyChain("", each(sink.recs)); n != 300 || err != nil {
		t.Fatalf("verify: %d %v", n, err)
	}
	// A restarted auditor continues the chain.
	b := NewAuditor(sink.recs[299].Hash, sink.store, quiet)
	b.Record(AuditRecord{Kind: "login"})
	b.Close()
	if n, err := VerifyChain("", each(sink.recs)); n != 301 || err != nil {
		t.Fatalf("verify after restart: %d %v", n, err)
	}
	tamper := func(name string, mod func([]AuditRecord) []AuditRecord, want string) {
		recs := mod(append([]AuditRecord(nil), sink.recs...))
		if _, err := VerifyChain("", each(recs)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tamper("changed", func(r []AuditRecord) []AuditRecord { r[10].Subject = "eve"; return r }, "changed")
	tamper("changed time", func(r []AuditRecord) []AuditRecord { r[10].Time = r[10].Time.Add(time.Second); return r }, "changed")
	tamper("removed", func(r []AuditRecord) []AuditRecord { return append(r[:10], r[11:]...) }, "removed")
	tamper("reordered", func(r []AuditRecord) []AuditRecord { r[3], r[4] = r[4], r[3]; return r }, "removed, inserted or reordered")
	tamper("rehashed", func(r []AuditRecord) []AuditRecord {
		r[10].Subject = "eve"
		r[10].Hash = ChainHash(r[10].Prev, r[10]) // consistent alone, breaks the next link
		return r
	}, "record 12")
}

// TestAuditSinkFailure: records a failing sink lost are not in the chain;
// the next batch links to the last stored record.
func TestAuditSinkFailure(t *testing.T) {
	sink := &memSink{}
	a := NewAuditor("", sink.store, quiet)
	a.Record(AuditRecord{Kind: "one"})
	a.Close()
	sink.fail = true
	b := NewAuditor(sink.recs[0].Hash, sink.store, quiet)
	b.Record(AuditRecord{Kind: "lost"})
	for { // the lost batch goes alone
		sink.mu.Lock()
		tried := !sink.fail
		sink.mu.Unlock()
		if tried {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.Record(AuditRecord{Kind: "two"})
	b.Close()
	if n, err := VerifyChain("", each(sink.recs)); err != nil || sink.recs[len(sink.recs)-1].Kind != "two" {
		t.Fatalf("after a failed batch: %d %v %+v", n, err, sink.recs)
	}
}
