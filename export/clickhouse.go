package export

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// clickhouseTarget writes to ClickHouse through its HTTP interface, which
// every server version has (18.16 included): a MergeTree table ordered by
// tenant, type and time, and one INSERT … FORMAT RowBinary per batch.
// The table has one partition: ClickHouse inserts a block atomically per
// partition only, and a batch spanning months would otherwise be stored in
// part. A batch below max_insert_block_size (1,048,576 rows) is one block,
// which MergeTree inserts whole or not at all; the watermark is the largest seq
// the table holds for the tenant, so a batch cut short is sent again and
// a batch stored is not. One job per table: two jobs writing one table
// would read each other's seqs as their watermark.
type clickhouseTarget struct {
	base   string // http(s)://host:port/
	db     string
	table  string
	user   string
	pass   string
	tenant string
	cols   names
	host   endpoint
	guard  *guard
	client *http.Client
	fault  func(string)
}

// newClickHouseTarget reads clickhouse://user:pass@host:8123/db?table=t
// (the HTTP port; "http" and "https" URLs work the same way). Its host
// must be one pol admits; it connects through its guard, follows no
// redirects and uses no proxy.
func newClickHouseTarget(u *url.URL, tenant string, cols names, pol *policy, fault func(string)) (*clickhouseTarget, error) {
	q := u.Query()
	table := q.Get("table")
	if table == "" {
		table = "allsource_events"
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "default"
	}
	if !identRE.MatchString(table) || !identRE.MatchString(db) {
		return nil, fmt.Errorf("target: database %q and table %q must be plain identifiers", db, table)
	}
	scheme := "http"
	if u.Scheme == "https" || q.Get("secure") == "true" {
		scheme = "https"
	}
	host := u.Host
	port := uint64(8123)
	if u.Port() == "" {
		host += ":8123"
	} else if p, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
		port = p
	} else {
		return nil, fmt.Errorf("target: port %q is not a number", u.Port())
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("target: ClickHouse URLs name a host: clickhouse://host:8123/db?table=t")
	}
	t := &clickhouseTarget{base: scheme + "://" + host + "/", db: db, table: table, tenant: tenant, cols: cols, fault: fault,
		host: endpoint{u.Hostname(), uint16(port)}}
	g, err := newGuard(pol, t.endpoints())
	if err != nil {
		return nil, err
	}
	t.guard = g
	t.client = &http.Client{
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{
			DialContext:           g.dialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 5 * time.Minute,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
	}
	return t, nil
}

func (t *clickhouseTarget) String() string { return "ClickHouse table " + t.db + "." + t.table }

func (t *clickhouseTarget) endpoints() []endpoint { return []endpoint{t.host} }

func (t *clickhouseTarget) guarded() *guard { return t.guard }

// run sends one statement, with body as its data, and returns the answer.
func (t *clickhouseTarget) run(ctx context.Context, query string, body io.Reader) (string, error) {
	u := t.base + "?database=" + url.QueryEscape(t.db) + "&query=" + url.QueryEscape(query)
	method := http.MethodPost
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", err
	}
	if t.user != "" {
		req.Header.Set("X-ClickHouse-User", t.user)
		req.Header.Set("X-ClickHouse-Key", t.pass)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return "", targetError(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		// Only the status (and ClickHouse's numeric exception code): the
		// body is the target's, and a job's status must not become a way
		// to read other services.
		msg := fmt.Sprintf("ClickHouse answered HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if c := resp.Header.Get("X-ClickHouse-Exception-Code"); c != "" && len(c) <= 6 && strings.Trim(c, "0123456789") == "" {
			msg += " (exception code " + c + ")"
		}
		return "", errors.New(msg)
	}
	return string(b), nil
}

func (t *clickhouseTarget) open(ctx context.Context) error {
	_, err := t.run(ctx, "SELECT 1", nil)
	return err
}

// prepare creates the table: the ten columns, the time as DateTime
// (seconds) with its microseconds in timestamp_us, payload and metadata as
// JSON text in Strings.
func (t *clickhouseTarget) prepare(ctx context.Context) error {
	c := t.cols.of
	_, err := t.run(ctx, `CREATE TABLE IF NOT EXISTS `+t.table+` (
		`+c("seq")+` UInt64, `+c("id")+` String, `+c("tenant_id")+` String, `+c("entity_id")+` String, `+c("event_type")+` String,
		`+c("version")+` UInt64, `+c("timestamp")+` DateTime('UTC'), `+c("timestamp_us")+` UInt64, `+c("ingested_at")+` DateTime('UTC'),
		`+c("payload")+` String, `+c("metadata")+` String
	) ENGINE = MergeTree() ORDER BY (`+c("tenant_id")+`, `+c("event_type")+`, `+c("timestamp")+`, `+c("seq")+`)`, nil)
	return err
}

// columnList is the INSERT's column list, in RowBinary order.
func (t *clickhouseTarget) columnList() string {
	var out []string
	for _, c := range []string{"seq", "id", "tenant_id", "entity_id", "event_type", "version", "timestamp", "timestamp_us", "ingested_at", "payload", "metadata"} {
		out = append(out, t.cols.of(c))
	}
	return strings.Join(out, ", ")
}

func (t *clickhouseTarget) watermark(ctx context.Context, job string) (uint64, error) {
	out, err := t.run(ctx, "SELECT max("+t.cols.of("seq")+") FROM "+t.table+" WHERE "+t.cols.of("tenant_id")+" = '"+strings.ReplaceAll(t.tenant, "'", "\\'")+"'", nil)
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, errors.New("ClickHouse answered a watermark that is not a number")
	}
	return seq, nil
}

func (t *clickhouseTarget) write(ctx context.Context, job string, rows []Row, upTo uint64) (int64, error) {
	if len(rows) == 0 {
		return 0, nil // the watermark is the data's: nothing to record
	}
	// RowBinary: no escaping or parsing of text on either side.
	size := 0
	for i := range rows {
		r := &rows[i]
		size += 64 + len(r.ID) + len(r.Tenant) + len(r.EntityID) + len(r.EventType) + len(r.Payload) + len(r.Metadata)
	}
	b := make([]byte, 0, size)
	for i := range rows {
		r := &rows[i]
		b = binary.LittleEndian.AppendUint64(b, r.Seq)
		b = appendString(b, r.ID)
		b = appendString(b, r.Tenant)
		b = appendString(b, r.EntityID)
		b = appendString(b, r.EventType)
		b = binary.LittleEndian.AppendUint64(b, r.Version)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Timestamp.Unix()))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Timestamp.UnixMicro()))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.IngestedAt.Unix()))
		b = appendString(b, r.Payload)
		b = appendString(b, r.Metadata)
	}
	half := len(b) / 2
	// A kill half-way through the body (tests) leaves ClickHouse a cut
	// batch, which it does not store.
	body := io.MultiReader(bytes.NewReader(b[:half]), readerFunc(func(p []byte) (int, error) {
		t.fault("export.sending")
		return 0, io.EOF
	}), bytes.NewReader(b[half:]))
	if _, err := t.run(ctx, "INSERT INTO "+t.table+" ("+t.columnList()+") FORMAT RowBinary", body); err != nil {
		return 0, err
	}
	return int64(len(b)), nil
}

// appendString appends a RowBinary String: its length as a varint, then
// its bytes.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (t *clickhouseTarget) close() { t.client.CloseIdleConnections() }
