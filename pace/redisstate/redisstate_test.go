package redisstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"vitrine/clock"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/store/redis/redistest"
)

var t0 = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

// windowsOnly is GitHub's documented budget without the one-second spacing,
// so the sliding windows themselves bind (as in pace's own tests).
var windowsOnly = pace.Limits{PerMinute: 80, PerHour: 500}

// small has windows of the same shape at a tenth of the size, so the
// simulation binds both windows with few round trips.
var small = pace.Limits{PerMinute: 8, PerHour: 50}

// replica is one process's view: its own client on the shared Redis.
func replica(t *testing.T, url, prefix string) *State {
	t.Helper()
	o, err := redistest.Options(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return New(c, Options{Prefix: prefix})
}

func newPacer(t *testing.T, clk clock.Clock, st pace.State, l pace.Limits) *pace.Pacer {
	t.Helper()
	p, err := pace.New(pace.Options{Clock: clk, State: st, Default: l})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkWindows is pace's window check: every window [t, t+window) that
// starts at a send holds at most limit sends.
func checkWindows(t *testing.T, ts []time.Time, window time.Duration, limit int) {
	t.Helper()
	for i := range ts {
		if i > 0 && ts[i].Before(ts[i-1]) {
			t.Fatalf("send %d at %s before send %d at %s", i, ts[i], i-1, ts[i-1])
		}
		n := 0
		for j := i; j < len(ts) && ts[j].Before(ts[i].Add(window)); j++ {
			n++
		}
		if n > limit {
			t.Fatalf("%d writes in the %s from %s, limit %d", n, window, ts[i].Sub(t0), limit)
		}
	}
}

// simulate sends n creates of one credential through the pacers in turn,
// on virtual time: a refused write asks again (through the next pacer) at
// the time it was given. It returns the send times in order.
func simulate(t *testing.T, clk *clock.Fake, pacers []*pace.Pacer, n int) []time.Time {
	t.Helper()
	ctx := t.Context()
	ready := make([]time.Time, n)
	for i := range ready {
		ready[i] = t0
	}
	var sent []time.Time
	turn := 0
	for len(sent) < n {
		now := clk.Now()
		next := time.Time{}
		for i, at := range ready {
			if at.IsZero() {
				continue
			}
			if at.After(now) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				continue
			}
			p := pacers[turn%len(pacers)]
			turn++
			ok, later, err := p.Take(ctx, "gh-bot", store.LaneCreate, fmt.Sprintf("op:acme|github:acme/s|%03d", i))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				sent = append(sent, now)
				ready[i] = time.Time{}
				continue
			}
			if !later.After(now) {
				t.Fatalf("write %d refused with %s, not after now %s", i, later, now)
			}
			ready[i] = later
			if next.IsZero() || later.Before(next) {
				next = later
			}
		}
		if len(sent) < n {
			if next.IsZero() {
				t.Fatal("writes left but none scheduled")
			}
			clk.Set(next)
		}
	}
	return sent
}

// Two replicas' pacers on one Redis send their writes together inside both
// windows, and exactly as one pacer alone would.
func TestTwoPacersOnOneRedisStayInsideTheWindowsTogether(t *testing.T) {
	url, _ := redistest.Start(t)
	prefix := redistest.Prefix(t, url)
	clk := clock.NewFake(t0)
	const n = 60 // beyond the hour's 50
	shared := simulate(t, clk, []*pace.Pacer{
		newPacer(t, clk, replica(t, url, prefix), small),
		newPacer(t, clk, replica(t, url, prefix), small),
	}, n)
	checkWindows(t, shared, time.Minute, small.PerMinute)
	checkWindows(t, shared, time.Hour, small.PerHour)

	alone := clock.NewFake(t0)
	one := simulate(t, alone, []*pace.Pacer{newPacer(t, alone, pace.NewMemory(), small)}, n)
	if !slices.EqualFunc(shared, one, time.Time.Equal) {
		t.Fatalf("two pacers on Redis sent at other times than one in-process pacer:\nredis  %v\nmemory %v", shared, one)
	}
	if shared[49].Sub(t0) >= time.Hour || shared[50].Sub(t0) < time.Hour {
		t.Fatalf("write 50 at +%s, write 51 at +%s; the hour window allows 50", shared[49].Sub(t0), shared[50].Sub(t0))
	}
}

// Many goroutines of two replicas asking at once get exactly a minute's
// budget between them: no lost update lets a write through twice.
func TestConcurrentTakesOfTwoReplicasNeverOverGrant(t *testing.T) {
	url, _ := redistest.Start(t)
	prefix := redistest.Prefix(t, url)
	clk := clock.NewFake(t0)
	pacers := []*pace.Pacer{newPacer(t, clk, replica(t, url, prefix), windowsOnly), newPacer(t, clk, replica(t, url, prefix), windowsOnly)}
	round := func() int64 {
		var granted atomic.Int64
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := pacers[g%2]
				for i := range 15 {
					ok, _, err := p.Take(t.Context(), "gh-bot", store.Lane(1+i%3), fmt.Sprintf("op:%d-%d-%d", g, i, clk.Now().Unix()))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						granted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return granted.Load()
	}
	if got := round(); got != 80 {
		t.Fatalf("granted %d of 180 concurrent requests, want 80", got)
	}
	clk.Advance(time.Minute)
	if got := round(); got > 80 {
		t.Fatalf("granted %d in the second minute, want at most 80", got)
	}
	a, err := pacers[0].Stats(t.Context(), "gh-bot")
	if err != nil {
		t.Fatal(err)
	}
	b, err := pacers[1].Stats(t.Context(), "gh-bot")
	if err != nil {
		t.Fatal(err)
	}
	if a.LastMinute > 80 || a.LastHour > 160 || a.LastHour != b.LastHour || a.LastMinute != b.LastMinute {
		t.Fatalf("stats of the two replicas: %+v and %+v", a, b)
	}
}

// A write by another replica between the read and the write makes Update
// run the callback again, on the other replica's result.
func TestUpdateRunsTheCallbackAgainAfterAConflict(t *testing.T) {
	url, _ := redistest.Start(t)
	prefix := redistest.Prefix(t, url)
	a, b := replica(t, url, prefix), replica(t, url, prefix)
	calls := 0
	err := a.Update(t.Context(), "gh-bot", func(s *pace.CredState) error {
		calls++
		if calls == 1 {
			// The other replica records a write while this one decides.
			if err := b.Update(t.Context(), "gh-bot", func(s *pace.CredState) error {
				s.Writes = append(s.Writes, 1000)
				return nil
			}); err != nil {
				return err
			}
		}
		s.Writes = append(s.Writes, 2000)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("callback ran %d times, want 2 (once more after the conflict)", calls)
	}
	var got []int64
	if err := a.Update(t.Context(), "gh-bot", func(s *pace.CredState) error { got = s.Writes; return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{1000, 2000}) {
		t.Fatalf("writes = %v, want both replicas' [1000 2000]", got)
	}
}

func TestCallbackErrorStoresNothing(t *testing.T) {
	url, _ := redistest.Start(t)
	prefix := redistest.Prefix(t, url)
	s := replica(t, url, prefix)
	ctx := t.Context()
	if err := s.Update(ctx, "gh-bot", func(cs *pace.CredState) error { cs.Blocked = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Update(ctx, "gh-bot", func(cs *pace.CredState) error { cs.Blocked = 9; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the callback's error", err)
	}
	raw, err := s.rdb.Get(ctx, prefix+"pace:gh-bot").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var cs pace.CredState
	if err := json.Unmarshal(raw, &cs); err != nil || cs.Blocked != 5 {
		t.Fatalf("stored %s (%v), want the state before the failed update", raw, err)
	}
}

func TestEmptyStateIsDeletedAndListedCredentialsFollow(t *testing.T) {
	url, _ := redistest.Start(t)
	prefix := redistest.Prefix(t, url)
	s := replica(t, url, prefix)
	ctx := t.Context()
	for _, cred := range []string{"jira", "gh-bot"} {
		if err := s.Update(ctx, cred, func(cs *pace.CredState) error { cs.Writes = []int64{1}; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Credentials(ctx); err != nil || !slices.Equal(got, []string{"gh-bot", "jira"}) {
		t.Fatalf("Credentials = %v, %v", got, err)
	}
	if err := s.Update(ctx, "jira", func(cs *pace.CredState) error { *cs = pace.CredState{Clean: 7}; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.rdb.Exists(ctx, prefix+"pace:jira").Result(); err != nil || n != 0 {
		t.Fatalf("an empty state was kept (exists=%d, %v)", n, err)
	}
	if got, err := s.Credentials(ctx); err != nil || !slices.Equal(got, []string{"gh-bot"}) {
		t.Fatalf("Credentials after emptying jira = %v, %v", got, err)
	}
}

func TestUpdateReportsARedisOutageAsUnavailable(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true})
	// Fail fast, as the store's own client does.
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	s := New(c, Options{})
	srv.Kill()
	err := s.Update(context.Background(), "gh-bot", func(*pace.CredState) error { return nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Update with Redis down = %v, want store.ErrUnavailable", err)
	}
}
