package github_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"vitrine/connectors"
	"vitrine/connectors/github"
	fake "vitrine/fake/github"
	"vitrine/item"
	"vitrine/store"
)

// source builds a Source on the world's fake and store.
func (w *world) source(statusFrom string) *github.Source {
	w.t.Helper()
	if w.st == nil {
		w.start()
	}
	s, err := github.NewSource(github.SourceOptions{
		Key: srcKey, Repo: srcRepo, StatusFrom: statusFrom, HTTP: w.httpClient("github:"+reader, srcKey, nil),
		APIURL: w.gh.URL(), Token: srcToken, Meta: w.st, Clock: w.fc,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func itemID(w *world, repo string, n int) string {
	w.t.Helper()
	is, ok := w.gh.Issue(repo, n)
	if !ok {
		w.t.Fatalf("no %s#%d", repo, n)
	}
	return item.MakeID("github:"+repo, fmt.Sprint(is.ID))
}

// pollAll runs a whole poll pass as the engine does.
func pollAll(t *testing.T, s *github.Source, cursor string) (map[string]item.Item, string, int) {
	t.Helper()
	got := map[string]item.Item{}
	calls := 0
	for {
		p, err := s.Poll(bg, cursor)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		for _, it := range p.Items {
			got[it.ID] = it
		}
		cursor = p.Cursor
		if !p.More {
			return got, cursor, calls
		}
		if calls > 50 {
			t.Fatal("poll did not end")
		}
	}
}

func TestPollNeverSkipsAnItemWhenTheListShiftsMidPass(t *testing.T) {
	w := newWorld(t)
	for i := 1; i <= 150; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprint(i)})
		w.fc.Advance(time.Second)
	}
	w.fc.Advance(10 * time.Minute)
	s := w.source("")
	p, err := s.Poll(bg, "")
	if err != nil || !p.More || len(p.Items) != 100 {
		t.Fatalf("first page: %d items, more %v, %v", len(p.Items), p.More, err)
	}
	// Mid-pass: an item of the first page changes (it moves to the end),
	// and two others leave the list: page numbers would now skip items.
	w.gh.EditIssue(srcRepo, 3, func(is *fake.Issue) { is.Title = "3 changed" })
	w.gh.DeleteIssue(srcRepo, 10)
	w.gh.TransferIssue(srcRepo, 20, dstRepo)
	seen := map[string]item.Item{}
	for _, it := range p.Items {
		seen[it.ID] = it
	}
	rest, _, _ := pollAll(t, s, p.Cursor)
	for id, it := range rest {
		seen[id] = it
	}
	for n := 101; n <= 150; n++ {
		if _, ok := seen[itemID(w, srcRepo, n)]; !ok {
			t.Errorf("#%d was skipped", n)
		}
	}
	if it := seen[itemID(w, srcRepo, 3)]; it.Title != "3 changed" {
		t.Errorf("#3 as %q: its change was not read", it.Title)
	}
}

func TestPollSkipsPullRequestsAndRestsOnAFree304(t *testing.T) {
	w := newWorld(t)
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "issue"})
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "pr", PullRequest: true})
	w.fc.Advance(10 * time.Minute)
	s := w.source("")
	got, cursor, calls := pollAll(t, s, "")
	if len(got) != 1 || calls != 1 {
		t.Fatalf("%d items in %d calls, want the one issue in one call", len(got), calls)
	}
	w.resetLog()
	p, err := s.Poll(bg, cursor)
	if err != nil || len(p.Items) != 0 || p.More || p.Cursor != cursor {
		t.Fatalf("resting poll: %+v %v", p, err)
	}
	if c := w.gh.Calls(); c.Conditional != 1 || c.Reads != 0 {
		t.Errorf("resting poll: %d conditional, %d full reads", c.Conditional, c.Reads)
	}
	// A change just now: the pass re-reads the overlap window once, so the
	// next poll is free again.
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Title = "issue 2" })
	got, cursor, _ = pollAll(t, s, cursor)
	if got[itemID(w, srcRepo, 1)].Title != "issue 2" {
		t.Errorf("change not read: %+v", got)
	}
	w.resetLog()
	if _, err := s.Poll(bg, cursor); err != nil {
		t.Fatal(err)
	}
	if c := w.gh.Calls(); c.Conditional != 1 {
		t.Errorf("poll after the change settled: %d conditional reads, want 1:\n%s", c.Conditional, c)
	}
}

func TestStatusStateAndDueComeFromGitHubsModel(t *testing.T) {
	w := newWorld(t)
	w.gh.CreateMilestone(srcRepo, fake.NewMilestone{Title: "M", DueOn: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)})
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "a", Labels: []string{"status: In Review", "x"}, Milestone: 1})
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "b", State: "closed", StateReason: "completed"})
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "c", State: "closed", StateReason: "not_planned"})
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "d", State: "closed", StateReason: "duplicate"})
	w.fc.Advance(10 * time.Minute)
	byLabel, _, _ := pollAll(t, w.source("label_prefix:status: "), "")
	byState, _, _ := pollAll(t, w.source("state"), "")
	a := byLabel[itemID(w, srcRepo, 1)]
	if a.Status != "In Review" || a.State != item.Open || a.Due == nil || !a.Due.At.Equal(time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("a: status %q state %s due %+v", a.Status, a.State, a.Due)
	}
	ms, err := w.source("").Milestones(bg, false)
	if err != nil || len(ms) != 1 || ms[0].ID != a.Milestone || ms[0].Due == nil {
		t.Errorf("milestones %+v %v; item's milestone %s", ms, err, a.Milestone)
	}
	for n, want := range map[int]item.State{1: item.Open, 2: item.Done, 3: item.Cancelled, 4: item.Cancelled} {
		if it := byState[itemID(w, srcRepo, n)]; it.State != want || it.Status == "" {
			t.Errorf("#%d: state %s status %q, want %s", n, it.State, it.Status, want)
		}
	}
	if _, err := github.NewSource(github.SourceOptions{Key: srcKey, Repo: srcRepo, StatusFrom: "label_prefix:", Meta: w.st,
		HTTP: w.httpClient("github:"+reader, srcKey, nil)}); err == nil {
		t.Error("an empty label prefix was accepted")
	}
}

// A 304 is only trusted for state the engine stored: a Fetch whose answer
// never reached the store (a crash, a failed write) is read again in full.
func TestNotModifiedOnlyForStateTheEngineHolds(t *testing.T) {
	w := newWorld(t)
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "a"})
	w.gh.AddComment(srcRepo, 1, "pm", "[client] hi")
	w.fc.Advance(time.Minute)
	s := w.source("")
	id := itemID(w, srcRepo, 1)
	it, err := s.Fetch(bg, id, connectors.FetchOptions{Comments: true})
	if err != nil || len(it.Comments) != 1 || !it.CommentsLoaded {
		t.Fatalf("fetch: %+v %v", it, err)
	}
	// The engine never stored it: a cached fetch must read.
	if _, err := s.Fetch(bg, id, connectors.FetchOptions{Comments: true, Cached: true}); err != nil {
		t.Fatalf("cached fetch without a stored snapshot: %v, want the item", err)
	}
	data, _ := json.Marshal(it)
	if _, err := w.st.PutSnapshot(bg, store.Snapshot{ID: id, Source: srcKey, Kind: store.KindItem, Hash: item.Hash(it), Data: data, Updated: it.Updated, Seen: w.fc.Now()}); err != nil {
		t.Fatal(err)
	}
	w.resetLog()
	if _, err := s.Fetch(bg, id, connectors.FetchOptions{Comments: true, Cached: true}); !errors.Is(err, connectors.ErrNotModified) {
		t.Fatalf("cached fetch of stored state: %v, want ErrNotModified", err)
	}
	if c := w.gh.Calls(); c.Conditional != 2 || c.Reads != 0 {
		t.Errorf("%d conditional and %d full reads, want 2 and 0", c.Conditional, c.Reads)
	}
	// A comment edit shows even though the issue itself answers 304 on
	// GitHub (the fake bumps the issue too; either way it is read).
	w.gh.EditComment(w.mustIssue(srcRepo, 1).Comments[0].ID, "[client] hello")
	it2, err := s.Fetch(bg, id, connectors.FetchOptions{Comments: true, Cached: true})
	if err != nil || it2.Comments[0].Body != "[client] hello" {
		t.Errorf("after a comment edit: %+v %v", it2.Comments, err)
	}
}

func (w *world) mustIssue(repo string, n int) fake.Issue {
	w.t.Helper()
	is, ok := w.gh.Issue(repo, n)
	if !ok {
		w.t.Fatalf("no %s#%d", repo, n)
	}
	return is
}

func TestGoneOnlyWhenTheRepositoryAnswers(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 3; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "x"})
	}
	s := w.source("")
	ids := []string{itemID(w, srcRepo, 1), itemID(w, srcRepo, 2), itemID(w, srcRepo, 3)}
	for _, id := range ids {
		if _, err := s.Fetch(bg, id, connectors.FetchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w.gh.DeleteIssue(srcRepo, 1)
	w.gh.AddRepo("agency/archive")
	w.gh.TransferIssue(srcRepo, 2, "agency/archive")
	for i, id := range ids[:2] {
		_, err := s.Fetch(bg, id, connectors.FetchOptions{})
		var ae *connectors.AccessError
		if !errors.Is(err, connectors.ErrGone) || errors.As(err, &ae) {
			t.Errorf("#%d (deleted, transferred): %v, want ErrGone", i+1, err)
		}
	}
	w.gh.LoseAccess(srcToken, srcRepo)
	_, err := s.Fetch(bg, ids[2], connectors.FetchOptions{})
	var ae *connectors.AccessError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || errors.Is(err, connectors.ErrGone) {
		t.Errorf("lost access: %v, want an AccessError (404) and not ErrGone", err)
	}
	if _, err := s.Poll(bg, ""); !errors.As(err, &ae) {
		t.Errorf("poll after lost access: %v, want an AccessError", err)
	}
	if _, err := s.Milestones(bg, false); !errors.As(err, &ae) {
		t.Errorf("milestones after lost access: %v, want an AccessError", err)
	}
}

// A sub-issue's parent may sit in another repository: its item ID is made
// from that repository's source key and the parent's immutable id, read
// once through the sub-issues endpoint.
func TestCrossRepositoryParentIsNamedByItsOwnSource(t *testing.T) {
	w := newWorld(t)
	w.gh.AddRepo("agency/platform")
	w.gh.SetAccess(srcToken, "agency/platform", fake.AccessRead)
	w.gh.AddToken("pm-token", "agency-pm")
	w.gh.SetAccess("pm-token", "agency/platform", fake.AccessPush)
	w.gh.SetAccess("pm-token", srcRepo, fake.AccessPush)
	parent := w.gh.CreateIssue("agency/platform", fake.NewIssue{Title: "epic"})
	child := w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "task"})
	req, _ := http.NewRequest(http.MethodPost, w.gh.URL()+"/repos/agency/platform/issues/1/sub_issues",
		strings.NewReader(fmt.Sprintf(`{"sub_issue_id": %d}`, child.ID)))
	req.Header.Set("Authorization", "Bearer pm-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("add sub-issue: %v %v", resp, err)
	}
	resp.Body.Close()
	s := w.source("")
	it, err := s.Fetch(bg, item.MakeID(srcKey, fmt.Sprint(child.ID)), connectors.FetchOptions{})
	want := item.MakeID("github:agency/platform", fmt.Sprint(parent.ID))
	if err != nil || it.Parent != want || it.Kind != item.KindSubtask {
		t.Fatalf("parent %q kind %s (%v), want %q", it.Parent, it.Kind, err, want)
	}
	// Known from now on: no second lookup.
	w.resetLog()
	got, _, _ := pollAll(t, s, "")
	if got[it.ID].Parent != want {
		t.Errorf("poll: parent %q", got[it.ID].Parent)
	}
	if n := w.gh.Calls().Count(srcToken, http.MethodGet, "/repos/{owner}/{repo}/issues/{issue_number}/parent", 0); n != 0 {
		t.Errorf("%d parent lookups after the first", n)
	}
}

// More than a page of issues changed in one second (a bulk edit): the pass
// pages through that second and then rests just after it.
func TestPollPagesThroughOneBusySecond(t *testing.T) {
	w := newWorld(t)
	for i := 1; i <= 150; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprint(i)})
	}
	w.fc.Advance(10 * time.Minute)
	s := w.source("")
	got, cursor, calls := pollAll(t, s, "")
	if len(got) != 150 || calls > 4 {
		t.Fatalf("%d items in %d calls, want 150 in at most 4", len(got), calls)
	}
	w.resetLog()
	if p, err := s.Poll(bg, cursor); err != nil || p.More || len(p.Items) != 0 {
		t.Fatalf("resting poll: %+v %v", p, err)
	}
	if c := w.gh.Calls(); c.Conditional != 1 || c.Reads != 0 {
		t.Errorf("resting poll: %d conditional, %d full reads", c.Conditional, c.Reads)
	}
	w.gh.EditIssue(srcRepo, 7, func(is *fake.Issue) { is.Title = "seven" })
	w.fc.Advance(10 * time.Minute)
	got, _, _ = pollAll(t, s, cursor)
	if len(got) != 1 || got[itemID(w, srcRepo, 7)].Title != "seven" {
		t.Errorf("after an edit: %d items", len(got))
	}
}
