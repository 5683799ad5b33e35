package storetest

import (
	"testing"
	"time"

	"vitrine/store"
)

// RunShared checks two handles on one backing store, as a `serve` and a
// `sync` process would hold them: they share leases, fencing tokens,
// delivery ids and data. open returns two handles on a new, empty store and
// arranges their Close.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"SharedLeaseExcludesTheOtherHandle", testSharedLease},
		{"SharedExpiredLeaseIsTakenOverAndFenced", testSharedExpiry},
		{"SharedDeliveryIdsDedupe", testSharedDeliveries},
		{"SharedWritesAreVisible", testSharedVisible},
		{"SharedConcurrentClaimersNeverShareAKey", func(t *testing.T, a, b store.Store) {
			concurrentClaims(t, []store.Store{a, b})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := open(t)
			c.fn(t, a, b)
		})
	}
}

func testSharedLease(t *testing.T, a, b store.Store) {
	enqueue(t, a, store.Task{Key: "view:acme", NotBefore: T0})
	ja := claim(t, b, "serve", T0, "view:acme") // enqueued through a, claimed through b
	if j, ok, err := a.Lock(ctx(t), "view:acme", "sync", T0, time.Hour); err != nil || ok || j != nil {
		t.Fatalf("Lock through the other handle of a claimed key: ok=%v job=%v err=%v", ok, j, err)
	}
	claimNone(t, a, "sync", T0)
	enqueue(t, a, store.Task{Key: "view:acme", NotBefore: T0}) // dirty, across handles
	complete(t, b, ja)
	jb := claim(t, a, "sync", T0, "view:acme")
	if jb.Token <= ja.Token {
		t.Fatalf("token %d through a after %d through b", jb.Token, ja.Token)
	}
	complete(t, a, jb)
	claimNone(t, b, "serve", T0.Add(time.Hour))
}

func testSharedExpiry(t *testing.T, a, b store.Store) {
	ja := lock(t, a, opKey, "sync")
	must(t, a.PutLink(ctx(t), ja.Fence(), link("github:42", "by-sync")))
	jb, ok, err := b.Lock(ctx(t), opKey, "serve", T0.Add(time.Hour), time.Hour)
	must(t, err)
	if !ok || jb.Token <= ja.Token {
		t.Fatalf("Lock after expiry through b: ok=%v job=%+v (old token %d)", ok, jb, ja.Token)
	}
	mustFenced(t, "old holder's PutLink through a", a.PutLink(ctx(t), ja.Fence(), link("github:42", "late")))
	mustFenced(t, "old holder's Complete through a", a.Complete(ctx(t), ja))
	must(t, b.PutLink(ctx(t), jb.Fence(), link("github:42", "by-serve")))
	wantLink(t, a, link("github:42", "by-serve"))
	complete(t, b, jb)
}

func testSharedDeliveries(t *testing.T, a, b store.Store) {
	if accept(t, a, "github:d1", T0, store.Task{Key: "item:1"}) {
		t.Fatal("first Accept reported a duplicate")
	}
	if !accept(t, b, "github:d1", T0, store.Task{Key: "item:2"}) {
		t.Fatal("Accept through the other handle did not see the delivery id")
	}
	complete(t, b, claim(t, b, "serve", T0, "item:1"))
	claimNone(t, a, "serve", T0)
}

func testSharedVisible(t *testing.T, a, b store.Store) {
	must(t, a.PutView(ctx(t), store.ViewRecord{Customer: "acme", Hash: "v1", Data: []byte("{}"), Changed: T0}))
	v, ok, err := b.GetView(ctx(t), "acme")
	must(t, err)
	if !ok || v.Hash != "v1" {
		t.Fatalf("GetView through b after PutView through a: %+v ok=%v", v, ok)
	}
	must(t, b.PutKV(ctx(t), "epoch", "acme", []byte("2")))
	val, ok, err := a.GetKV(ctx(t), "epoch", "acme")
	must(t, err)
	if !ok || string(val) != "2" {
		t.Fatalf("GetKV through a after PutKV through b: %q ok=%v", val, ok)
	}
}
