package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// Every serve flag can come from ALLSOURCE_<FLAG>; the command line wins,
// and a bad value names the variable.
func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("ALLSOURCE_DATA_DIR", "/srv/events")
	t.Setenv("ALLSOURCE_FLUSH_ROWS", "5000")
	t.Setenv("ALLSOURCE_FLUSH_AGE", "2m")
	t.Setenv("ALLSOURCE_HTTP_ADDR", "0.0.0.0:1")
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.registerServeFlags(fs)
	if err := fs.Parse([]string{"--http-addr", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/srv/events" || cfg.FlushRows != 5000 || cfg.FlushAge != 2*time.Minute || cfg.HTTPAddr != "127.0.0.1:9999" {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Fsync != "always" || cfg.MaxBatchEvents != 100_000 {
		t.Fatalf("defaults lost: %+v", cfg)
	}

	t.Setenv("ALLSOURCE_FLUSH_ROWS", "many")
	var bad Config
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bad.registerServeFlags(fs)
	fs.Parse(nil)
	if err := applyEnv(fs); err == nil || !strings.Contains(err.Error(), "ALLSOURCE_FLUSH_ROWS") {
		t.Fatalf("bad value: %v", err)
	}
}

// TestValidateNamesTheFlag: values a flag's type cannot refuse are refused
// by Validate with the flag's name and what it takes.
func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"--projection-apply-every", "0"}, ""},
		{[]string{"--projection-apply-every", "250ms"}, ""},
		{[]string{"--projection-apply-every", "-1s"}, "--projection-apply-every -1s: want 0 to 1m"},
		{[]string{"--projection-apply-every", "2m"}, "--projection-apply-every 2m0s: want 0 to 1m"},
		{[]string{"--trace-sample", "2"}, "--trace-sample 2"},
		{[]string{"--projection-checkpoint", "0s"}, "--projection-checkpoint 0s"},
	} {
		var cfg Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.registerServeFlags(fs)
		if err := fs.Parse(append([]string{"--data-dir", t.TempDir()}, c.args...)); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
