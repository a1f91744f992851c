package dashboards

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID  string `json:"refId"`
		Expr   string `json:"expr"`
		RawSQL string `json:"rawSql"`
		Format string `json:"format"`
	} `json:"targets"`
}

func load(t *testing.T) []dashboard {
	t.Helper()
	names, err := Files.ReadDir("grafana")
	if err != nil {
		t.Fatal(err)
	}
	var out []dashboard
	for _, n := range names {
		b, err := Files.ReadFile("grafana/" + n.Name())
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		out = append(out, d)
	}
	if len(out) != 2 {
		t.Fatalf("%d dashboards", len(out))
	}
	return out
}

// TestDashboardsAreValid checks the structure Grafana needs: uids, panel
// ids, positions, and data sources the provisioning file defines.
func TestDashboardsAreValid(t *testing.T) {
	ds, err := Files.ReadFile("provisioning/datasources/allsource.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Files.ReadFile("provisioning/dashboards/allsource.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, d := range load(t) {
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Fatalf("dashboard %+v", d)
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] || p.ID == 0 || p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || len(p.Targets) == 0 {
				t.Errorf("%s: panel %d %q is incomplete or repeats its id", d.UID, p.ID, p.Title)
			}
			ids[p.ID] = true
			if !strings.Contains(string(ds), "uid: "+p.Datasource.UID) || !strings.Contains(string(ds), "type: "+p.Datasource.Type) {
				t.Errorf("%s: panel %q uses data source %s/%s, which provisioning does not define", d.UID, p.Title, p.Datasource.Type, p.Datasource.UID)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" && tg.RawSQL == "" {
					t.Errorf("%s: panel %q target %s has no query", d.UID, p.Title, tg.RefID)
				}
			}
		}
	}
}

// expand applies Grafana's PostgreSQL macros and time variables for the
// range [from, to], as Grafana does before sending a panel's SQL.
func expand(sql string, from, to time.Time) (string, error) {
	iso := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	sql = strings.NewReplacer("${__from:date:iso}", iso(from), "${__to:date:iso}", iso(to),
		"$__interval_ms", "60000", "$__interval", "1m").Replace(sql)
	var bad error
	re := regexp.MustCompile(`\$(__[A-Za-z]+)\(([^)]*)\)`)
	sql = re.ReplaceAllStringFunc(sql, func(m string) string {
		g := re.FindStringSubmatch(m)
		var args []string
		for _, a := range strings.Split(g[2], ",") {
			args = append(args, strings.TrimSpace(a))
		}
		group := func() string {
			d, err := time.ParseDuration(strings.Trim(args[1], "'"))
			if strings.HasSuffix(strings.Trim(args[1], "'"), "d") {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.Trim(args[1], "'"), "d"))
				d, err = time.Duration(n)*24*time.Hour, nil
			}
			if err != nil {
				bad = err
			}
			s := d.Seconds()
			return fmt.Sprintf("floor(extract(epoch from %s)/%v)*%v", args[0], s, s)
		}
		switch g[1] {
		case "__time":
			return args[0] + ` AS "time"`
		case "__timeFilter":
			return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", args[0], iso(from), iso(to))
		case "__timeFrom":
			return "'" + iso(from) + "'"
		case "__timeTo":
			return "'" + iso(to) + "'"
		case "__timeGroup":
			return group()
		case "__timeGroupAlias":
			return group() + ` AS "time"`
		case "__unixEpochFilter":
			return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.Unix(), args[0], to.Unix())
		}
		bad = fmt.Errorf("macro %s is not expanded by this test", g[1])
		return m
	})
	return sql, bad
}

func TestExpand(t *testing.T) {
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	got, err := expand(`SELECT $__timeGroupAlias("timestamp", '1h'), x FROM t WHERE $__timeFilter("timestamp") AND '${__from:date:iso}' < $__timeTo()`, from, to)
	want := `SELECT floor(extract(epoch from "timestamp")/3600)*3600 AS "time", x FROM t WHERE "timestamp" BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-02T00:00:00Z' AND '2026-01-01T00:00:00Z' < '2026-01-02T00:00:00Z'`
	if err != nil || got != want {
		t.Fatalf("%v\n%s\n%s", err, got, want)
	}
}

// server is an allsource serve process built from this module.
type server struct {
	url, pg string
	cmd     *exec.Cmd
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "allsource")
	build := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", bin, "../cmd/allsource")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(bin, "demo", "--data-dir", data, "--users", "400", "--days", "45").CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	s := &server{url: "http://" + freeAddr(t), pg: freeAddr(t)}
	s.cmd = exec.Command(bin, "serve", "--data-dir", data, "--http-addr", strings.TrimPrefix(s.url, "http://"), "--pg-addr", s.pg, "--export-file-root", "/")
	logs, _ := os.Create(filepath.Join(dir, "server.log"))
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
		logs.Close()
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", s.pg); err == nil && resp.StatusCode == 200 {
				c.Close()
				return s
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logs.Name())
			t.Fatalf("the server did not start:\n%s", b)
		}
	}
}

// TestPanelQueriesAgainstAServer runs every SQL panel, macros expanded,
// through pgwire on a server holding the demo data (each must return
// rows), and checks that every metric a Prometheus panel names is
// exported by the server.
func TestPanelQueriesAgainstAServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server")
	}
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://grafana@%s/allsource?sslmode=disable", s.pg))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The demo history ends today, as a user's does; the dashboards'
	// default range is the last 30 days.
	to := time.Now().UTC()
	from := to.Add(-30 * 24 * time.Hour)
	metrics := map[string]bool{}
	for _, d := range load(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL != "" {
					q, err := expand(tg.RawSQL, from, to)
					if err != nil {
						t.Fatalf("%s/%s: %v", d.UID, p.Title, err)
					}
					rows, err := conn.Query(ctx, q)
					if err != nil {
						t.Fatalf("%s/%s: %v\n%s", d.UID, p.Title, err, q)
					}
					n := 0
					for rows.Next() {
						n++
					}
					if err := rows.Err(); err != nil || n == 0 {
						t.Fatalf("%s/%s: %d rows, %v\n%s", d.UID, p.Title, n, err, q)
					}
					if tg.Format == "time_series" && rows.FieldDescriptions()[0].Name != "time" {
						t.Errorf("%s/%s: a time series' first column must be time", d.UID, p.Title)
					}
				}
				for _, m := range regexp.MustCompile(`allsource_[a-z0-9_]+`).FindAllString(tg.Expr, -1) {
					metrics[m] = true
				}
			}
		}
	}
	// Activity that makes every labelled metric appear: a projection, a
	// rejected batch.
	post := func(path, body string) {
		resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post("/v1/projections", `{"name": "by_type", "sql": "SELECT event_type, count(*) AS n FROM events GROUP BY event_type"}`)
	post("/v1/exports", `{"target": "file://`+t.TempDir()+`?format=ndjson", "types": ["order.placed"]}`)
	post("/v1/events", `{"entity_id": "u1", "event_type": "x", "payload": {"a": 1}}`)
	post("/v1/events", `{"event_type": "no entity"}`)
	time.Sleep(time.Second)
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	exported := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "allsource_") {
			exported[regexp.MustCompile(`^[a-z0-9_]+`).FindString(line)] = true
		}
	}
	if len(metrics) < 10 {
		t.Fatalf("only %d metrics named by the panels", len(metrics))
	}
	for m := range metrics {
		if !exported[m] {
			t.Errorf("a panel uses %s, which the server does not export", m)
		}
	}
}
