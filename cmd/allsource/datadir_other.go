//go:build !unix

package main

// lockDataDir does nothing where there is no flock: one server per data
// directory is the operator's to keep.
func lockDataDir(dir string) (release func(), err error) { return func() {}, nil }
