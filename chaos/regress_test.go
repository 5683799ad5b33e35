package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/connectors/github"
	"vitrine/connectors/httpapi"
	fake "vitrine/fake/github"
	"vitrine/item"
	"vitrine/worker"
)

// Regression tests for bugs the chaos runs found, each on its own and
// deterministic.

// onlyMirror returns the one issue of a mirror repository.
func (w *world) onlyMirror(repo string) fake.Issue {
	w.t.Helper()
	is := w.gh.Issues(repo)
	if len(is) != 1 {
		w.t.Fatalf("%s holds %d issues, want 1", repo, len(is))
	}
	return is[0]
}

// writesDuring counts the target writes fn causes.
func (w *world) writesDuring(fn func()) int {
	before := w.targetWrites()
	fn()
	return w.targetWrites() - before
}

// GitHub ignores state_reason unless the state changes ("Ignored unless
// `state` is changed", issues/update in its description; the fake does
// the same). Retracting the mirror of a done item (closed as completed)
// sends {"state":"closed","state_reason":"not_planned"}: ignored, so the
// mirror never matches, every pass PATCHes again, and the label removal
// that follows is refused by the pacer's one-second gap, so the pass is
// deferred a second and starts over: one write a second for ever, on the
// credential every customer of the bot token shares.
func TestRetractingTheMirrorOfADoneItemConverges(t *testing.T) {
	w := newWorld(t, worldOptions{name: "retract-done"})
	p := pairs[0] // neutralises on retract
	src := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Body: "## Client summary\nShipped.",
		Labels: []string{labelVisible}, State: "closed", StateReason: "completed"})
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	m := w.onlyMirror(p.dst)
	if m.State != "closed" || m.StateReason != "completed" || !slices.Equal(m.Labels, []string{"status: Done"}) {
		t.Fatalf("mirror of the done item: %s/%s %v", m.State, m.StateReason, m.Labels)
	}

	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	w.fc.Advance(time.Minute)
	var err error
	writes := w.writesDuring(func() {
		if err = w.eng.Enqueue(bg, reconcileTask()); err != nil {
			t.Fatal(err)
		}
		err = w.settleWithin(30 * time.Minute)
	})
	m = w.onlyMirror(p.dst)
	if err != nil {
		t.Errorf("the retraction did not settle: %v", err)
	}
	if writes > 3 {
		t.Errorf("the retraction took %d writes, want at most 3 (title and body, the managed label)", writes)
	}
	if m.Title != "Retracted" || m.State != "closed" || len(m.Labels) != 0 {
		t.Errorf("mirror not retracted: %q %s/%s labels %v", m.Title, m.State, m.StateReason, m.Labels)
	}
}

// The same ignored state_reason the other way round: a done item published
// again over its retracted mirror (closed as not planned) wants "closed as
// completed", which GitHub ignores on a closed issue.
func TestRepublishingADoneItemOverItsRetractedMirrorConverges(t *testing.T) {
	w := newWorld(t, worldOptions{name: "republish-done"})
	p := pairs[0]
	src := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Body: "## Client summary\nOn its way.", Labels: []string{labelVisible}})
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	if m := w.onlyMirror(p.dst); m.Title != "Retracted" || m.StateReason != "not_planned" {
		t.Fatalf("mirror not retracted: %q %s/%s", m.Title, m.State, m.StateReason)
	}

	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) {
		x.Labels = []string{labelVisible}
		x.State, x.StateReason = "closed", "completed"
	})
	w.fc.Advance(time.Minute)
	var err error
	writes := w.writesDuring(func() {
		if err = w.eng.Enqueue(bg, reconcileTask()); err != nil {
			t.Fatal(err)
		}
		err = w.settleWithin(30 * time.Minute)
	})
	m := w.onlyMirror(p.dst)
	if err != nil {
		t.Errorf("the republish did not settle: %v", err)
	}
	if writes > 4 {
		t.Errorf("the republish took %d writes, want at most 4 (title, body and state, label created and added)", writes)
	}
	if m.Title != "Checkout" || m.State != "closed" || !slices.Equal(m.Labels, []string{"status: Done"}) {
		t.Errorf("mirror not republished: %q %s/%s labels %v", m.Title, m.State, m.StateReason, m.Labels)
	}
}

// A republish writes the mirror (title, body, state) while its link still
// says "retracted", and records it live only at the end of the pass. A pass
// that fails after the first write (here the PATCH lands and its answer is
// lost) leaves the mirror showing the item again under a link that says
// retracted; when the item is unpublished before a retry succeeds, the
// retraction sees "retracted", does nothing, and the mirror keeps showing
// the unpublished item for good.
func TestUnpublishAfterAFailedRepublishRetractsTheMirror(t *testing.T) {
	p := pairs[0] // neutralises on retract
	var dropPatch, dropped bool
	w := newWorld(t, worldOptions{name: "failed-republish", hook: func(r *fake.Request) fake.Fault {
		if dropPatch && !dropped && r.Token == dstToken && r.Method == "PATCH" && r.Issue != 0 {
			dropped = true
			return fake.Fault{Kind: fake.ApplyThenDrop}
		}
		return fake.Fault{}
	}})
	src := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Body: "## Client summary\nOn its way.", Labels: []string{labelVisible}})
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	if m := w.onlyMirror(p.dst); m.Title != "Retracted" {
		t.Fatalf("mirror not retracted: %q", m.Title)
	}

	// Published again; the republishing PATCH lands, its answer is lost.
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = []string{labelVisible} })
	w.fc.Advance(time.Minute)
	dropPatch = true
	if err := w.eng.Enqueue(bg, reconcileTask()); err != nil {
		t.Fatal(err)
	}
	w.stepUntil(func() bool { return dropped })
	if !dropped {
		t.Fatal("the republish did not write")
	}
	if m := w.onlyMirror(p.dst); m.Title != "Checkout" {
		t.Fatalf("the dropped PATCH was not applied: %q", m.Title)
	}

	// Unpublished again; its webhook is read (and the view curated) before
	// the op's retry comes round.
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	if err := w.eng.Enqueue(bg, worker.ItemTask(item.MakeID(p.srcKey(), fmt.Sprint(src.ID)))); err != nil {
		t.Fatal(err)
	}
	w.settle(time.Hour)
	w.fc.Advance(time.Hour)
	w.reconcile(time.Hour)
	if m := w.onlyMirror(p.dst); m.Title != "Retracted" || m.State != "closed" {
		t.Errorf("the unpublished item is still shown: %q %s, body %q\n%s", m.Title, m.State, m.Body, w.explainIssue(p, src))
	}
}

// explainIssue is explain for an issue created outside a generator.
func (w *world) explainIssue(p pair, is fake.Issue) string {
	r := &srcRepo{p: p, issues: []*srcIssue{{name: "it", num: is.Number, id: is.ID}}}
	return w.explain(r, "it")
}

// The same for a milestone: republishing a retracted milestone is one
// PATCH that may land with its answer lost, under a link that still says
// retracted; when no published item needs the milestone any more, its
// retraction does nothing and the milestone keeps its name and description.
func TestMilestoneUnneededAfterAFailedRepublishIsRetracted(t *testing.T) {
	p := pairs[0]
	var dropPatch, dropped bool
	w := newWorld(t, worldOptions{name: "failed-milestone-republish", hook: func(r *fake.Request) fake.Fault {
		if dropPatch && !dropped && r.Token == dstToken && r.Method == "PATCH" && r.Route == "/repos/{owner}/{repo}/milestones/{milestone_number}" {
			dropped = true
			return fake.Fault{Kind: fake.ApplyThenDrop}
		}
		return fake.Fault{}
	}})
	ms := w.gh.CreateMilestone(p.src, fake.NewMilestone{Title: "Website build", Description: "## Client summary\nTemplates.",
		DueOn: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)})
	src := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Labels: []string{labelVisible}, Milestone: ms.Number})
	setLabels := func(labels ...string) {
		w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = labels })
		w.fc.Advance(time.Minute)
	}
	mirrorMs := func() fake.MilestoneState {
		rs := repoState(w.gh.Dump(), p.dst)
		if len(rs.Milestones) != 1 {
			t.Fatalf("%s holds %d milestones, want 1", p.dst, len(rs.Milestones))
		}
		return rs.Milestones[0]
	}
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	setLabels()
	w.reconcile(time.Hour)
	if m := mirrorMs(); m.Title != "Retracted milestone" {
		t.Fatalf("milestone not retracted: %q", m.Title)
	}

	setLabels(labelVisible)
	dropPatch = true
	if err := w.eng.Enqueue(bg, reconcileTask()); err != nil {
		t.Fatal(err)
	}
	w.stepUntil(func() bool { return dropped })
	if m := mirrorMs(); !dropped || m.Title != "Website build" {
		t.Fatalf("the republishing PATCH did not land (dropped %v): %q", dropped, m.Title)
	}
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	if err := w.eng.Enqueue(bg, worker.ItemTask(item.MakeID(p.srcKey(), fmt.Sprint(src.ID)))); err != nil {
		t.Fatal(err)
	}
	w.settle(time.Hour)
	w.fc.Advance(time.Hour)
	w.reconcile(time.Hour)
	if m := mirrorMs(); m.Title != "Retracted milestone" || m.State != "closed" {
		t.Errorf("the unneeded milestone is still shown: %q %s %q", m.Title, m.State, m.Description)
	}
}

// A deleted item no customer sees is never re-read: a cursor poll does not
// show deletions, and reconcile re-verifies only the published items. When
// its webhook is lost it stays in the cache for good, and it still counts
// where hidden items count: the progress of its published parent (and of
// its milestone).
func TestDeletedHiddenChildLeavesItsParentsProgressWithoutWebhook(t *testing.T) {
	p := pairs[0] // shows progress
	w := newWorld(t, worldOptions{name: "deleted-child"})
	parent := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Body: "## Client summary\nOn its way.", Labels: []string{labelVisible}})
	open := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Copy", Labels: []string{labelHidden}, Parent: parent.Number})
	done := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Payment", Labels: []string{labelHidden}, Parent: parent.Number,
		State: "closed", StateReason: "completed"})
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	if m := w.onlyMirror(p.dst); !strings.Contains(m.Body, "Progress: 50%") {
		t.Fatalf("mirror before the delete: %q, want 50%% progress", m.Body)
	}

	// The open child is deleted; its webhook never arrives.
	w.gh.DeleteIssue(p.src, open.Number)
	w.fc.Advance(w.interval)
	w.reconcile(time.Hour)
	w.fc.Advance(w.interval)
	w.reconcile(time.Hour)
	if m := w.onlyMirror(p.dst); !strings.Contains(m.Body, "Progress: 100%") {
		t.Errorf("two reconciles after the delete the mirror still counts the deleted child: %q, want 100%% (only %s#%d is left)",
			m.Body, p.src, done.Number)
	}
}

// A comment whose create landed but whose answer was lost has a pending
// link without a ref. When the comment must go (the item is retracted, or
// the comment was deleted or made internal) before a pass adopted it, the
// link is dropped and the comment is never looked for: it stays on the
// mirror.
func TestRetractionRemovesACommentWhoseCreateAnswerWasLost(t *testing.T) {
	p := pairs[0]
	var drop, dropped bool
	w := newWorld(t, worldOptions{name: "lost-comment", hook: func(r *fake.Request) fake.Fault {
		if drop && !dropped && r.Token == dstToken && r.Method == "POST" && r.Route == "/repos/{owner}/{repo}/issues/{issue_number}/comments" {
			dropped = true
			return fake.Fault{Kind: fake.ApplyThenDrop}
		}
		return fake.Fault{}
	}})
	src := w.gh.CreateIssue(p.src, fake.NewIssue{Title: "Checkout", Body: "## Client summary\nOn its way.", Labels: []string{labelVisible}})
	w.fc.Advance(time.Minute)
	w.reconcile(time.Hour)
	w.gh.AddComment(p.src, src.Number, "pm-anna", "[client] Design approved.")
	w.fc.Advance(time.Minute)
	drop = true
	if err := w.eng.Enqueue(bg, reconcileTask()); err != nil {
		t.Fatal(err)
	}
	w.stepUntil(func() bool { return dropped })
	if m := w.onlyMirror(p.dst); !dropped || len(m.Comments) != 1 {
		t.Fatalf("the comment create did not land (dropped %v, %d comments)", dropped, len(m.Comments))
	}

	// Unpublished before the op's retry adopts the comment.
	w.gh.EditIssue(p.src, src.Number, func(x *fake.Issue) { x.Labels = nil })
	if err := w.eng.Enqueue(bg, worker.ItemTask(item.MakeID(p.srcKey(), fmt.Sprint(src.ID)))); err != nil {
		t.Fatal(err)
	}
	w.settle(time.Hour)
	w.fc.Advance(time.Hour)
	w.reconcile(time.Hour)
	m := w.onlyMirror(p.dst)
	if m.Title != "Retracted" {
		t.Fatalf("mirror not retracted: %q", m.Title)
	}
	for _, c := range m.Comments {
		t.Errorf("the retracted mirror still shows a comment: %q", c.Body)
	}
}

// httpapi's Options.Timeout bounds one call; the GitHub connector wraps the
// client as a transport under a go-github http.Client of its own whose
// timeout is a hard-coded 60 s, so a hung GitHub request holds its pass a
// minute whatever the timeout says (connectors/jira passes it on).
func TestGitHubRequestsObeyTheHTTPClientTimeout(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	gh := fake.New(t, fake.Options{Fault: func(r *fake.Request) fake.Fault {
		if r.Method == "GET" {
			return fake.Fault{Wait: never}
		}
		return fake.Fault{}
	}})
	gh.AddRepo(pairs[0].dst)
	gh.AddToken(dstToken, bot)
	gh.SetAccess(dstToken, pairs[0].dst, fake.AccessPush)
	hc, err := httpapi.New(httpapi.Options{Credential: "github:" + bot, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := github.NewTarget(github.TargetOptions{Repo: pairs[0].dst, Bot: bot, HTTP: hc, APIURL: gh.URL(), Token: dstToken})
	if err != nil {
		t.Fatal(err)
	}
	// The test's own guard, so that it fails in seconds, not a minute.
	ctx, cancel := context.WithTimeout(bg, 3*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err = tg.FindItem(ctx, "v1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	took := time.Since(start)
	if err == nil {
		t.Fatal("a hung read succeeded")
	}
	if took > 2*time.Second {
		t.Errorf("a hung read with a 200ms client timeout took %s (ended by the test's guard: %v)", took.Round(time.Millisecond), err)
	}
}
