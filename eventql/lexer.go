package eventql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a 1-based line and column (in characters) in the query text.
type Pos struct {
	Line, Col int
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tDuration
	tString
	tOp // punctuation and operators; text in tok.text
)

type token struct {
	kind tokKind
	text string // identifier/op text, number text, decoded string value
	pos  Pos
}

type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) peekRune(k int) rune {
	off := l.off
	for ; k > 0 && off < len(l.src); k-- {
		_, n := utf8.DecodeRuneInString(l.src[off:])
		off += n
	}
	if off >= len(l.src) {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(l.src[off:])
	return r
}

func (l *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		r := l.peekRune(0)
		switch {
		case unicode.IsSpace(r):
			l.advance()
		case r == '/' && l.peekRune(1) == '/':
			for l.off < len(l.src) && l.peekRune(0) != '\n' {
				l.advance()
			}
		case r == '/' && l.peekRune(1) == '*':
			p := l.pos()
			l.advance()
			l.advance()
			for {
				if l.off >= len(l.src) {
					return errAt(p, "unterminated block comment")
				}
				if l.peekRune(0) == '*' && l.peekRune(1) == '/' {
					l.advance()
					l.advance()
					break
				}
				l.advance()
			}
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(r rune) bool { return r == '_' || r < 128 && unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return isIdentStart(r) || r >= '0' && r <= '9' }
func isDigit(r rune) bool      { return r >= '0' && r <= '9' }

var twoCharOps = []string{"==", "!=", "<=", ">="}

func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	r := l.peekRune(0)
	switch {
	case isIdentStart(r):
		start := l.off
		for l.off < len(l.src) && isIdentPart(l.peekRune(0)) {
			l.advance()
		}
		return token{kind: tIdent, text: l.src[start:l.off], pos: p}, nil
	case isDigit(r):
		return l.number(p)
	case r == '"' || r == '\'':
		return l.str(p, r)
	}
	rest := l.src[l.off:]
	for _, op := range twoCharOps {
		if strings.HasPrefix(rest, op) {
			l.advance()
			l.advance()
			return token{kind: tOp, text: op, pos: p}, nil
		}
	}
	switch r {
	case '<', '>', '+', '-', '*', '/', '(', ')', '[', ']', '{', '}', ',', ':', '.':
		l.advance()
		return token{kind: tOp, text: string(r), pos: p}, nil
	case '=':
		e := errAt(p, "unexpected '='")
		e.Hint = "use == for equality"
		return token{}, e
	case '!':
		e := errAt(p, "unexpected '!'")
		e.Hint = "use NOT or !="
		return token{}, e
	}
	return token{}, errAt(p, "unexpected character %q", r)
}

func (l *lexer) number(p Pos) (token, *Error) {
	start := l.off
	for isDigit(l.peekRune(0)) {
		l.advance()
	}
	isInt := true
	if l.peekRune(0) == '.' && isDigit(l.peekRune(1)) {
		isInt = false
		l.advance()
		for isDigit(l.peekRune(0)) {
			l.advance()
		}
	}
	if r := l.peekRune(0); (r == 'e' || r == 'E') && (isDigit(l.peekRune(1)) ||
		(l.peekRune(1) == '+' || l.peekRune(1) == '-') && isDigit(l.peekRune(2))) {
		isInt = false
		l.advance()
		if r := l.peekRune(0); r == '+' || r == '-' {
			l.advance()
		}
		for isDigit(l.peekRune(0)) {
			l.advance()
		}
	}
	// A duration: an integer directly followed by one unit letter.
	if r := l.peekRune(0); isInt && strings.ContainsRune("smhdw", r) && !isIdentPart(l.peekRune(1)) {
		l.advance()
		return token{kind: tDuration, text: l.src[start:l.off], pos: p}, nil
	}
	if isIdentPart(l.peekRune(0)) {
		return token{}, errAt(l.pos(), "unexpected %q after number", l.peekRune(0))
	}
	return token{kind: tNumber, text: l.src[start:l.off], pos: p}, nil
}

func (l *lexer) str(p Pos, quote rune) (token, *Error) {
	l.advance()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(p, "unterminated string literal")
		}
		_, size := utf8.DecodeRuneInString(l.src[l.off:])
		r := l.advance()
		switch r {
		case quote:
			return token{kind: tString, text: b.String(), pos: p}, nil
		case '\\':
			ep := Pos{l.line, l.col - 1}
			if l.off >= len(l.src) {
				return token{}, errAt(p, "unterminated string literal")
			}
			e := l.advance()
			switch e {
			case '"', '\'', '\\', '/':
				b.WriteRune(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u':
				var v rune
				for range 4 {
					h := l.peekRune(0)
					var d rune
					switch {
					case h >= '0' && h <= '9':
						d = h - '0'
					case h >= 'a' && h <= 'f':
						d = h - 'a' + 10
					case h >= 'A' && h <= 'F':
						d = h - 'A' + 10
					default:
						return token{}, errAt(ep, "invalid \\u escape")
					}
					l.advance()
					v = v*16 + d
				}
				if v == 0 || !utf8.ValidRune(v) {
					return token{}, errAt(ep, "invalid \\u escape")
				}
				b.WriteRune(v)
			default:
				return token{}, errAt(ep, "invalid escape \\%c", e)
			}
		case 0:
			return token{}, errAt(Pos{l.line, l.col - 1}, "NUL character in string literal")
		default:
			if r == utf8.RuneError && size == 1 { // a real U+FFFD is 3 bytes
				return token{}, errAt(Pos{l.line, l.col - 1}, "invalid UTF-8 in string literal")
			}
			b.WriteRune(r)
		}
	}
}

// IsEventQL reports whether text, after whitespace and comments, starts with
// FROM <ident> IN (case-insensitive). pgwire routes such statements here.
func IsEventQL(text string) bool {
	l := newLexer(text)
	for i, want := range []string{"FROM", "", "IN"} {
		t, err := l.next()
		if err != nil || t.kind != tIdent {
			return false
		}
		if i != 1 && !strings.EqualFold(t.text, want) {
			return false
		}
	}
	return true
}
