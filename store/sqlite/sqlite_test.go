package sqlite

import (
	"path/filepath"
	"testing"

	"vitrine/store"
	"vitrine/store/storetest"
)

// openTemp opens a store on a new file in a temporary directory.
func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "vitrine.db"), opts...)
}

func openAt(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// Two Opens of one file stand for a `serve` and a `sync` process.
func TestConformanceTwoHandlesOnOneFile(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "vitrine.db")
		return openAt(t, path), openAt(t, path)
	})
}
