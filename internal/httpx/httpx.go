// Package httpx holds the small pieces every HTTP handler of AllSource
// shares: the error response.
package httpx

import (
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
)

// WriteError writes err as the standard JSON error body with its status and
// stops the handler chain.
// A rate-limited error's details.retry_after_seconds becomes the
// Retry-After header.
func WriteError(c *gin.Context, err error) {
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
	c.AbortWithStatusJSON(allsource.HTTPStatus(code), allsource.NewErrorBody(err))
}
