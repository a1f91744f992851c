package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource"
	"github.com/allsource/allsource/internal/httpx"
	"github.com/allsource/allsource/warehouse"
)

// ArrowErrorTrailer is the HTTP trailer set when an Arrow stream is cut by
// an error.
const ArrowErrorTrailer = "Allsource-Error"

// serveArrow answers the request with rows as an Arrow IPC stream
// (warehouse.WriteArrow), flushing each record batch to the client.
//
// An error before the first byte is answered as the usual JSON error. An
// error after it cannot change the status: the stream is cut (every Arrow
// reader then fails with an unexpected end of stream), the message is set
// as the trailer Allsource-Error, and it is logged unless the request
// itself ended.
func serveArrow(c *gin.Context, wh *warehouse.Warehouse, rows *warehouse.Rows, log *slog.Logger) {
	out := &arrowHTTPWriter{c: c}
	res, err := warehouse.WriteArrow(out, rows, c.Writer.Flush)
	if err == nil {
		if !res.Started {
			out.start()
		}
		return
	}
	if !res.Started {
		httpx.WriteError(c, arrowError(wh, err))
		return
	}
	c.Writer.Header().Set(http.TrailerPrefix+ArrowErrorTrailer, allsource.ErrorMessage(arrowError(wh, err)))
	if c.Request.Context().Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("arrow stream ended with an error", "err", err, "rows", res.Rows)
	}
}

// arrowError makes err fit for the user.
func arrowError(wh *warehouse.Warehouse, err error) error {
	var e *allsource.Error
	if errors.As(err, &e) {
		return err
	}
	return &allsource.Error{Code: allsource.CodeInvalid, Message: wh.UserMessage(err), Index: -1, Err: err}
}

// arrowHTTPWriter sends the status and Content-Type with the first byte,
// so that an error before it can still be a JSON error response.
type arrowHTTPWriter struct {
	c       *gin.Context
	started bool
}

func (a *arrowHTTPWriter) start() {
	if !a.started {
		a.started = true
		a.c.Writer.Header().Set("Content-Type", warehouse.ArrowStreamType)
		a.c.Status(http.StatusOK)
		a.c.Writer.WriteHeaderNow()
	}
}

func (a *arrowHTTPWriter) Write(p []byte) (int, error) {
	a.start()
	return a.c.Writer.Write(p)
}
