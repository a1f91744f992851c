package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/allsource/allsource/wal"
)

// Config is the server's configuration. Defaults are in registerFlags; every
// flag can also come from the environment (ALLSOURCE_<FLAG>).
type Config struct {
	DataDir  string
	HTTPAddr string
	PGAddr   string

	HTTPTLS     string
	HTTPTLSCert string
	HTTPTLSKey  string

	Auth          string
	JWTPublicKeys string
	JWTJWKS       string
	JWTIssuer     string
	JWTAudience   string

	PGUser             string
	PGPassword         string
	PGAuth             string
	PGTLS              string
	PGTLSCert          string
	PGTLSKey           string
	PGMaxConns         int
	PGStatementTimeout time.Duration
	// PGStartupTimeout bounds a pgwire connection's start-up and login;
	// PGMaxStartupConns and PGMaxStartupConnsPerHost bound connections
	// still logging in, in all and from one address.
	PGStartupTimeout         time.Duration
	PGMaxStartupConns        int
	PGMaxStartupConnsPerHost int

	Fsync         string
	FsyncInterval time.Duration
	SegmentSize   int64

	FlushRows  int
	FlushBytes int64
	// IndexCacheBytes bounds the entity index's block cache.
	IndexCacheBytes int64
	// IndexCompression is how the entity index stores new blocks.
	IndexCompression string
	FlushAge         time.Duration
	// ProjectionCheckpoint is how often each projection saves its state.
	ProjectionCheckpoint time.Duration
	// ProjectionApplyEvery spaces each projection's applies (0: every
	// batch as it comes).
	ProjectionApplyEvery time.Duration
	// ExportFileRoot is the directory file export targets must be inside
	// ("" for DATA_DIR/exports).
	ExportFileRoot string
	// ExportAllowHosts is what network export targets may reach
	// (comma-separated hosts, IP addresses, CIDR networks, "*"; empty:
	// any host at a public address). See export/netguard.go.
	ExportAllowHosts string
	// OTLPEndpoint, when set, turns tracing on: spans go there over
	// OTLP/HTTP. TraceSample is the share of traces kept.
	OTLPEndpoint    string
	TraceSample     float64
	CompactMinFiles int
	CompactInterval time.Duration

	MaxBodyBytes    int64
	MaxBatchEvents  int
	MaxPayloadBytes int
	DedupWindow     int
	VersionCache    int
	DedupAge        time.Duration
	QueryTimeout    time.Duration
	QueryCacheBytes int64
	ReadTimeout     time.Duration
	MemoryLimit     string

	LogLevel  string
	LogFormat string
	Pprof     bool
}

// registerStorageFlags adds the flags that shape the data directory, shared
// by serve and import --data-dir.
func (c *Config) registerStorageFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./data", "data directory (WAL, warehouse, catalog)")
	fs.StringVar(&c.Fsync, "fsync", "always", "WAL durability: always (ack after fsync), interval, off")
	fs.DurationVar(&c.FsyncInterval, "fsync-interval", 100*time.Millisecond, "fsync period in --fsync interval mode")
	fs.Int64Var(&c.SegmentSize, "wal-segment-bytes", 64<<20, "WAL segment size")
	fs.IntVar(&c.FlushRows, "flush-rows", 1_000_000, "flush the hot tier to Parquet at this many events")
	fs.Int64Var(&c.FlushBytes, "flush-bytes", 256<<20, "... or at this many bytes")
	fs.DurationVar(&c.FlushAge, "flush-age", 30*time.Second, "... or when its oldest event is this old")
	fs.Int64Var(&c.IndexCacheBytes, "index-cache-bytes", 64<<20, "memory for the entity index's blocks (entity streams, point reads)")
	fs.StringVar(&c.IndexCompression, "index-compression", "snappy", "how the entity index stores blocks written from now on: snappy, or none (cheaper flushes and cache misses, about 1.7x the data dir)")
	fs.StringVar(&c.ExportFileRoot, "export-file-root", "", "file export targets must be inside this directory (default DATA_DIR/exports)")
	fs.StringVar(&c.ExportAllowHosts, "export-allow-hosts", "", "what network export targets may reach, comma-separated: hosts (host, host:port, *.domain), IP addresses and CIDR networks, * (any host, public addresses); empty: any host at a public address")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "send OpenTelemetry spans over OTLP/HTTP to this URL (e.g. http://localhost:4318); off by default (the OTEL_EXPORTER_OTLP_* variables work too)")
	fs.Float64Var(&c.TraceSample, "trace-sample", 1, "share of traces kept when tracing is on (0..1; a caller's sampled trace is always kept)")
	fs.DurationVar(&c.ProjectionCheckpoint, "projection-checkpoint", 5*time.Second, "how often each projection saves its state and position (a restart replays the events since)")
	fs.DurationVar(&c.ProjectionApplyEvery, "projection-apply-every", 40*time.Millisecond, "a projection applies at most this often, the events that came meanwhile together (0: each ingest batch on its own)")
	fs.IntVar(&c.CompactMinFiles, "compact-min-files", 8, "merge a partition's Parquet files once it has this many")
	fs.DurationVar(&c.CompactInterval, "compact-interval", 30*time.Second, "how often to look for compaction work")
	fs.IntVar(&c.MaxBatchEvents, "max-batch-events", 100_000, "most events in one batch")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", 1<<20, "most bytes of payload+metadata in one event")
	fs.IntVar(&c.DedupWindow, "dedup-window", 1_000_000, "duplicate detection covers ids stored within this many of the latest events")
	fs.DurationVar(&c.DedupAge, "dedup-age", 0, "... or ingested within this long (e.g. 24h; 0: the count alone)")
	fs.IntVar(&c.VersionCache, "version-cache", 1_000_000, "entities whose current version ingest keeps in memory (the entity index has the rest)")
	fs.StringVar(&c.MemoryLimit, "memory-limit", "", "query engine memory limit, e.g. 8GB (default: 80% of RAM)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
}

// registerLoadFlags adds the storage flags that matter to a command
// writing into a data dir directly (import, demo); the others keep
// their defaults.
func (c *Config) registerLoadFlags(fs *flag.FlagSet) {
	all := flag.NewFlagSet("", flag.ContinueOnError)
	c.registerStorageFlags(all)
	for _, name := range []string{"data-dir", "fsync", "fsync-interval", "wal-segment-bytes", "flush-rows", "flush-bytes", "flush-age",
		"max-batch-events", "max-payload-bytes", "dedup-window", "memory-limit", "log-level", "log-format"} {
		f := all.Lookup(name)
		fs.Var(f.Value, f.Name, f.Usage)
	}
}

func (c *Config) registerServeFlags(fs *flag.FlagSet) {
	c.registerStorageFlags(fs)
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&c.PGAddr, "pg-addr", "127.0.0.1:5433", "Postgres wire protocol listen address (empty: off)")
	fs.StringVar(&c.HTTPTLS, "http-tls", "off", "HTTPS: off, on (with --http-tls-cert/--http-tls-key) or auto (the self-signed certificate kept in the data dir, shared with pgwire)")
	fs.StringVar(&c.HTTPTLSCert, "http-tls-cert", "", "HTTPS certificate (PEM)")
	fs.StringVar(&c.HTTPTLSKey, "http-tls-key", "", "HTTPS private key (PEM)")
	fs.StringVar(&c.Auth, "auth", "auto", "authentication: auto (on when the data dir has API keys or a token secret, or --jwt-public-key is set), on, or off (loopback addresses only)")
	fs.StringVar(&c.JWTPublicKeys, "jwt-public-key", "", "comma-separated PEM public keys (RSA: RS256, Ed25519: EdDSA) whose tokens are accepted")
	fs.StringVar(&c.JWTJWKS, "jwt-jwks", "", "a JSON Web Key Set file of public keys (RSA, Ed25519) whose tokens are accepted, each under its kid")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "when set, tokens must carry this iss")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "when set, tokens must carry this aud")
	fs.StringVar(&c.PGUser, "pg-user", "", "pgwire user name; with --pg-password, clients must authenticate (without: only loopback clients, any user name)")
	fs.StringVar(&c.PGPassword, "pg-password", "", "pgwire password for --pg-user (prefer ALLSOURCE_PG_PASSWORD)")
	fs.StringVar(&c.PGAuth, "pg-auth", "scram-sha-256", "pgwire authentication: scram-sha-256 or password (cleartext, TLS only)")
	fs.StringVar(&c.PGTLS, "pg-tls", "off", "pgwire TLS: off, on (with --pg-tls-cert/--pg-tls-key) or auto (self-signed certificate kept in the data dir)")
	fs.StringVar(&c.PGTLSCert, "pg-tls-cert", "", "pgwire TLS certificate (PEM)")
	fs.StringVar(&c.PGTLSKey, "pg-tls-key", "", "pgwire TLS private key (PEM)")
	fs.IntVar(&c.PGMaxConns, "pg-max-conns", 500, "most concurrent pgwire sessions")
	fs.DurationVar(&c.PGStatementTimeout, "pg-statement-timeout", 0, "default and ceiling of statement_timeout in pgwire sessions: they may SET a lower value, not a higher one or none (0: --query-timeout)")
	fs.DurationVar(&c.PGStartupTimeout, "pg-startup-timeout", 10*time.Second, "longest a pgwire connection may take from connecting to a completed login (TLS and authentication included)")
	fs.IntVar(&c.PGMaxStartupConns, "pg-max-startup-conns", 512, "most pgwire connections still logging in; past it, the oldest of them is closed to make room")
	fs.IntVar(&c.PGMaxStartupConnsPerHost, "pg-max-startup-conns-per-host", 256, "most pgwire connections still logging in from one address; past it, that address's oldest is closed to make room")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 64<<20, "largest accepted request body")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", 5*time.Minute, "longest a query may run (HTTP, and pgwire unless --pg-statement-timeout is set)")
	fs.Int64Var(&c.QueryCacheBytes, "query-cache-bytes", 64<<20, "memory for cached EventQL answers (0: off); new data invalidates them")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 60*time.Second, "longest a client may take to send a request")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve Go profiling endpoints under /debug/pprof/ on the HTTP address")
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if present.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := "ALLSOURCE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Validate checks values that flags cannot check by type.
func (c *Config) Validate() error {
	if _, err := wal.ParseSyncMode(c.Fsync); err != nil {
		return fmt.Errorf("--fsync: %w", err)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.TraceSample < 0 || c.TraceSample > 1 {
		return fmt.Errorf("--trace-sample %v: want a share between 0 and 1", c.TraceSample)
	}
	if c.ProjectionApplyEvery < 0 || c.ProjectionApplyEvery > time.Minute {
		return fmt.Errorf("--projection-apply-every %v: want 0 to 1m", c.ProjectionApplyEvery)
	}
	if c.ProjectionCheckpoint <= 0 {
		return fmt.Errorf("--projection-checkpoint %v: want a positive duration", c.ProjectionCheckpoint)
	}
	if c.IndexCacheBytes < 0 {
		return errors.New("--index-cache-bytes must not be negative")
	}
	if c.IndexCompression != "none" && c.IndexCompression != "snappy" {
		return fmt.Errorf("--index-compression %q: want none or snappy", c.IndexCompression)
	}
	if c.FlushRows <= 0 || c.FlushBytes <= 0 || c.FlushAge <= 0 {
		return errors.New("--flush-rows, --flush-bytes and --flush-age must be positive")
	}
	if c.CompactMinFiles < 2 {
		return errors.New("--compact-min-files must be at least 2")
	}
	if c.MaxBatchEvents <= 0 || c.MaxPayloadBytes <= 0 || c.DedupWindow <= 0 || c.VersionCache <= 0 {
		return errors.New("--max-batch-events, --max-payload-bytes, --dedup-window and --version-cache must be positive")
	}
	if c.DedupAge < 0 {
		return errors.New("--dedup-age must not be negative")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	switch c.HTTPTLS {
	case "", "off", "auto":
	case "on":
		if c.HTTPTLSCert == "" || c.HTTPTLSKey == "" {
			return errors.New("--http-tls on needs --http-tls-cert and --http-tls-key")
		}
	default:
		return fmt.Errorf("--http-tls must be off, on or auto, got %q", c.HTTPTLS)
	}
	if c.PGTLS == "" && c.PGAuth == "" {
		return nil // a command without the pgwire flags (import)
	}
	switch c.PGTLS {
	case "off", "auto":
	case "on":
		if c.PGTLSCert == "" || c.PGTLSKey == "" {
			return errors.New("--pg-tls on needs --pg-tls-cert and --pg-tls-key")
		}
	default:
		return fmt.Errorf("--pg-tls must be off, on or auto, got %q", c.PGTLS)
	}
	if c.PGAuth != "scram-sha-256" && c.PGAuth != "password" {
		return fmt.Errorf("--pg-auth must be scram-sha-256 or password, got %q", c.PGAuth)
	}
	if (c.PGUser == "") != (c.PGPassword == "") {
		return errors.New("--pg-user and --pg-password go together")
	}
	if c.PGAuth == "password" && c.PGTLS == "off" && c.PGUser != "" {
		return errors.New("--pg-auth password sends the password in clear text, so it needs --pg-tls on or auto")
	}
	if c.PGStatementTimeout < 0 {
		return fmt.Errorf("--pg-statement-timeout %v: want a positive duration, or 0 for --query-timeout", c.PGStatementTimeout)
	}
	if c.PGStartupTimeout <= 0 || c.PGMaxStartupConns <= 0 || c.PGMaxStartupConnsPerHost <= 0 {
		return errors.New("--pg-startup-timeout, --pg-max-startup-conns and --pg-max-startup-conns-per-host must be positive")
	}
	return nil
}

// pgStatementTimeout is the statement timeout of pgwire sessions:
// --pg-statement-timeout, else --query-timeout, else HTTP's default for
// it, so that no front end runs statements without a bound.
func (c *Config) pgStatementTimeout() time.Duration {
	switch {
	case c.PGStatementTimeout > 0:
		return c.PGStatementTimeout
	case c.QueryTimeout > 0:
		return c.QueryTimeout
	}
	return 5 * time.Minute
}

func (c *Config) logger(w *os.File) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
