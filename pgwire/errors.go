package pgwire

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/pgwire/pgsql"
	"github.com/allsource/allsource/sqlguard"
)

// toPGError turns any error into an ErrorResponse with a SQLSTATE.
func toPGError(err error) *pgproto3.ErrorResponse {
	var pe *pgsql.Error
	if errors.As(err, &pe) {
		return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: pe.Code,
			Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint, Position: int32(pe.Position)}
	}
	var ge *sqlguard.Error
	if errors.As(err, &ge) {
		code := "42501"
		switch {
		case ge.Syntax:
			code = "42601"
		case ge.Undefined && strings.Contains(ge.Reason, "function"):
			code = "42883"
		case ge.Undefined:
			code = "42P01"
		}
		// The position is in the engine's text, not the client's: leave it out.
		return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: ge.Reason}
	}
	var ae *authError
	if errors.As(err, &ae) {
		return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: ae.code, Message: ae.msg}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "57014", Message: "canceling statement due to user request"}
	}
	msg := allsource.ErrorMessage(err)
	e := &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: sqlstateOf(err)}
	// The engine's messages start with their class ("Binder Error: ") and
	// may carry the statement with a caret; the class is in the SQLSTATE,
	// the rest goes to Detail.
	if i := strings.Index(msg, " Error: "); i > 0 && i < 30 {
		msg = msg[i+len(" Error: "):]
	}
	if first, rest, ok := strings.Cut(msg, "\n"); ok {
		msg, e.Detail = first, strings.TrimSpace(rest)
	}
	e.Message = msg
	return e
}

// sqlstateOf classifies an error: engine messages by their class, our own
// errors by code.
func sqlstateOf(err error) string {
	var pe *pgsql.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	msg := allsource.ErrorMessage(err)
	switch allsource.ErrorCode(err) {
	case allsource.CodeInvalid:
		switch {
		case strings.HasPrefix(msg, "Parser Error"):
			return "42601"
		case strings.HasPrefix(msg, "Catalog Error") && strings.Contains(msg, "Table with name"):
			return "42P01"
		case strings.HasPrefix(msg, "Catalog Error") && strings.Contains(msg, "Function with name"):
			return "42883"
		case strings.HasPrefix(msg, "Catalog Error"):
			return "42704"
		case strings.HasPrefix(msg, "Binder Error") && strings.Contains(msg, "column"):
			return "42703"
		case strings.HasPrefix(msg, "Binder Error"):
			return "42804"
		case strings.HasPrefix(msg, "Conversion Error"):
			return "22P02"
		case strings.HasPrefix(msg, "Out of Range Error"):
			return "22003"
		case strings.Contains(msg, "Division by zero") || strings.Contains(msg, "division by zero"):
			return "22012"
		case strings.HasPrefix(msg, "Invalid Input Error"):
			return "22023"
		case strings.HasPrefix(msg, "Out of Memory Error"):
			return "53200"
		case strings.HasPrefix(msg, "Permission Error"):
			return "42501"
		case strings.HasPrefix(msg, "INTERRUPT Error") || strings.Contains(msg, "Interrupted"):
			return "57014"
		case strings.HasPrefix(msg, "Not implemented Error"):
			return "0A000"
		}
		return "22000"
	case allsource.CodeConflict:
		return "40001"
	case allsource.CodeTooLarge:
		return "54000"
	case allsource.CodeUnavailable:
		return "57P03"
	case allsource.CodeForbidden, allsource.CodeUnauthorized:
		return "42501"
	case allsource.CodeNotFound:
		return "42704"
	}
	return "XX000"
}
