package pace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/store"
)

var t0 = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

// windowsOnly is GitHub's documented budget without the one-second spacing,
// so the sliding windows themselves are what binds.
var windowsOnly = Limits{PerMinute: 80, PerHour: 500}

func newPacer(t *testing.T, clk clock.Clock, def Limits, mod ...func(*Options)) *Pacer {
	t.Helper()
	o := Options{Clock: clk, Default: def}
	for _, m := range mod {
		m(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// creates queues n creates for one credential spread over three repos.
func creates(cred string, n int, arrive time.Duration) []Write {
	ws := make([]Write, n)
	for i := range ws {
		ws[i] = Write{
			Cred:   cred,
			Lane:   store.LaneCreate,
			Key:    fmt.Sprintf("op:acme|github:acme/repo-%d|item-%03d", i%3, i),
			Arrive: arrive,
		}
	}
	return ws
}

func sendTimes(sent []Sent) []time.Time {
	ts := make([]time.Time, len(sent))
	for i, s := range sent {
		ts[i] = s.Time
	}
	return ts
}

// checkWindows checks every window [t, t+window) that starts at a send.
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

func countAt(ts []time.Time, at time.Time) int {
	n := 0
	for _, x := range ts {
		if x.Equal(at) {
			n++
		}
	}
	return n
}

func TestThreeHundredWritesOverThreeReposStayInsideBothWindows(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, windowsOnly)
	sent, err := Simulate(context.Background(), p, clk, creates("gh-bot", 300, 0), SimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 300 {
		t.Fatalf("sent %d writes, want 300", len(sent))
	}
	ts := sendTimes(sent)
	checkWindows(t, ts, time.Minute, 80)
	checkWindows(t, ts, time.Hour, 500)
	// A full minute's budget goes as each earlier batch leaves the window.
	for i, want := range []int{80, 80, 80, 60} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if got := countAt(ts, at); got != want {
			t.Errorf("writes at +%s: %d, want %d", at.Sub(t0), got, want)
		}
	}
	if last := ts[len(ts)-1].Sub(t0); last != 3*time.Minute {
		t.Errorf("last write at +%s, want +3m0s", last)
	}
}

func TestGitHubDefaultsSpaceWritesOneSecondApart(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	sent, err := Simulate(context.Background(), p, clk, creates("gh-bot", 300, 0), SimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := sendTimes(sent)
	checkWindows(t, ts, time.Minute, 80)
	checkWindows(t, ts, time.Hour, 500)
	for i, at := range ts {
		if want := t0.Add(time.Duration(i) * time.Second); !at.Equal(want) {
			t.Fatalf("write %d at +%s, want +%s", i, at.Sub(t0), want.Sub(t0))
		}
	}
}

func TestHourWindowHoldsTheFiveHundredAndFirstWrite(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	sent, err := Simulate(context.Background(), p, clk, creates("gh-bot", 600, 0), SimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := sendTimes(sent)
	checkWindows(t, ts, time.Minute, 80)
	checkWindows(t, ts, time.Hour, 500)
	if got := ts[499].Sub(t0); got != 499*time.Second {
		t.Errorf("write 500 at +%s, want +8m19s", got)
	}
	// The first write leaves the hour window at +1h; the rest follow a second apart.
	if got := ts[500].Sub(t0); got != time.Hour {
		t.Errorf("write 501 at +%s, want +1h0m0s", got)
	}
	if got := ts[599].Sub(t0); got != time.Hour+99*time.Second {
		t.Errorf("write 600 at +%s, want +1h1m39s", got)
	}
}

func TestBlockHoldsEveryWriteUntilItsEnd(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	if err := p.Block(ctx, "gh-bot", t0.Add(60*time.Second), false); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, time.Second, 30 * time.Second, 59*time.Second + 999*time.Millisecond} {
		clk.Set(t0.Add(d))
		ok, at, err := p.Take(ctx, "gh-bot", store.LaneRetract, fmt.Sprintf("op:k%d", d))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Fatalf("write granted at +%s inside a 60 s block", d)
		}
		if !at.Equal(t0.Add(time.Minute)) {
			t.Fatalf("refused at +%s with not-before +%s, want +1m0s", d, at.Sub(t0))
		}
	}
	st, err := p.Stats(ctx, "gh-bot")
	if err != nil {
		t.Fatal(err)
	}
	if !st.BlockedUntil.Equal(t0.Add(time.Minute)) {
		t.Errorf("Stats.BlockedUntil = %s, want +1m0s", st.BlockedUntil.Sub(t0))
	}
	clk.Set(t0.Add(time.Minute))
	if ok, _, _ := p.Take(ctx, "gh-bot", store.LaneRetract, "op:k0s"); !ok {
		t.Fatal("write refused when the block ended")
	}
	// A shorter block never shortens a longer one.
	_ = p.Block(ctx, "gh-bot", t0.Add(3*time.Minute), false)
	_ = p.Block(ctx, "gh-bot", t0.Add(2*time.Minute), false)
	clk.Set(t0.Add(2*time.Minute + time.Second))
	if ok, at, _ := p.Take(ctx, "gh-bot", store.LaneCreate, "op:later"); ok || !at.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("Take = %v, +%s; want refused until +3m0s", ok, at.Sub(t0))
	}
}

func TestSecondaryBlockWithoutTimeWaitsAMinute(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	if err := p.Block(ctx, "gh-bot", time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if ok, at, _ := p.Take(ctx, "gh-bot", store.LaneRetract, "op:r"); ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Take = %v, +%s; want refused until +1m0s", ok, at.Sub(t0))
	}
}

func TestRetractBehindTwoHundredCreatesGoesFirst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limits   Limits
		arrive   time.Duration
		wantSent time.Duration
	}{
		// Spaced writes: the retraction takes the very next slot.
		{"github defaults", GitHub(), 5500 * time.Millisecond, 6 * time.Second},
		// Minute budget spent at once: the retraction takes the first freed slot.
		{"windows only", windowsOnly, 5 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			p := newPacer(t, clk, tc.limits)
			ws := creates("gh-bot", 200, 0)
			ws = append(ws, Write{Cred: "gh-bot", Lane: store.LaneRetract, Key: "op:acme|github:acme/repo-1|item-999", Arrive: tc.arrive})
			// Arrival order only: the queue does not help, the pacer must.
			sent, err := Simulate(context.Background(), p, clk, ws, SimOptions{ByLane: false})
			if err != nil {
				t.Fatal(err)
			}
			idx := -1
			for i, s := range sent {
				if s.Lane == store.LaneRetract {
					idx = i
				}
			}
			if idx < 0 {
				t.Fatal("retraction never sent")
			}
			if got := sent[idx].Time.Sub(t0); got != tc.wantSent {
				t.Errorf("retraction sent at +%s, want +%s", got, tc.wantSent)
			}
			for _, s := range sent[idx+1:] {
				if !s.Time.After(sent[idx].Time) {
					t.Fatalf("create %s sent at +%s, not after the retraction", s.Key, s.Time.Sub(t0))
				}
			}
			for _, s := range sent[:idx] {
				if !s.Time.Before(t0.Add(tc.arrive)) {
					t.Fatalf("create %s sent at +%s, after the retraction arrived at +%s", s.Key, s.Time.Sub(t0), tc.arrive)
				}
			}
			checkWindows(t, sendTimes(sent), time.Minute, 80)
		})
	}
}

func TestUpdateWaitsBehindRetractAndAheadOfCreate(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 1, PerHour: 60})
	if ok, _, _ := p.Take(ctx, "c", store.LaneCreate, "op:first"); !ok {
		t.Fatal("first write refused")
	}
	clk.Advance(time.Second)
	for _, k := range []struct {
		lane store.Lane
		key  string
	}{{store.LaneCreate, "op:create"}, {store.LaneUpdate, "op:update"}, {store.LaneRetract, "op:retract"}} {
		if ok, _, _ := p.Take(ctx, "c", k.lane, k.key); ok {
			t.Fatalf("%s granted over budget", k.key)
		}
	}
	// One slot a minute: retract, then update, then create, whoever asks first.
	var order []string
	done := map[string]bool{}
	for range 3 {
		clk.Advance(time.Minute)
		for _, k := range []struct {
			lane store.Lane
			key  string
		}{{store.LaneCreate, "op:create"}, {store.LaneUpdate, "op:update"}, {store.LaneRetract, "op:retract"}} {
			if done[k.key] {
				continue
			}
			if ok, _, _ := p.Take(ctx, "c", k.lane, k.key); ok {
				order = append(order, k.key)
				done[k.key] = true
			}
		}
	}
	if fmt.Sprint(order) != "[op:retract op:update op:create]" {
		t.Fatalf("grant order %v, want [op:retract op:update op:create]", order)
	}
}

func TestVanishedWaiterStopsHoldingLowerLanes(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 1, PerHour: 60}, func(o *Options) { o.WaiterTTL = 30 * time.Second })
	if ok, _, _ := p.Take(ctx, "c", store.LaneCreate, "op:a"); !ok {
		t.Fatal("first write refused")
	}
	clk.Advance(time.Second)
	ok, at, _ := p.Take(ctx, "c", store.LaneRetract, "op:gone")
	if ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("retract: %v, +%s; want refused until +1m0s", ok, at.Sub(t0))
	}
	// The retraction never comes back. Until its place expires (at + 30 s)
	// the budget stays reserved for it.
	clk.Set(t0.Add(89 * time.Second))
	if ok, _, _ := p.Take(ctx, "c", store.LaneCreate, "op:b"); ok {
		t.Fatal("create granted while the retraction still held its place")
	}
	clk.Set(t0.Add(90 * time.Second))
	if ok, at, _ := p.Take(ctx, "c", store.LaneCreate, "op:b"); !ok {
		t.Fatalf("create still refused (until +%s) after the vanished waiter expired", at.Sub(t0))
	}
}

func TestForgetReleasesAWaitersPlace(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 1, PerHour: 60})
	_, _, _ = p.Take(ctx, "c", store.LaneCreate, "op:a")
	_, _, _ = p.Take(ctx, "c", store.LaneRetract, "op:r")
	clk.Advance(time.Minute)
	if ok, _, _ := p.Take(ctx, "c", store.LaneCreate, "op:b"); ok {
		t.Fatal("create granted over a waiting retraction")
	}
	if err := p.Forget(ctx, "c", "op:r"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := p.Take(ctx, "c", store.LaneCreate, "op:b"); !ok {
		t.Fatal("create refused after the retraction's place was forgotten")
	}
}

func TestCreateFloodNeverPushesRetractionOutOfTheRegistry(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 1, PerHour: 60}, func(o *Options) { o.MaxWaiters = 4 })
	_, _, _ = p.Take(ctx, "c", store.LaneCreate, "op:a")
	_, _, _ = p.Take(ctx, "c", store.LaneRetract, "op:r")
	for i := range 20 {
		_, _, _ = p.Take(ctx, "c", store.LaneCreate, fmt.Sprintf("op:c%d", i))
	}
	st, _ := p.Stats(ctx, "c")
	if st.Waiters[store.LaneRetract] != 1 || st.Waiters[store.LaneCreate] != 3 {
		t.Fatalf("waiters %v, want the retraction and 3 creates", st.Waiters)
	}
}

func TestCredentialsDoNotShareBudgets(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, windowsOnly, func(o *Options) {
		o.Credentials = map[string]Limits{"jira-bot": {PerMinute: 5, PerHour: 100}}
	})
	grant := func(cred string, n int) int {
		got := 0
		for i := range n {
			if ok, _, err := p.Take(ctx, cred, store.LaneCreate, fmt.Sprintf("op:%s-%d", cred, i)); err != nil {
				t.Fatal(err)
			} else if ok {
				got++
			}
		}
		return got
	}
	if got := grant("gh-a", 100); got != 80 {
		t.Fatalf("gh-a granted %d, want 80", got)
	}
	if got := grant("gh-b", 100); got != 80 {
		t.Fatalf("gh-b granted %d after gh-a spent its budget, want 80", got)
	}
	if got := grant("jira-bot", 100); got != 5 {
		t.Fatalf("jira-bot granted %d, want its own override of 5", got)
	}
	_ = p.Block(ctx, "gh-a", t0.Add(time.Hour), true)
	clk.Advance(time.Minute)
	if got := grant("gh-b", 1); got != 1 {
		t.Fatal("a block on gh-a held gh-b")
	}
	if st, _ := p.Stats(ctx, "gh-b"); st.Effective != 80 {
		t.Fatalf("gh-b allowance %d after gh-a's secondary limit, want 80", st.Effective)
	}
}

func TestSecondaryLimitHalvesAllowanceAndRecoversPerCleanMinute(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 80, PerHour: 500, Increase: 10})
	eff := func() int {
		t.Helper()
		st, err := p.Stats(ctx, "gh-bot")
		if err != nil {
			t.Fatal(err)
		}
		return st.Effective
	}
	if err := p.Block(ctx, "gh-bot", time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	if got := eff(); got != 40 {
		t.Fatalf("allowance after a secondary limit %d, want 40", got)
	}
	// Answers to writes that were in flight together are one limit.
	clk.Advance(10 * time.Second)
	_ = p.Block(ctx, "gh-bot", time.Time{}, true)
	if got := eff(); got != 40 {
		t.Fatalf("allowance after a second answer in the same minute %d, want 40", got)
	}
	clk.Advance(51 * time.Second) // +61 s
	_ = p.Block(ctx, "gh-bot", time.Time{}, true)
	if got := eff(); got != 20 {
		t.Fatalf("allowance after another secondary limit %d, want 20", got)
	}
	// That block ends at +121 s; recovery counts clean minutes from there.
	end := t0.Add(121 * time.Second)
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{59 * time.Second, 20}, {time.Minute, 30}, {5 * time.Minute, 70}, {6 * time.Minute, 80}, {time.Hour, 80}} {
		clk.Set(end.Add(c.at))
		if got := eff(); got != c.want {
			t.Fatalf("allowance %s after the block %d, want %d", c.at, got, c.want)
		}
	}
}

func TestLoweredAllowanceBindsTheMinuteWindow(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, windowsOnly)
	_ = p.Block(ctx, "gh-bot", t0.Add(time.Minute), true)
	clk.Set(t0.Add(time.Minute))
	got := 0
	var at time.Time
	for i := range 80 {
		ok, a, _ := p.Take(ctx, "gh-bot", store.LaneUpdate, fmt.Sprintf("op:%d", i))
		if ok {
			got++
		} else if at.IsZero() {
			at = a
		}
	}
	if got != 40 {
		t.Fatalf("granted %d in the minute after a secondary limit, want 40", got)
	}
	if !at.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("41st refused until +%s, want +2m0s", at.Sub(t0))
	}
}

func TestAllowanceNeverFallsBelowFloor(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	var seen []int
	for range 9 {
		_ = p.Block(ctx, "gh-bot", time.Time{}, true)
		st, _ := p.Stats(ctx, "gh-bot")
		seen = append(seen, st.Effective)
		clk.Advance(61 * time.Second)
	}
	if fmt.Sprint(seen) != "[40 20 10 5 2 1 1 1 1]" {
		t.Fatalf("allowances %v, want [40 20 10 5 2 1 1 1 1]", seen)
	}
}

func TestBlockForReadsRateLimited(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	rl := &connectors.RateLimited{Credential: "gh-bot", Until: t0.Add(90 * time.Second), Secondary: true, Err: errors.New("HTTP 403")}
	until, ok, err := p.BlockFor(ctx, fmt.Errorf("acme/github acme/acme-status#12: create comment: %w", rl))
	if err != nil || !ok || !until.Equal(rl.Until) {
		t.Fatalf("BlockFor = %s, %v, %v; want +1m30s, true, nil", until.Sub(t0), ok, err)
	}
	st, _ := p.Stats(ctx, "gh-bot")
	if !st.BlockedUntil.Equal(rl.Until) || st.Effective != 40 {
		t.Fatalf("stats %+v, want blocked until +1m30s with allowance 40", st)
	}
	if _, ok, _ := p.BlockFor(ctx, errors.New("HTTP 404")); ok {
		t.Fatal("BlockFor took a plain error for a rate limit")
	}
}

func TestBlockForLeavesThePacersOwnRefusalAlone(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 1, PerHour: 60})
	_, _, _ = p.Take(ctx, "gh-bot", store.LaneCreate, "op:a")
	ok, at, _ := p.Take(ctx, "gh-bot", store.LaneCreate, "op:b")
	if ok {
		t.Fatal("second write granted over a budget of one")
	}
	until, handled, err := p.BlockFor(ctx, fmt.Errorf("create: %w", Paced("gh-bot", at)))
	if err != nil || !handled || !until.Equal(at) {
		t.Fatalf("BlockFor(paced) = %s, %v, %v; want %s, true, nil", until, handled, err, at)
	}
	st, _ := p.Stats(ctx, "gh-bot")
	if !st.BlockedUntil.IsZero() || st.Effective != 1 {
		t.Fatalf("a paced refusal blocked the credential: %+v", st)
	}
}

func TestPerSubjectLimitHoldsOneIssueOnly(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, Limits{PerMinute: 100, PerHour: 1000, PerSubject: 2, SubjectWindow: 10 * time.Second})
	for i := range 2 {
		if ok, _, _ := p.TakeSubject(ctx, "jira", store.LaneUpdate, fmt.Sprintf("op:x%d", i), "ACMEP-1"); !ok {
			t.Fatalf("write %d to ACMEP-1 refused", i)
		}
		clk.Advance(time.Second)
	}
	ok, at, _ := p.TakeSubject(ctx, "jira", store.LaneRetract, "op:x2", "ACMEP-1")
	if ok || !at.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("third write to ACMEP-1: %v, +%s; want refused until +10s", ok, at.Sub(t0))
	}
	// Held by its own issue only, it does not hold the credential's other writes.
	if ok, _, _ := p.TakeSubject(ctx, "jira", store.LaneCreate, "op:y", "ACMEP-2"); !ok {
		t.Fatal("write to ACMEP-2 refused behind ACMEP-1's per-issue limit")
	}
	clk.Set(t0.Add(10 * time.Second))
	if ok, _, _ := p.TakeSubject(ctx, "jira", store.LaneRetract, "op:x2", "ACMEP-1"); !ok {
		t.Fatal("write to ACMEP-1 refused after its window passed")
	}
}

func TestConcurrentTakesNeverOverGrant(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, windowsOnly)
	round := func() int64 {
		var granted atomic.Int64
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					ok, _, err := p.Take(ctx, "gh-bot", store.Lane(1+i%3), fmt.Sprintf("op:%d-%d-%d", g, i, clk.Now().Unix()))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						granted.Add(1)
					}
					if i%7 == 0 {
						_, _ = p.Stats(ctx, "gh-bot")
					}
				}
			}()
		}
		wg.Wait()
		return granted.Load()
	}
	if got := round(); got != 80 {
		t.Fatalf("granted %d of 320 concurrent requests, want 80", got)
	}
	clk.Advance(time.Minute)
	// Waiters of the first round hold places until they expire; their
	// lanes decide who goes, never how many.
	if got := round(); got > 80 {
		t.Fatalf("granted %d in the second minute, want at most 80", got)
	}
	st, _ := p.Stats(ctx, "gh-bot")
	if st.LastMinute > 80 || st.LastHour > 160 {
		t.Fatalf("stats %+v exceed the windows", st)
	}
}

// jsonState stores each credential as a JSON blob, as a shared store does.
type jsonState struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (j *jsonState) Update(_ context.Context, cred string, fn func(*CredState) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var s CredState
	if b, ok := j.blobs[cred]; ok {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if err := fn(&s); err != nil {
		return err
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	j.blobs[cred] = b
	return nil
}

func TestStateSurvivesJSONRoundTrip(t *testing.T) {
	run := func(st State) []Sent {
		clk := clock.NewFake(t0)
		p := newPacer(t, clk, windowsOnly, func(o *Options) { o.State = st })
		_ = p.Block(context.Background(), "gh-bot", t0.Add(30*time.Second), true)
		ws := creates("gh-bot", 120, 0)
		ws = append(ws, Write{Cred: "gh-bot", Lane: store.LaneRetract, Key: "op:r", Arrive: 70 * time.Second})
		sent, err := Simulate(context.Background(), p, clk, ws, SimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sent
	}
	js := &jsonState{blobs: map[string][]byte{}}
	mem, blob := run(NewMemory()), run(js)
	if len(mem) != len(blob) {
		t.Fatalf("memory sent %d, JSON state sent %d", len(mem), len(blob))
	}
	for i := range mem {
		if mem[i].Key != blob[i].Key || !mem[i].Time.Equal(blob[i].Time) {
			t.Fatalf("send %d: memory %s at %s, JSON %s at %s", i, mem[i].Key, mem[i].Time, blob[i].Key, blob[i].Time)
		}
	}
}

func TestSerialisedStateStaysCompact(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	js := &jsonState{blobs: map[string][]byte{}}
	p := newPacer(t, clk, windowsOnly, func(o *Options) { o.State = js })
	for i := range 500 {
		if ok, _, _ := p.Take(ctx, "gh-bot", store.LaneCreate, fmt.Sprintf("op:%d", i)); !ok {
			clk.Advance(time.Second)
		}
		clk.Advance(100 * time.Millisecond)
	}
	if n := len(js.blobs["gh-bot"]); n > 8<<10 {
		t.Fatalf("state of one credential is %d bytes, want at most 8 KiB", n)
	}
	clk.Advance(2 * time.Hour)
	if ok, _, _ := p.Take(ctx, "gh-bot", store.LaneCreate, "op:late"); !ok {
		t.Fatal("write refused after two idle hours")
	}
	var s CredState
	if err := json.Unmarshal(js.blobs["gh-bot"], &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Writes) != 1 || len(s.Waiters) != 0 {
		t.Fatalf("state kept %d writes and %d waiters past the hour, want 1 and 0", len(s.Writes), len(s.Waiters))
	}
}

func TestSimulationAdaptsToAnUnannouncedLimit(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newPacer(t, clk, GitHub())
	// The target silently allows 30 writes a minute.
	var accepted []time.Time
	limits := 0
	answer := func(w Write, now time.Time) error {
		n := 0
		for _, a := range accepted {
			if now.Sub(a) < time.Minute {
				n++
			}
		}
		if n >= 30 {
			limits++
			return &connectors.RateLimited{Credential: w.Cred, Secondary: true, Err: errors.New("secondary rate limit")}
		}
		accepted = append(accepted, now)
		return nil
	}
	sent, err := Simulate(context.Background(), p, clk, creates("gh-bot", 300, 0), SimOptions{Answer: answer})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 300 {
		t.Fatalf("sent %d, want 300", len(sent))
	}
	// Without adapting, a 60-a-minute pace hits the limit every minute (10+).
	if limits > 5 {
		t.Fatalf("%d secondary limits for 300 writes, want the pace to adapt (at most 5)", limits)
	}
	t.Logf("300 writes in %s with %d secondary limits", sent[len(sent)-1].Time.Sub(t0), limits)
}

func TestLimitsValidate(t *testing.T) {
	for _, l := range []Limits{
		{PerMinute: -1},
		{PerMinute: 600, PerHour: 500},
		{Decrease: 1},
		{PerSubject: 3},
		{MinGap: -time.Second},
	} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v validated", l)
		}
	}
	for _, l := range []Limits{GitHub(), JiraCloud(), {}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	if _, err := New(Options{Credentials: map[string]Limits{"x": {PerHour: -1}}}); err == nil {
		t.Error("New accepted a negative per-credential limit")
	}
}
