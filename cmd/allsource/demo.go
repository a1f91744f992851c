package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

func (m *Main) runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return errors.New(fmt.Sprint("demo: generator not wired yet"))
}
