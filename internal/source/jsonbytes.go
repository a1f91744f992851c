package source

import (
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf8"
)

// Helpers over JSON text held in memory. Except where noted they expect
// compact, valid JSON (as produced by json.Compact).

// member is one key/value pair of a JSON object.
type member struct {
	key    []byte // the key, unescaped
	rawKey []byte // the key as a JSON string literal; nil means encode key
	raw    []byte // the value as compact JSON
}

// isSpace reports JSON insignificant white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// skipSpace returns the index of the first byte at or after i that is not
// white space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// isDelim reports a byte that ends a JSON number or literal.
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '[', ']', '{', '}', '"':
		return true
	}
	return false
}

// stringEnd returns the index just after the JSON string starting at b[i]
// (which is '"'), or -1 if it does not end within b.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just after the JSON value starting at b[i], or
// -1 if it does not end within b. It tolerates invalid JSON (it only tracks
// strings and nesting), so it also serves for sniffing.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !isDelim(b[j]) {
		j++
	}
	return j
}

// splitMembers appends the members of the compact, valid JSON object obj to
// dst. The members alias obj.
func splitMembers(obj []byte, dst []member) []member {
	i := 1
	for i < len(obj) && obj[i] != '}' {
		ke := stringEnd(obj, i)
		if ke < 0 || ke >= len(obj) {
			break // cannot happen for valid input
		}
		rawKey := obj[i:ke]
		ve := valueEnd(obj, ke+1)
		if ve < 0 {
			break
		}
		dst = append(dst, member{key: unquoteBytes(rawKey), rawKey: rawKey, raw: obj[ke+1 : ve]})
		i = ve
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return dst
}

// hasEscape reports whether a JSON string literal holds a backslash.
func hasEscape(lit []byte) bool {
	for _, c := range lit {
		if c == '\\' {
			return true
		}
	}
	return false
}

// unquoteBytes returns the text of a valid JSON string literal.
func unquoteBytes(lit []byte) []byte {
	if !hasEscape(lit) {
		return lit[1 : len(lit)-1]
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return lit[1 : len(lit)-1]
	}
	return []byte(s)
}

// unquote returns the text of a valid JSON string literal as a string.
func unquote(lit []byte) string {
	if !hasEscape(lit) {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return string(lit[1 : len(lit)-1])
	}
	return s
}

// kind names the JSON type of the valid value raw.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// isNumber reports whether the valid JSON value raw is a number.
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

// isInteger reports whether the valid JSON value raw is a number without a
// fraction or exponent.
func isInteger(raw []byte) bool {
	if !isNumber(raw) {
		return false
	}
	for _, c := range raw {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s is exactly a JSON number, with no spaces.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i == len(s) {
		return false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// checkPrintable rejects invalid UTF-8 and control characters.
func checkPrintable(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("contains a control character")
		}
	}
	return nil
}
