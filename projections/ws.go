package projections

import (
	"context"
	"errors"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource/warehouse"
)

// serveWS streams a subscription over a WebSocket: one text message per
// event (the JSON of the SSE data), or per batch of events with batch=true
// (a JSON array), pings while idle, and a close frame
// whose reason says why the server ended it (1013 for a slow reader, 1001
// when shutting down). Browsers cannot send Last-Event-ID here: a client
// resumes with from_seq.
func (h *Hub) serveWS(c *gin.Context, wh *warehouse.Warehouse, o HTTPOptions) {
	f, start, ok := request(c)
	if !ok {
		return
	}
	conn, err := websocket.Accept(c.Writer, c.Request, nil) // same-origin browsers and non-browser clients
	if err != nil {
		return // Accept answered the client
	}
	defer conn.CloseNow()
	// The client sends nothing; reading handles its pings and close, and
	// ends ctx when it goes away.
	ctx := conn.CloseRead(c.Request.Context())
	batched := c.Query("batch") == "true"
	var buf []byte
	send := func(batch []Event) error {
		if batched { // one message: a JSON array of the batch
			buf = append(buf[:0], '[')
			for i := range batch {
				b, err := h.eventJSON(&f, &batch[i])
				if err != nil {
					return err
				}
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, b...)
			}
			buf = append(buf, ']')
			return conn.Write(ctx, websocket.MessageText, buf)
		}
		for i := range batch {
			b, err := h.eventJSON(&f, &batch[i])
			if err != nil {
				return err
			}
			if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
				return err
			}
		}
		return nil
	}
	idle := func() error { return conn.Ping(ctx) }
	err = h.SubscribeBatches(ctx, wh, f, start, SubOptions{Buffer: o.Buffer, Heartbeat: o.Heartbeat, Idle: idle, JSON: true, MaxBatch: 1000}, send)
	var ended *Ended
	switch {
	case errors.As(err, &ended) && h.isClosed():
		conn.Close(websocket.StatusGoingAway, truncateReason(ended.Reason))
	case errors.As(err, &ended):
		conn.Close(websocket.StatusTryAgainLater, truncateReason(ended.Reason))
	case err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil:
		conn.Close(websocket.StatusInternalError, truncateReason(err.Error()))
	default:
		conn.Close(websocket.StatusNormalClosure, "")
	}
}

// truncateReason fits a close reason in a control frame (123 bytes).
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}
