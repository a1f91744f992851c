//go:build !unix

package pgclient

// lockFile does nothing where flock is unavailable.
func lockFile(path string) (func(), error) { return func() {}, nil }
