package qcache

import (
	"fmt"
	"sync"
	"testing"
)

func TestCache(t *testing.T) {
	c := New(1000, 300)
	var hits, misses int
	c.OnHit, c.OnMiss = func() { hits++ }, func() { misses++ }
	k := Key{Tenant: "t", Query: "q", Format: "ndjson", Watermark: 5}
	if _, ok := c.Get(k); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Put(k, []byte("answer"))
	if b, ok := c.Get(k); !ok || string(b) != "answer" {
		t.Fatalf("get = %q %v", b, ok)
	}
	// Another watermark, tenant or format is another answer.
	for _, other := range []Key{{"t", "q", "ndjson", 6}, {"u", "q", "ndjson", 5}, {"t", "q", "csv", 5}} {
		if _, ok := c.Get(other); ok {
			t.Errorf("%+v answered from %+v", other, k)
		}
	}
	// A newer watermark for the same query drops the old answer.
	c.Put(Key{"t", "q", "ndjson", 6}, []byte("new"))
	if _, ok := c.Get(k); ok {
		t.Error("the answer for an old watermark is still kept")
	}
	// Too large for one entry: not kept.
	c.Put(Key{"t", "big", "ndjson", 6}, make([]byte, 400))
	if _, ok := c.Get(Key{"t", "big", "ndjson", 6}); ok {
		t.Error("an answer over the entry bound was kept")
	}
	// The total bound evicts the least recently used.
	for i := 0; i < 20; i++ {
		c.Put(Key{"t", fmt.Sprint("q", i), "ndjson", 6}, make([]byte, 100))
	}
	if c.Bytes() > 1000 {
		t.Errorf("holds %d bytes, bound 1000", c.Bytes())
	}
	if _, ok := c.Get(Key{"t", "q19", "ndjson", 6}); !ok {
		t.Error("the newest answer was evicted")
	}
	if _, ok := c.Get(Key{"t", "q0", "ndjson", 6}); ok {
		t.Error("the oldest answer survived")
	}
	if hits == 0 || misses == 0 {
		t.Errorf("hits %d misses %d", hits, misses)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := New(10_000, 1_000)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				k := Key{Query: fmt.Sprint(i % 50), Watermark: uint64(i / 100)}
				if b, ok := c.Get(k); ok && string(b) != k.Query {
					t.Errorf("wrong answer %q for %q", b, k.Query)
				}
				c.Put(k, []byte(k.Query))
			}
		}(g)
	}
	wg.Wait()
}
