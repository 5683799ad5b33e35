package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	fake "vitrine/fake/github"
)

var (
	t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	bg = context.Background()
)

// board is the agency's repository: n issues, every tenth published
// (labelled client-visible), every tenth published one carrying one
// [client] comment and one internal comment. Statuses come from labels.
type board struct {
	N         int
	Published int // items with the publish label
	Commented int // published items with comments
}

func boardOf(n int) board {
	return board{N: n, Published: n / 10, Commented: n / 100}
}

func published(i int) bool { return i%10 == 0 }
func commented(i int) bool { return i%100 == 0 }

func body(i int, rev string) string {
	return fmt.Sprintf("Intro for the team.\n\n## Client summary\nItem %d as the customer sees it%s.\n\n## Internal\nMargin notes, budget 4200.\n", i, rev)
}

// populate creates the board's issues, one a second of the fake's clock
// (fc may be nil when the fake runs on another clock).
func populate(gh *fake.Server, fc *clock.Fake, b board) {
	for i := 1; i <= b.N; i++ {
		labels := []string{"status: " + []string{"In Review", "QA", "Backlog"}[i%3]}
		if published(i) {
			labels = []string{"status: In Review", "client-visible"}
		}
		gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprintf("Item %d", i), Body: body(i, ""), Labels: labels})
		if published(i) && commented(i) {
			gh.AddComment(srcRepo, i, "pm-anna", fmt.Sprintf("[client] Public note on item %d.", i))
			gh.AddComment(srcRepo, i, "dev-bob", "Internal chatter.")
		}
		if fc != nil {
			fc.Advance(time.Second)
		}
	}
}

// newFake starts a fake GitHub holding the two repositories and tokens.
// Response checking stays on; the primary budget is lifted so that a
// 10,000-item backfill is not cut by the hourly 5,000.
func newFake(tb testing.TB, c clock.Clock, limits fake.Limits) *fake.Server {
	gh := fake.New(tb, fake.Options{Clock: c, Limits: limits, PrimaryLimit: 1 << 30})
	gh.AddRepo(srcRepo)
	gh.AddRepo(dstRepo)
	gh.AddToken(srcToken, reader)
	gh.AddToken(dstToken, bot)
	gh.SetAccess(srcToken, srcRepo, fake.AccessRead)
	gh.SetAccess(dstToken, dstRepo, fake.AccessPush)
	return gh
}

// world is a fake GitHub on a virtual clock with vitrine wired to it.
type world struct {
	t   testing.TB
	fc  *clock.Fake
	gh  *fake.Server
	dir string
	r   *rig
}

type worldOptions struct {
	Limits fake.Limits
	Paced  bool // GitHub's documented pacing (as the app); otherwise limits nobody reaches
	Mirror bool // a GitHub mirror target besides the page
	Board  board
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	w := &world{t: t, fc: clock.NewFake(t0)}
	w.dir = storeDir(t)
	w.gh = newFake(t, w.fc, o.Limits)
	populate(w.gh, w.fc, o.Board)
	w.fc.Advance(10 * time.Minute)
	log := zerolog.Nop()
	if os.Getenv("VITRINE_TEST_LOG") != "" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, NoColor: true}).Level(zerolog.DebugLevel)
	}
	r, err := buildRig(bg, rigOptions{Dir: w.dir, APIURL: w.gh.URL(), Clock: w.fc, Mirror: o.Mirror, Unpaced: !o.Paced, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	w.r = r
	return w
}

// storeDir is where a virtual-clock scenario keeps its SQLite file. Call
// counts do not depend on fsync, so they use tmpfs (/dev/shm) when the
// machine has one; the timed benchmarks keep theirs on the real disk.
func storeDir(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "vitrine-bench-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

func (w *world) resetCalls() { w.gh.ResetCalls() }

func (w *world) reconcile() {
	w.t.Helper()
	if err := w.r.reconcile(bg); err != nil {
		w.t.Fatalf("reconcile: %v", err)
	}
}

func (w *world) runUntil(t time.Time) {
	w.t.Helper()
	if err := w.r.runUntil(bg, w.fc, t); err != nil {
		w.t.Fatalf("run: %v", err)
	}
}

// deliver posts a signed delivery describing the fake's current state
// through the intake handler.
func (w *world) deliver(ev fake.Event) {
	w.t.Helper()
	d, err := w.gh.Delivery(hookSecret, ev)
	if err != nil {
		w.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.r.hook.ServeHTTP(rec, d.Request("http://vitrine.test/webhooks/github"))
	if rec.Code != http.StatusAccepted {
		w.t.Fatalf("delivery %s %s answered %d: %s", ev.Name, ev.Action, rec.Code, rec.Body)
	}
}

// mirrorOf finds the mirror of source issue i by its title.
func (w *world) mirrorOf(i int) fake.Issue {
	w.t.Helper()
	want := fmt.Sprintf("Item %d", i)
	for _, is := range w.gh.Issues(dstRepo) {
		if is.Title == want {
			return is
		}
	}
	w.t.Fatalf("no mirror of item %d", i)
	return fake.Issue{}
}

// counts are the calls of one scenario, read apart from written.
type counts struct {
	Reads       int // GETs answered in full (they cost rate limit)
	Conditional int // GETs answered 304 (free on GitHub)
	Writes      int // POST, PATCH, PUT, DELETE, GraphQL mutations
	ByRoute     string
}

func (w *world) counts() counts {
	c := w.gh.Calls()
	return counts{Reads: c.Reads, Conditional: c.Conditional, Writes: c.Writes, ByRoute: c.String()}
}

// tokenName shortens the tokens in call listings.
func tokenName(s string) string {
	return strings.NewReplacer(srcToken, "source", dstToken, "target").Replace(s)
}
