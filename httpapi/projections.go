package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/projections"
)

// RegisterProjections adds the projection endpoints, acting in the
// request's tenant:
//
//	GET    /v1/projections                     status of the tenant's projections
//	POST   /v1/projections                     define one: {"name", "sql" | "js", "on_error", "replace"}
//	GET    /v1/projections/:name               one projection's status and definition
//	PUT    /v1/projections/:name               a new version: {"sql" | "js", "on_error"}
//	DELETE /v1/projections/:name               remove it with its state
//	POST   /v1/projections/:name/start|stop|reset
//	GET    /v1/projections/:name/rows          its rows as JSON (?key=, ?limit=)
//	GET    /v1/projections/:name/dead-letters  events it could not apply
//	GET    /v1/entities/:entity_id/state       ?projection=&at=: an entity's state, now or at a time
func RegisterProjections(r gin.IRouter, e *projections.Engine) {
	r.GET("/v1/projections", func(c *gin.Context) {
		c.PureJSON(http.StatusOK, gin.H{"projections": nonNil(e.List(httpx.Tenant(c)))})
	})
	r.POST("/v1/projections", func(c *gin.Context) {
		var body struct {
			projections.Spec
			Replace bool `json:"replace"`
		}
		if !httpx.DecodeJSON(c, &body) {
			return
		}
		define(c, e, body.Spec, body.Replace)
	})
	r.GET("/v1/projections/:name", func(c *gin.Context) {
		st, err := e.Get(httpx.Tenant(c), c.Param("name"))
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, st)
	})
	r.PUT("/v1/projections/:name", func(c *gin.Context) {
		var s projections.Spec
		if !httpx.DecodeJSON(c, &s) {
			return
		}
		s.Name = c.Param("name")
		define(c, e, s, true)
	})
	r.DELETE("/v1/projections/:name", func(c *gin.Context) {
		if err := e.Delete(c.Request.Context(), httpx.Tenant(c), c.Param("name")); err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.POST("/v1/projections/:name/:action", func(c *gin.Context) {
		ctx, tenant, name := c.Request.Context(), httpx.Tenant(c), c.Param("name")
		var err error
		switch c.Param("action") {
		case "start":
			err = e.Start(ctx, tenant, name)
		case "stop":
			err = e.Stop(ctx, tenant, name)
		case "reset":
			err = e.Reset(ctx, tenant, name)
		default:
			err = allsource.Errorf(allsource.CodeNotFound, "no action %q (start, stop or reset)", c.Param("action"))
		}
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		st, err := e.Get(tenant, name)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, st)
	})
	r.GET("/v1/projections/:name/rows", func(c *gin.Context) { serveProjectionRows(c, e) })
	r.GET("/v1/projections/:name/dead-letters", func(c *gin.Context) {
		limit, ok := intParam(c, "limit", 1000)
		if !ok {
			return
		}
		dl, err := e.DeadLetters(c.Request.Context(), httpx.Tenant(c), c.Param("name"), limit)
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.PureJSON(http.StatusOK, gin.H{"dead_letters": dl})
	})
	r.GET("/v1/entities/:entity_id/state", func(c *gin.Context) { serveEntityState(c, e) })
}

func nonNil(s []projections.Status) []projections.Status {
	if s == nil {
		return []projections.Status{}
	}
	return s
}

func intParam(c *gin.Context, name string, def int) (int, bool) {
	v := c.Query(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: name, Index: -1, Message: fmt.Sprintf("%s: %q is not a count", name, v)})
		return 0, false
	}
	return n, true
}

func define(c *gin.Context, e *projections.Engine, s projections.Spec, replace bool) {
	d, err := e.Create(c.Request.Context(), httpx.Tenant(c), s, replace)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if notice := e.AwaitBuild(c.Request.Context(), d.Tenant, d.Name); notice != "" {
		c.Header("X-Allsource-Notice", notice)
	}
	st, err := e.Get(d.Tenant, d.Name)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	code := http.StatusCreated
	if d.Version > 1 {
		code = http.StatusAccepted // rebuilding; takes over when caught up
	}
	c.PureJSON(code, st)
}

// serveProjectionRows answers a projection's rows, optionally one key's
// (code projections) and at most limit.
func serveProjectionRows(c *gin.Context, e *projections.Engine) {
	limit, ok := intParam(c, "limit", 10_000)
	if !ok {
		return
	}
	var key *string
	if k, ok := c.GetQuery("key"); ok {
		key = &k
	}
	name := c.Param("name")
	st, rows, err := e.Rows(c.Request.Context(), httpx.Tenant(c), name, key, limit)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.PureJSON(http.StatusOK, gin.H{"projection": name, "version": st.Version, "position": st.Position, "rows": rows})
}

// serveEntityState answers an entity's state in a projection, now or as
// of ?at= (an RFC 3339 time: the events with timestamp ≤ at, in seq order).
func serveEntityState(c *gin.Context, e *projections.Engine) {
	tenant, entity, name := httpx.Tenant(c), c.Param("entity_id"), c.Query("projection")
	if name == "" {
		httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "projection", Index: -1, Message: "projection: name the projection (?projection=<name>)"})
		return
	}
	var at time.Time
	if v := c.Query("at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			httpx.WriteError(c, &allsource.Error{Code: allsource.CodeInvalid, Field: "at", Index: -1, Message: fmt.Sprintf("at: %q is not an RFC 3339 time", v)})
			return
		}
		at = t
	}
	res, err := e.EntityState(c.Request.Context(), tenant, name, entity, at)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.PureJSON(http.StatusOK, res)
}
