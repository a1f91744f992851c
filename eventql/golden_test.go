package eventql

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.sql from the compiler")

// TestGolden compiles testdata/*.eql and compares with testdata/*.sql, runs
// both statements on DuckDB, and checks the printer round trip.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse(string(src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			checkRoundTrip(t, q)
			c, err := Compile(q)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got := "-- columns: " + strings.Join(c.Columns, ", ") + "\n" + c.SQL + ";\n\n-- doc\n" + c.DocSQL + ";\n"
			out := strings.TrimSuffix(f, ".eql") + ".sql"
			if *update {
				if err := os.WriteFile(out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs:\n got %s\nwant %s", out, got, want)
			}
			if _, _, err := runSQL(t, c.SQL); err != nil {
				t.Errorf("run SQL: %v", err)
			}
			if _, _, err := runSQL(t, c.DocSQL); err != nil {
				t.Errorf("run DocSQL: %v", err)
			}
		})
	}
}

// TestRoundTrip checks the printer on every table case that parses.
func TestRoundTrip(t *testing.T) {
	for _, tc := range cases {
		q, err := Parse(tc.in)
		if err != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { checkRoundTrip(t, q) })
	}
}

func checkRoundTrip(t *testing.T, q *Query) {
	t.Helper()
	s := q.String()
	q2, err := Parse(s)
	if err != nil {
		t.Fatalf("reparse of\n%s\nfailed: %v", s, err)
	}
	if s2 := q2.String(); s2 != s {
		t.Errorf("printer not stable:\n%s\n---\n%s", s, s2)
	}
	if !reflect.DeepEqual(stripPos(q), stripPos(q2)) {
		t.Errorf("round trip changed the AST:\n%s", s)
	}
}

// stripPos returns a deep copy of v with every Pos zeroed.
func stripPos(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	copyNoPos(out, rv)
	return out.Interface()
}

var posType = reflect.TypeFor[Pos]()

func copyNoPos(dst, src reflect.Value) {
	if src.Type() == posType {
		return
	}
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyNoPos(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		e := reflect.New(src.Elem().Type()).Elem()
		copyNoPos(e, src.Elem())
		dst.Set(e)
	case reflect.Struct:
		for i := range src.NumField() {
			copyNoPos(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			copyNoPos(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
