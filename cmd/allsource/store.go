package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/allsource/allsource/export"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/projections"
	"github.com/allsource/allsource/wal"
	"github.com/allsource/allsource/warehouse"
)

// store is an open data directory: WAL, warehouse and the ingest pipeline.
type store struct {
	wal     *wal.Log
	wh      *warehouse.Warehouse
	ingest  *ingest.Service
	metrics *metrics
	hub     *projections.Hub // live subscriptions
	proj    *projections.Engine
	exports *export.Manager
	opened  time.Time
	unlock  func() // the data directory's lock
}

// faultEnv names the environment variable that makes the process kill itself
// (SIGKILL) at a named step of flush or compaction, for crash tests. See
// warehouse.FaultPoints.
const faultEnv = "ALLSOURCE_FAULT"

func openStore(ctx context.Context, cfg *Config, log *slog.Logger, m *metrics) (*store, error) {
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := openLockedStore(ctx, cfg, log, m)
	if err != nil {
		unlock()
		return nil, err
	}
	st.unlock = unlock
	return st, nil
}

// checkDataDir refuses a data directory path that names something else.
func checkDataDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--data-dir %s is a file, not a directory", dir)
	}
	return nil
}

// openLockedStore opens the store in a data directory this process has
// locked.
func openLockedStore(ctx context.Context, cfg *Config, log *slog.Logger, m *metrics) (*store, error) {
	mode, err := wal.ParseSyncMode(cfg.Fsync)
	if err != nil {
		return nil, err
	}
	wopts := wal.Options{SegmentSize: cfg.SegmentSize, Sync: mode, SyncInterval: cfg.FsyncInterval, Logger: log}
	if m != nil {
		wopts.OnSync = m.observeFsync
	}
	wl, err := wal.Open(filepath.Join(cfg.DataDir, "wal"), wopts)
	if err != nil {
		return nil, fmt.Errorf("open WAL: %w", err)
	}
	var svc atomic.Pointer[ingest.Service]
	hopts := warehouse.Options{
		DataDir:          cfg.DataDir,
		FlushRows:        cfg.FlushRows,
		FlushBytes:       cfg.FlushBytes,
		IndexCacheBytes:  cfg.IndexCacheBytes,
		IndexCompression: cfg.IndexCompression,
		FlushAge:         cfg.FlushAge,
		CompactMinFiles:  cfg.CompactMinFiles,
		CompactInterval:  cfg.CompactInterval,
		MemLimit:         cfg.MemoryLimit,
		Logger:           log,
		OnFlushed: func(watermark uint64) {
			if s := svc.Load(); s != nil {
				s.Checkpoint(watermark)
			}
		},
	}
	if m != nil {
		hopts.Observe = m
	}
	var fault func(string)
	if point := os.Getenv(faultEnv); point != "" {
		log.Warn("fault injection armed: the process kills itself at this point", "point", point)
		fault = func(p string) {
			if p == point {
				log.Warn("fault injection: SIGKILL", "point", p)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
		hopts.Fault = fault
	}
	wh, err := warehouse.Open(ctx, hopts)
	if err != nil {
		wl.Close()
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	hub := projections.NewHub(0)
	iopts := ingest.Options{
		Limits:      ingest.Limits{MaxPayloadBytes: cfg.MaxPayloadBytes, MaxBatchEvents: cfg.MaxBatchEvents},
		DedupWindow: cfg.DedupWindow, DedupAge: cfg.DedupAge, VersionCache: cfg.VersionCache,
		Logger:    log,
		OnApplied: hub.Publish,
	}
	if m != nil {
		iopts.Observe = m
	}
	s, err := ingest.Open(ctx, wl, wh, iopts)
	if err != nil {
		wh.Close()
		wl.Close()
		return nil, fmt.Errorf("recover: %w", err)
	}
	svc.Store(s)
	if wm := wh.FlushedSeq(); wm > 0 {
		s.Checkpoint(wm)
	}
	hub.Advance(wh.DataWatermark()) // recovered events are stored, not live
	every := cfg.ProjectionApplyEvery
	if every == 0 {
		every = -1 // the engine's "every batch"
	}
	popts := projections.Options{Logger: log, CheckpointEvery: cfg.ProjectionCheckpoint, ApplyEvery: every}
	if m != nil {
		popts.Observe = m.projections
	}
	pe, err := projections.Open(ctx, wh, hub, popts)
	if err != nil {
		s.Close(ctx, false)
		wh.Close()
		wl.Close()
		return nil, fmt.Errorf("projections: %w", err)
	}
	if m != nil {
		m.projEngine.Store(pe)
	}
	eopts := export.Options{Logger: log, Fault: fault, FileRoot: cfg.ExportFileRoot, Self: []string{cfg.HTTPAddr, cfg.PGAddr}}
	if eopts.FileRoot == "" {
		eopts.FileRoot = filepath.Join(cfg.DataDir, "exports")
	}
	for _, h := range strings.Split(cfg.ExportAllowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			eopts.AllowHosts = append(eopts.AllowHosts, h)
		}
	}
	if m != nil {
		eopts.Observe = m.exported
	}
	ex, err := export.Open(ctx, wh, eopts)
	if err != nil {
		pe.Close()
		s.Close(ctx, false)
		wh.Close()
		wl.Close()
		return nil, fmt.Errorf("exports: %w", err)
	}
	return &store{wal: wl, wh: wh, ingest: s, metrics: m, hub: hub, proj: pe, exports: ex, opened: time.Now()}, nil
}

// Close finishes in-flight batches, flushes the hot tier to Parquet and
// closes everything.
func (s *store) Close(ctx context.Context) error {
	s.hub.Close()
	s.exports.Close()      // each job after its current batch
	perr := s.proj.Close() // saves a checkpoint of each projection
	err := errors.Join(perr, s.ingest.Close(ctx, true))
	err = errors.Join(err, s.wh.Close(), s.wal.Close())
	if s.unlock != nil {
		s.unlock()
	}
	return err
}
