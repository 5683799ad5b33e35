package github_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fake "vitrine/fake/github"
)

func TestWebhookBurstFetchesOnceAndWritesOnce(t *testing.T) {
	w := backfilled(t)
	w.reconcile()
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) {
		is.Body = "## Client summary\nThe new checkout is live.\n"
	})
	w.resetLog()
	var first fake.Delivery
	for i := 0; i < 50; i++ {
		d, err := w.gh.Delivery(hookSecret, fake.Event{Name: "issues", Action: "edited", Repo: srcRepo, Issue: 1,
			Changes: map[string]any{"body": map[string]any{"from": "old"}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d
		}
		if code := w.serve(d); code != http.StatusAccepted {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	if code := w.serve(first); code != http.StatusOK {
		t.Errorf("a redelivery answered %d, want 200 (duplicate)", code)
	}
	w.run()
	c := w.gh.Calls()
	fetches := c.Count(srcToken, "", "", 0)
	writes := w.writes(dstToken)
	t.Logf("burst of 50: %d source fetches, %d target writes, %d target reads", fetches, len(writes), c.Count(dstToken, http.MethodGet, "", 0))
	if fetches > 2 {
		t.Errorf("%d source reads for a burst of 50 deliveries, want at most 2:\n%s", fetches, c)
	}
	if len(writes) != 1 {
		t.Errorf("%d target writes, want 1: %v", len(writes), writes)
	}
	if m, _ := w.gh.Issue(dstRepo, n); !strings.Contains(m.Body, "live") {
		t.Errorf("mirror body not updated: %q", m.Body)
	}
}

func TestBackfillReadsArePagesPlusOneCommentReadPerPublishedItem(t *testing.T) {
	w := newWorld(t)
	const n, withComments = 250, 10
	for i := 1; i <= n; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprintf("Item %d", i), Body: "## Client summary\nx",
			Labels: []string{"client-visible"}})
		if i%25 == 0 {
			w.gh.AddComment(srcRepo, i, "pm-anna", "[client] note")
		}
		w.fc.Advance(time.Second)
	}
	w.fc.Advance(10 * time.Minute)
	w.start()
	w.resetLog()
	w.reconcile()
	c := w.gh.Calls()
	pages := c.Count(srcToken, http.MethodGet, "/repos/{owner}/{repo}/issues", 0)
	comments := c.Count(srcToken, http.MethodGet, "/repos/{owner}/{repo}/issues/{issue_number}/comments", 200)
	verify := c.Count(srcToken, http.MethodGet, "/repos/{owner}/{repo}/issues/{issue_number}", 0)
	t.Logf("backfill of %d: %d list pages, %d comment reads; re-verification: %d issue reads, %d conditional comment reads; %d target writes",
		n, pages, comments, verify, c.Count(srcToken, http.MethodGet, "/repos/{owner}/{repo}/issues/{issue_number}/comments", 304), c.Writes)
	if want := (n + 99) / 100; pages != want {
		t.Errorf("%d list pages, want %d", pages, want)
	}
	if comments != withComments {
		t.Errorf("%d comment reads, want %d (one per published item with comments)", comments, withComments)
	}
	if got := len(w.gh.Issues(dstRepo)); got != n {
		t.Errorf("%d mirrors, want %d", got, n)
	}
	// The first drift check of a new mirror reads it in full (GitHub's
	// create answer carries no validator the fake would honour); after
	// that a reconcile is conditional reads only.
	w.reconcile()
	w.fc.Advance(10 * time.Minute)
	w.resetLog()
	w.reconcile()
	if c := w.gh.Calls(); c.Reads != 0 || c.Writes != 0 {
		t.Errorf("the next reconcile made %d full reads and %d writes:\n%s", c.Reads, c.Writes, c)
	}
}

// serve posts one delivery through the intake handler.
func (w *world) serve(d fake.Delivery) int {
	w.t.Helper()
	rec := httptest.NewRecorder()
	w.hook.ServeHTTP(rec, d.Request("http://vitrine.test/webhooks/github"))
	return rec.Code
}
