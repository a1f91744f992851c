package main

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/qcache"
	"github.com/allsource/allsource/projections"
)

// metrics are the Prometheus metrics of one server. They implement the
// observer interfaces of ingest and warehouse.
type metrics struct {
	reg *prometheus.Registry

	eventsIngested  prometheus.Counter
	batchesIngested prometheus.Counter
	rejected        *prometheus.CounterVec
	commitLatency   prometheus.Histogram
	fsyncLatency    prometheus.Histogram
	flushes         prometheus.Counter
	flushDuration   prometheus.Histogram
	flushedRows     prometheus.Counter
	compactions     prometheus.Counter
	compactDuration prometheus.Histogram
	queryDuration   prometheus.Histogram
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	pgSessions      prometheus.Gauge
	pgStatements    *prometheus.CounterVec
	pgDuration      *prometheus.HistogramVec
	pgAuthFailures  prometheus.Counter
	projections     *projectionMetrics
	exports         *exportMetrics
	projEngine      atomic.Pointer[projections.Engine]
}

func newMetrics() *metrics {
	lat := prometheus.ExponentialBuckets(0.0001, 2, 18) // 100µs .. ~13s
	m := &metrics{
		reg: prometheus.NewRegistry(),
		eventsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_events_ingested_total", Help: "Events stored (acknowledged)."}),
		batchesIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_batches_ingested_total", Help: "Batches stored (acknowledged)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allsource_batches_rejected_total", Help: "Batches rejected, by error code."}, []string{"code"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allsource_group_commit_seconds", Help: "Time from WAL write to acknowledgement of a group commit (fsync + hot-tier append).", Buckets: lat}),
		fsyncLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allsource_wal_fsync_seconds", Help: "WAL fsync duration.", Buckets: lat}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_flushes_total", Help: "Hot-tier generations flushed to Parquet."}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allsource_flush_seconds", Help: "Flush duration.", Buckets: lat}),
		flushedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_flushed_events_total", Help: "Events written to Parquet by flushes."}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_compactions_total", Help: "Partitions compacted."}),
		compactDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allsource_compaction_seconds", Help: "Compaction duration.", Buckets: lat}),
		queryDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allsource_query_seconds", Help: "Query duration, from start to the end of streaming.", Buckets: lat}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allsource_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "allsource_http_request_seconds", Help: "HTTP request duration by route.", Buckets: lat}, []string{"route"}),
		pgSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allsource_pg_sessions", Help: "Open pgwire sessions."}),
		pgStatements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allsource_pg_statements_total", Help: "pgwire statements executed, by kind and outcome."}, []string{"kind", "outcome"}),
		pgDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "allsource_pg_statement_seconds", Help: "pgwire statement duration by kind, until the last row is sent.", Buckets: lat}, []string{"kind"}),
		pgAuthFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allsource_pg_auth_failures_total", Help: "Refused pgwire logins."}),
	}
	m.reg.MustRegister(m.eventsIngested, m.batchesIngested, m.rejected, m.commitLatency, m.fsyncLatency,
		m.flushes, m.flushDuration, m.flushedRows, m.compactions, m.compactDuration, m.queryDuration,
		m.httpRequests, m.httpDuration, m.pgSessions, m.pgStatements, m.pgDuration, m.pgAuthFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.projections = newProjectionMetrics(m.reg, m.projEngine.Load)
	m.exports = newExportMetrics(m.reg)
	return m
}

// registerStore adds gauges read from the open store.
func (m *metrics) registerStore(s *store) {
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("allsource_hot_rows", "Events in the in-memory hot tier.", func() float64 { return float64(s.wh.Stats().HotRows) })
	gauge("allsource_hot_bytes", "Approximate bytes in the hot tier.", func() float64 { return float64(s.wh.Stats().HotBytes) })
	gauge("allsource_parquet_files", "Parquet files in the manifest.", func() float64 { return float64(s.wh.Stats().Files) })
	gauge("allsource_parquet_bytes", "Bytes of Parquet files in the manifest.", func() float64 { return float64(s.wh.Stats().FileBytes) })
	gauge("allsource_flushed_seq", "Highest seq stored in Parquet.", func() float64 { return float64(s.wh.Stats().FlushedSeq) })
	gauge("allsource_wal_bytes", "Size of the WAL segments on disk.", func() float64 { return float64(s.wal.Size()) })
	gauge("allsource_wal_segments", "WAL segments on disk.", func() float64 { return float64(len(s.wal.Segments())) })
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "allsource_point_reads_total",
		Help: "Statements answered from the entity index without the query engine."},
		func() float64 { return float64(s.wh.Stats().PointReads) }))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "allsource_entity_scans_total",
		Help: "Statements whose pinned entity the query engine read from the entity index instead of the files."},
		func() float64 { return float64(s.wh.Stats().EntityScans) }))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "allsource_column_scans_total",
		Help: "Funnels, retention and count series answered from the event columns instead of the query engine."},
		func() float64 { return float64(s.wh.Stats().ColumnScans) }))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "allsource_column_scans_declined_total",
		Help: "Questions the event columns could have answered but declined (a read restriction, columns being built), so the engine did."},
		func() float64 { return float64(s.wh.Stats().ColumnDeclines) }))
	gauge("allsource_engine_instances", "Tenants' query engine instances open (each sandboxed to its tenant's data).",
		func() float64 { return float64(s.wh.EngineInstances()) })
}

func (m *metrics) observeFsync(d time.Duration) { m.fsyncLatency.Observe(d.Seconds()) }

// Committed implements ingest.Observer.
func (m *metrics) Committed(events, batches int, d time.Duration) {
	m.eventsIngested.Add(float64(events))
	m.batchesIngested.Add(float64(batches))
	m.commitLatency.Observe(d.Seconds())
}

// Rejected implements ingest.Observer.
func (m *metrics) Rejected(code allsource.Code) { m.rejected.WithLabelValues(string(code)).Inc() }

// Flushed implements warehouse.Observer.
func (m *metrics) Flushed(rows int, bytes int64, d time.Duration) {
	m.flushes.Inc()
	m.flushedRows.Add(float64(rows))
	m.flushDuration.Observe(d.Seconds())
}

// Compacted implements warehouse.Observer.
func (m *metrics) Compacted(files int, rows int64, d time.Duration) {
	m.compactions.Inc()
	m.compactDuration.Observe(d.Seconds())
}

// Queried implements warehouse.Observer.
func (m *metrics) Queried(d time.Duration) { m.queryDuration.Observe(d.Seconds()) }

// SessionStarted implements pgwire.Observer.
func (m *metrics) SessionStarted() { m.pgSessions.Inc() }

// SessionEnded implements pgwire.Observer.
func (m *metrics) SessionEnded() { m.pgSessions.Dec() }

// Statement implements pgwire.Observer.
func (m *metrics) Statement(kind string, d time.Duration, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.pgStatements.WithLabelValues(kind, outcome).Inc()
	m.pgDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// AuthFailed implements pgwire.Observer.
func (m *metrics) AuthFailed() { m.pgAuthFailures.Inc() }

// registerCache exports the EventQL answer cache's hits, misses and size.
func (m *metrics) registerCache(c *qcache.Cache) {
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "allsource_query_cache_hits_total", Help: "EventQL answers served from the cache."})
	misses := prometheus.NewCounter(prometheus.CounterOpts{Name: "allsource_query_cache_misses_total", Help: "EventQL queries the cache could not answer."})
	m.reg.MustRegister(hits, misses,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "allsource_query_cache_bytes", Help: "Bytes of cached EventQL answers."},
			func() float64 { return float64(c.Bytes()) }))
	c.OnHit, c.OnMiss = hits.Inc, misses.Inc
}

// exported records one batch of an export job.
func (m *metrics) exported(tenant, job string, rows int, bytes int64, lag uint64) {
	m.exports.rows.WithLabelValues(tenant, job).Add(float64(rows))
	m.exports.bytes.WithLabelValues(tenant, job).Add(float64(bytes))
	m.exports.lag.WithLabelValues(tenant, job).Set(float64(lag))
}
