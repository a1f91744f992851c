package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/export"
	"github.com/allsource/allsource/internal/httpx"
)

// RegisterExports adds the export endpoints, acting in the request's
// tenant; answers show a job with its target's password masked:
//
//	GET    /v1/exports              the tenant's jobs
//	POST   /v1/exports              define one: {"target", "types", "where", "every", "batch_rows"}
//	GET    /v1/exports/:id          one job's state
//	POST   /v1/exports/:id/pause    stop after the current batch
//	POST   /v1/exports/:id/resume   start again (or run a waiting job now)
//	DELETE /v1/exports/:id          remove it (the target keeps its rows)
func RegisterExports(r gin.IRouter, m *export.Manager) {
	r.GET("/v1/exports", func(c *gin.Context) {
		jobs := m.List(httpx.Tenant(c))
		for i := range jobs {
			jobs[i] = jobs[i].Redacted()
		}
		c.PureJSON(http.StatusOK, gin.H{"exports": jobs})
	})
	r.POST("/v1/exports", func(c *gin.Context) {
		var s export.Spec
		if !httpx.DecodeJSON(c, &s) {
			return
		}
		j, err := m.Create(c.Request.Context(), httpx.Tenant(c), s)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusCreated, j.Redacted())
	})
	r.GET("/v1/exports/:id", func(c *gin.Context) {
		j, err := m.Get(httpx.Tenant(c), c.Param("id"))
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, j.Redacted())
	})
	r.POST("/v1/exports/:id/:action", func(c *gin.Context) {
		ctx, tenant, id := c.Request.Context(), httpx.Tenant(c), c.Param("id")
		var err error
		switch c.Param("action") {
		case "pause":
			err = m.Pause(ctx, tenant, id)
		case "resume":
			err = m.Resume(ctx, tenant, id)
		default:
			err = allsource.Errorf(allsource.CodeNotFound, "no action %q (pause or resume)", c.Param("action"))
		}
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		j, err := m.Get(tenant, id)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, j.Redacted())
	})
	r.DELETE("/v1/exports/:id", func(c *gin.Context) {
		if err := m.Delete(c.Request.Context(), httpx.Tenant(c), c.Param("id")); err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}
