package redis

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/clock"
	"vitrine/store"
	"vitrine/store/redis/redistest"
	"vitrine/store/sqlite"
	"vitrine/store/storetest"
)

// The SQLite store is the reference implementation of the queue. This test
// drives both stores with the same random sequences of calls (seeded; the
// seed is in the failure) and wants the same answer from every call: jobs
// with every field (tokens included), Stats, NextReady, Parked, fencing
// refusals and duplicate deliveries. It reaches index states the suite's
// hand-written cases do not, such as dirty requests of a lower lane on a
// lease that runs out, Lock on a parked key, or stale jobs finishing late.
func TestQueueMatchesTheSQLiteStore(t *testing.T) {
	url, _ := redistest.Start(t)
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			clk := clock.NewFake(storetest.T0)
			o := testOptions(t, url)
			o.Clock = clk
			r := openStore(t, o)
			q, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ref.db"), sqlite.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			m := &model{t: t, rnd: rand.New(rand.NewPCG(seed, 42)), clk: clk, r: r, q: q, cur: storetest.T0}
			for i := range 300 {
				m.step(i)
			}
		})
	}
}

type jobPair struct{ r, q *store.Job }

type model struct {
	t    *testing.T
	rnd  *rand.Rand
	clk  *clock.Fake
	r    store.Store // under test
	q    store.Store // reference
	cur  time.Time
	jobs []jobPair
	log  []string
}

var modelKeys = []string{"a", "b", "c", "d", "e"}

func (m *model) key() string { return modelKeys[m.rnd.IntN(len(modelKeys))] }

func (m *model) lane() store.Lane { return store.Lane(m.rnd.IntN(5)) }

// at is a caller's "now": around the current virtual time, sometimes behind it.
func (m *model) at() time.Time {
	return m.cur.Add(time.Duration(m.rnd.IntN(90)-10) * time.Second)
}

func (m *model) tasks(n int) []store.Task {
	var ts []store.Task
	for range n {
		t := store.Task{Key: m.key(), Lane: m.lane()}
		if m.rnd.IntN(2) == 0 {
			t.NotBefore = m.at()
		}
		ts = append(ts, t)
	}
	return ts
}

func (m *model) fail(i int, format string, args ...any) {
	m.t.Helper()
	from := max(len(m.log)-25, 0)
	m.t.Fatalf("step %d: %s\nlast calls:\n  %s", i, fmt.Sprintf(format, args...), strings.Join(m.log[from:], "\n  "))
}

func (m *model) note(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func sameErr(a, b error) bool {
	return (a == nil) == (b == nil) && errors.Is(a, store.ErrFenced) == errors.Is(b, store.ErrFenced)
}

func sameJob(a, b *store.Job) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	x, y := *a, *b
	if !x.Enqueued.Equal(y.Enqueued) {
		return false
	}
	x.Enqueued, y.Enqueued = time.Time{}, time.Time{}
	return x == y
}

func (m *model) job() (jobPair, bool) {
	if len(m.jobs) == 0 {
		return jobPair{}, false
	}
	// Mostly recent jobs (likely still held), sometimes stale ones.
	i := len(m.jobs) - 1 - m.rnd.IntN(min(len(m.jobs), 4))
	if m.rnd.IntN(5) == 0 {
		i = m.rnd.IntN(len(m.jobs))
	}
	return m.jobs[i], true
}

func (m *model) step(i int) {
	m.t.Helper()
	ctx := m.t.Context()
	m.cur = m.cur.Add(time.Duration(m.rnd.IntN(8)) * time.Second)
	if m.rnd.IntN(4) == 0 {
		m.clk.Set(m.cur)
	}
	check := func(what string, er, eq error) {
		m.t.Helper()
		m.note("%s -> redis %v, sqlite %v", what, er, eq)
		if !sameErr(er, eq) {
			m.fail(i, "%s: redis error %v, sqlite error %v", what, er, eq)
		}
	}
	switch op := m.rnd.IntN(15); op {
	case 0, 1:
		ts := m.tasks(1 + m.rnd.IntN(3))
		check(fmt.Sprintf("Enqueue(%+v)", ts), m.r.Enqueue(ctx, ts...), m.q.Enqueue(ctx, ts...))
	case 2:
		d := store.Delivery{ID: fmt.Sprintf("github:d%d", m.rnd.IntN(12)), Tasks: m.tasks(m.rnd.IntN(3))}
		if m.rnd.IntN(2) == 0 {
			d.Received = m.at()
		}
		dr, er := m.r.Accept(ctx, d)
		dq, eq := m.q.Accept(ctx, d)
		check(fmt.Sprintf("Accept(%+v)", d), er, eq)
		if dr != dq {
			m.fail(i, "Accept(%s): redis dup=%v, sqlite dup=%v", d.ID, dr, dq)
		}
	case 3, 4, 5:
		owner, now, lease := fmt.Sprintf("w%d", m.rnd.IntN(2)), m.at(), time.Duration(10+m.rnd.IntN(50))*time.Second
		jr, er := m.r.Claim(ctx, owner, now, lease)
		jq, eq := m.q.Claim(ctx, owner, now, lease)
		check(fmt.Sprintf("Claim(%s, %s, %s) = %+v", owner, now.Sub(storetest.T0), lease, jr), er, eq)
		if !sameJob(jr, jq) {
			m.fail(i, "Claim: redis %+v, sqlite %+v", jr, jq)
		}
		if jr != nil {
			m.jobs = append(m.jobs, jobPair{jr, jq})
		}
	case 6:
		key, now, lease := m.key(), m.at(), time.Duration(10+m.rnd.IntN(50))*time.Second
		jr, okr, er := m.r.Lock(ctx, key, "sync", now, lease)
		jq, okq, eq := m.q.Lock(ctx, key, "sync", now, lease)
		check(fmt.Sprintf("Lock(%s, %s) = %+v", key, now.Sub(storetest.T0), jr), er, eq)
		if okr != okq || !sameJob(jr, jq) {
			m.fail(i, "Lock(%s): redis %v %+v, sqlite %v %+v", key, okr, jr, okq, jq)
		}
		if jr != nil {
			m.jobs = append(m.jobs, jobPair{jr, jq})
		}
	case 7, 8:
		p, ok := m.job()
		if !ok {
			return
		}
		what := fmt.Sprintf("Complete(%s@%d)", p.r.Key, p.r.Token)
		check(what, m.r.Complete(ctx, p.r), m.q.Complete(ctx, p.q))
	case 9:
		p, ok := m.job()
		if !ok {
			return
		}
		at, msg := m.at(), fmt.Sprintf("boom %d", i)
		if m.rnd.IntN(2) == 0 {
			check(fmt.Sprintf("Retry(%s@%d, %s)", p.r.Key, p.r.Token, at.Sub(storetest.T0)),
				m.r.Retry(ctx, p.r, at, msg), m.q.Retry(ctx, p.q, at, msg))
		} else {
			check(fmt.Sprintf("Defer(%s@%d, %s)", p.r.Key, p.r.Token, at.Sub(storetest.T0)),
				m.r.Defer(ctx, p.r, at), m.q.Defer(ctx, p.q, at))
		}
	case 10:
		p, ok := m.job()
		if !ok {
			return
		}
		if m.rnd.IntN(2) == 0 {
			msg := fmt.Sprintf("parked %d", i)
			check(fmt.Sprintf("Park(%s@%d)", p.r.Key, p.r.Token), m.r.Park(ctx, p.r, msg), m.q.Park(ctx, p.q, msg))
		} else {
			now := m.at()
			check(fmt.Sprintf("Renew(%s@%d, %s)", p.r.Key, p.r.Token, now.Sub(storetest.T0)),
				m.r.Renew(ctx, p.r, now, 30*time.Second), m.q.Renew(ctx, p.q, now, 30*time.Second))
		}
	case 11:
		key := m.key()
		check(fmt.Sprintf("Unpark(%s)", key), m.r.Unpark(ctx, key), m.q.Unpark(ctx, key))
	case 12:
		p, ok := m.job()
		if !ok {
			return
		}
		l := store.Link{Customer: "acme", Target: "page", Object: p.r.Key, State: store.LinkLive, Hash: fmt.Sprint(i)}
		check(fmt.Sprintf("PutLink(%s@%d)", p.r.Key, p.r.Token), m.r.PutLink(ctx, p.r.Fence(), l), m.q.PutLink(ctx, p.q.Fence(), l))
	case 13:
		now := m.at()
		sr, er := m.r.Stats(ctx, now)
		sq, eq := m.q.Stats(ctx, now)
		check(fmt.Sprintf("Stats(%s) = %+v", now.Sub(storetest.T0), sr), er, eq)
		if sr != sq {
			m.fail(i, "Stats(%s): redis %+v, sqlite %+v", now.Sub(storetest.T0), sr, sq)
		}
	case 14:
		tr, okr, er := m.r.NextReady(ctx)
		tq, okq, eq := m.q.NextReady(ctx)
		check(fmt.Sprintf("NextReady = %s %v", tr, okr), er, eq)
		if okr != okq || !tr.Equal(tq) {
			m.fail(i, "NextReady: redis %s %v, sqlite %s %v", tr, okr, tq, okq)
		}
		pr, er := m.r.Parked(ctx)
		pq, eq := m.q.Parked(ctx)
		check("Parked", er, eq)
		if len(pr) != len(pq) {
			m.fail(i, "Parked: redis %+v, sqlite %+v", pr, pq)
		}
		for k := range pr {
			if !sameJob(&pr[k], &pq[k]) {
				m.fail(i, "Parked[%d]: redis %+v, sqlite %+v", k, pr[k], pq[k])
			}
		}
	}
}
