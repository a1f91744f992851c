package eventql

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse, String and Compile never panic, that errors
// are *Error, and that printed queries parse again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eql")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}
	for _, tc := range cases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var e *Error
		q, err := Parse(src)
		if err != nil {
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %T: %v", err, err)
			}
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("printed query does not parse: %v\n%s", err, s)
		}
		if s2 := q2.String(); s2 != s {
			t.Fatalf("printer not stable:\n%s\n---\n%s", s, s2)
		}
		if _, err := Compile(q); err != nil && !errors.As(err, &e) {
			t.Fatalf("Compile error %T: %v", err, err)
		}
		_ = IsEventQL(src)
	})
}
