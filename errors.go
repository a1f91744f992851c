package allsource

import (
	"errors"
	"fmt"
)

// Code classifies an error for the user: it picks the HTTP status and, later,
// the SQLSTATE. Internal details never reach the user; the Message does.
type Code string

const (
	CodeInvalid      Code = "invalid"       // bad input; 400
	CodeNotFound     Code = "not_found"     // 404
	CodeConflict     Code = "conflict"      // expected_version mismatch; 409
	CodeTooLarge     Code = "too_large"     // body or batch over a limit; 413
	CodeUnauthorized Code = "unauthorized"  // 401
	CodeForbidden    Code = "forbidden"     // 403
	CodeRateLimited  Code = "rate_limited"  // over a rate or concurrency limit; 429 with Retry-After
	CodeNoStorage    Code = "storage_quota" // over a storage quota; 507
	CodeTimeout      Code = "timeout"       // a query stopped at its time limit; 504
	CodeUnavailable  Code = "unavailable"   // shutting down or failed storage; 503
	CodeInternal     Code = "internal"      // 500
)

// Error is an error with a code and a message fit for the user. Field names the
// offending input field, Index the event's position in its batch (0-based) and
// Line its line in an NDJSON body (1-based); zero values mean "not applicable"
// except Index, which is -1 when unset.
type Error struct {
	Code    Code
	Message string
	Field   string
	Index   int
	Line    int
	// Details carries machine-readable context (e.g. current_version on a
	// conflict).
	Details map[string]any
	Err     error // internal cause; never shown to the user
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Index: -1}
}

// ErrorCode returns the code of err: the Code of the first *Error in its chain,
// or CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err. Errors that are not an
// *Error are internal and yield a generic message.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// HTTPStatus maps a code to its HTTP status.
func HTTPStatus(code Code) int {
	switch code {
	case CodeInvalid:
		return 400
	case CodeUnauthorized:
		return 401
	case CodeForbidden:
		return 403
	case CodeNotFound:
		return 404
	case CodeConflict:
		return 409
	case CodeTooLarge:
		return 413
	case CodeRateLimited:
		return 429
	case CodeNoStorage:
		return 507
	case CodeTimeout:
		return 504
	case CodeUnavailable:
		return 503
	default:
		return 500
	}
}

// ErrorBody is the JSON body of every error response:
// {"error": {"code", "message", "field"?, "index"?, "line"?, "details"?}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Index   *int           `json:"index,omitempty"`
	Line    int            `json:"line,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// NewErrorBody renders err for a response. Internal errors become a generic
// message; their cause stays in the server log.
func NewErrorBody(err error) ErrorBody {
	var e *Error
	if !errors.As(err, &e) {
		return ErrorBody{Error: ErrorDetail{Code: CodeInternal, Message: "internal error"}}
	}
	d := ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field, Line: e.Line, Details: e.Details}
	if e.Index >= 0 && e.Line == 0 {
		i := e.Index
		d.Index = &i
	}
	return ErrorBody{Error: d}
}
