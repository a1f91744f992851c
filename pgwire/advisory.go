package pgwire

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource/pgwire/pgsql"
)

// Advisory locks, as PostgreSQL's pg_advisory_* functions keep them: named
// by a bigint or a pair of integers, exclusive or shared, held by a
// session until it unlocks them (re-entrant: each lock needs its unlock)
// or until its transaction ends (the xact variants), and all released
// when the session ends. Each tenant has its own key space, so one
// tenant's locks never block another's.

const oidVoid = 2278

// advKey names one lock.
type advKey struct {
	tenant string
	a, b   int64
	pair   bool // the two-integer form, a key space of its own
}

// advHolder is one session's hold on a lock in one mode and scope.
type advHolder struct {
	ss     *session
	shared bool
	xact   bool
}

type advLock struct {
	held map[advHolder]int
	wake chan struct{} // closed when a hold is released
}

// advisoryLocks is the server's lock table.
type advisoryLocks struct {
	mu    sync.Mutex
	locks map[advKey]*advLock
	holds map[*session]int // distinct holds per session, bounded by maxAdvisoryHolds
}

// maxAdvisoryHolds bounds the distinct locks (and modes) one session
// holds at once, as PostgreSQL's lock table does: a client taking key
// after key cannot grow the server's memory without bound.
const maxAdvisoryHolds = 4096

// errTooManyLocks is PostgreSQL's answer to a full lock table.
var errTooManyLocks = &pgsql.Error{Code: "53200", Message: "out of shared memory",
	Hint: fmt.Sprintf("A session holds at most %d advisory locks at once; release some (pg_advisory_unlock_all()).", maxAdvisoryHolds)}

// grantable reports whether h may take l now: a session never conflicts
// with itself; exclusive conflicts with any other holder, shared with
// another's exclusive.
func (l *advLock) grantable(h advHolder) bool {
	for o, n := range l.held {
		if n == 0 || o.ss == h.ss {
			continue
		}
		if !h.shared || !o.shared {
			return false
		}
	}
	return true
}

// lock takes k for h, waiting until it is free when wait is set (until ctx
// ends); it reports whether it took it.
func (t *advisoryLocks) lock(ctx context.Context, k advKey, h advHolder, wait bool) (bool, error) {
	for {
		t.mu.Lock()
		if t.locks == nil {
			t.locks = map[advKey]*advLock{}
		}
		l := t.locks[k]
		if l == nil {
			l = &advLock{held: map[advHolder]int{}, wake: make(chan struct{})}
			t.locks[k] = l
		}
		if l.grantable(h) {
			if l.held[h] == 0 {
				if t.holds[h.ss] >= maxAdvisoryHolds {
					if len(l.held) == 0 {
						delete(t.locks, k)
					}
					t.mu.Unlock()
					return false, errTooManyLocks
				}
				if t.holds == nil {
					t.holds = map[*session]int{}
				}
				t.holds[h.ss]++
			}
			l.held[h]++
			t.mu.Unlock()
			return true, nil
		}
		wake := l.wake
		t.mu.Unlock()
		if !wait {
			return false, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// unlock releases one hold of h on k; false when h held none.
func (t *advisoryLocks) unlock(k advKey, h advHolder) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.locks[k]
	if l == nil || l.held[h] == 0 {
		return false
	}
	l.held[h]--
	t.release(k, l, h)
	return true
}

// release drops empty holds, wakes the waiters and forgets an unheld lock.
// t.mu is held.
func (t *advisoryLocks) release(k advKey, l *advLock, h advHolder) {
	if l.held[h] == 0 {
		delete(l.held, h)
		if t.holds[h.ss]--; t.holds[h.ss] <= 0 {
			delete(t.holds, h.ss)
		}
	}
	close(l.wake)
	l.wake = make(chan struct{})
	if len(l.held) == 0 {
		delete(t.locks, k)
	}
}

// releaseAll drops every hold of ss (of the given scope: session-level,
// transaction-level, or both).
func (t *advisoryLocks) releaseAll(ss *session, session, xact bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holds[ss] == 0 {
		return // the common case: every transaction's end asks
	}
	for k, l := range t.locks {
		for h := range l.held {
			if h.ss == ss && ((h.xact && xact) || (!h.xact && session)) {
				l.held[h] = 0
				t.release(k, l, h)
			}
		}
	}
}

// advisoryColumns are the result columns of an advisory statement.
func advisoryColumns(st *pgsql.Statement) []column {
	cols := make([]column, len(st.Advisory))
	for i, call := range st.Advisory {
		cols[i] = column{name: call.Column, oid: oidVoid}
		if strings.HasPrefix(call.Func, "pg_try_") || strings.Contains(call.Func, "unlock") && call.Func != "pg_advisory_unlock_all" {
			cols[i].oid = oidBool
		}
	}
	return cols
}

// runAdvisory runs each lock call of pt's statement in order and sends
// the one result row.
func (c *conn) runAdvisory(ctx context.Context, pt *portal, describe bool) error {
	st := pt.ps.stmt
	cols := advisoryColumns(st)
	if describe {
		c.be.Send(rowDescription(cols, pt.formats))
	}
	locks := &c.srv.advisory
	row := make([][]byte, len(st.Advisory))
	for i, call := range st.Advisory {
		k := advKey{tenant: c.tenant(), pair: len(call.Args) == 2}
		for j, a := range call.Args {
			v := a.Value
			if a.Param > 0 {
				n, err := advisoryParam(pt, a.Param)
				if err != nil {
					return err
				}
				v = n
			}
			if j == 0 {
				k.a = v
			} else {
				k.b = v
			}
		}
		h := advHolder{ss: c.sess, shared: strings.HasSuffix(call.Func, "_shared"), xact: strings.Contains(call.Func, "_xact_")}
		var ok bool
		switch {
		case call.Func == "pg_advisory_unlock_all":
			locks.releaseAll(c.sess, true, false)
			ok = true
		case strings.Contains(call.Func, "unlock"):
			if ok = locks.unlock(k, h); !ok {
				mode := "ExclusiveLock"
				if h.shared {
					mode = "ShareLock"
				}
				c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
					Message: fmt.Sprintf("you don't own a lock of type %s", mode)})
			}
		default:
			var err error
			if ok, err = locks.lock(ctx, k, h, !strings.HasPrefix(call.Func, "pg_try_")); err != nil {
				return err
			}
			if ok && h.xact && c.sess.txStatus == 'I' {
				// Outside a transaction block the statement is its own
				// transaction: the lock ends with it.
				defer locks.unlock(k, h)
			}
		}
		if cols[i].oid == oidBool {
			v := byte('f')
			if ok {
				v = 't'
			}
			if formatOf(pt.formats, i) == 1 {
				v = map[byte]byte{'t': 1, 'f': 0}[v]
			}
			row[i] = []byte{v}
		} else {
			row[i] = []byte{}
		}
	}
	c.be.Send(&pgproto3.DataRow{Values: row})
	c.sess.rows = 1
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	return nil
}

// advisoryParam reads parameter n of pt as a lock key.
func advisoryParam(pt *portal, n int) (int64, error) {
	if n > len(pt.args) {
		return 0, &pgsql.Error{Code: "08P01", Message: fmt.Sprintf("there is no parameter $%d", n)}
	}
	switch v := pt.args[n-1].Value.(type) {
	case int64:
		return v, nil
	case string:
		k, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, &pgsql.Error{Code: "22P02", Message: fmt.Sprintf("invalid input syntax for type bigint: %q", v)}
		}
		return k, nil
	case nil:
		return 0, &pgsql.Error{Code: "22004", Message: "an advisory lock key cannot be NULL"}
	}
	return 0, &pgsql.Error{Code: "22P02", Message: fmt.Sprintf("parameter $%d is not an integer", n)}
}
