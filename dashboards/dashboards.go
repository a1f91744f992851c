// Package dashboards ships Grafana provisioning files and dashboards for
// AllSource:
//
//	grafana/allsource-operations.json   the server's Prometheus metrics
//	grafana/allsource-analytics.json    events through the Postgres front end
//	provisioning/datasources/allsource.yaml
//	provisioning/dashboards/allsource.yaml
//
// The dashboards talk to a server only through its interfaces (pgwire and
// /metrics); the tests run every panel's query against a real one.
package dashboards

import "embed"

// Files holds the dashboards and provisioning files.
//
//go:embed grafana/*.json provisioning/*/*.yaml
var Files embed.FS
