package export

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/allsource/allsource"
)

// postgresTarget writes to PostgreSQL or TimescaleDB through COPY: the
// rows of a batch and the job's watermark in one transaction, so a batch
// is there whole, with its watermark, or not at all.
type postgresTarget struct {
	cfg    *pgx.ConnConfig
	tenant string
	table  string
	cols   names
	guard  *guard
	conn   *pgx.Conn
	fault  func(string)
}

var (
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	lowerIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`) // PostgreSQL folds unquoted names to lower case
)

// serverFileParams are the connection parameters that name files or
// services on the machine the client runs on.
var serverFileParams = []string{"passfile", "sslkey", "sslcert", "sslrootcert", "sslcrl", "sslpassword", "service", "servicefile"}

// fallbackTLS returns the TLS configurations of cfg's fallbacks.
func fallbackTLS(cfg *pgx.ConnConfig) []*tls.Config {
	var out []*tls.Config
	for _, f := range cfg.Fallbacks {
		out = append(out, f.TLSConfig)
	}
	return out
}

// newPostgresTarget reads postgres://user:pass@host:port/db?table=t (the
// other parameters are pgx's: sslmode, …). The default table is
// allsource_events. Its hosts (the URL's, or a host parameter's) must be
// ones pol admits; it connects through their guard.
func newPostgresTarget(u *url.URL, tenant string, cols names, pol *policy, fault func(string)) (*postgresTarget, error) {
	q := u.Query()
	table := q.Get("table")
	if table == "" {
		table = "allsource_events"
	}
	if !lowerIdentRE.MatchString(table) {
		return nil, fmt.Errorf("target: table %q is not a plain lower-case identifier", table)
	}
	q.Del("table")
	// Parameters that name files or services on the server would let a
	// target read the operator's credentials (a password file, a client
	// key) and send them to the tenant's host.
	for _, k := range serverFileParams {
		if q.Has(k) {
			return nil, fmt.Errorf("target: parameter %s names a file on the server and is not accepted; put the password in the URL", k)
		}
	}
	c := *u
	c.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(c.String())
	if err != nil {
		// Not the parser's message: it may quote the URL's password.
		return nil, fmt.Errorf("target: not a PostgreSQL URL pgx accepts (postgres://user:password@host:5432/db?table=t&sslmode=…)")
	}
	// Only what the URL says: not the server's PGPASSWORD or ~/.pgpass,
	// not a client certificate from its PGSSLCERT/PGSSLKEY.
	cfg.Password, _ = u.User.Password()
	for _, tc := range append([]*tls.Config{cfg.TLSConfig}, fallbackTLS(cfg)...) {
		if tc != nil {
			tc.Certificates, tc.GetClientCertificate = nil, nil
		}
	}
	t := &postgresTarget{cfg: cfg, tenant: tenant, table: table, cols: cols, fault: fault}
	if t.guard, err = newGuard(pol, t.endpoints()); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *postgresTarget) String() string { return "postgres table " + t.table }

// endpoints are the hosts pgx would try: the first and its fallbacks.
func (t *postgresTarget) endpoints() []endpoint {
	eps := []endpoint{{t.cfg.Host, t.cfg.Port}}
	for _, f := range t.cfg.Fallbacks {
		if e := (endpoint{f.Host, f.Port}); !slices.Contains(eps, e) {
			eps = append(eps, e)
		}
	}
	return eps
}

func (t *postgresTarget) guarded() *guard { return t.guard }

func (t *postgresTarget) open(ctx context.Context) error {
	cfg := t.cfg.Copy()
	cfg.LookupFunc = t.guard.lookupHost
	cfg.DialFunc = t.guard.dialer().DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return targetError(err)
	}
	t.conn = conn
	return nil
}

// prepare creates the table (a hypertable on "timestamp" when the
// timescaledb extension is installed) and the watermark table.
func (t *postgresTarget) prepare(ctx context.Context) error {
	c := func(n string) string { return `"` + t.cols.of(n) + `"` }
	q := `CREATE TABLE IF NOT EXISTS ` + t.table + ` (
		` + c("seq") + ` bigint NOT NULL, ` + c("id") + ` uuid NOT NULL, ` + c("tenant_id") + ` text NOT NULL, ` + c("entity_id") + ` text NOT NULL,
		` + c("event_type") + ` text NOT NULL, ` + c("version") + ` bigint NOT NULL, ` + c("timestamp") + ` timestamptz NOT NULL,
		` + c("ingested_at") + ` timestamptz NOT NULL, ` + c("payload") + ` jsonb NOT NULL, ` + c("metadata") + ` jsonb NOT NULL,
		PRIMARY KEY (` + c("seq") + `, ` + c("timestamp") + `))`
	if _, err := t.conn.Exec(ctx, q); err != nil {
		return targetError(err)
	}
	var timescale bool
	if err := t.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')`).Scan(&timescale); err != nil {
		return targetError(err)
	}
	if timescale {
		if _, err := t.conn.Exec(ctx, `SELECT create_hypertable($1::regclass, $2::name, if_not_exists => TRUE, migrate_data => TRUE)`, t.table, t.cols.of("timestamp")); err != nil {
			return fmt.Errorf("create_hypertable: %w", targetError(err))
		}
	}
	_, err := t.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS allsource_export_state (
		job text PRIMARY KEY, seq bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`)
	return targetError(err)
}

// watermark is the job's recorded seq; a job that has recorded none (a
// new job, say the same export run again) continues after the largest
// seq the table holds for the tenant, as the ClickHouse target does,
// instead of copying rows the table has (its primary key would refuse
// them, batch after batch).
func (t *postgresTarget) watermark(ctx context.Context, job string) (uint64, error) {
	var seq int64
	err := t.conn.QueryRow(ctx, `SELECT seq FROM allsource_export_state WHERE job = $1`, job).Scan(&seq)
	if err == pgx.ErrNoRows {
		q := `SELECT coalesce(max("` + t.cols.of("seq") + `"), 0) FROM ` + t.table + ` WHERE "` + t.cols.of("tenant_id") + `" = $1 OR $1 = $2`
		err = t.conn.QueryRow(ctx, q, t.tenant, allsource.AllTenants).Scan(&seq)
	}
	return uint64(seq), targetError(err)
}

// write copies rows and sets the job's watermark to upTo, in one
// transaction.
func (t *postgresTarget) write(ctx context.Context, job string, rows []Row, upTo uint64) (int64, error) {
	tx, err := t.conn.Begin(ctx)
	if err != nil {
		return 0, targetError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var bytes int64
	if len(rows) > 0 {
		src := make([][]any, len(rows))
		for i := range rows {
			r := &rows[i]
			id, err := uuidBytes(r.ID)
			if err != nil {
				return 0, fmt.Errorf("event seq %d: %w", r.Seq, err)
			}
			src[i] = []any{int64(r.Seq), id, r.Tenant, r.EntityID, r.EventType, int64(r.Version), r.Timestamp, r.IngestedAt,
				json.RawMessage(r.Payload), json.RawMessage(r.Metadata)}
			bytes += int64(len(r.Payload) + len(r.Metadata) + len(r.EntityID) + len(r.EventType) + len(r.Tenant) + 56)
		}
		cols := make([]string, len(eventColumns))
		for i, c := range eventColumns {
			cols[i] = t.cols.of(c)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, cols, pgx.CopyFromRows(src)); err != nil {
			return 0, targetError(err)
		}
	}
	t.fault("export.copied")
	if _, err := tx.Exec(ctx, `INSERT INTO allsource_export_state (job, seq) VALUES ($1, $2)
		ON CONFLICT (job) DO UPDATE SET seq = excluded.seq, updated_at = now()`, job, int64(upTo)); err != nil {
		return 0, targetError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, targetError(err)
	}
	return bytes, nil
}

func (t *postgresTarget) close() {
	if t.conn != nil {
		t.conn.Close(context.Background())
		t.conn = nil
	}
}

func uuidBytes(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("id %q is not a UUID", s)
	}
	_, err := hex.Decode(u[:], []byte(h))
	return u, err
}
