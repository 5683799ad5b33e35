package mapping

import (
	"encoding/json"
	"sync"
)

// ViewCache keeps one decoded view per customer, by hash: a stored view is
// read far more often (every op pass, every page request) than it changes,
// and decoding a large one costs more than reading it. The zero value is
// ready; a nil *ViewCache decodes every time. Views it returns are shared:
// callers must not modify them.
type ViewCache struct {
	mu sync.Mutex
	m  map[string]View
}

// Decode returns the view data encodes, whose hash is hash.
func (c *ViewCache) Decode(customer, hash string, data []byte) (View, error) {
	if c != nil {
		c.mu.Lock()
		v, hit := c.m[customer]
		c.mu.Unlock()
		if hit && v.Hash == hash {
			return v, nil
		}
	}
	var v View
	if err := json.Unmarshal(data, &v); err != nil {
		return View{}, err
	}
	if c != nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]View{}
		}
		c.m[customer] = v
		c.mu.Unlock()
	}
	return v, nil
}
