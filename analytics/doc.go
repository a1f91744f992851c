// Package analytics answers product-analytics questions over the events:
// funnels (ClickHouse windowFunnel semantics, five modes, exclusions,
// breakdowns, up to 64 steps), retention and cohorts (calendar periods in
// a time zone, first or any start, classic or unbounded, the ClickHouse
// retention(cond…) form), time series (calendar- and zone-aligned buckets,
// gap filling, moving averages, period-over-period change, rates),
// statistics, trends, Holt-Winters forecasts, anomaly detection and pivot
// tables.
//
// The evaluators (Funnel, Retention, the Series*, Stats*, Anomaly* and
// Pivot* functions) are pure and fast: DuckDB selects the relevant events
// (FunnelSQL, RetentionSQL) and hands them over as Arrow batches; Go
// partitions them by key hash, sorts each partition by key and time, and
// one pass per entity computes the answer (the approach ClickHouse's
// windowFunnel takes over a table sorted by entity and time), partitions
// in parallel (feed.go). RunFunnel and RunRetention join the two over a
// warehouse; package httpapi serves them over HTTP. The semantics of
// each evaluator, including ties, exclusions, time zones and DST, are
// stated at the top of its file.
package analytics
