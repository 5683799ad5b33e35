package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"vitrine/store"
	"vitrine/store/redis/redistest"
	"vitrine/store/storetest"
)

var t0 = storetest.T0

// raw is a plain client on the same Redis, to look at and stage the stream.
func raw(t *testing.T, s *Store) *goredis.Client {
	t.Helper()
	o := *s.rdb.Options()
	c := goredis.NewClient(&o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func accept(t *testing.T, s *Store, id string, tasks ...store.Task) {
	t.Helper()
	dup, err := s.Accept(t.Context(), store.Delivery{ID: id, Received: t0, Tasks: tasks})
	if err != nil || dup {
		t.Fatalf("Accept(%s): dup=%v err=%v", id, dup, err)
	}
}

func wantStats(t *testing.T, s *Store, want store.QueueStats) {
	t.Helper()
	got, err := s.Stats(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

func xlen(t *testing.T, c *goredis.Client, s *Store) int64 {
	t.Helper()
	n, err := c.XLen(t.Context(), s.stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pending is the number of entries delivered to a consumer and not acked.
func pending(t *testing.T, c *goredis.Client, s *Store) int64 {
	t.Helper()
	p, err := c.XPending(t.Context(), s.stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func claimKeys(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	var keys []string
	for {
		j, err := s.Claim(t.Context(), "w", now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			return keys
		}
		keys = append(keys, j.Key)
		if err := s.Complete(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAcceptWaitsOnTheStreamUntilAQueueCallMovesIt(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	c := raw(t, s)
	accept(t, s, "github:d1", store.Task{Key: "item:1"}, store.Task{Key: "view:acme"})
	if n := xlen(t, c, s); n != 1 {
		t.Fatalf("intake stream holds %d entries after one Accept, want 1", n)
	}
	if n, _ := c.Exists(t.Context(), s.p+"q:item:1").Result(); n != 0 {
		t.Fatal("Accept wrote the queue row itself; it should only append to the stream")
	}
	ttl, err := c.TTL(t.Context(), s.p+"dlv:github:d1").Result()
	if err != nil || ttl < store.DeliveryRetention {
		t.Fatalf("delivery id TTL = %s (%v), want at least %s", ttl, err, store.DeliveryRetention)
	}
	wantStats(t, s, store.QueueStats{Ready: 2}) // Stats moved it
	if n, p := xlen(t, c, s), pending(t, c, s); n != 0 || p != 0 {
		t.Fatalf("after the move: %d stream entries, %d pending; want none", n, p)
	}
	if got := claimKeys(t, s, t0); strings.Join(got, ",") != "item:1,view:acme" {
		t.Fatalf("claimed %q", got)
	}
}

func TestDuplicateAcceptAppendsNothing(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	c := raw(t, s)
	accept(t, s, "github:d1", store.Task{Key: "item:1"})
	dup, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0, Tasks: []store.Task{{Key: "item:2"}}})
	if err != nil || !dup {
		t.Fatalf("second Accept: dup=%v err=%v", dup, err)
	}
	if n := xlen(t, c, s); n != 1 {
		t.Fatalf("stream holds %d entries, want 1", n)
	}
}

// An entry read by a replica that died before moving it stays pending on
// that consumer; another replica reclaims it once it has been idle for
// ReclaimIdle, and not before.
func TestEntryOfACrashedReplicaIsReclaimedAfterItsIdleTime(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	a := openStore(t, o)
	c := raw(t, a)
	accept(t, a, "github:d1", store.Task{Key: "item:1"})
	// The dead replica's XREADGROUP, without the move that would follow.
	if err := c.XReadGroup(t.Context(), &goredis.XReadGroupArgs{Group: group, Consumer: "dead",
		Streams: []string{a.stream, ">"}, Count: 10, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	wantStats(t, a, store.QueueStats{Intake: 1}) // idle for a moment only: not reclaimed, but counted
	if p := pending(t, c, a); p != 1 {
		t.Fatalf("%d entries pending, want the dead consumer's 1", p)
	}

	// Age the entry past ReclaimIdle (XCLAIM IDLE sets its idle time), then
	// a replica whose reclaim is due takes it over.
	pend := func() []goredis.XPendingExt {
		t.Helper()
		ids, err := c.XPendingExt(t.Context(), &goredis.XPendingExtArgs{Stream: a.stream, Group: group, Start: "-", End: "+", Count: 10}).Result()
		if err != nil || len(ids) != 1 {
			t.Fatalf("pending entries: %+v, %v", ids, err)
		}
		return ids
	}
	if err := c.Do(t.Context(), "XCLAIM", a.stream, group, "dead", 0, pend()[0].ID, "IDLE", 31_000, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	if p := pend()[0]; p.Idle < 30*time.Second || p.Consumer != "dead" {
		t.Fatalf("staged pending entry: %+v", p)
	}
	var logs bytes.Buffer
	o.Logger = zerolog.New(&logs)
	o.Consumer = "b"
	b := openStore(t, o)
	wantStats(t, b, store.QueueStats{Ready: 1})
	if p := pending(t, c, a); p != 0 {
		t.Fatalf("%d entries still pending after the reclaim", p)
	}
	if !strings.Contains(logs.String(), "reclaimed intake entries") {
		t.Fatalf("reclaim not logged: %s", logs.String())
	}
	if got := claimKeys(t, b, t0); len(got) != 1 || got[0] != "item:1" {
		t.Fatalf("claimed %q, want item:1 once", got)
	}
}

// A move whose XACK finds the entry already acknowledged adds nothing: the
// replica that read an entry and stalled past its reclaim does not enqueue
// it a second time when it wakes up.
func TestAnEntryMovesOnlyOnce(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	accept(t, s, "github:d1", store.Task{Key: "item:1"})
	msgs, err := s.read(t.Context(), ">")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("read: %d entries, %v", len(msgs), err)
	}
	if err := s.ingest(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
	if got := claimKeys(t, s, t0); len(got) != 1 {
		t.Fatalf("first move: claimed %q, want item:1", got)
	}
	if err := s.ingest(t.Context(), msgs); err != nil { // the stalled replica's late move
		t.Fatal(err)
	}
	if got := claimKeys(t, s, t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("a second move of the same entry enqueued %q again", got)
	}
}

// The SIGTERM path: Close moves what this handle had read and deletes its
// consumer, so nothing is left pending on a consumer nobody runs.
func TestCloseLeavesNoEntryPendingAndUnowned(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	o.Consumer = "serve-1"
	a, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := raw(t, a)
	accept(t, a, "github:d1", store.Task{Key: "item:1"})
	accept(t, a, "github:d2", store.Task{Key: "item:2"})
	// Read as serve-1 (as a pump cut short by the signal would have).
	if err := c.XReadGroup(t.Context(), &goredis.XReadGroupArgs{Group: group, Consumer: "serve-1",
		Streams: []string{a.stream, ">"}, Count: 10, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	if p := pending(t, c, a); p != 2 {
		t.Fatalf("%d pending before Close, want 2", p)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if p := pending(t, c, a); p != 0 {
		t.Fatalf("%d entries pending after Close", p)
	}
	consumers, err := c.XInfoConsumers(t.Context(), a.stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range consumers {
		if x.Name == "serve-1" {
			t.Fatalf("consumer serve-1 still in the group after Close: %+v", x)
		}
	}
	o.Consumer = "serve-2"
	b := openStore(t, o)
	if got := claimKeys(t, b, t0); strings.Join(got, ",") != "item:1,item:2" {
		t.Fatalf("after the drain, claimed %q", got)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A pump that fails may have failed after its XREADGROUP counted on the
// server (Redis killed between the read and the move, with the read in its
// AOF): the entries are pending on this very consumer, which ">" never
// returns again. The next pump reads them back at once; without that they
// would wait ReclaimIdle for another replica.
func TestEntriesReadBeforeAFailedPumpMoveOnTheNextCall(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	c := raw(t, s)
	accept(t, s, "github:d1", store.Task{Key: "item:1"})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Stats(cancelled, t0); err == nil {
		t.Fatal("Stats on a cancelled context: no error")
	}
	// The read the failed call made, as the server saw it.
	if err := c.XReadGroup(t.Context(), &goredis.XReadGroupArgs{Group: group, Consumer: s.Consumer(),
		Streams: []string{s.stream, ">"}, Count: 10, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	wantStats(t, s, store.QueueStats{Ready: 1})
	if p := pending(t, c, s); p != 0 {
		t.Fatalf("%d entries still pending on the consumer", p)
	}
}

func TestMovesAreBoundedPerCallAndBacklogIsReadyNow(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	o.PumpBatch = 2
	s := openStore(t, o)
	for i := range 5 {
		accept(t, s, fmt.Sprintf("github:d%d", i), store.Task{Key: fmt.Sprintf("item:%d", i), NotBefore: t0.Add(time.Hour)})
	}
	wantStats(t, s, store.QueueStats{Waiting: 2, Intake: 3}) // one batch moved
	at, ok, err := s.NextReady(t.Context())                  // moves two more, and one is left
	if err != nil || !ok || !at.IsZero() {
		t.Fatalf("NextReady with entries left on the stream = %s, %v, %v; want ready now", at, ok, err)
	}
	wantStats(t, s, store.QueueStats{Waiting: 5})
	at, ok, err = s.NextReady(t.Context())
	if err != nil || !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("NextReady once all moved = %s, %v, %v; want T0+1h", at, ok, err)
	}
}

func TestDeletedStreamIsRecreatedWithItsGroup(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	c := raw(t, s)
	if err := c.Del(t.Context(), s.stream).Err(); err != nil {
		t.Fatal(err)
	}
	accept(t, s, "github:d1", store.Task{Key: "item:1"}) // XADD recreates the stream, without the group
	if got := claimKeys(t, s, t0); len(got) != 1 {
		t.Fatalf("claimed %q after the stream was deleted, want item:1", got)
	}
}

func TestPruneDropsOldIdsAndTheirIndexEntries(t *testing.T) {
	url, _ := redistest.Start(t)
	s := openStore(t, testOptions(t, url))
	c := raw(t, s)
	day := func(d int) time.Time { return time.Date(2001, 1, d, 0, 0, 0, 0, time.UTC) }
	for i, id := range []string{"old", "edge", "new"} {
		if _, err := s.Accept(t.Context(), store.Delivery{ID: id, Received: day(1 + 4*i)}); err != nil {
			t.Fatal(err)
		}
	}
	// "old" was accepted again after its key expired: its second index
	// entry belongs to the new acceptance and must keep the id.
	if err := c.Del(t.Context(), s.p+"dlv:old").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept(t.Context(), store.Delivery{ID: "old", Received: day(20)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneDeliveries(t.Context(), day(5)); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(t.Context(), s.p+"dlv:old", s.p+"dlv:edge", s.p+"dlv:new").Result(); n != 3 {
		t.Fatalf("%d of 3 ids left; the re-accepted one and the two at or after the prune time must stay", n)
	}
	if n, _ := c.ZCard(t.Context(), s.p+"dlvx").Result(); n != 3 {
		t.Fatalf("index holds %d entries, want 3 (the first acceptance of old pruned)", n)
	}
	if err := s.PruneDeliveries(t.Context(), day(21)); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(t.Context(), s.p+"dlv:old", s.p+"dlv:edge", s.p+"dlv:new").Result(); n != 0 {
		t.Fatalf("%d ids left after pruning everything", n)
	}
}

func TestStreamFieldsRoundTripAnyBytes(t *testing.T) {
	tasks := []store.Task{{Key: "item:\xff\x00|x", Lane: -3, NotBefore: t0}, {Key: "k", Lane: store.LaneCreate}}
	got, err := decTasks(encTasks(tasks))
	if err != nil || len(got) != 2 || got[0].Key != tasks[0].Key || got[0].Lane != -3 || !got[0].NotBefore.Equal(t0) ||
		got[1] != tasks[1] {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	if _, err := decTasks(encTasks(tasks)[:10]); err == nil {
		t.Fatal("a truncated record decoded")
	}
	if _, err := decTasks("\x02junk"); err == nil {
		t.Fatal("a record of an unknown version decoded")
	}
}

// Replicas that crashed leave their consumer in the group; one with nothing
// pending that has not read for a long time is deleted, one with entries
// pending never is (deleting it would drop them).
func TestCrashedReplicasEmptyConsumersAreForgotten(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	a := openStore(t, o)
	c := raw(t, a)
	accept(t, a, "github:d1", store.Task{Key: "item:1"})
	for _, consumer := range []string{"dead", "ghost"} { // dead reads the entry, ghost finds nothing
		if err := c.XReadGroup(t.Context(), &goredis.XReadGroupArgs{Group: group, Consumer: consumer,
			Streams: []string{a.stream, ">"}, Count: 10, Block: -1}).Err(); err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatal(err)
		}
	}
	o.Consumer = "b"
	b, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.forgetIdle = 0                             // every consumer counts as long idle
	wantStats(t, b, store.QueueStats{Intake: 1}) // dead's entry, not reclaimable yet
	consumers, err := c.XInfoConsumers(t.Context(), a.stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int64{}
	for _, x := range consumers {
		names[x.Name] = x.Pending
	}
	if _, ok := names["ghost"]; ok {
		t.Fatalf("the idle consumer without entries was kept: %v", names)
	}
	if names["dead"] != 1 {
		t.Fatalf("the consumer with a pending entry was dropped or lost it: %v", names)
	}
}

// Replicas accepting and claiming at the same time: every accepted task is
// moved and run exactly once, duplicates add nothing, and the stream ends
// empty with nothing pending.
func TestConcurrentAcceptsAndClaimsOnTwoReplicasRunEachTaskOnce(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	handles := []*Store{openStore(t, o), openStore(t, o)}
	const deliveries = 200
	var (
		mu      sync.Mutex
		runs    = map[string]int{}
		wg      sync.WaitGroup
		done    atomic.Bool
		errs    = make(chan error, 16)
		accepts sync.WaitGroup
	)
	for w := range 4 {
		accepts.Add(1)
		go func() {
			defer accepts.Done()
			s := handles[w%2]
			for i := w; i < deliveries; i += 4 {
				for range 2 { // each delivery twice: a redelivery
					if _, err := s.Accept(t.Context(), store.Delivery{ID: fmt.Sprintf("github:%d", i), Received: t0,
						Tasks: []store.Task{{Key: fmt.Sprintf("item:%03d", i)}}}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := handles[w%2]
			for {
				j, err := s.Claim(t.Context(), fmt.Sprintf("w%d", w), t0, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if j == nil {
					if done.Load() {
						return
					}
					runtime.Gosched()
					continue
				}
				mu.Lock()
				runs[j.Key]++
				mu.Unlock()
				if err := s.Complete(t.Context(), j); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	accepts.Wait()
	// Every entry is on the stream now; claimers stop once a Claim after
	// this point finds nothing (that Claim moved whatever was left).
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(runs) != deliveries {
		t.Fatalf("%d distinct keys ran, want %d", len(runs), deliveries)
	}
	for k, n := range runs {
		if n != 1 {
			t.Fatalf("%s ran %d times, want once", k, n)
		}
	}
	c := raw(t, handles[0])
	if n, p := xlen(t, c, handles[0]), pending(t, c, handles[0]); n != 0 || p != 0 {
		t.Fatalf("stream left with %d entries, %d pending", n, p)
	}
}

// A delivery accepted (on another replica) while a key's pass runs makes
// the key dirty, exactly as an Enqueue would: Park then runs it once more
// instead of parking, and Retry folds it in. This is why finishing calls
// move intake entries first.
func TestDeliveryDuringAPassMakesTheKeyDirty(t *testing.T) {
	url, _ := redistest.Start(t)
	o := testOptions(t, url)
	a, b := openStore(t, o), openStore(t, o)
	ctx := t.Context()
	if err := a.Enqueue(ctx, store.Task{Key: "item:1", Lane: store.LaneCreate, NotBefore: t0}); err != nil {
		t.Fatal(err)
	}
	j, err := a.Claim(ctx, "w", t0, time.Minute)
	if err != nil || j == nil {
		t.Fatalf("Claim: %+v, %v", j, err)
	}
	accept(t, b, "github:d1", store.Task{Key: "item:1", Lane: store.LaneControl})
	if err := a.Park(ctx, j, "bad"); err != nil {
		t.Fatal(err)
	}
	if parked, err := a.Parked(ctx); err != nil || len(parked) != 0 {
		t.Fatalf("Parked = %+v, %v; a delivery during the pass should run the key once more", parked, err)
	}
	j, err = a.Claim(ctx, "w", t0, time.Minute)
	if err != nil || j == nil || j.Attempt != 1 || j.LastError != "bad" || j.Lane != store.LaneControl {
		t.Fatalf("pass after the dirty Park: %+v, %v; want attempt 1, error bad, the delivery's lane", j, err)
	}
	accept(t, b, "github:d2", store.Task{Key: "item:1", Lane: store.LaneRetract})
	if err := a.Retry(ctx, j, t0.Add(time.Hour), "again"); err != nil {
		t.Fatal(err)
	}
	j, err = a.Claim(ctx, "w", t0, time.Minute) // the delivery's request is due now, not in an hour
	if err != nil || j == nil || j.Attempt != 2 {
		t.Fatalf("pass after Retry with a delivery during the pass: %+v, %v", j, err)
	}
}
