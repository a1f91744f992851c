package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	ID, Event, Data string
}

// readSSE sends events of the stream at url to out until the body ends.
func readSSE(t *testing.T, ctx context.Context, url string, hdr map[string]string, out chan<- sseEvent) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		return resp, err
	}
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return resp, nil
}

// TestSubscribeOverSSE: stored events first, then live ones, filtered by
// type; a reconnect with Last-Event-ID resumes after it.
func TestSubscribeOverSSE(t *testing.T) {
	url, _ := startAPI(t)
	mustAppendND(t, url,
		`{"entity_id":"u1","event_type":"order.placed","payload":{"n":1}}`,
		`{"entity_id":"u1","event_type":"page.viewed"}`,
		`{"entity_id":"u2","event_type":"order.paid","payload":{"n":2}}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan sseEvent, 100)
	if resp, err := readSSE(t, ctx, url+"/v1/subscribe?types=order.*", nil, events); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	next := func() sseEvent {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
		return sseEvent{}
	}
	if e := next(); e.ID != "1" || e.Event != "order.placed" {
		t.Fatalf("first: %+v", e)
	}
	if e := next(); e.ID != "3" || e.Event != "order.paid" {
		t.Fatalf("second: %+v", e)
	}
	mustAppendND(t, url, `{"entity_id":"u3","event_type":"order.placed","payload":{"n":3}}`)
	e := next()
	var body struct {
		Seq      uint64          `json:"seq"`
		EntityID string          `json:"entity_id"`
		Payload  json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(e.Data), &body); err != nil || body.Seq != 4 || body.EntityID != "u3" || string(body.Payload) != `{"n":3}` {
		t.Fatalf("live: %+v %s %v", e, e.Data, err)
	}
	cancel()
	// Reconnect after seq 3: only seq 4.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	again := make(chan sseEvent, 10)
	if _, err := readSSE(t, ctx2, url+"/v1/subscribe", map[string]string{"Last-Event-ID": "3"}, again); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-again:
		if e.ID != "4" {
			t.Fatalf("resumed at %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after resuming")
	}
	for _, bad := range []string{"from_seq=x", "from=yesterday", "since=monday", "types=[a"} {
		st, _, b, err := apiRequest("GET", url+"/v1/subscribe?"+bad, nil, nil)
		if err != nil || st != 400 {
			t.Errorf("%s: %d %s %v", bad, st, b, err)
		}
	}
}

// TestSubscribeOverWebSocket: the same stream as JSON text messages;
// from_seq resumes; a server shutdown closes with 1001 and its reason.
func TestSubscribeOverWebSocket(t *testing.T) {
	a := startAPIAt(t, t.TempDir())
	mustAppendND(t, a.URL, `{"entity_id":"u1","event_type":"order.placed"}`, `{"entity_id":"u1","event_type":"page.viewed"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(a.URL, "http") + "/v1/subscribe?types=order.*&from_seq=0"
	conn, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	read := func() map[string]any {
		t.Helper()
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := read(); m["seq"] != float64(1) || m["event_type"] != "order.placed" {
		t.Fatalf("stored: %v", m)
	}
	mustAppendND(t, a.URL, `{"entity_id":"u2","event_type":"order.paid"}`)
	if m := read(); m["seq"] != float64(3) || m["entity_id"] != "u2" {
		t.Fatalf("live: %v", m)
	}
	// batch=true: arrays of the events ready, each as in one-event messages,
	// with a payload predicate.
	c3, _, err := websocket.Dial(ctx, strings.Replace(ws, "from_seq=0", "from_seq=0&batch=true&where=payload.n>1", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.CloseNow()
	mustAppendND(t, a.URL, `{"entity_id":"u3","event_type":"order.paid","payload":{"n":2}}`, `{"entity_id":"u3","event_type":"order.paid","payload":{"n":1}}`)
	var got []map[string]any
	for len(got) < 1 {
		_, b, err := c3.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var arr []map[string]any
		if err := json.Unmarshal(b, &arr); err != nil {
			t.Fatalf("batch message %s: %v", b, err)
		}
		got = append(got, arr...)
	}
	if len(got) != 1 || got[0]["entity_id"] != "u3" || got[0]["seq"] != float64(4) {
		t.Fatalf("batched with predicate: %v", got)
	}
	if m := read(); m["seq"] != float64(4) {
		t.Fatalf("live: %v", m)
	}
	if m := read(); m["seq"] != float64(5) {
		t.Fatalf("live: %v", m)
	}
	// Resume after seq 1 on a second connection.
	c2, _, err := websocket.Dial(ctx, strings.Replace(ws, "from_seq=0", "from_seq=1", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	if _, b, err := c2.Read(ctx); err != nil || !strings.Contains(string(b), `"seq":3`) {
		t.Fatalf("resume: %s %v", b, err)
	}
	a.st.hub.Close()
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("shutdown: %v", err)
	}
	if st, _, _, err := apiRequest("GET", a.URL+"/v1/subscribe?from_seq=x", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}, nil); err != nil || st != 400 {
		t.Fatalf("bad from_seq over WebSocket: %d %v", st, err)
	}
}
