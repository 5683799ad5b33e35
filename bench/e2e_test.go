package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	fake "vitrine/fake/github"
	"vitrine/webhooks"
)

// written reports the answers to the target's PATCHes of mirror issues as
// vitrine's HTTP client receives them: the moment a mirror is written.
type written struct {
	base http.RoundTripper
	mu   sync.Mutex
	subs map[string]chan time.Time // path -> waiter
}

func (w *written) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodPatch || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	// Read the whole answer first: written means acknowledged.
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	at := time.Now()
	if rerr == nil {
		w.mu.Lock()
		ch := w.subs[req.URL.Path]
		w.mu.Unlock()
		if ch != nil {
			select {
			case ch <- at:
			default:
			}
		}
	}
	return resp, err
}

func (w *written) wait(path string) chan time.Time {
	ch := make(chan time.Time, 1)
	w.mu.Lock()
	w.subs[path] = ch
	w.mu.Unlock()
	return ch
}

// e2eWorld is vitrine serving on the wall clock: the intake on a loopback
// server, two workers, a SQLite file on the real disk, the fake GitHub as
// source and target, and no pacing (limits nobody reaches).
type e2eWorld struct {
	gh      *fake.Server
	r       *rig
	hookURL string
	w       *written
	mirrors map[int]int // source issue number -> mirror number
	stop    func()
}

func newE2E(tb testing.TB, b board) *e2eWorld {
	tb.Helper()
	e := &e2eWorld{w: &written{subs: map[string]chan time.Time{}}}
	e.gh = newFake(tb, clock.Real{}, fake.Limits{})
	populate(e.gh, nil, b)
	r, err := buildRig(bg, rigOptions{Dir: tb.TempDir(), APIURL: e.gh.URL(), Clock: clock.Real{}, Mirror: true, Unpaced: true,
		Transport: func(rt http.RoundTripper) http.RoundTripper { e.w.base = rt; return e.w }, Log: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.close)
	e.r = r
	ctx, cancel := context.WithTimeout(bg, 5*time.Minute)
	defer cancel()
	if err := r.reconcile(ctx); err != nil {
		tb.Fatalf("backfill: %v", err)
	}
	e.mirrors = map[int]int{}
	for _, is := range e.gh.Issues(dstRepo) {
		var n int
		if _, err := fmt.Sscanf(is.Title, "Item %d", &n); err == nil {
			e.mirrors[n] = is.Number
		}
	}
	if len(e.mirrors) != b.Published {
		tb.Fatalf("backfill made %d mirrors, want %d", len(e.mirrors), b.Published)
	}
	srv := httptest.NewServer(r.hook)
	e.hookURL = srv.URL + "/webhooks/github"
	runCtx, stopRun := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.eng.Run(runCtx, 2) }()
	e.stop = func() { stopRun(); <-done; srv.Close() }
	tb.Cleanup(e.stop)
	return e
}

// roundTrip edits source issue i, posts its webhook and waits until the
// mirror's PATCH is answered; it returns the time from the POST to then.
func (e *e2eWorld) roundTrip(tb testing.TB, client *http.Client, i, rev int) time.Duration {
	tb.Helper()
	e.gh.EditIssue(srcRepo, i, func(is *fake.Issue) { is.Body = body(i, fmt.Sprintf(" rev %d", rev)) })
	d, err := e.gh.Delivery(hookSecret, fake.Event{Name: "issues", Action: "edited", Repo: srcRepo, Issue: i,
		Changes: map[string]any{"body": map[string]any{"from": "old"}}})
	if err != nil {
		tb.Fatal(err)
	}
	ch := e.w.wait(fmt.Sprintf("/repos/%s/issues/%d", dstRepo, e.mirrors[i]))
	start := time.Now()
	resp, err := client.Do(d.Request(e.hookURL))
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("delivery answered %d", resp.StatusCode)
	}
	select {
	case at := <-ch:
		return at.Sub(start)
	case <-time.After(30 * time.Second):
		tb.Fatalf("mirror of item %d not written within 30 s", i)
	}
	return 0
}

// BenchmarkEndToEnd measures webhook to mirror written: an edit of a
// published item's client section, its signed delivery POSTed to the
// intake, and the time until the mirror's PATCH is answered. One delivery
// at a time (closed loop), each for another published item. The board has
// 1,000 items, 100 published; every event curates the whole customer.
//
// served is serve as wired: a hint waits webhooks.Coalesce (1 s) so a
// burst of edits costs one read and one write; processing sets that
// window to zero, leaving what vitrine itself spends on the way.
func BenchmarkEndToEnd(b *testing.B) {
	for _, c := range []struct {
		name   string
		window time.Duration
	}{{"processing", 0}, {"served", webhooks.Coalesce}} {
		b.Run(c.name, func(b *testing.B) {
			e := newE2E(b, boardOf(1000))
			e.r.hook.SetCoalesce(c.window, nil)
			client := &http.Client{Timeout: 30 * time.Second}
			var lat []time.Duration
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				i := 10 * (k%100 + 1)
				lat = append(lat, e.roundTrip(b, client, i, k))
			}
			b.StopTimer()
			slices.Sort(lat)
			l := latencies{sorted: lat}
			b.ReportMetric(ms(l.pct(0.50)), "p50-ms")
			b.ReportMetric(ms(l.pct(0.99)), "p99-ms")
		})
	}
}

// TestWebhookReachesTheMirror pins what the end-to-end benchmark measures:
// a delivery for a published item ends in exactly one PATCH of its mirror,
// holding the edit.
func TestWebhookReachesTheMirror(t *testing.T) {
	e := newE2E(t, boardOf(100))
	client := &http.Client{Timeout: 30 * time.Second}
	for k, i := range []int{10, 20, 10} {
		if d := e.roundTrip(t, client, i, k); d <= 0 {
			t.Errorf("round trip %d took %s", k, d)
		}
		m, _ := e.gh.Issue(dstRepo, e.mirrors[i])
		if !strings.Contains(m.Body, fmt.Sprintf("rev %d", k)) {
			t.Errorf("mirror of item %d holds %q, want rev %d", i, m.Body, k)
		}
	}
}
