package authz

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/allsource/allsource"
)

// Throttle slows down guessing. Failed logins are counted per login
// name and source address: after maxFailures failures of one name from
// one address within throttleWindow, that name is refused from that
// address, without checking the credential, until the window has passed.
// Only a success of the same name from the same address clears its count,
// so valid logins of one account do not wash out guesses at another.
// A source is also bounded as a whole: after maxSourceFailures failures
// within the window, whatever names they tried, every login from it is
// refused for the rest of the window, and successes do not clear that
// count (spraying many names from one address still stops).
//
// A login name is what the client claims to be: the user name of a
// password login (HTTP Basic, the pgwire startup user), or for a bearer
// credential what CredentialName derives from it.
type Throttle struct {
	mu      sync.Mutex
	names   map[throttleKey]*failures // per login name and source
	sources map[string]*failures      // per source, every name
	now     func() time.Time
}

type throttleKey struct{ name, source string }

type failures struct {
	n     int
	since time.Time
}

const (
	maxFailures       = 10 // of one name from one source
	maxSourceFailures = 50 // from one source, whatever the names
	throttleWindow    = time.Minute
	maxTracked        = 100_000 // entries per map
)

// NewThrottle returns an empty throttle.
func NewThrottle() *Throttle {
	return &Throttle{names: map[throttleKey]*failures{}, sources: map[string]*failures{}, now: time.Now}
}

// Check returns a rate-limited error when name may not try to log in
// from source now. A nil Throttle never refuses.
func (t *Throttle) Check(name, source string) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if left := lockedFor(t.sources, source, maxSourceFailures, now); left > 0 {
		return rateLimited(left, "too many failed logins from %s; try again in %s", source, left.Round(time.Second))
	}
	if left := lockedFor(t.names, throttleKey{name, source}, maxFailures, now); left > 0 {
		return rateLimited(left, "too many failed logins as %q from %s; try again in %s", name, source, left.Round(time.Second))
	}
	return nil
}

// lockedFor is how long the entry k of m stays locked (0: it is not),
// forgetting it once its window has passed.
func lockedFor[K comparable](m map[K]*failures, k K, limit int, now time.Time) time.Duration {
	f := m[k]
	if f == nil {
		return 0
	}
	left := throttleWindow - now.Sub(f.since)
	if left <= 0 {
		delete(m, k)
		return 0
	}
	if f.n < limit {
		return 0
	}
	return left
}

// Failed counts a failed login of name from source.
func (t *Throttle) Failed(name, source string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	count(t.names, throttleKey{name, source}, now)
	count(t.sources, source, now)
}

// count adds a failure to entry k of m, starting a new window when the
// entry's has passed.
func count[K comparable](m map[K]*failures, k K, now time.Time) {
	f := m[k]
	if f == nil || now.Sub(f.since) >= throttleWindow {
		if f == nil && len(m) >= maxTracked {
			for k, f := range m { // drop what has expired
				if now.Sub(f.since) >= throttleWindow {
					delete(m, k)
				}
			}
			if len(m) >= maxTracked {
				clear(m) // a flood of names or sources: start over
			}
		}
		f = &failures{since: now}
		m[k] = f
	}
	f.n++
}

// Succeeded forgets the failures of name from source (not those of other
// names, nor the source's own count).
func (t *Throttle) Succeeded(name, source string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	delete(t.names, throttleKey{name, source})
	t.mu.Unlock()
}

// CredentialName is the login name a bearer credential is throttled
// under: "key:<id>" for an API key, "token:<sub>" for a JWT with a
// subject (read without verifying the token: a forged subject only
// spends the sender's own allowance, and its source's), else "credential:"
// and a hash of it.
func CredentialName(credential string) string {
	credential = strings.TrimSpace(credential)
	if id, _, ok := ParseAPIKey(credential); ok {
		return "key:" + id
	}
	if parts := strings.Split(credential, "."); len(parts) == 3 && !LooksLikeAPIKey(credential) {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var c struct {
				Sub string `json:"sub"`
			}
			if json.Unmarshal(b, &c) == nil && c.Sub != "" && len(c.Sub) <= 256 {
				return "token:" + c.Sub
			}
		}
	}
	h := sha256.Sum256([]byte(credential))
	return "credential:" + hex.EncodeToString(h[:16])
}

func rateLimited(after time.Duration, format string, args ...any) *allsource.Error {
	e := allsource.Errorf(allsource.CodeRateLimited, format, args...)
	e.Details = map[string]any{"retry_after_seconds": int(math.Ceil(after.Seconds()))}
	return e
}

// Quota bounds what one tenant may use; zero fields are unlimited.
type Quota struct {
	IngestEventsPerSec   float64 `json:"ingest_events_per_sec,omitempty"`
	IngestBytesPerSec    float64 `json:"ingest_bytes_per_sec,omitempty"`
	MaxConcurrentQueries int     `json:"max_concurrent_queries,omitempty"`
	QueryTimeout         string  `json:"query_timeout,omitempty"`    // a Go duration: "30s"
	StorageBytes         int64   `json:"storage_bytes,omitempty"`    // Parquet bytes stored
	MaxResultBytes       int64   `json:"max_result_bytes,omitempty"` // bytes one query may send back
}

func (q Quota) check() error {
	if q.IngestEventsPerSec < 0 || q.IngestBytesPerSec < 0 || q.MaxConcurrentQueries < 0 || q.StorageBytes < 0 || q.MaxResultBytes < 0 {
		return fmt.Errorf("quota values must not be negative")
	}
	if q.QueryTimeout != "" {
		d, err := time.ParseDuration(q.QueryTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("query_timeout %q: want a positive duration such as 30s", q.QueryTimeout)
		}
	}
	return nil
}

// Timeout is the quota's query timeout, or 0.
func (q Quota) Timeout() time.Duration {
	d, _ := time.ParseDuration(q.QueryTimeout)
	return d
}

// Quotas holds the tenants' quotas from a JSON file ({"tenant": Quota},
// with "*" the default for tenants not named), re-read when it changes,
// and enforces them: rates as token buckets that may go into debt (so a
// batch larger than a second's allowance passes, and the tenant then waits
// it off), concurrent queries as counters.
type Quotas struct {
	now func() time.Time

	mu      sync.Mutex
	file    watched
	quotas  map[string]Quota
	events  map[string]*bucket
	bytes   map[string]*bucket
	running map[string]int
}

type bucket struct {
	tokens float64
	at     time.Time
}

// QuotasFile is where a data dir keeps its quotas.
func QuotasFile(dataDir string) string {
	return strings.TrimSuffix(KeysFile(dataDir), "keys.json") + "quotas.json"
}

// NoQuotas returns quotas without limits and without a file (for servers
// and tests that configure none).
func NoQuotas() *Quotas {
	return &Quotas{now: time.Now, quotas: map[string]Quota{}, events: map[string]*bucket{}, bytes: map[string]*bucket{}, running: map[string]int{}}
}

// OpenQuotas reads the quotas at path (none if the file does not exist).
func OpenQuotas(path string) (*Quotas, error) {
	q := &Quotas{file: watched{path: path, what: "quotas"}, now: time.Now, events: map[string]*bucket{}, bytes: map[string]*bucket{}, running: map[string]int{}}
	if err := q.reload(true); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *Quotas) reload(force bool) error {
	snap, changed, err := q.file.look(force)
	if err != nil || !changed {
		return err
	}
	m := map[string]Quota{}
	if !snap.gone {
		dec := json.NewDecoder(bytes.NewReader(snap.data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return q.file.invalid(err)
		}
		for t, v := range m {
			if err := v.check(); err != nil {
				return q.file.invalid(fmt.Errorf("tenant %q: %w", t, err))
			}
		}
	}
	q.quotas, q.file.stamp = m, snap.stamp
	return nil
}

// refresh re-reads the file at most every reloadEvery; a broken file
// keeps the quotas in force.
func (q *Quotas) refresh(now time.Time) {
	if q.file.due(now) {
		_ = q.reload(false)
	}
}

// For returns tenant's quota.
func (q *Quotas) For(tenant string) Quota {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refresh(q.now())
	return q.quotaLocked(tenant)
}

func (q *Quotas) quotaLocked(tenant string) Quota {
	if v, ok := q.quotas[tenant]; ok {
		return v
	}
	return q.quotas["*"]
}

// take draws n from tenant's bucket refilled at rate per second; it
// returns how long to wait when the bucket is in debt.
func take(m map[string]*bucket, tenant string, rate, n float64, now time.Time) time.Duration {
	b := m[tenant]
	if b == nil {
		b = &bucket{tokens: rate, at: now}
		m[tenant] = b
	}
	b.tokens = math.Min(rate, b.tokens+rate*now.Sub(b.at).Seconds())
	b.at = now
	if b.tokens < 0 {
		return time.Duration(-b.tokens / rate * float64(time.Second))
	}
	b.tokens -= n
	return 0
}

// AdmitIngest admits a batch of events and bytes for tenant, or returns
// a rate-limited error saying when to retry.
func (q *Quotas) AdmitIngest(tenant string, events int, size int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.refresh(now)
	v := q.quotaLocked(tenant)
	if v.IngestEventsPerSec > 0 {
		if wait := take(q.events, tenant, v.IngestEventsPerSec, float64(events), now); wait > 0 {
			return rateLimited(wait, "tenant %s is over its ingest quota of %g events/s; retry in %s", tenant, v.IngestEventsPerSec, wait.Round(time.Millisecond))
		}
	}
	if v.IngestBytesPerSec > 0 {
		if wait := take(q.bytes, tenant, v.IngestBytesPerSec, float64(size), now); wait > 0 {
			return rateLimited(wait, "tenant %s is over its ingest quota of %g bytes/s; retry in %s", tenant, v.IngestBytesPerSec, wait.Round(time.Millisecond))
		}
	}
	return nil
}

// CheckStorage refuses writes to a tenant storing as many bytes as its
// storage quota or more. stored is asked only when the tenant has such a
// quota (it walks the tenant's files).
func (q *Quotas) CheckStorage(tenant string, stored func() int64) error {
	v := q.For(tenant)
	if v.StorageBytes <= 0 {
		return nil
	}
	if n := stored(); n >= v.StorageBytes {
		return allsource.Errorf(allsource.CodeNoStorage, "tenant %s stores %d bytes, at its storage quota of %d", tenant, n, v.StorageBytes)
	}
	return nil
}

// StartQuery admits one query of tenant against its concurrency quota;
// call done when it ends.
func (q *Quotas) StartQuery(tenant string) (done func(), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refresh(q.now())
	v := q.quotaLocked(tenant)
	if v.MaxConcurrentQueries > 0 && q.running[tenant] >= v.MaxConcurrentQueries {
		return nil, rateLimited(time.Second, "tenant %s already runs %d queries, its quota", tenant, v.MaxConcurrentQueries)
	}
	q.running[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			q.mu.Lock()
			if q.running[tenant]--; q.running[tenant] <= 0 {
				delete(q.running, tenant)
			}
			q.mu.Unlock()
		})
	}, nil
}

// Set stores tenant's quota ("*": the default) in the file; a zero quota
// removes the entry.
func (q *Quotas) Set(tenant string, v Quota) error {
	if tenant != "*" {
		if err := checkTenantName(tenant); err != nil {
			return err
		}
	}
	if err := v.check(); err != nil {
		return allsource.Errorf(allsource.CodeInvalid, "%v", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.reload(true); err != nil {
		return err
	}
	m := make(map[string]Quota, len(q.quotas)+1)
	for k, x := range q.quotas {
		m[k] = x
	}
	if v == (Quota{}) {
		delete(m, tenant)
	} else {
		m[tenant] = v
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(q.file.path, append(b, '\n')); err != nil {
		return fmt.Errorf("authz: quotas: %w", err)
	}
	return q.reload(true)
}

// All returns every tenant's quota entry, by tenant name.
func (q *Quotas) All() ([]string, map[string]Quota) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refresh(q.now())
	names := make([]string, 0, len(q.quotas))
	out := make(map[string]Quota, len(q.quotas))
	for k, v := range q.quotas {
		names = append(names, k)
		out[k] = v
	}
	sort.Strings(names)
	return names, out
}

// ResultTooLarge is the error of a query whose result passed its tenant's
// quota.
func ResultTooLarge(tenant string, limit int64) *allsource.Error {
	return allsource.Errorf(allsource.CodeTooLarge, "the result is larger than tenant %s's quota of %d bytes per query; narrow the query or add LIMIT", tenant, limit)
}
