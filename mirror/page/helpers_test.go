package page

import (
	"context"
	"errors"
	"flag"
	"sync"
	"testing"
	"time"

	"vitrine/internal/testbin"
	"vitrine/mapping"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	testSecret = []byte("page-secret-for-tests-0123456789")
	testIDKey  = []byte("key-secret-for-tests-9876543210")
)

// memKV is an in-memory store.KV, shared by "processes" in tests.
type memKV struct {
	mu    sync.Mutex
	m     map[string][]byte
	fail  error
	lists int
}

func newMemKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) GetKV(_ context.Context, ns, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return nil, false, k.fail
	}
	v, ok := k.m[ns+"\x00"+key]
	return v, ok, nil
}

func (k *memKV) PutKV(_ context.Context, ns, key string, val []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return k.fail
	}
	k.m[ns+"\x00"+key] = append([]byte(nil), val...)
	return nil
}

func (k *memKV) ListKV(_ context.Context, ns string) (map[string][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lists++
	if k.fail != nil {
		return nil, k.fail
	}
	out := map[string][]byte{}
	for key, v := range k.m {
		if len(key) > len(ns) && key[:len(ns)+1] == ns+"\x00" {
			out[key[len(ns)+1:]] = v
		}
	}
	return out, nil
}

func (k *memKV) setFail(err error) {
	k.mu.Lock()
	k.fail = err
	k.mu.Unlock()
}

// memViews is a ViewSource.
type memViews struct {
	mu    sync.Mutex
	views map[string]mapping.View
	when  map[string]time.Time
	fail  error
}

func newMemViews() *memViews {
	return &memViews{views: map[string]mapping.View{}, when: map[string]time.Time{}}
}

func (m *memViews) put(v mapping.View, changed time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.views[v.Customer] = v
	m.when[v.Customer] = changed
}

func (m *memViews) GetView(_ context.Context, customer string) (mapping.View, time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return mapping.View{}, time.Time{}, false, m.fail
	}
	v, ok := m.views[customer]
	return v, m.when[customer], ok, nil
}

var errStoreDown = errors.New("store down")

// repoRoot walks up to go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
