package pgwire

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPanicIsContained: a panic while a result streams (a bug, here made
// on purpose) ends that session with XX000; the engine connection it held
// is discarded, not handed to the next query, so 50 queries from other
// sessions all succeed, over and over every engine connection.
func TestPanicIsContained(t *testing.T) {
	ts := startServer(t, nil)
	ts.appendN(t, 20, 5)
	testHookEachRow = func(text string) {
		if strings.Contains(text, "boom") {
			panic("on purpose")
		}
	}
	t.Cleanup(func() { testHookEachRow = nil })
	ctx := context.Background()
	for i := 0; i < 4; i++ { // as many as the engine has connections, and more
		c, err := pgx.Connect(ctx, ts.dsn(fmt.Sprintf("victim%d", i), ""))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, "SELECT 'boom' AS x, count(*) FROM events")
		if code := pgCode(err); code != "XX000" || !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("the panicking session: %v", err)
		}
		c.Close(ctx)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, ts.dsn(fmt.Sprintf("u%d", i), ""))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != 20 {
				errs <- fmt.Errorf("query %d: %d %v", i, n, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
