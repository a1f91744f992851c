// Package qcache keeps the answers of repeated queries. An entry is keyed
// by tenant, query text, answer format and the data watermark (the highest
// seq visible to queries): new data moves the watermark, so entries made
// before it are never served again and age out.
package qcache

import (
	"container/list"
	"sync"
)

// Key names one answer.
type Key struct {
	Tenant    string
	Query     string
	Format    string
	Watermark uint64
}

// Cache is a size-bounded LRU of answers. The zero value is not usable;
// call New. Safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	maxBytes int64
	maxEntry int64
	bytes    int64
	ll       *list.List
	items    map[Key]*list.Element
	OnHit    func()
	OnMiss   func()
}

type entry struct {
	key  Key
	body []byte
}

// New returns a cache holding at most maxBytes of answers, none larger than
// maxEntry.
func New(maxBytes, maxEntry int64) *Cache {
	return &Cache{maxBytes: maxBytes, maxEntry: maxEntry, ll: list.New(), items: map[Key]*list.Element{}}
}

// MaxEntry is the largest answer Put keeps.
func (c *Cache) MaxEntry() int64 { return c.maxEntry }

// Get returns the answer for k, if kept.
func (c *Cache) Get(k Key) ([]byte, bool) {
	c.mu.Lock()
	el, ok := c.items[k]
	if ok {
		c.ll.MoveToFront(el)
	}
	c.mu.Unlock()
	if ok {
		if c.OnHit != nil {
			c.OnHit()
		}
		return el.Value.(*entry).body, true
	}
	if c.OnMiss != nil {
		c.OnMiss()
	}
	return nil, false
}

// Put keeps body as the answer for k (it must not be changed afterwards),
// evicting the least recently used answers to stay within the bound.
// Answers with an older watermark for the same query go first: they can
// never be served again.
func (c *Cache) Put(k Key, body []byte) {
	size := int64(len(body)) + int64(len(k.Query)) + 64
	if size > c.maxEntry || size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	for el := c.ll.Back(); el != nil; {
		prev := el.Prev()
		if e := el.Value.(*entry); e.key.Watermark < k.Watermark && e.key.Query == k.Query && e.key.Tenant == k.Tenant {
			c.remove(el)
		}
		el = prev
	}
	for c.bytes+size > c.maxBytes && c.ll.Len() > 0 {
		c.remove(c.ll.Back())
	}
	c.items[k] = c.ll.PushFront(&entry{key: k, body: body})
	c.bytes += size
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*entry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.bytes -= int64(len(e.body)) + int64(len(e.key.Query)) + 64
}

// Bytes is the size of what the cache holds.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Len is the number of answers held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
