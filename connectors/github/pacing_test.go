package github_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fake "vitrine/fake/github"
)

// threeCustomers reads three agency repos and writes three customer repos
// with one token.
func threeCustomers(w *world) {
	var b strings.Builder
	b.WriteString("reconcile: {interval: 10m}\ncustomers:\n")
	for _, c := range []string{"acme", "globex", "initech"} {
		fmt.Fprintf(&b, `  - id: %[1]s
    name: %[1]s
    sources:
      - github: {repo: agency/%[1]s-internal, token_env: SRC_TOKEN}
    publish: {label: client-visible}
    show: {body: all}
    targets:
      - github: {repo: %[1]s/%[1]s-status, token_env: DST_TOKEN}
`, c)
		if c != "acme" { // newWorld made acme's
			w.gh.AddRepo("agency/" + c + "-internal")
			w.gh.AddRepo(c + "/" + c + "-status")
		}
		w.gh.SetAccess(srcToken, "agency/"+c+"-internal", fake.AccessRead)
		w.gh.SetAccess(dstToken, c+"/"+c+"-status", fake.AccessPush)
	}
	w.rules = b.String()
}

// maxInWindow is the most writes by token in any window of length d.
func maxInWindow(rs []sent, d time.Duration) int {
	best := 0
	for i := range rs {
		n := 0
		for j := i; j < len(rs) && rs[j].At.Sub(rs[i].At) < d; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestThreeHundredWritesStayUnderTheDocumentedWindows(t *testing.T) {
	w := newWorld(t, withLimits(fake.Limits{Mode: fake.WindowsDocumented}))
	threeCustomers(w)
	for _, c := range []string{"acme", "globex", "initech"} {
		for i := 1; i <= 100; i++ {
			w.gh.CreateIssue("agency/"+c+"-internal", fake.NewIssue{Title: fmt.Sprintf("%s %d", c, i), Labels: []string{"client-visible"}})
		}
	}
	w.fc.Advance(10 * time.Minute)
	w.start()
	start := w.fc.Now()
	w.reconcile()
	ws := w.writes(dstToken)
	perMinute, perHour := maxInWindow(ws, time.Minute), maxInWindow(ws, time.Hour)
	t.Logf("%d writes in %s of virtual time; at most %d in a minute, %d in an hour", len(ws), w.fc.Now().Sub(start).Round(time.Second), perMinute, perHour)
	if v := w.gh.Violations(); len(v) != 0 {
		t.Errorf("%d writes over GitHub's windows, first %+v", len(v), v[0])
	}
	if len(ws) < 300 || perMinute > 80 || perHour > 500 {
		t.Errorf("%d writes, %d in a minute, %d in an hour", len(ws), perMinute, perHour)
	}
	for _, c := range []string{"acme", "globex", "initech"} {
		if n := len(w.gh.Issues(c + "/" + c + "-status")); n != 100 {
			t.Errorf("%s: %d mirrors, want 100", c, n)
		}
	}
}

func TestSecondaryLimitStopsTheTokenForItsRetryAfter(t *testing.T) {
	// go-github v62 types a 403 secondary limit but not a 429: both must
	// stop the token.
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) { secondaryLimit(t, status) })
	}
}

func secondaryLimit(t *testing.T, status int) {
	w := newWorld(t)
	threeCustomers(w)
	for _, c := range []string{"acme", "globex", "initech"} {
		for i := 1; i <= 10; i++ {
			w.gh.CreateIssue("agency/"+c+"-internal", fake.NewIssue{Title: fmt.Sprintf("%s %d", c, i), Labels: []string{"client-visible"}})
		}
	}
	w.fc.Advance(10 * time.Minute)
	w.start()
	var limitedAt time.Time
	writes := 0
	w.setFault(func(r *fake.Request) fake.Fault {
		if r.Token != dstToken || !r.Write {
			return fake.Fault{}
		}
		writes++
		if writes == 12 {
			limitedAt = w.fc.Now()
			return fake.SecondaryLimit(status, 60*time.Second)
		}
		return fake.Fault{}
	})
	w.reconcile()
	if limitedAt.IsZero() {
		t.Fatal("no secondary limit was answered")
	}
	var next time.Time
	for _, r := range w.requests() {
		if r.Token == dstToken && r.At.After(limitedAt) {
			next = r.At
			break
		}
	}
	for _, r := range w.requests() {
		if r.Token == dstToken && r.At.After(limitedAt) && r.At.Before(limitedAt.Add(60*time.Second)) {
			t.Errorf("%s %s sent %s after the secondary limit", r.Method, r.Path, r.At.Sub(limitedAt))
		}
	}
	t.Logf("secondary limit at +%s; next request on the token %s later", limitedAt.Sub(t0), next.Sub(limitedAt))
	for _, c := range []string{"acme", "globex", "initech"} {
		if n := len(w.gh.Issues(c + "/" + c + "-status")); n != 10 {
			t.Errorf("%s: %d mirrors, want 10 (none lost, none doubled)", c, n)
		}
	}
}

// stepUntil processes keys one at a time, moving the virtual clock when
// none is ready, until stop says so or nothing is left.
func (w *world) stepUntil(stop func() bool) {
	w.t.Helper()
	for !stop() {
		did, err := w.eng.Step(bg, "test")
		if err != nil {
			w.t.Fatal(err)
		}
		if did {
			continue
		}
		at, ok, err := w.st.NextReady(bg)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok {
			return
		}
		w.fc.Set(at)
	}
}

func TestRetractionQueuedBehindABackfillGoesFirst(t *testing.T) {
	w := backfilled(t)
	n := w.mirrorNumber("Checkout flow")
	for i := 1; i <= 60; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprintf("New %d", i), Labels: []string{"client-visible"}})
	}
	w.fc.Advance(10 * time.Minute)
	w.resetLog()
	if err := w.eng.Enqueue(bg, workerReconcile()); err != nil {
		t.Fatal(err)
	}
	creates := func() int {
		k := 0
		for _, r := range w.writes(dstToken) {
			if r.Method == http.MethodPost && r.Route == "/repos/{owner}/{repo}/issues" {
				k++
			}
		}
		return k
	}
	w.stepUntil(func() bool { return creates() >= 10 })
	if creates() < 10 {
		t.Fatal("the backfill did not start")
	}
	// The PM unpublishes an item while the backfill is under way.
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = nil })
	queuedAt := len(w.requests())
	if code := w.deliver(fake.Event{Name: "issues", Action: "unlabeled", Repo: srcRepo, Issue: 1, Label: "client-visible"}); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	w.run()
	var after []sent
	for _, r := range w.requests()[queuedAt:] {
		if r.Token == dstToken && r.Method != http.MethodGet {
			after = append(after, r)
		}
	}
	mirrorPath := fmt.Sprintf("/repos/%s/issues/%d", dstRepo, n)
	retracted := -1
	for i, r := range after {
		if r.Method == http.MethodPatch && r.Path == mirrorPath {
			retracted = i
			break
		}
		if !(r.Method == http.MethodDelete && strings.Contains(r.Path, "/issues/comments/")) {
			t.Fatalf("write %d after the unpublish was %s %s, before the retraction", i, r.Method, r.Path)
		}
	}
	if retracted < 0 || retracted == len(after)-1 {
		t.Fatalf("retraction at %d of %d writes: it should go before the remaining creates", retracted, len(after))
	}
	if m, _ := w.gh.Issue(dstRepo, n); m.StateReason != "not_planned" {
		t.Errorf("mirror #%d not retracted: %+v", n, m)
	}
	if got := len(w.gh.Issues(dstRepo)); got != 63 {
		t.Errorf("%d mirrors, want 63", got)
	}
}
