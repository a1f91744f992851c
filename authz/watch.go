package authz

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// watched is one of the data dir's auth files (keys, users, quotas,
// policies, roles): written whole by the CLI or the management API, read
// by the server, which notices a change by the file's size and mtime,
// looking at most every reloadEvery.
type watched struct {
	path    string
	what    string // for errors: "keys", "users" …
	stamp   fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// reloadEvery is how often a server looks at the files again.
const reloadEvery = 500 * time.Millisecond

// snapshot is what look found: the contents and their stamp, or gone.
type snapshot struct {
	data  []byte
	stamp fileStamp
	gone  bool
}

// look reads the file when it changed since the stamp kept last (always
// with force); changed is false when there is nothing new. The caller
// keeps the snapshot's stamp once it has taken the contents.
func (w *watched) look(force bool) (snap snapshot, changed bool, err error) {
	st, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return snapshot{gone: true}, true, nil
	}
	if err != nil {
		return snap, false, fmt.Errorf("authz: %s: %w", w.what, err)
	}
	snap.stamp = fileStamp{st.ModTime(), st.Size()}
	if !force && snap.stamp == w.stamp {
		return snap, false, nil
	}
	if snap.data, err = os.ReadFile(w.path); err != nil {
		return snap, false, fmt.Errorf("authz: %s: %w", w.what, err)
	}
	return snap, true, nil
}

// invalid is the error of contents that do not parse.
func (w *watched) invalid(err error) error {
	return fmt.Errorf("authz: %s file %s: %w", w.what, w.path, err)
}

// due reports whether it is time to look again (reloadEvery since the
// last look, or the clock went back), starting a new interval if so.
func (w *watched) due(now time.Time) bool {
	if w.path == "" {
		return false // in memory only
	}
	if now.Sub(w.checked) < reloadEvery && !now.Before(w.checked) {
		return false
	}
	w.checked = now
	return true
}
