package suggest

import "testing"

func TestClosest(t *testing.T) {
	cands := []string{"serve", "import", "query", "demo", "export", "version", "payload", "type"}
	for in, want := range map[string]string{
		"qeury": "query", "serv": "serve", "exprot": "export", "versoin": "version", "Payload": "", "payloda": "payload",
		"xyzzy": "", "query": "", "typ": "type", "tpe": "type", "ab": "",
	} {
		if got := Closest(in, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := Distance("qeury", "query"); d != 1 {
		t.Fatalf("a swap is one edit, got %d", d)
	}
}
