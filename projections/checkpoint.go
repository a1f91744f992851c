package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/allsource/allsource/internal/durable"
)

// A checkpoint is a projection version's state tables saved to Parquet
// files together with the seq they reflect. checkpoint.json names the
// files and the seq; it is replaced by rename, so state and seq change
// together or not at all. Files it does not name (a checkpoint cut short)
// are removed. Some checkpoints are kept as snapshots, from which the
// state at an earlier moment is rebuilt.
type checkpoint struct {
	Seq       uint64     `json:"seq"`
	At        time.Time  `json:"at"`
	Files     []string   `json:"files"`
	Snapshots []snapshot `json:"snapshots,omitempty"`
}

// snapshot is a kept checkpoint: the state at Seq, saved at At.
type snapshot struct {
	Seq   uint64    `json:"seq"`
	At    time.Time `json:"at"`
	Files []string  `json:"files"`
}

const checkpointFile = "checkpoint.json"

func readCheckpoint(dir string) (*checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("projections: %s: %w", filepath.Join(dir, checkpointFile), err)
	}
	return &cp, nil
}

// writeCheckpoint makes cp the directory's checkpoint: written to a
// temporary file, synced, renamed over the old one, and the directory
// synced.
func writeCheckpoint(dir string, cp *checkpoint) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	return durable.Replace(filepath.Join(dir, checkpointFile), b)
}

// removeUnnamed deletes the files of dir that cp does not name.
func removeUnnamed(dir string, cp *checkpoint) error {
	keep := map[string]bool{checkpointFile: true}
	if cp != nil {
		for _, f := range cp.Files {
			keep[f] = true
		}
		for _, s := range cp.Snapshots {
			for _, f := range s.Files {
				keep[f] = true
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// saveCheckpoint writes the runner's state at seq as the new checkpoint,
// keeping it as a snapshot when the last one is older than the snapshot
// interval.
func (r *runner) saveCheckpoint(ctx context.Context, seq uint64) error {
	prefix := fmt.Sprintf("s%020d-%d", seq, time.Now().UnixNano())
	files, err := r.f.save(ctx, r.dir, prefix)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	for _, f := range files {
		if err := durable.SyncFile(filepath.Join(r.dir, f)); err != nil {
			return err
		}
	}
	if err := r.e.fault("checkpoint.files"); err != nil {
		return err
	}
	now := time.Now().UTC()
	cp := &checkpoint{Seq: seq, At: now, Files: files}
	if r.cp != nil {
		cp.Snapshots = r.cp.Snapshots
	}
	if n := len(cp.Snapshots); n == 0 || now.Sub(cp.Snapshots[n-1].At) >= r.e.opts.SnapshotEvery {
		cp.Snapshots = append(cp.Snapshots, snapshot{Seq: seq, At: now, Files: files})
		if over := len(cp.Snapshots) - r.e.opts.KeepSnapshots; over > 0 {
			cp.Snapshots = append([]snapshot(nil), cp.Snapshots[over:]...)
		}
	}
	if err := writeCheckpoint(r.dir, cp); err != nil {
		return err
	}
	r.mu.Lock()
	r.cp = cp
	r.mu.Unlock()
	if err := r.e.fault("checkpoint.written"); err != nil {
		return err
	}
	return removeUnnamed(r.dir, cp)
}
