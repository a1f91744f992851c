package main

import (
	"context"
	"errors"
)

func (m *Main) runDemo(ctx context.Context, args []string) error {
	return errors.New("demo: not wired yet")
}
func (m *Main) runBench(ctx context.Context, args []string) error {
	return errors.New("bench: not wired yet")
}
