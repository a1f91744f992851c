package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Resource governance of user queries: a fair share of the engine
// connections per tenant, and bounds on the functions that build one huge
// value outside the engine's buffer manager (memory_limit does not see
// them).

// MaxBuiltValueBytes bounds the string or list one call of repeat, lpad or
// rpad may build (256 MiB).
const MaxBuiltValueBytes = 256 << 20

// connSetup runs on each query connection when it is opened: temporary
// macros that shadow the built-in value builders with bounded ones (the
// built-in stays reachable as system.main.*, a name user statements may
// not use: see sqlguard).
var connSetup = []string{
	fmt.Sprintf(`CREATE OR REPLACE TEMP MACRO repeat(s, n) AS CASE WHEN CAST(n AS DOUBLE) * length(s) > %d
		THEN error('repeat: the result would be over %d MiB') ELSE system.main.repeat(s, n) END`, MaxBuiltValueBytes, MaxBuiltValueBytes>>20),
	fmt.Sprintf(`CREATE OR REPLACE TEMP MACRO lpad(s, n, p) AS CASE WHEN CAST(n AS DOUBLE) > %d
		THEN error('lpad: the result would be over %d MiB') ELSE system.main.lpad(s, n, p) END`, MaxBuiltValueBytes, MaxBuiltValueBytes>>20),
	fmt.Sprintf(`CREATE OR REPLACE TEMP MACRO rpad(s, n, p) AS CASE WHEN CAST(n AS DOUBLE) > %d
		THEN error('rpad: the result would be over %d MiB') ELSE system.main.rpad(s, n, p) END`, MaxBuiltValueBytes, MaxBuiltValueBytes>>20),
}

// openQueryConn opens a query connection of instance e and prepares it.
func (w *Warehouse) openQueryConn(ctx context.Context, e *engine) (*sql.Conn, error) {
	c, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("warehouse: engine connection: %w", err)
	}
	for _, q := range connSetup {
		if _, err := c.ExecContext(ctx, q); err != nil {
			c.Close()
			return nil, fmt.Errorf("warehouse: prepare engine connection: %w", err)
		}
	}
	return c, nil
}

// tenantSlots gives each tenant at most share query connections at once,
// so one tenant's long queries cannot hold every connection while other
// tenants wait. The server's own queries (no tenant scope) are not
// counted.
type tenantSlots struct {
	share int
	mu    sync.Mutex
	slots map[string]chan struct{}
}

// acquire waits for one of tenant's slots, or until ctx ends.
func (t *tenantSlots) acquire(ctx context.Context, tenant string) (release func(), err error) {
	if tenant == allScopes || t.share <= 0 {
		return func() {}, nil
	}
	t.mu.Lock()
	if t.slots == nil {
		t.slots = map[string]chan struct{}{}
	}
	ch := t.slots[tenant]
	if ch == nil {
		ch = make(chan struct{}, t.share)
		t.slots[tenant] = ch
	}
	t.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
