package pgwire

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource/pgwire/pgsql"
)

// Server-side cursors (DECLARE … CURSOR, FETCH, MOVE, CLOSE), which
// psycopg's named cursors, pandas' chunked reads and BI tools use to read
// a large result in parts. A cursor is a portal of its query: the query
// runs on the first FETCH, its rows are kept encoded in the formats of
// that FETCH (binary for a BINARY cursor fetched by a simple query), and
// each FETCH sends the next ones. The rows held count against the
// session's portal budget, as for a portal read with a row limit. Cursors
// move forward only; one without HOLD ends with its transaction.

// cursor is one declared cursor.
type cursor struct {
	pt     *portal
	hold   bool
	binary bool
}

// declare runs DECLARE: pt is the DECLARE statement's portal, prepared
// over the cursor's query (its parameters are the query's).
func (c *conn) declare(pt *portal) error {
	cur := pt.ps.stmt.Cursor
	ss := c.sess
	if !cur.Hold && ss.txStatus == 'I' {
		return &pgsql.Error{Code: "25P01", Message: "DECLARE CURSOR can only be used in transaction blocks",
			Hint: "Begin a transaction first, or declare the cursor WITH HOLD."}
	}
	if _, dup := ss.cursors[cur.Name]; dup {
		return &pgsql.Error{Code: "42P03", Message: fmt.Sprintf("cursor \"%s\" already exists", cur.Name)}
	}
	ps := &prepared{stmt: cur.Query, sh: pt.ps.sh, paramOIDs: pt.ps.paramOIDs, dynamic: pt.ps.dynamic}
	ss.cursors[cur.Name] = &cursor{pt: &portal{ps: ps, args: pt.args}, hold: cur.Hold, binary: cur.Binary}
	c.complete(pt.ps.stmt, "DECLARE CURSOR")
	return nil
}

// fetch runs FETCH or MOVE from a cursor. describe (a simple query) sends
// the row description first.
func (c *conn) fetch(ctx context.Context, pt *portal, describe bool) error {
	f := pt.ps.stmt.Cursor
	cur := c.sess.cursors[f.Name]
	if cur == nil {
		return &pgsql.Error{Code: "34000", Message: fmt.Sprintf("cursor \"%s\" does not exist", f.Name)}
	}
	cp := cur.pt
	if !cp.started {
		switch {
		case len(pt.formats) > 0:
			cp.formats = pt.formats
		case cur.binary:
			cp.formats = []int16{1}
		}
	}
	if describe && !f.Move {
		c.be.Send(rowDescription(resultColumns(cp.ps), cp.formats))
	}
	if err := c.fillPortal(ctx, cp); err != nil {
		return err
	}
	end := len(cp.rows)
	if left := int64(end - cp.next); f.Count < left {
		end = cp.next + int(f.Count)
	}
	n := end - cp.next
	if !f.Move {
		if err := c.be.Flush(); err != nil {
			return err
		}
	}
	for ; cp.next < end; cp.next++ {
		if !f.Move {
			if _, err := c.out.Write(cp.rows[cp.next]); err != nil {
				return err
			}
		}
		cp.size -= int64(len(cp.rows[cp.next])) + 32
		cp.rows[cp.next] = nil
	}
	c.sess.rows = int64(n)
	tag := "FETCH "
	if f.Move {
		tag = "MOVE "
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag + strconv.Itoa(n))})
	return nil
}
