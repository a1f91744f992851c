//go:build bench

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// benchFlags are what the in-process benchmarks share: where their data
// goes and an optional CPU profile.
type benchFlags struct {
	scratch, profile *string
}

func addBenchFlags(fs *flag.FlagSet) benchFlags {
	return benchFlags{
		scratch: fs.String("scratch-dir", "", "where the data dir goes (default: the system temp dir)"),
		profile: fs.String("cpuprofile", "", "write a CPU profile of the run to this file"),
	}
}

// open starts the profile (when asked) and a store with the serve
// defaults (and serveArgs) on a fresh data dir; done stops both and
// removes the dir.
func (b benchFlags) open(ctx context.Context, name string, serveArgs ...string) (st *store, cfg *Config, dir string, done func(), err error) {
	var undo []func()
	done = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	if *b.profile != "" {
		f, err := os.Create(*b.profile)
		if err != nil {
			return nil, nil, "", done, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, nil, "", done, err
		}
		undo = append(undo, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if dir, err = os.MkdirTemp(*b.scratch, "allsource-bench-"+name+"-"); err != nil {
		return nil, nil, "", done, err
	}
	undo = append(undo, func() { os.RemoveAll(dir) })
	cfg = &Config{}
	sfs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.registerServeFlags(sfs)
	// The export benchmark's targets run on loopback.
	if err := sfs.Parse(append([]string{"--data-dir", filepath.Join(dir, "data"), "--export-allow-hosts", "127.0.0.1"}, serveArgs...)); err != nil {
		return nil, nil, "", done, err
	}
	if st, err = openStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), newMetrics()); err != nil {
		return nil, nil, "", done, err
	}
	undo = append(undo, func() { st.Close(context.Background()) })
	return st, cfg, dir, done, nil
}
