package redis

import (
	"testing"

	"vitrine/store"
	"vitrine/store/redis/redistest"
	"vitrine/store/storetest"
)

// testOptions are Options for the Redis at url under a prefix of t's own.
// The shared CI Redis runs appendfsync everysec; the conformance suite is
// not about fsync, so it accepts that (the durability tests below use
// private servers with their own settings).
func testOptions(t testing.TB, url string) Options {
	t.Helper()
	ro, err := redistest.Options(url)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Addr: ro.Addr, DB: ro.DB, Username: ro.Username, Password: ro.Password,
		Prefix: redistest.Prefix(t, url), Durability: DurabilityEverySec}
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), o)
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
	url, _ := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t, testOptions(t, url)) })
}

// Two handles under one prefix stand for two replicas (or a `serve` and a
// `sync`) sharing one Redis.
func TestConformanceTwoReplicas(t *testing.T) {
	url, _ := redistest.Start(t)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		o := testOptions(t, url)
		return openStore(t, o), openStore(t, o)
	})
}
