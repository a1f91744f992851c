package export

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
)

// RegisterRoutes adds the export endpoints:
//
//	GET    /v1/exports              the tenant's jobs
//	POST   /v1/exports              define one: {"target", "types", "where", "every", "batch_rows"}
//	GET    /v1/exports/:id          one job's state
//	POST   /v1/exports/:id/pause    stop after the current batch
//	POST   /v1/exports/:id/resume   start again (or run a waiting job now)
//	DELETE /v1/exports/:id          remove it (the target keeps its rows)
func (m *Manager) RegisterRoutes(r gin.IRouter) {
	r.GET("/v1/exports", func(c *gin.Context) {
		jobs := m.List(httpx.Tenant(c))
		for i := range jobs {
			jobs[i] = redacted(jobs[i])
		}
		c.JSON(http.StatusOK, gin.H{"exports": jobs})
	})
	r.POST("/v1/exports", func(c *gin.Context) {
		var s Spec
		if !httpx.DecodeJSON(c, &s) {
			return
		}
		j, err := m.Create(c.Request.Context(), httpx.Tenant(c), s)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusCreated, redacted(j))
	})
	r.GET("/v1/exports/:id", func(c *gin.Context) {
		j, err := m.Get(httpx.Tenant(c), c.Param("id"))
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, redacted(j))
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
		c.JSON(http.StatusOK, redacted(j))
	})
	r.DELETE("/v1/exports/:id", func(c *gin.Context) {
		if err := m.Delete(c.Request.Context(), httpx.Tenant(c), c.Param("id")); err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// redacted is j with the target's password masked: answers and logs do
// not repeat credentials.
func redacted(j Job) Job {
	if u, err := url.Parse(j.Spec.Target); err == nil {
		j.Spec.Target = u.Redacted()
	}
	return j
}
