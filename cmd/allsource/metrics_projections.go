package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allsource/allsource/projections"
)

// projectionMetrics are the projections' figures: events applied, failed
// attempts and visibility latency as they happen, status and lag read from
// the engine at each scrape.
type projectionMetrics struct {
	applied    *prometheus.CounterVec
	failures   *prometheus.CounterVec
	visibility prometheus.Histogram
	engine     func() *projections.Engine

	lagEvents, lagMillis, position, status *prometheus.Desc
}

func newProjectionMetrics(reg *prometheus.Registry, engine func() *projections.Engine) *projectionMetrics {
	labels := []string{"tenant", "projection"}
	p := &projectionMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allsource_projection_events_total", Help: "Events applied by each projection."}, labels),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allsource_projection_failures_total", Help: "Failed attempts to apply a batch or event, per projection."}, labels),
		visibility: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "allsource_projection_visibility_seconds",
			Help:    "Time from an event's ingestion to its batch being visible in a projection (the oldest event of each batch).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		engine:    engine,
		lagEvents: prometheus.NewDesc("allsource_projection_lag_events", "Seqs between a projection's position and its tenant's newest event.", labels, nil),
		lagMillis: prometheus.NewDesc("allsource_projection_lag_milliseconds", "Age of the newest applied event while a projection is behind (0 when caught up).", labels, nil),
		position:  prometheus.NewDesc("allsource_projection_position", "Seq up to which a projection has applied every event.", labels, nil),
		status:    prometheus.NewDesc("allsource_projection_status", "1 for the projection's current status.", append(labels, "status"), nil),
	}
	reg.MustRegister(p.applied, p.failures, p.visibility, p)
	return p
}

func (p *projectionMetrics) Applied(tenant, name string, events int, visibility time.Duration) {
	p.applied.WithLabelValues(tenant, name).Add(float64(events))
	p.visibility.Observe(visibility.Seconds())
}

func (p *projectionMetrics) Failed(tenant, name string) {
	p.failures.WithLabelValues(tenant, name).Inc()
}

func (p *projectionMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.lagEvents
	ch <- p.lagMillis
	ch <- p.position
	ch <- p.status
}

func (p *projectionMetrics) Collect(ch chan<- prometheus.Metric) {
	e := p.engine()
	if e == nil {
		return
	}
	for _, s := range e.List("") {
		ch <- prometheus.MustNewConstMetric(p.lagEvents, prometheus.GaugeValue, float64(s.LagEvents), s.Tenant, s.Name)
		ch <- prometheus.MustNewConstMetric(p.lagMillis, prometheus.GaugeValue, float64(s.LagMillis), s.Tenant, s.Name)
		ch <- prometheus.MustNewConstMetric(p.position, prometheus.GaugeValue, float64(s.Position), s.Tenant, s.Name)
		ch <- prometheus.MustNewConstMetric(p.status, prometheus.GaugeValue, 1, s.Tenant, s.Name, s.Status)
	}
}

// exportMetrics count what export jobs ship and how far behind they are.
type exportMetrics struct {
	rows  *prometheus.CounterVec
	bytes *prometheus.CounterVec
	lag   *prometheus.GaugeVec
}

func newExportMetrics(reg *prometheus.Registry) *exportMetrics {
	labels := []string{"tenant", "job"}
	e := &exportMetrics{
		rows:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allsource_export_rows_total", Help: "Rows export jobs have written to their targets."}, labels),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allsource_export_bytes_total", Help: "Approximate bytes export jobs have written."}, labels),
		lag:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "allsource_export_lag_events", Help: "Seqs between an export job's watermark and the newest event."}, labels),
	}
	reg.MustRegister(e.rows, e.bytes, e.lag)
	return e
}
