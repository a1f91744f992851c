package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAppendString: the string writer gives JSON that reads back as
// the same text (invalid UTF-8 as U+FFFD, as encoding/json does), with <,
// > and & as they are.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>&</b>", "q\"uo\\te", "ctl\x00\x01\x1f\n\r\t", "\u2028\u2029", "bad\xff\xfeutf8", "émoji 😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q -> %s reads back as %q, want %q", s, b, back, wantBack)
		}
		if strings.Contains(string(b), `\u003c`) || strings.Contains(string(b), `\u0026`) {
			t.Fatalf("%q -> %s escapes HTML", s, b)
		}
	})
}
