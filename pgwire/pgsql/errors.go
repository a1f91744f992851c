package pgsql

import (
	"fmt"
	"unicode/utf8"
)

// SQLSTATE codes this package returns.
const (
	CodeSyntaxError         = "42601"
	CodeInsufficientPriv    = "42501"
	CodeFeatureNotSupported = "0A000"
	CodeUndefinedTable      = "42P01"
	CodeUndefinedFunction   = "42883"
	CodeUndefinedObject     = "42704"
	CodeCantChangeRuntime   = "55P02"
	CodeInvalidParameter    = "22023"
	CodeInternal            = "XX000"
)

// Error is a PostgreSQL-style error: pgwire sends it as an ErrorResponse.
type Error struct {
	Code     string // SQLSTATE
	Message  string
	Detail   string
	Hint     string
	Position int // 1-based character offset in the statement text; 0 = none
}

func (e *Error) Error() string {
	if e.Position > 0 {
		return fmt.Sprintf("%s (SQLSTATE %s, position %d)", e.Message, e.Code, e.Position)
	}
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

func errorf(code string, pos int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Position: pos}
}

func (e *Error) withHint(hint string) *Error {
	e.Hint = hint
	return e
}

// charPos converts a 0-based byte offset in text into PostgreSQL's 1-based
// character position; a negative offset (unknown location) gives 0.
func charPos(text string, byteOff int) int {
	if byteOff < 0 {
		return 0
	}
	if byteOff > len(text) {
		byteOff = len(text)
	}
	return utf8.RuneCountInString(text[:byteOff]) + 1
}

// byteOffset converts a 1-based character position into a 0-based byte
// offset.
func byteOffset(text string, pos int) int {
	if pos <= 1 {
		return 0
	}
	n := 0
	for i := range text {
		if n == pos-1 {
			return i
		}
		n++
	}
	return len(text)
}
