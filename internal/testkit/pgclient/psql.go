package pgclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// updateGoldens makes RunPsql rewrite testdata/psql/*.golden instead of
// comparing against them. Only this package's tests set it (go test -update),
// and they run against real PostgreSQL.
var updateGoldens bool

// psqlPath is Debian's psql (the postgresql-client package).
const psqlPath = "/usr/bin/psql"

// sectionMark starts each section of the psql script's output.
const sectionMark = "@@@ "

// psqlSection is one part of the psql script and the checks on its output.
type psqlSection struct {
	name  string
	input string // psql commands; \copy FROM STDIN data follows inline
	// golden compares extract(output) with testdata/psql/<name>.golden.
	golden  bool
	extract func(string) string // nil: the whole output
	// check, if set, returns a problem with the output or "".
	check func(out string) string
}

// fixtureIn is the SQL list of fixture entities: ('acct-1', ...).
func fixtureIn() string {
	ids := FixtureEntities()
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + id + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// psqlSections builds the script. token makes the entity ids of the rows that
// COPY FROM adds unique, so the script can run again on the same server.
func psqlSections(db, user, token string) []psqlSection {
	copyQuery := `SELECT entity_id, event_type, version, "timestamp", payload FROM events WHERE entity_id IN ` + fixtureIn() + ` ORDER BY entity_id, version`
	copyIDs := fmt.Sprintf("('copy-%s-a', 'copy-%s-b')", token, token)
	return []psqlSection{
		{name: "l", input: `\l`, check: func(out string) string {
			return needRow(out, "List of databases", db)
		}},
		{name: "dn", input: `\dn`, check: func(out string) string {
			return needRow(out, "List of schemas", "public")
		}},
		{name: "dt", input: `\dt`, golden: true, extract: columns(0, 1, 2)},
		{name: "d_events", input: `\d events`, golden: true},
		{name: "dplus_events", input: `\d+ events`, golden: true, extract: columns(0, 1, 3),
			check: func(out string) string {
				for _, h := range []string{"Column", "Type", "Nullable", "Storage", "Description"} {
					if !strings.Contains(firstTableLine(out), h) {
						return fmt.Sprintf("header lacks %q", h)
					}
				}
				return ""
			}},
		{name: "df", input: `\df pg_catalog.version`, golden: true},
		{name: "du", input: `\du`, check: func(out string) string {
			return needRow(out, "List of roles", user)
		}},
		{name: "select", golden: true, input: `\pset null '(null)'
SELECT entity_id, version, event_type, "timestamp", payload->>'owner' AS owner,
       payload->'limits'->>'monthly' AS monthly, payload->>'amount' AS amount
FROM events WHERE entity_id IN ` + fixtureIn() + `
ORDER BY entity_id, version;
\pset null ''`},
		{name: "copy_text", golden: true, input: `\copy (` + copyQuery + `) TO STDOUT`,
			check: func(out string) string { return sameText(out, copyTextExpected()) }},
		{name: "copy_csv", golden: true, input: `\copy (` + copyQuery + `) TO STDOUT WITH (FORMAT csv, HEADER)`,
			check: func(out string) string { return sameText(out, copyCSVExpected()) }},
		{name: "copy_from", golden: true, input: `\copy events (entity_id, event_type, "timestamp", payload) FROM STDIN WITH (FORMAT csv)
copy-` + token + `-a,opened,2024-04-01 00:00:00+00,"{""owner"":""csv, with comma""}"
copy-` + token + `-a,credited,2024-04-01 00:00:01.5+00,"{""amount"":1,""memo"":""line1\nline2""}"
copy-` + token + `-b,opened,2024-04-02T10:11:12Z,"{""owner"":""Ünïcødé \""q\"" 'x'""}"
\.
SELECT count(*) AS copied FROM events WHERE entity_id IN ` + copyIDs + `;
SELECT replace(entity_id, '` + token + `', 'RUN') AS entity_id, event_type, "timestamp", payload
FROM events WHERE entity_id IN ` + copyIDs + `
ORDER BY entity_id, "timestamp";`},
		{name: "count", golden: true, input: `SELECT count(*) AS fixture_events, count(DISTINCT entity_id) AS entities, count(DISTINCT event_type) AS event_types
FROM events WHERE entity_id IN ` + fixtureIn() + `;`},
	}
}

// RunPsql drives psql against dsn, whose server must hold the fixture: the
// catalogue meta-commands \l, \dn, \dt, \d events, \d+ events, \df and \du, a
// query with unicode and NULLs, \copy TO STDOUT in text and CSV, and \copy
// FROM STDIN into events (adding three events under fresh entity ids). Stable
// outputs are compared with testdata/psql/*.golden, recorded against
// PostgreSQL 15; the COPY TO outputs are also checked against the fixture.
func RunPsql(t testing.TB, dsn string) {
	t.Helper()
	if _, err := exec.LookPath(psqlPath); err != nil {
		missing(t, "psql ("+psqlPath+", Debian package postgresql-client)")
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parsing DSN: %v", err)
	}
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	sections := psqlSections(cfg.Database, cfg.User, token)

	var script strings.Builder
	for _, s := range sections {
		fmt.Fprintf(&script, "\\echo '%s%s'\n%s\n", sectionMark, s.name, s.input)
	}
	path := filepath.Join(t.TempDir(), "check.psql")
	if err := os.WriteFile(path, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(context.Background(), scriptTimeout, "", psqlPath, dsn,
		"-X", "-v", "ON_ERROR_STOP=1", "-P", "pager=off", "-f", path)
	if r.exit != 0 || r.stderr != "" {
		t.Fatalf("psql failed or wrote to stderr:\n%s\n--- script ---\n%s", r.report(), script.String())
	}
	outs := splitSections(r.stdout)
	for _, s := range sections {
		out, ok := outs[s.name]
		if !ok {
			t.Errorf("psql %s: no output section (script stopped early?)", s.name)
			continue
		}
		if s.check != nil {
			if msg := s.check(out); msg != "" {
				t.Errorf("psql %s: %s\n--- output ---\n%s", s.name, msg, out)
			}
		}
		if s.golden {
			got := out
			if s.extract != nil {
				got = s.extract(out)
			}
			checkGolden(t, "psql "+s.name, testdataPath(t, "psql", s.name+".golden"), got)
		}
	}
	if t.Failed() || os.Getenv("PGCLIENT_VERBOSE") != "" {
		t.Logf("full psql output:\n%s", r.stdout)
	}
}

// splitSections splits psql output at the section marks.
func splitSections(out string) map[string]string {
	m := map[string]string{}
	name := ""
	var cur strings.Builder
	flush := func() {
		if name != "" {
			m[name] = cur.String()
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, sectionMark) {
			flush()
			name = strings.TrimSpace(strings.TrimPrefix(line, sectionMark))
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return m
}

// checkGolden compares got with the golden file, or rewrites it in update
// mode.
func checkGolden(t testing.TB, what, path, got string) {
	t.Helper()
	if updateGoldens {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: reading golden: %v (record with go test ./internal/testkit/pgclient -update against PostgreSQL)", what, err)
		return
	}
	if msg := sameText(got, string(want)); msg != "" {
		t.Errorf("%s: output differs from %s: %s\n--- got ---\n%s--- want ---\n%s", what, filepath.Base(path), msg, got, want)
	}
}

// sameText returns "" if got equals want, else where they first differ.
func sameText(got, want string) string {
	if got == want {
		return ""
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl, wl)
		}
	}
	return "differs"
}

// firstTableLine returns the header line of psql's aligned output.
func firstTableLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "|") {
			return line
		}
	}
	return ""
}

// tableRows parses the rows of psql's aligned output into trimmed cells.
// Continuation lines of multi-line cells come back as rows of their own.
func tableRows(out string) [][]string {
	var rows [][]string
	inBody := false
	for _, line := range strings.Split(out, "\n") {
		if !inBody {
			inBody = strings.HasPrefix(line, "---") || strings.HasPrefix(line, "-+")
			continue
		}
		if !strings.Contains(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cells[i]), "+"))
		}
		rows = append(rows, cells)
	}
	return rows
}

// columns returns an extractor of the title (first line) and the given
// columns of each row, joined by "|".
func columns(idx ...int) func(string) string {
	return func(out string) string {
		var b strings.Builder
		b.WriteString(strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]) + "\n")
		for _, row := range tableRows(out) {
			var cells []string
			for _, i := range idx {
				if i < len(row) {
					cells = append(cells, row[i])
				}
			}
			b.WriteString(strings.Join(cells, "|") + "\n")
		}
		return b.String()
	}
}

// needRow checks that out has the title and a row whose first cell is first.
func needRow(out, title, first string) string {
	if !strings.Contains(out, title) {
		return fmt.Sprintf("no %q title", title)
	}
	var seen []string
	for _, row := range tableRows(out) {
		if row[0] == first {
			return ""
		}
		seen = append(seen, row[0])
	}
	return fmt.Sprintf("no row for %q (first cells: %q)", first, seen)
}

// sortedFixture returns the fixture ordered by entity and version, as the
// COPY queries return it.
func sortedFixture() []Event {
	evs := append([]Event(nil), Fixture...)
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].EntityID != evs[j].EntityID {
			return evs[i].EntityID < evs[j].EntityID
		}
		return evs[i].Version < evs[j].Version
	})
	return evs
}

// pgTimestamptz formats t as PostgreSQL prints a timestamptz in the UTC
// session time zone with DateStyle ISO.
func pgTimestamptz(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}

// copyTextExpected is the fixture as COPY ... TO STDOUT (text format)
// prints it.
func copyTextExpected() string {
	esc := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
	var b strings.Builder
	for _, e := range sortedFixture() {
		fields := []string{e.EntityID, e.EventType, strconv.FormatInt(e.Version, 10), pgTimestamptz(e.Timestamp), e.Payload}
		for i := range fields {
			fields[i] = esc.Replace(fields[i])
		}
		b.WriteString(strings.Join(fields, "\t") + "\n")
	}
	return b.String()
}

// copyCSVExpected is the fixture as COPY ... TO STDOUT WITH (FORMAT csv,
// HEADER) prints it.
func copyCSVExpected() string {
	quote := func(s string) string {
		if strings.ContainsAny(s, ",\"\r\n") {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		return s
	}
	var b strings.Builder
	b.WriteString("entity_id,event_type,version,timestamp,payload\n")
	for _, e := range sortedFixture() {
		fields := []string{e.EntityID, e.EventType, strconv.FormatInt(e.Version, 10), pgTimestamptz(e.Timestamp), e.Payload}
		for i := range fields {
			fields[i] = quote(fields[i])
		}
		b.WriteString(strings.Join(fields, ",") + "\n")
	}
	return b.String()
}
