package eventql

import (
	"fmt"
	"strings"

	typo "github.com/allsource/allsource/internal/suggest"
)

// Error is a query error with a 1-based line and column (in characters).
// Hint, when set, is a suggestion such as "did you mean e.data?".
type Error struct {
	Line, Col int
	Msg, Hint string
}

// Error formats the error as "line L, column C: msg (hint)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d, column %d: %s", e.Line, e.Col, e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func errAt(p Pos, format string, args ...any) *Error {
	return &Error{Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// suggest is the candidate a mistyped name probably meant, or "".
func suggest(name string, candidates []string) string { return typo.Closest(name, candidates) }
