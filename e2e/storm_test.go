package e2e

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	fakegh "vitrine/fake/github"
)

// TestReplicasOnOneRedisNeverOverlapUnderAWebhookStorm runs two, then
// three `serve` processes on one Redis (same rules, their own ports). They
// backfill the 60-issue board together, then take a storm of signed
// webhooks, each sent to a replica picked by a seeded RNG: 25 edits to each
// of 4 issues (title and summary; every fifth edit also adds a marked
// comment), sent 8 at a time. The fake fails the test on any two requests
// in flight on one mirror object at once; the targets end as a single
// crash-free process leaves them (testdata/random-60.json after the
// backfill, storm-2.json and storm-3.json after each storm), with no
// duplicate. (TestFakeGitHubNeverReportsASequentialClientAsOverlapping
// pins that the fake's overlap reports are not false alarms.)
func TestReplicasOnOneRedisNeverOverlapUnderAWebhookStorm(t *testing.T) {
	t.Parallel()
	s := seed(t)
	rng := rand.New(rand.NewPCG(uint64(s), 7))
	w := newWorld(t, worldOpts{kind: redisStore, board: smallBoard, redisDB: 13})

	replicas := 2
	if *update {
		replicas = 1 // the golden state is what one process leaves
	}
	var ps []*proc
	var public []string
	addReplica := func() {
		p := w.serve(nil, "--workers=4")
		addr, _, ok := p.addrs(30 * time.Second)
		if !ok {
			t.Fatalf("replica ended at start\n%s", p.tail())
		}
		ps = append(ps, p)
		public = append(public, addr)
	}
	for range replicas {
		addReplica()
	}
	took := w.waitIdle(2*time.Minute, ps...)
	t.Logf("%d replicas backfilled %d issues in %s", len(ps), smallBoard.published(), took.Round(10*time.Millisecond))
	w.golden("random-60")

	storm := func(round int) {
		t.Helper()
		type hook struct {
			d  fakegh.Delivery
			to int
		}
		var hooks []hook
		for e := 1; e <= 25; e++ {
			for i, target := range []struct{ c, n int }{{0, 1}, {0, 2}, {1, 1}, {1, 4}} {
				c := w.cs[target.c]
				title := fmt.Sprintf("Storm %d on %s#%d, edit %02d", round, c.src, target.n, e)
				w.gh.EditIssue(c.src, target.n, func(is *fakegh.Issue) {
					is.Title = title
					is.Body = fmt.Sprintf("## Client summary\nStorm %d, edit %d of issue %d.\n\n## Internal\ncnryINTERNAL storm", round, e, i)
				})
				hooks = append(hooks, hook{d: w.edited(c.src, target.n), to: rng.IntN(len(public))})
				if e%5 == 0 {
					cm := w.gh.AddComment(c.src, target.n, "pm-anna", fmt.Sprintf("[client] Storm %d note %d.", round, e))
					d, err := w.gh.Delivery(hookSecret, fakegh.Event{Name: "issue_comment", Action: "created", Repo: c.src, Issue: target.n, Comment: cm.ID})
					if err != nil {
						t.Fatal(err)
					}
					hooks = append(hooks, hook{d: d, to: rng.IntN(len(public))})
				}
			}
		}
		rng.Shuffle(len(hooks), func(i, j int) { hooks[i], hooks[j] = hooks[j], hooks[i] })
		senders := 8
		if *update {
			senders = 1
		}
		var wg sync.WaitGroup
		next := make(chan hook)
		var mu sync.Mutex
		answers := map[int]int{}
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for h := range next {
					code, err := deliver(t, public[h.to], h.d)
					if err != nil {
						t.Errorf("delivery %s to replica %d: %v", h.d.ID, h.to+1, err)
					}
					mu.Lock()
					answers[code]++
					mu.Unlock()
				}
			}()
		}
		begin := time.Now()
		for _, h := range hooks {
			next <- h
		}
		close(next)
		wg.Wait()
		if answers[202] != len(hooks) {
			t.Errorf("storm %d: answers %v, want %d × 202", round, answers, len(hooks))
		}
		took := w.waitIdle(2*time.Minute, ps...)
		t.Logf("storm %d: %d deliveries to %d replicas answered in %s, converged %s later",
			round, len(hooks), len(public), (time.Since(begin) - took).Round(10*time.Millisecond), took.Round(10*time.Millisecond))
	}

	storm(1)
	w.golden("storm-2")
	if !*update {
		addReplica()
	}
	storm(2)
	w.golden("storm-3")

	if o := w.gh.Overlaps(); len(o) > 0 {
		t.Errorf("%d overlapping requests on one mirror object, first: %+v", len(o), o[0])
	}
	for _, p := range ps {
		if code, _ := p.term(15 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM", p.name, code)
		}
	}
}
