package pgclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFixtureConsistent(t *testing.T) {
	next := map[string]int64{}
	types := map[string]bool{}
	var prev time.Time
	for i, e := range Fixture {
		next[e.EntityID]++
		if e.Version != next[e.EntityID] {
			t.Errorf("event %d (%s): version %d, but the server would assign %d", i, e.EntityID, e.Version, next[e.EntityID])
		}
		types[e.EventType] = true
		if e.Timestamp.Location() != time.UTC || e.Timestamp.Nanosecond()%1000 != 0 {
			t.Errorf("event %d: timestamp %v is not UTC with microsecond precision", i, e.Timestamp)
		}
		if !e.Timestamp.After(prev) {
			t.Errorf("event %d: timestamp %v does not increase", i, e.Timestamp)
		}
		prev = e.Timestamp
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(e.Payload)); err != nil || compact.String() != e.Payload {
			t.Errorf("event %d: payload is not compact JSON (%v): %s", i, err, e.Payload)
		}
		if !strings.HasPrefix(e.Payload, "{") || strings.ContainsAny(e.Payload, "<>&") {
			t.Errorf("event %d: payload must be an object without <, > or &: %s", i, e.Payload)
		}
	}
	var ids []string
	for id := range next {
		ids = append(ids, id)
	}
	if len(ids) != len(FixtureEntities()) || len(types) != 3 {
		t.Errorf("fixture has entities %v and %d event types; FixtureEntities is %v", ids, len(types), FixtureEntities())
	}
	for _, id := range FixtureEntities() {
		if next[id] == 0 {
			t.Errorf("FixtureEntities lists %q, which has no events", id)
		}
	}
}

func TestFixtureNDJSON(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(FixtureNDJSON()))
	i := 0
	for ; sc.Scan(); i++ {
		var got struct {
			EntityID  string          `json:"entity_id"`
			EventType string          `json:"event_type"`
			Timestamp time.Time       `json:"timestamp"`
			Payload   json.RawMessage `json:"payload"`
			Version   *int64          `json:"version"`
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		want := Fixture[i]
		if got.EntityID != want.EntityID || got.EventType != want.EventType ||
			!got.Timestamp.Equal(want.Timestamp) || string(got.Payload) != want.Payload || got.Version != nil {
			t.Errorf("line %d: %s", i+1, sc.Bytes())
		}
	}
	if i != len(Fixture) {
		t.Errorf("%d lines, want %d", i, len(Fixture))
	}
}

// TestCopyGoldensMatchFixture keeps the recorded COPY output and the
// fixture in step without needing PostgreSQL.
func TestCopyGoldensMatchFixture(t *testing.T) {
	for name, want := range map[string]string{"copy_text": copyTextExpected(), "copy_csv": copyCSVExpected()} {
		got, err := os.ReadFile(testdataPath(t, "psql", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if msg := sameText(string(got), want); msg != "" {
			t.Errorf("%s.golden does not match the fixture: %s", name, msg)
		}
	}
}

func TestTableRows(t *testing.T) {
	out := `                 List of databases
   Name    |  Owner   | Access privileges
-----------+----------+-----------------------
 postgres  | postgres |
 template0 | postgres | =c/postgres          +
           |          | postgres=CTc/postgres
(2 rows)
`
	if msg := needRow(out, "List of databases", "template0"); msg != "" {
		t.Error(msg)
	}
	if msg := needRow(out, "List of databases", "allsource"); msg == "" {
		t.Error("needRow found a database that is not listed")
	}
	got := columns(0, 2)(out)
	want := "List of databases\npostgres|\ntemplate0|=c/postgres\n|postgres=CTc/postgres\n"
	if got != want {
		t.Errorf("columns: got %q, want %q", got, want)
	}
}

// recordingTB records Skipf and Fatalf instead of stopping the test.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Skipf(format string, args ...any)  { r.skipped = format }
func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = format }

func TestMissingClientSkipsOrFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	r := &recordingTB{TB: t}
	missing(r, "psql")
	if r.skipped == "" || r.fatal != "" || !strings.Contains(r.skipped, "SKIPPING") {
		t.Errorf("outside CI: skipped=%q fatal=%q, want a loud skip", r.skipped, r.fatal)
	}
	t.Setenv("CI", "true")
	r = &recordingTB{TB: t}
	missing(r, "psql")
	if r.fatal == "" || r.skipped != "" {
		t.Errorf("in CI: skipped=%q fatal=%q, want a failure", r.skipped, r.fatal)
	}
}
