package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/ingest"
	"github.com/allsource/allsource/internal/httpx"
)

// IngestOptions configures the ingest endpoint.
type IngestOptions struct {
	MaxBodyBytes int64 // default 64 MiB
	// Admit, when set, may refuse a parsed batch (its events and body
	// bytes) for tenant (policies, quotas) before it is appended.
	Admit func(ctx context.Context, tenant string, inputs []ingest.Input, bytes int64) error
}

// RegisterIngest adds POST /v1/events.
//
// The body is one event object, a JSON array of events, or NDJSON
// (Content-Type application/x-ndjson). 200 returns ingest.Result; 400 names the
// event (index or line) and field; 409 is an expected_version conflict with
// the entity's current version; 413 a body, batch or payload over its limit;
// 503 a server that is shutting down or whose storage failed.
func RegisterIngest(r gin.IRouter, s *ingest.Service, o IngestOptions) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	r.POST("/v1/events", func(c *gin.Context) { serveAppend(c, s, &o) })
}

func serveAppend(c *gin.Context, s *ingest.Service, o *IngestOptions) {
	format := ingest.FormatJSON
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			reject(c, s, allsource.Errorf(allsource.CodeInvalid, "bad Content-Type %q", ct))
			return
		}
		switch {
		case mt == "application/x-ndjson" || mt == "application/ndjson" || mt == "application/jsonl" || mt == "application/jsonlines":
			format = ingest.FormatNDJSON
		case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/plain" ||
			mt == "application/x-www-form-urlencoded": // curl -d's default; the body is still JSON
		default:
			reject(c, s, allsource.Errorf(allsource.CodeInvalid, "unsupported Content-Type %q: send application/json or application/x-ndjson", mt))
			return
		}
	}
	if c.Request.ContentLength > o.MaxBodyBytes {
		reject(c, s, allsource.Errorf(allsource.CodeTooLarge, "the body is %d bytes, over the limit of %d", c.Request.ContentLength, o.MaxBodyBytes))
		return
	}
	body, err := readBody(http.MaxBytesReader(c.Writer, c.Request.Body, o.MaxBodyBytes), c.Request.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			reject(c, s, allsource.Errorf(allsource.CodeTooLarge, "the body is over the limit of %d bytes", o.MaxBodyBytes))
			return
		}
		reject(c, s, allsource.Errorf(allsource.CodeInvalid, "the request body could not be read completely (the client was too slow or closed the connection)"))
		return
	}
	inputs, err := ingest.ParseBatch(body, format, s.Limits())
	if err != nil {
		reject(c, s, err)
		return
	}
	tenant := c.Query("tenant")
	if tenant != "" {
		if err := ingest.CheckTenant(tenant); err != nil {
			reject(c, s, allsource.Errorf(allsource.CodeInvalid, "query parameter tenant: %v", err))
			return
		}
	}
	// An authenticated principal of one tenant appends to that tenant only.
	if p, ok := allsource.PrincipalFrom(c.Request.Context()); ok && p.Tenant != allsource.AllTenants {
		if tenant != "" && tenant != p.Tenant {
			reject(c, s, allsource.Errorf(allsource.CodeForbidden, "query parameter tenant: you may append to tenant %q only", p.Tenant))
			return
		}
		tenant = p.Tenant
	}
	if o.Admit != nil {
		t := tenant
		if t == "" {
			t = allsource.DefaultTenant
		}
		if err := o.Admit(c.Request.Context(), t, inputs, int64(len(body))); err != nil {
			reject(c, s, err)
			return
		}
	}
	res, err := s.Append(c.Request.Context(), tenant, inputs)
	if err != nil {
		reject(c, s, err)
		return
	}
	if res.Duplicates == nil {
		res.Duplicates = []ingest.Duplicate{}
	}
	c.PureJSON(http.StatusOK, res)
}

// reject answers a refused batch and counts it.
func reject(c *gin.Context, s *ingest.Service, err error) {
	s.CountRejected(err)
	httpx.WriteError(c, err)
}

// readBody reads the whole body, sized from Content-Length when given, so a
// large batch is read without repeated growing and copying.
func readBody(r io.Reader, length int64) ([]byte, error) {
	if length <= 0 || length > 1<<30 {
		return io.ReadAll(r)
	}
	buf := make([]byte, length+1) // +1 to see EOF without another allocation
	n, err := io.ReadFull(r, buf)
	switch err {
	case io.ErrUnexpectedEOF, io.EOF:
		if int64(n) == length {
			return buf[:n], nil
		}
		return nil, fmt.Errorf("the body ended after %d of %d bytes", n, length)
	case nil:
		// More than Content-Length: read the rest to let MaxBytesReader judge.
		rest, err := io.ReadAll(r)
		return append(buf, rest...), err
	default:
		return nil, err
	}
}
