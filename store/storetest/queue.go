package storetest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

var intakeCases = []testCase{
	{"AcceptEnqueuesOnceAndDedupes", testAcceptDedupe},
	{"AcceptIsAtomic", testAcceptAtomic},
	{"AcceptedTasksCoalesceWithQueuedOnes", testAcceptCoalesces},
	{"PruneForgetsOnlyOlderDeliveries", testPrune},
	{"StatsOldestCountsFromReceived", testOldestFromReceived},
}

var queueCases = []testCase{
	{"EnqueueCoalescesToOnePendingEntry", testCoalesce},
	{"EnqueueRejectsAnEmptyKey", testEnqueueEmptyKey},
	{"ClaimOrderIsLaneThenTimeThenArrival", testClaimOrder},
	{"TasksWithoutNotBeforeAreReadyAtAnyTimeInOrder", testZeroNotBefore},
	{"NotBeforeIsRespectedAndInclusive", testNotBefore},
	{"LeasedKeyIsNeverClaimedTwice", testNoDoubleLease},
	{"RequestsDuringAPassRunExactlyOnceMore", testDirty},
	{"CompleteWithoutRequestForgetsKey", testCompleteForgets},
	{"RetryCountsAttemptsAndKeepsLastError", testRetry},
	{"DeferKeepsAttemptAndLastError", testDefer},
	{"RetryFoldsRequestsFromThePass", testRetryFoldsDirty},
	{"ParkSetsKeyAsideUntilUnpark", testPark},
	{"EnqueueUnparksAParkedKey", testEnqueueUnparks},
	{"ParkWithRequestDuringPassRunsOnceMore", testParkDirty},
	{"UnparkLeavesOtherKeysAlone", testUnparkNotParked},
	{"ExpiredLeaseIsTakenOverAndOldHolderFenced", testLeaseExpiry},
	{"ExpiredLeaseHoldsUntilTakenOver", testExpiredLeaseHolds},
	{"RenewExtendsTheLease", testRenew},
	{"LockFreeAndHeldKeys", testLock},
	{"LockKeepsThePendingRequest", testLockKeepsRequest},
	{"TokensIncreaseAcrossPasses", testTokensIncrease},
	{"StatsCountsEachKeyInOneBucket", testStats},
	{"NextReadyIsTheEarliestClaimTime", testNextReady},
	{"ConcurrentClaimersNeverShareAKey", func(t *testing.T, s store.Store) { concurrentClaims(t, []store.Store{s}) }},
}

func accept(t *testing.T, s store.Store, id string, received time.Time, tasks ...store.Task) bool {
	t.Helper()
	dup, err := s.Accept(ctx(t), store.Delivery{ID: id, Received: received, Tasks: tasks})
	must(t, err)
	return dup
}

func testAcceptDedupe(t *testing.T, s store.Store) {
	if accept(t, s, "github:d1", T0, store.Task{Key: "item:github:1"}, store.Task{Key: "view:acme"}) {
		t.Fatal("first Accept reported a duplicate")
	}
	if !accept(t, s, "github:d1", T0.Add(time.Second), store.Task{Key: "item:github:2"}) {
		t.Fatal("second Accept of the same id not reported as duplicate")
	}
	if accept(t, s, "jira:site:d1", T0) { // another id, no tasks: recorded all the same
		t.Fatal("Accept of a new id without tasks reported a duplicate")
	}
	if !accept(t, s, "jira:site:d1", T0) {
		t.Fatal("Accept without tasks did not record the id")
	}
	j := claim(t, s, "w", T0, "item:github:1")
	wantTime(t, "Enqueued of an accepted task", j.Enqueued, T0)
	complete(t, s, j)
	complete(t, s, claim(t, s, "w", T0, "view:acme"))
	claimNone(t, s, "w", T0.Add(time.Hour)) // the duplicate's task was not enqueued
}

func testAcceptAtomic(t *testing.T, s store.Store) {
	_, err := s.Accept(ctx(t), store.Delivery{ID: "github:d1", Received: T0,
		Tasks: []store.Task{{Key: "item:github:1"}, {Key: ""}}})
	if err == nil {
		t.Fatal("Accept with an empty task key succeeded")
	}
	claimNone(t, s, "w", T0) // the valid task of the failed delivery was not enqueued
	if accept(t, s, "github:d1", T0, store.Task{Key: "item:github:1"}) {
		t.Fatal("a failed Accept recorded its delivery id")
	}
	claim(t, s, "w", T0, "item:github:1")
}

func testAcceptCoalesces(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "item:github:1", Lane: store.LaneBackground, NotBefore: T0.Add(time.Hour)})
	accept(t, s, "github:d1", T0, store.Task{Key: "item:github:1", Lane: store.LaneControl})
	j := claim(t, s, "w", T0, "item:github:1")
	if j.Lane != store.LaneControl {
		t.Fatalf("lane %d, want the delivery's %d", j.Lane, store.LaneControl)
	}
	wantTime(t, "Enqueued", j.Enqueued, T0)
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(2*time.Hour))
}

func testPrune(t *testing.T, s store.Store) {
	// Dates long past, so a store that never forgets ids younger than its
	// retention (measured on any clock) still prunes them.
	day := func(d int) time.Time { return time.Date(2001, 1, d, 12, 0, 0, 0, time.UTC) }
	accept(t, s, "github:old", day(1))
	accept(t, s, "github:edge", day(5))
	accept(t, s, "github:new", day(9))
	must(t, s.PruneDeliveries(ctx(t), day(5)))
	if accept(t, s, "github:old", day(10), store.Task{Key: "item:1"}) {
		t.Fatal("a pruned delivery id is still a duplicate")
	}
	if !accept(t, s, "github:edge", day(10)) {
		t.Fatal("a delivery received exactly at the prune time was forgotten")
	}
	if !accept(t, s, "github:new", day(10)) {
		t.Fatal("a newer delivery id was forgotten")
	}
	claim(t, s, "w", T0, "item:1")
}

func testOldestFromReceived(t *testing.T, s store.Store) {
	wantStats(t, s, T0, store.QueueStats{})
	accept(t, s, "github:d1", T0.Add(-10*time.Minute), store.Task{Key: "item:1"})
	accept(t, s, "github:d2", T0.Add(-5*time.Minute), store.Task{Key: "item:2"})
	wantStats(t, s, T0, store.QueueStats{Ready: 2, Oldest: 10 * time.Minute})
	j := claim(t, s, "w", T0, "item:1")
	wantStats(t, s, T0, store.QueueStats{Ready: 1, InFlight: 1, Oldest: 5 * time.Minute})
	complete(t, s, j)
	claim(t, s, "w", T0, "item:2")
	wantStats(t, s, T0, store.QueueStats{InFlight: 1})
}

func testCoalesce(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneCreate, NotBefore: T0.Add(10 * time.Second)})
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneRetract, NotBefore: T0.Add(20 * time.Second)},
		store.Task{Key: "k", Lane: store.LaneUpdate, NotBefore: T0.Add(5 * time.Second)})
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneBackground, NotBefore: T0.Add(30 * time.Second)})
	wantStats(t, s, T0, store.QueueStats{Waiting: 1})
	claimNone(t, s, "w", T0.Add(5*time.Second-1))
	j := claim(t, s, "w", T0.Add(5*time.Second), "k")
	if j.Lane != store.LaneRetract {
		t.Fatalf("coalesced lane %d, want the lowest (%d)", j.Lane, store.LaneRetract)
	}
	if j.Attempt != 0 || j.LastError != "" {
		t.Fatalf("fresh job has Attempt %d, LastError %q", j.Attempt, j.LastError)
	}
	wantTime(t, "Enqueued", j.Enqueued, T0.Add(5*time.Second))
	claimNone(t, s, "w2", T0.Add(5*time.Second+Lease-1))
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(time.Hour)) // one entry, one pass
}

func testEnqueueEmptyKey(t *testing.T, s store.Store) {
	if err := s.Enqueue(ctx(t), store.Task{Key: "a"}, store.Task{Key: ""}); err == nil {
		t.Fatal("Enqueue with an empty key succeeded")
	}
}

func testClaimOrder(t *testing.T, s store.Store) {
	enqueue(t, s,
		store.Task{Key: "a", Lane: store.LaneUpdate, NotBefore: T0},
		store.Task{Key: "b", Lane: store.LaneRetract, NotBefore: T0.Add(2 * time.Second)},
		store.Task{Key: "c", Lane: store.LaneRetract, NotBefore: T0.Add(1 * time.Second)},
		store.Task{Key: "d", Lane: store.LaneControl, NotBefore: T0.Add(3 * time.Second)},
		store.Task{Key: "f", Lane: store.LaneBackground, NotBefore: T0.Add(-time.Hour)},
		store.Task{Key: "not-yet", Lane: store.LaneControl, NotBefore: T0.Add(time.Hour)},
	)
	// Same lane and time as c, enqueued later: after c.
	enqueue(t, s, store.Task{Key: "a-late", Lane: store.LaneRetract, NotBefore: T0.Add(1 * time.Second)})
	now := T0.Add(10 * time.Second)
	for _, k := range []string{"d", "c", "a-late", "b", "a", "f"} {
		claim(t, s, "w", now, k)
	}
	claimNone(t, s, "w", now)
}

func testZeroNotBefore(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "z", Lane: store.LaneUpdate}, store.Task{Key: "x", Lane: store.LaneUpdate},
		store.Task{Key: "y", Lane: store.LaneUpdate})
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	wantStats(t, s, past, store.QueueStats{Ready: 3})
	complete(t, s, claim(t, s, "w", past, "z"))
	complete(t, s, claim(t, s, "w", T0, "x"))
	complete(t, s, claim(t, s, "w", T0, "y"))
}

func testNotBefore(t *testing.T, s store.Store) {
	at := T0.Add(30 * time.Second)
	enqueue(t, s, store.Task{Key: "k", NotBefore: at})
	wantStats(t, s, T0, store.QueueStats{Waiting: 1})
	claimNone(t, s, "w", at.Add(-1))
	wantStats(t, s, at, store.QueueStats{Ready: 1})
	claim(t, s, "w", at, "k")
}

func testNoDoubleLease(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
	j := claim(t, s, "w1", T0, "k")
	claimNone(t, s, "w2", T0)
	claimNone(t, s, "w2", T0.Add(Lease-1))
	if j2, ok, err := s.Lock(ctx(t), "k", "w3", T0.Add(Lease-1), time.Hour); err != nil || ok || j2 != nil {
		t.Fatalf("Lock of a claimed key: ok=%v job=%v err=%v", ok, j2, err)
	}
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
	claimNone(t, s, "w2", T0.Add(Lease-1))
	complete(t, s, j)
}

func testDirty(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneControl, NotBefore: T0})
	j := claim(t, s, "w", T0, "k")
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneCreate, NotBefore: T0.Add(50 * time.Second)})
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneUpdate, NotBefore: T0.Add(60 * time.Second)},
		store.Task{Key: "k", Lane: store.LaneBackground, NotBefore: T0.Add(70 * time.Second)})
	claimNone(t, s, "w2", T0.Add(55*time.Second)) // dirty, but still leased
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(50*time.Second-1))
	j2 := claim(t, s, "w", T0.Add(50*time.Second), "k")
	if j2.Lane != store.LaneUpdate {
		t.Fatalf("dirty pass lane %d, want %d (lowest of the requests during the pass)", j2.Lane, store.LaneUpdate)
	}
	wantTime(t, "dirty pass Enqueued", j2.Enqueued, T0.Add(50*time.Second))
	complete(t, s, j2)
	claimNone(t, s, "w", T0.Add(time.Hour)) // exactly once more, not three times
	wantStats(t, s, T0.Add(time.Hour), store.QueueStats{})
}

func testCompleteForgets(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
	complete(t, s, claim(t, s, "w", T0, "k"))
	wantStats(t, s, T0, store.QueueStats{})
	if _, ok, err := s.NextReady(ctx(t)); err != nil || ok {
		t.Fatalf("NextReady after the only pass completed: ok=%v err=%v", ok, err)
	}
	parked, err := s.Parked(ctx(t))
	must(t, err)
	if len(parked) != 0 {
		t.Fatalf("Parked = %+v", parked)
	}
}

func testRetry(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneCreate, NotBefore: T0})
	j := claim(t, s, "w", T0, "k")
	must(t, s.Retry(ctx(t), j, T0.Add(10*time.Second), "boom"))
	wantStats(t, s, T0, store.QueueStats{Waiting: 1, Oldest: 0})
	claimNone(t, s, "w", T0.Add(10*time.Second-1))
	j = claim(t, s, "w", T0.Add(10*time.Second), "k")
	if j.Attempt != 1 || j.LastError != "boom" || j.Lane != store.LaneCreate {
		t.Fatalf("after Retry: Attempt %d, LastError %q, Lane %d; want 1, boom, %d", j.Attempt, j.LastError, j.Lane, store.LaneCreate)
	}
	wantTime(t, "Enqueued after Retry", j.Enqueued, T0)
	must(t, s.Retry(ctx(t), j, T0.Add(20*time.Second), "bang"))
	j = claim(t, s, "w", T0.Add(20*time.Second), "k")
	if j.Attempt != 2 || j.LastError != "bang" {
		t.Fatalf("after second Retry: Attempt %d, LastError %q", j.Attempt, j.LastError)
	}
	complete(t, s, j)
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0.Add(time.Minute)})
	j = claim(t, s, "w", T0.Add(time.Minute), "k")
	if j.Attempt != 0 || j.LastError != "" {
		t.Fatalf("after Complete: Attempt %d, LastError %q; want a fresh start", j.Attempt, j.LastError)
	}
}

func testDefer(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneUpdate, NotBefore: T0})
	j := claim(t, s, "w", T0, "k")
	must(t, s.Retry(ctx(t), j, T0, "boom"))
	j = claim(t, s, "w", T0, "k")
	must(t, s.Defer(ctx(t), j, T0.Add(time.Minute)))
	claimNone(t, s, "w", T0.Add(time.Minute-1))
	j = claim(t, s, "w", T0.Add(time.Minute), "k")
	if j.Attempt != 1 || j.LastError != "boom" || j.Lane != store.LaneUpdate {
		t.Fatalf("after Defer: Attempt %d, LastError %q, Lane %d; want 1, boom, %d", j.Attempt, j.LastError, j.Lane, store.LaneUpdate)
	}
	must(t, s.Defer(ctx(t), j, T0.Add(2*time.Minute)))
	j = claim(t, s, "w", T0.Add(2*time.Minute), "k")
	if j.Attempt != 1 {
		t.Fatalf("after second Defer: Attempt %d, want 1", j.Attempt)
	}
}

func testRetryFoldsDirty(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneCreate, NotBefore: T0})
	j := claim(t, s, "w", T0, "k")
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneRetract, NotBefore: T0.Add(5 * time.Second)})
	must(t, s.Retry(ctx(t), j, T0.Add(time.Minute), "boom"))
	claimNone(t, s, "w", T0.Add(5*time.Second-1))
	j = claim(t, s, "w", T0.Add(5*time.Second), "k")
	if j.Lane != store.LaneRetract || j.Attempt != 1 || j.LastError != "boom" {
		t.Fatalf("folded pass: Lane %d, Attempt %d, LastError %q", j.Lane, j.Attempt, j.LastError)
	}
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(time.Hour)) // the Retry and the request: one pass
}

func wantParked(t *testing.T, s store.Store, want ...store.Job) {
	t.Helper()
	got, err := s.Parked(ctx(t))
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("Parked = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.Lane != w.Lane || g.Attempt != w.Attempt || g.LastError != w.LastError {
			t.Fatalf("Parked[%d] = %+v, want key %q lane %d attempt %d error %q", i, g, w.Key, w.Lane, w.Attempt, w.LastError)
		}
	}
}

func testPark(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "b", Lane: store.LaneCreate, NotBefore: T0},
		store.Task{Key: "a", Lane: store.LaneCreate, NotBefore: T0.Add(time.Second)})
	j := claim(t, s, "w", T0, "b")
	must(t, s.Retry(ctx(t), j, T0, "boom"))
	j = claim(t, s, "w", T0, "b")
	must(t, s.Park(ctx(t), j, "gave up: boom"))
	j = claim(t, s, "w", T0.Add(time.Second), "a")
	must(t, s.Park(ctx(t), j, "bad"))
	wantParked(t, s,
		store.Job{Key: "a", Lane: store.LaneCreate, Attempt: 1, LastError: "bad"},
		store.Job{Key: "b", Lane: store.LaneCreate, Attempt: 2, LastError: "gave up: boom"})
	claimNone(t, s, "w", T0.Add(24*time.Hour))
	wantStats(t, s, T0, store.QueueStats{Parked: 2})
	if _, ok, err := s.NextReady(ctx(t)); err != nil || ok {
		t.Fatalf("NextReady with only parked keys: ok=%v err=%v", ok, err)
	}

	must(t, s.Unpark(ctx(t), "b"))
	wantParked(t, s, store.Job{Key: "a", Lane: store.LaneCreate, Attempt: 1, LastError: "bad"})
	j = claim(t, s, "w", T0, "b")
	if j.Attempt != 0 || j.Lane != store.LaneCreate {
		t.Fatalf("unparked job: Attempt %d, Lane %d; want 0, %d", j.Attempt, j.Lane, store.LaneCreate)
	}
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(time.Hour))
}

func testEnqueueUnparks(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneCreate, NotBefore: T0})
	must(t, s.Park(ctx(t), claim(t, s, "w", T0, "k"), "bad"))
	enqueue(t, s, store.Task{Key: "k", Lane: store.LaneRetract, NotBefore: T0.Add(5 * time.Minute)})
	wantParked(t, s)
	wantStats(t, s, T0, store.QueueStats{Waiting: 1})
	claimNone(t, s, "w", T0.Add(5*time.Minute-1))
	j := claim(t, s, "w", T0.Add(5*time.Minute), "k")
	if j.Attempt != 0 || j.Lane != store.LaneRetract {
		t.Fatalf("unparked by Enqueue: Attempt %d, Lane %d; want 0, %d", j.Attempt, j.Lane, store.LaneRetract)
	}
}

func testParkDirty(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
	j := claim(t, s, "w", T0, "k")
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0.Add(time.Second)})
	must(t, s.Park(ctx(t), j, "bad"))
	wantParked(t, s)
	j = claim(t, s, "w", T0.Add(time.Second), "k")
	if j.Attempt != 1 || j.LastError != "bad" {
		t.Fatalf("pass after a dirty Park: Attempt %d, LastError %q; want 1, bad", j.Attempt, j.LastError)
	}
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(time.Hour))
	wantParked(t, s)
}

func testUnparkNotParked(t *testing.T, s store.Store) {
	must(t, s.Unpark(ctx(t), "unknown"))
	enqueue(t, s, store.Task{Key: "waiting", NotBefore: T0.Add(time.Hour)})
	must(t, s.Unpark(ctx(t), "waiting"))
	claimNone(t, s, "w", T0)
	enqueue(t, s, store.Task{Key: "held", NotBefore: T0})
	j := claim(t, s, "w", T0, "held")
	must(t, s.Unpark(ctx(t), "held"))
	claimNone(t, s, "w", T0.Add(Lease-1))
	complete(t, s, j)
	claimNone(t, s, "w", T0.Add(Lease-1)) // Unpark did not make it dirty
	wantStats(t, s, T0, store.QueueStats{Waiting: 1})
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: opKey, Lane: store.LaneUpdate, NotBefore: T0})
	a := claim(t, s, "a", T0, opKey)
	must(t, s.PutLink(ctx(t), a.Fence(), link("github:42", "by-a")))
	claimNone(t, s, "b", T0.Add(Lease-1))
	wantStats(t, s, T0.Add(Lease-1), store.QueueStats{InFlight: 1})
	wantStats(t, s, T0.Add(Lease), store.QueueStats{Ready: 1})

	b := claim(t, s, "b", T0.Add(Lease), opKey)
	if b.Token <= a.Token {
		t.Fatalf("taker's token %d not above the old holder's %d", b.Token, a.Token)
	}
	if b.Attempt != 1 || b.LastError == "" || b.Lane != store.LaneUpdate {
		t.Fatalf("taken-over job: Attempt %d, LastError %q, Lane %d; want 1, a reason, %d", b.Attempt, b.LastError, b.Lane, store.LaneUpdate)
	}
	wantTime(t, "taken-over Enqueued", b.Enqueued, T0)

	later := T0.Add(Lease + time.Second)
	mustFenced(t, "old holder's PutLink", s.PutLink(ctx(t), a.Fence(), link("github:42", "by-a-late")))
	mustFenced(t, "old holder's DeleteLink", s.DeleteLink(ctx(t), a.Fence(), "acme", target, "github:42"))
	mustFenced(t, "old holder's Renew", s.Renew(ctx(t), a, later, Lease))
	mustFenced(t, "old holder's Complete", s.Complete(ctx(t), a))
	mustFenced(t, "old holder's Retry", s.Retry(ctx(t), a, later, "x"))
	mustFenced(t, "old holder's Defer", s.Defer(ctx(t), a, later))
	mustFenced(t, "old holder's Park", s.Park(ctx(t), a, "x"))
	wantLink(t, s, link("github:42", "by-a"))
	claimNone(t, s, "c", later) // the old holder's calls did not release b's lease
	wantParked(t, s)

	must(t, s.PutLink(ctx(t), b.Fence(), link("github:42", "by-b")))
	wantLink(t, s, link("github:42", "by-b"))
	complete(t, s, b)
	claimNone(t, s, "c", T0.Add(time.Hour))
}

func testExpiredLeaseHolds(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: opKey, NotBefore: T0})
	a := claim(t, s, "a", T0, opKey)
	late := T0.Add(5 * time.Minute) // a's lease ran out; nobody took the key
	must(t, s.Renew(ctx(t), a, late, Lease))
	must(t, s.PutLink(ctx(t), a.Fence(), link("github:42", "late")))
	wantLink(t, s, link("github:42", "late"))
	claimNone(t, s, "b", late.Add(Lease-1))
	complete(t, s, a)
	claimNone(t, s, "b", T0.Add(time.Hour))
}

func testRenew(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
	a := claim(t, s, "a", T0, "k")
	must(t, s.Renew(ctx(t), a, T0.Add(50*time.Second), Lease))
	claimNone(t, s, "b", T0.Add(50*time.Second+Lease-1))
	b := claim(t, s, "b", T0.Add(50*time.Second+Lease), "k")
	mustFenced(t, "Renew after takeover", s.Renew(ctx(t), a, T0.Add(2*time.Minute), Lease))
	must(t, s.Renew(ctx(t), b, T0.Add(2*time.Minute), Lease))
}

func testLock(t *testing.T, s store.Store) {
	a := lock(t, s, "view:acme", "sync")
	if a.Token <= 0 || a.Owner != "sync" || a.Key != "view:acme" {
		t.Fatalf("Lock job = %+v", a)
	}
	if j, ok, err := s.Lock(ctx(t), "view:acme", "serve", T0.Add(time.Hour-1), time.Hour); err != nil || ok || j != nil {
		t.Fatalf("Lock of a held key: ok=%v job=%v err=%v", ok, j, err)
	}
	claimNone(t, s, "serve", T0) // a Lock is not a request
	wantStats(t, s, T0, store.QueueStats{InFlight: 1})
	other := lock(t, s, "view:beta", "serve") // other keys are free
	complete(t, s, other)

	b, ok, err := s.Lock(ctx(t), "view:acme", "serve", T0.Add(time.Hour), time.Hour)
	must(t, err)
	if !ok || b.Token <= a.Token {
		t.Fatalf("Lock after expiry: ok=%v job=%+v (old token %d)", ok, b, a.Token)
	}
	mustFenced(t, "Complete of the expired lock", s.Complete(ctx(t), a))
	complete(t, s, b)
	c := lock(t, s, "view:acme", "sync")
	if c.Token <= b.Token {
		t.Fatalf("token %d after %d", c.Token, b.Token)
	}
	complete(t, s, c)
}

func testLockKeepsRequest(t *testing.T, s store.Store) {
	enqueue(t, s, store.Task{Key: "view:acme", Lane: store.LaneUpdate, NotBefore: T0.Add(10 * time.Second)})
	j := lock(t, s, "view:acme", "sync")
	claimNone(t, s, "serve", T0.Add(time.Minute))
	complete(t, s, j)
	claimNone(t, s, "serve", T0.Add(10*time.Second-1))
	k := claim(t, s, "serve", T0.Add(10*time.Second), "view:acme")
	if k.Lane != store.LaneUpdate {
		t.Fatalf("lane %d, want %d", k.Lane, store.LaneUpdate)
	}
}

func testTokensIncrease(t *testing.T, s store.Store) {
	var last int64
	next := func(j *store.Job) {
		t.Helper()
		if j.Token <= last {
			t.Fatalf("token %d after %d", j.Token, last)
		}
		last = j.Token
	}
	for i := range 3 {
		enqueue(t, s, store.Task{Key: "k", NotBefore: T0})
		j := claim(t, s, "w", T0, "k")
		next(j)
		if i == 1 {
			must(t, s.Retry(ctx(t), j, T0, "x"))
			j = claim(t, s, "w", T0, "k")
			next(j)
		}
		complete(t, s, j)
		j = lock(t, s, "k", "sync")
		next(j)
		complete(t, s, j)
	}
}

func testStats(t *testing.T, s store.Store) {
	wantStats(t, s, T0, store.QueueStats{})
	enqueue(t, s, store.Task{Key: "parked", NotBefore: T0.Add(-2 * time.Hour)})
	must(t, s.Park(ctx(t), claim(t, s, "w", T0, "parked"), "bad"))
	enqueue(t, s, store.Task{Key: "expired", NotBefore: T0.Add(-90 * time.Minute)})
	claim(t, s, "w", T0, "expired") // lease runs out at T0+Lease
	enqueue(t, s, store.Task{Key: "inflight", NotBefore: T0.Add(-time.Hour)})
	j, err := s.Claim(ctx(t), "w", T0, 2*time.Hour)
	must(t, err)
	if j == nil || j.Key != "inflight" {
		t.Fatalf("Claim = %+v, want inflight", j)
	}
	enqueue(t, s,
		store.Task{Key: "ready1", Lane: store.LaneCreate, NotBefore: T0.Add(30 * time.Minute)},
		store.Task{Key: "ready2", Lane: store.LaneCreate, NotBefore: T0.Add(50 * time.Minute)},
		store.Task{Key: "waiting", Lane: store.LaneCreate, NotBefore: T0.Add(2 * time.Hour)})

	wantStats(t, s, T0, store.QueueStats{Waiting: 3, InFlight: 2, Parked: 1})
	wantStats(t, s, T0.Add(time.Hour), store.QueueStats{Ready: 3, Waiting: 1, InFlight: 1, Parked: 1, Oldest: 30 * time.Minute})
	// A request for a leased key is pending (its age counts) but the key
	// stays InFlight.
	enqueue(t, s, store.Task{Key: "inflight", NotBefore: T0.Add(10 * time.Minute)})
	wantStats(t, s, T0.Add(time.Hour), store.QueueStats{Ready: 3, Waiting: 1, InFlight: 1, Parked: 1, Oldest: 50 * time.Minute})
}

func testNextReady(t *testing.T, s store.Store) {
	next := func() (time.Time, bool) {
		t.Helper()
		at, ok, err := s.NextReady(ctx(t))
		must(t, err)
		return at, ok
	}
	if _, ok := next(); ok {
		t.Fatal("NextReady on an empty queue reported ok")
	}
	enqueue(t, s, store.Task{Key: "a", NotBefore: T0.Add(5 * time.Minute)}, store.Task{Key: "b", NotBefore: T0.Add(3 * time.Minute)})
	if at, ok := next(); !ok || !at.Equal(T0.Add(3*time.Minute)) {
		t.Fatalf("NextReady = %s, %v; want T0+3m", at.Sub(T0), ok)
	}
	b := claim(t, s, "w", T0.Add(3*time.Minute), "b") // its lease runs out at T0+4m
	if at, ok := next(); !ok || !at.Equal(T0.Add(4*time.Minute)) {
		t.Fatalf("NextReady with a lease running out first = %s, %v; want T0+4m", at.Sub(T0), ok)
	}
	complete(t, s, b)
	if at, ok := next(); !ok || !at.Equal(T0.Add(5*time.Minute)) {
		t.Fatalf("NextReady = %s, %v; want T0+5m", at.Sub(T0), ok)
	}
	enqueue(t, s, store.Task{Key: "now"})
	if at, ok := next(); !ok || at.After(T0) {
		t.Fatalf("NextReady with a key ready now = %s, %v; want a time not after T0", at, ok)
	}
	complete(t, s, claim(t, s, "w", T0, "now"))
	complete(t, s, claim(t, s, "w", T0.Add(5*time.Minute), "a"))
	if _, ok := next(); ok {
		t.Fatal("NextReady after everything completed reported ok")
	}
}

// concurrentClaims runs workers on the handles (one backing store) that
// claim from a shared queue: no key is ever held by two at once, and a key
// requested again during each of its first two passes runs exactly three
// times. Run it with -race.
func concurrentClaims(t *testing.T, handles []store.Store) {
	const (
		workers = 6
		keys    = 24
		passes  = 3
	)
	var tasks []store.Task
	for i := range keys {
		tasks = append(tasks, store.Task{Key: fmt.Sprintf("item:%02d", i), Lane: store.Lane(i % 5)})
	}
	enqueue(t, handles[0], tasks...)

	var (
		mu      sync.Mutex
		holder  = map[string]string{}
		count   = map[string]int{}
		errs    []string
		wg      sync.WaitGroup
		failure = func(format string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := handles[w%len(handles)]
			owner := fmt.Sprintf("w%d", w)
			for range 10000 {
				j, err := s.Claim(t.Context(), owner, T0, time.Hour)
				if err != nil {
					failure("%s: Claim: %v", owner, err)
					return
				}
				if j == nil {
					st, err := s.Stats(t.Context(), T0)
					if err != nil {
						failure("%s: Stats: %v", owner, err)
						return
					}
					if st.Ready == 0 && st.InFlight == 0 && st.Waiting == 0 {
						return // drained
					}
					runtime.Gosched()
					continue
				}
				mu.Lock()
				if h, held := holder[j.Key]; held {
					errs = append(errs, fmt.Sprintf("%s claimed %s while %s held it", owner, j.Key, h))
				}
				holder[j.Key] = owner
				count[j.Key]++
				again := count[j.Key] < passes
				mu.Unlock()
				runtime.Gosched() // hold the key a moment
				if again {
					if err := s.Enqueue(t.Context(), store.Task{Key: j.Key}); err != nil {
						failure("%s: Enqueue: %v", owner, err)
						return
					}
				}
				mu.Lock()
				delete(holder, j.Key)
				mu.Unlock()
				if err := s.Complete(t.Context(), j); err != nil {
					failure("%s: Complete %s: %v", owner, j.Key, err)
					return
				}
			}
			failure("%s: queue not drained after 10000 rounds", owner)
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	for _, task := range tasks {
		if count[task.Key] != passes {
			t.Errorf("%s ran %d times, want %d", task.Key, count[task.Key], passes)
		}
	}
}
