package main

import (
	"context"
	"io/fs"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/allsource/allsource"
)

// statusReport is GET /v1/status (served by httpapi.RegisterStatus): what
// an operator's cluster or health view shows of one server.
type statusReport struct {
	Version       string         `json:"version"`
	Revision      string         `json:"revision,omitempty"`
	GoVersion     string         `json:"go_version"`
	StartedAt     time.Time      `json:"started_at"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Healthy       bool           `json:"healthy"`
	Problem       string         `json:"problem,omitempty"`
	DataDir       string         `json:"data_dir"`
	DataDirBytes  int64          `json:"data_dir_bytes"`
	WAL           walStatus      `json:"wal"`
	HotTier       hotStatus      `json:"hot_tier"`
	Parquet       parquetStatus  `json:"parquet"`
	DataWatermark uint64         `json:"data_watermark"` // the highest seq queries see
	Tenants       []tenantStatus `json:"tenants"`
	Jobs          jobsStatus     `json:"jobs"`
}

type walStatus struct {
	Bytes    int64 `json:"bytes"`
	Segments int   `json:"segments"`
}

type hotStatus struct {
	Rows        int64 `json:"rows"`
	Bytes       int64 `json:"bytes"`
	Generations int   `json:"generations"` // more than one: frozen ones waiting to be flushed
}

type parquetStatus struct {
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`
	Rows       int64  `json:"rows"`
	FlushedSeq uint64 `json:"flushed_seq"`
}

type tenantStatus struct {
	Tenant       string `json:"tenant"`
	Events       int64  `json:"events"`
	LastSeq      uint64 `json:"last_seq"`
	StorageBytes int64  `json:"parquet_bytes"`
}

type jobsStatus struct {
	Projections []projectionJob `json:"projections"`
	Exports     []exportJob     `json:"exports"`
	Subscribers int             `json:"subscribers"`
}

type exportJob struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Target    string `json:"target"`
	Status    string `json:"status"`
	LastError string `json:"last_error,omitempty"`
	Lag       uint64 `json:"lag"`
}

type projectionJob struct {
	Tenant    string `json:"tenant"`
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
	LagEvents uint64 `json:"lag_events"`
	Rebuild   string `json:"rebuilding,omitempty"` // status of a version rebuilding
}

func buildStatus(ctx context.Context, cfg *Config, st *store, started time.Time) (*statusReport, error) {
	rep := &statusReport{Version: Version(), GoVersion: runtime.Version(), StartedAt: started.UTC(),
		UptimeSeconds: time.Since(started).Seconds(), Healthy: true, DataDir: cfg.DataDir}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rep.Revision = s.Value
			}
		}
	}
	for _, err := range []error{st.ingest.Healthy(), st.wh.Healthy()} {
		if err != nil && rep.Healthy {
			rep.Healthy, rep.Problem = false, err.Error()
		}
	}
	filepath.WalkDir(cfg.DataDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				rep.DataDirBytes += info.Size()
			}
		}
		return nil
	})
	rep.WAL = walStatus{Bytes: st.wal.Size(), Segments: len(st.wal.Segments())}
	s := st.wh.Stats()
	rep.HotTier = hotStatus{Rows: s.HotRows, Bytes: s.HotBytes, Generations: s.Generations}
	rep.Parquet = parquetStatus{Files: s.Files, Bytes: s.FileBytes, Rows: s.FileRows, FlushedSeq: s.FlushedSeq}
	rep.DataWatermark = st.wh.DataWatermark()

	rows, err := st.wh.QueryInternal(ctx, "SELECT tenant_id, count(*), max(seq) FROM events GROUP BY tenant_id ORDER BY tenant_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rep.Tenants = []tenantStatus{}
	for rows.Next() {
		var t tenantStatus
		if err := rows.Scan(&t.Tenant, &t.Events, &t.LastSeq); err != nil {
			return nil, err
		}
		t.StorageBytes = st.wh.TenantBytes(t.Tenant)
		rep.Tenants = append(rep.Tenants, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rep.Jobs.Projections = []projectionJob{}
	for _, p := range st.proj.List("") {
		j := projectionJob{Tenant: p.Tenant, Name: p.Name, Version: p.Version, Status: p.Status, Reason: p.Reason, LagEvents: p.LagEvents}
		if p.Rebuilding != nil {
			j.Rebuild = p.Rebuilding.Status
		}
		rep.Jobs.Projections = append(rep.Jobs.Projections, j)
	}
	rep.Jobs.Exports = []exportJob{}
	for _, j := range st.exports.List(allsource.AllTenants) {
		target := j.Redacted().Spec.Target // no passwords in status
		rep.Jobs.Exports = append(rep.Jobs.Exports, exportJob{ID: j.ID, Tenant: j.Tenant, Target: target, Status: j.Status, LastError: j.LastError, Lag: j.Lag})
	}
	rep.Jobs.Subscribers = st.hub.Subscribers()
	return rep, nil
}
