// Package httpx holds the small pieces every HTTP handler of AllSource
// shares: the error response.
package httpx

import (
	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
)

// WriteError writes err as the standard JSON error body with its status and
// stops the handler chain.
func WriteError(c *gin.Context, err error) {
	code := allsource.ErrorCode(err)
	if code == allsource.CodeInternal {
		_ = c.Error(err) // logged by the access-log middleware
	}
	c.AbortWithStatusJSON(allsource.HTTPStatus(code), allsource.NewErrorBody(err))
}
