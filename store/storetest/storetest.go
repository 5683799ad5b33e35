// Package storetest is the conformance suite every store.Store
// implementation runs: Run against a fresh store per case, RunShared against
// two handles on one backing store (two processes sharing it).
//
// Beyond store.go's doc comments, the suite pins these choices, which an
// implementation must make the same way:
//
//   - Times round-trip to the nanosecond (compare with Equal; the location
//     may come back as UTC).
//   - Lists are ordered: snapshots by ID, views by customer, links by object
//     key, parked jobs by key, all in byte order (Go string order); audit
//     entries by Seq. Empty results are empty (nil is fine), not errors.
//   - Deleting something missing is not an error. PutKV of an empty value
//     stores a value (GetKV reports ok).
//   - PutSnapshot with an equal Updated overwrites (the later read wins).
//   - ListAudit: Since is inclusive; Limit keeps the newest Limit matching
//     entries, still returned in Seq order.
//   - Links writes need the current lease: a fence that is zero, stale, or
//     from a completed pass gets store.ErrFenced and nothing is written. An
//     expired lease nobody took over still holds (writes, Renew, Complete
//     succeed); once another owner claimed the key, every call of the old
//     holder (PutLink, DeleteLink, Renew, Complete, Retry, Defer, Park)
//     fails with store.ErrFenced.
//   - Tokens of successive leases of a key increase, also across Complete
//     and across store handles.
//   - A task with an empty key is an error; so Accept with one records
//     nothing (atomicity).
//   - Job.Enqueued is when the oldest request folded into the job arrived:
//     a delivery's Received for Accept, else the task's NotBefore, else the
//     store's clock. Stats.Oldest is now minus the oldest pending request's
//     arrival (never negative).
//   - Ordering among ready keys: lane, then time (NotBefore, or arrival
//     when zero), then arrival order (FIFO). Tasks of one Enqueue call
//     without NotBefore are claimed in the order given.
//   - NotBefore is inclusive: a key is ready at now == NotBefore. A task
//     without NotBefore is ready at any now. A lease runs out at
//     now == Claim's now + lease.
//   - Claim takes over a key whose lease ran out, with a higher token; the
//     abandoned pass counts as failed (Attempt+1, LastError set). Lock also
//     takes over an expired lease.
//   - Lock consumes nothing: a request pending for the key survives and runs
//     after Complete.
//   - Complete resets Attempt and LastError for the next pass.
//   - Retry and Defer fold any request that arrived during the pass into
//     one pending request (earliest time, lowest lane): still one more pass.
//   - Park counts as a failed pass (Attempt+1). A key requested again during
//     the pass runs once more instead of parking.
//   - Unpark and a new Enqueue of a parked key make it ready with Attempt 0;
//     Unpark of a key that is not parked does nothing. Parked lists keys
//     not currently leased.
//   - Stats puts each key in one bucket: Ready (pending and due, or lease
//     ran out), Waiting (pending, not due), InFlight (leased, lease running),
//     Parked.
//   - NextReady is the earliest time Claim could return something: a
//     pending key's NotBefore (zero or earlier than any now when it had
//     none) or a running lease's end; ok=false only when no key is pending
//     or leased.
//   - Ping fails with store.ErrUnavailable after Close; Close twice is safe.
//
// Queue cases use virtual time (explicit now values from T0); no case sleeps.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"vitrine/store"
)

// T0 is the suite's virtual "now"; it has nanoseconds so that time round
// trips are checked to the last digit.
var T0 = time.Date(2031, 3, 14, 15, 9, 26, 535897932, time.UTC)

// Lease is the lease the suite claims with unless a case needs another.
const Lease = time.Minute

type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run checks the store open returns against the contract, one fresh store
// per case. open must return a new, empty store and arrange its Close (for
// example with t.Cleanup); Close must tolerate being called twice.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	var cases []testCase
	cases = append(cases, recordCases...)
	cases = append(cases, intakeCases...)
	cases = append(cases, queueCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// ctx is the context for store calls in a case.
func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustFenced(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("%s: got error %v, want store.ErrFenced", what, err)
	}
}

func enqueue(t *testing.T, s store.Store, tasks ...store.Task) {
	t.Helper()
	must(t, s.Enqueue(ctx(t), tasks...))
}

// claim claims at now and wants key.
func claim(t *testing.T, s store.Store, owner string, now time.Time, key string) *store.Job {
	t.Helper()
	j, err := s.Claim(ctx(t), owner, now, Lease)
	must(t, err)
	if j == nil {
		t.Fatalf("Claim(%s, %s) = nil, want %q", owner, now.Sub(T0), key)
	}
	if j.Key != key {
		t.Fatalf("Claim(%s, %s) = %q, want %q", owner, now.Sub(T0), j.Key, key)
	}
	if j.Owner != owner {
		t.Fatalf("Claim(%s) job owner %q", owner, j.Owner)
	}
	return j
}

// claimNone wants nothing claimable at now.
func claimNone(t *testing.T, s store.Store, owner string, now time.Time) {
	t.Helper()
	j, err := s.Claim(ctx(t), owner, now, Lease)
	must(t, err)
	if j != nil {
		t.Fatalf("Claim(%s, %s) = %q (lane %d, token %d), want nothing", owner, now.Sub(T0), j.Key, j.Lane, j.Token)
	}
}

// lock locks key at T0 for an hour and wants it.
func lock(t *testing.T, s store.Store, key, owner string) *store.Job {
	t.Helper()
	j, ok, err := s.Lock(ctx(t), key, owner, T0, time.Hour)
	must(t, err)
	if !ok || j == nil {
		t.Fatalf("Lock(%q, %s) refused on a free key", key, owner)
	}
	return j
}

func complete(t *testing.T, s store.Store, j *store.Job) {
	t.Helper()
	must(t, s.Complete(ctx(t), j))
}

func wantStats(t *testing.T, s store.Store, now time.Time, want store.QueueStats) {
	t.Helper()
	got, err := s.Stats(ctx(t), now)
	must(t, err)
	if got != want {
		t.Fatalf("Stats(%s) = %+v, want %+v", now.Sub(T0), got, want)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}
