// Package httpx holds the small pieces every HTTP handler of AllSource
// shares: the error response, strict JSON bodies, the request's tenant.
package httpx

import (
	"context"
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
)

// WriteError writes err as the standard JSON error body with its status and
// stops the handler chain.
// A rate-limited error's details.retry_after_seconds becomes the
// Retry-After header.
//
// A context that ran out of time is answered 504 (the query's time
// limit), not as an internal error.
func WriteError(c *gin.Context, err error) {
	if errors.Is(err, context.DeadlineExceeded) && allsource.ErrorCode(err) == allsource.CodeInternal {
		err = allsource.Errorf(allsource.CodeTimeout, "the query was stopped at its time limit (--query-timeout, or the tenant's quota)")
	}
	code := allsource.ErrorCode(err)
	if code == allsource.CodeInternal {
		_ = c.Error(err) // logged by the access-log middleware
	}
	var e *allsource.Error
	if errors.As(err, &e) && e.Details != nil {
		if s, ok := e.Details["retry_after_seconds"].(int); ok {
			c.Header("Retry-After", strconv.Itoa(s))
		}
	}
	c.Abort()
	c.PureJSON(allsource.HTTPStatus(code), allsource.NewErrorBody(err))
}
