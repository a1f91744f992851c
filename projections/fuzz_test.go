package projections

import (
	"strings"
	"testing"

	"github.com/allsource/allsource"
)

// FuzzParseSQLDef: any text is refused with an error or gives a
// definition whose statements name its state table.
func FuzzParseSQLDef(f *testing.F) {
	for _, s := range []string{ordersSQL, "SELECT count(*) AS n FROM events", "SELECT entity_id, first(x) FROM events GROUP BY 1",
		"SELECT a, sum(b) FILTER (WHERE c) FROM events e WHERE d GROUP BY a", "SELECT * FROM events", "WITH x AS (SELECT 1) SELECT 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		d, err := parseSQLDef(src)
		if err != nil {
			return
		}
		st := d.statements("t")
		if !strings.Contains(st.upsert, `_proj."t"`) || !strings.Contains(st.view, `_proj."t"`) {
			t.Fatalf("%q: %+v", src, st)
		}
	})
}

// FuzzParsePredicate: a predicate parses or is refused, and holds or not
// on any document without panicking.
func FuzzParsePredicate(f *testing.F) {
	for _, s := range []string{"payload.a>1", "payload.a.b=x", `data.c!="y"`, "payload.n<=null", "payload.=1", "x"} {
		f.Add(s, `{"a": 2, "c": "y", "n": null}`)
	}
	f.Fuzz(func(t *testing.T, pred, doc string) {
		p, err := ParsePredicate(pred)
		if err != nil {
			return
		}
		if len(p.Path) == 0 || p.Op == "" {
			t.Fatalf("%q parsed to %+v", pred, p)
		}
		f := &Filter{Tenant: "acme", Where: []Predicate{p}}
		f.Match(&allsource.Event{Seq: 1, Tenant: "acme", EventType: "x", Payload: []byte(doc)})
	})
}
