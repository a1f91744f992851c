package analytics

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/allsource/allsource/warehouse"
)

// evaluator is a pure evaluator of keys' events (Funnel, Retention): it
// takes each key's events in time order and merges with another of its
// kind.
type evaluator[E, R any] interface {
	Add(key string, events []E)
	Result() R
}

// question is one grouped question: its feed statement in each shape,
// the evaluator to run, and how a feed row or a sorted-stream row becomes
// an event.
type question[E any, A evaluator[E, R], R any] struct {
	sql   func(feedShape) (string, error)
	keep  func(bits uint64, flag bool) bool // feed rows the question uses (nil: all)
	new   func() A                          // options already validated
	merge func(into, from A) error
	// fromFeed converts a feed row; fromRow a sorted-stream row (values
	// from index 2 on), false dropping it.
	fromFeed func(fd *feed, r feedRow) E
	fromRow  func(r []driver.Value) (E, bool)
	// typeBits is set when the question is keyed by entity, without
	// breakdown, and its events are chosen by type, or by type and a
	// condition (conds): the column path can answer it, over [from, to).
	typeBits typeBits
	conds    []condition
	from, to *time.Time
}

// runQuestion answers q: by the in-memory feed, or by the engine's sorted
// stream when the feed is too large (by hashes) or keys collide on the
// first hash (by key text).
func runQuestion[E any, A evaluator[E, R], R any](ctx context.Context, wh *warehouse.Warehouse, q question[E, A, R]) (R, error) {
	var zero R
	if q.typeBits != nil {
		res, ok, err := columnsQuestion(ctx, wh, q)
		switch {
		case errors.Is(err, errHashCollision):
			return streamQuestion(ctx, wh, q, shapeText)
		case errors.Is(err, errFeedTooLarge):
			return streamQuestion(ctx, wh, q, shapeHashed)
		case ok || err != nil:
			return res, err
		}
	}
	sql, err := q.sql(shapeFeed)
	if err != nil {
		return zero, err
	}
	fd, err := loadFeed(ctx, wh, sql, q.keep)
	switch {
	case err == nil:
		res, err := feedQuestion(ctx, fd, q)
		if !errors.Is(err, errHashCollision) {
			return res, err
		}
		return streamQuestion(ctx, wh, q, shapeText)
	case errors.Is(err, errFeedTooLarge):
		return streamQuestion(ctx, wh, q, shapeHashed)
	default:
		return zero, err
	}
}

// feedQuestion evaluates the feed's keys, one evaluator per worker,
// merged at the end.
func feedQuestion[E any, A evaluator[E, R], R any](ctx context.Context, fd *feed, q question[E, A, R]) (R, error) {
	var zero R
	evals := make([]A, feedWorkers())
	bufs := make([][]E, len(evals))
	for i := range evals {
		evals[i] = q.new()
	}
	err := fd.each(ctx, func(w int, rows []feedRow) {
		b := bufs[w][:0]
		for _, r := range rows {
			b = append(b, q.fromFeed(fd, r))
		}
		evals[w].Add("", b)
		bufs[w] = b
	})
	if err != nil {
		return zero, err
	}
	for _, e := range evals[1:] {
		if err := q.merge(evals[0], e); err != nil {
			return zero, err
		}
	}
	return evals[0].Result(), nil
}

// streamQuestion answers q by the engine's sorted stream in shape
// (shapeHashed, or shapeText for exact keys).
func streamQuestion[E any, A evaluator[E, R], R any](ctx context.Context, wh *warehouse.Warehouse, q question[E, A, R], shape feedShape) (R, error) {
	var zero R
	eval := q.new()
	reset := func() error { eval = q.new(); return nil }
	var buf []E
	err := scanGrouped(ctx, wh, shape, q.sql, reset,
		func(r []driver.Value) {
			if e, ok := q.fromRow(r); ok {
				buf = append(buf, e)
			}
		}, func() {
			eval.Add("", buf)
			buf = buf[:0]
		})
	if err != nil {
		return zero, err
	}
	return eval.Result(), nil
}
