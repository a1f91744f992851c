package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource/internal/httpx"
)

// RegisterStatus adds GET /v1/status: what report returns, as JSON (the
// server's figures for an operator's health view; its middleware admits
// only administrators when authentication is on).
func RegisterStatus(r gin.IRouter, report func(ctx context.Context) (any, error)) {
	r.GET("/v1/status", func(c *gin.Context) {
		rep, err := report(c.Request.Context())
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, rep)
	})
}
