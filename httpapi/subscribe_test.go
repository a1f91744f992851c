package httpapi

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allsource/allsource/projections"
	"github.com/allsource/allsource/warehouse"
)

// TestSubscriptionsPerTenant: past its limit a tenant's next subscription
// is answered 429, another tenant's is not, and a closed one frees its
// place.
func TestSubscriptionsPerTenant(t *testing.T) {
	wh, err := warehouse.Open(context.Background(), warehouse.Options{DataDir: t.TempDir(), FlushAge: time.Hour, CompactInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	hub := projections.NewHub(0)
	defer hub.Close()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	RegisterSubscribe(r, hub, wh, SubscribeOptions{TenantLimit: 1, Heartbeat: time.Hour})
	srv := httptest.NewServer(r)
	defer srv.Close()
	open := func(tenant string) (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/subscribe?from=now&tenant="+tenant, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, cancel
	}
	first, closeFirst := open("acme")
	if first.StatusCode != 200 {
		t.Fatalf("first: %d", first.StatusCode)
	}
	bufio.NewReader(first.Body).Peek(1) // the stream has begun
	second, closeSecond := open("acme")
	second.Body.Close()
	closeSecond()
	if second.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second subscription of acme: %d, want 429", second.StatusCode)
	}
	other, closeOther := open("beta")
	if other.StatusCode != 200 {
		t.Fatalf("beta: %d", other.StatusCode)
	}
	other.Body.Close()
	closeOther()
	first.Body.Close()
	closeFirst()
	deadline := time.Now().Add(5 * time.Second)
	for {
		again, closeAgain := open("acme")
		st := again.StatusCode
		again.Body.Close()
		closeAgain()
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first closed: %d", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
