package httpx

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
)

// DecodeJSON reads a JSON request body of at most 1 MiB strictly (unknown
// fields refused) into v, answering 400 itself on failure.
func DecodeJSON(c *gin.Context, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(c, allsource.Errorf(allsource.CodeInvalid, "invalid request body: %v", err))
		return false
	}
	return true
}

// Tenant is the tenant a request acts in: the principal's own, else
// ?tenant= (unauthenticated servers, administrators of every tenant),
// else the default tenant.
func Tenant(c *gin.Context) string {
	if t, ok := allsource.TenantScope(c.Request.Context()); ok && t != allsource.AllTenants {
		return t
	}
	if t := c.Query("tenant"); t != "" {
		return t
	}
	return allsource.DefaultTenant
}
