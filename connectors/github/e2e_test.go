package github_test

import (
	"strings"
	"testing"
	"time"
	"vitrine/store"
	"vitrine/worker"

	fake "vitrine/fake/github"
)

// board fills the agency's repository: published items with public and
// internal text, a hidden one, an unpublished one, a sub-issue, a pull
// request and a cancelled item, one second apart, then lets ten minutes
// pass.
func (w *world) board() {
	g := w.gh
	step := func() { w.fc.Advance(time.Second) }
	g.CreateMilestone(srcRepo, fake.NewMilestone{Title: "Website build", Description: "## Client summary\nTemplates and CMS.\n## Internal\nBudget 18k.",
		DueOn: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Checkout flow for @dev-ben see #12",
		Body:   "## Client summary\nThe new **checkout** is on [staging](https://evil.example/x).\n\n## Internal\nWe are 3 days late, cost 4200.",
		Labels: []string{"client-visible"}, Milestone: 1, Assignees: []string{"dev-ben"}})
	step()
	g.AddComment(srcRepo, 1, "pm-anna", "[client] Design approved in the workshop.")
	step()
	g.AddComment(srcRepo, 1, "dev-ben", "internal: cost overrun again")
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Search page", Body: "## Client summary\nSearch is done.",
		Labels: []string{"client-visible"}, State: "closed", StateReason: "completed"})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Internal refactor", Body: "secret"})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Payment provider", Body: "## Client summary\nHidden.",
		Labels: []string{"client-visible", "client-hidden"}})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Checkout copy", Body: "## Client summary\nTexts for the checkout.",
		Labels: []string{"client-visible"}, Parent: 1, Milestone: 1})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Bump deps", Labels: []string{"client-visible"}, PullRequest: true})
	step()
	g.CreateIssue(srcRepo, fake.NewIssue{Title: "Old idea", Body: "## Client summary\nNot now.",
		Labels: []string{"client-visible"}, State: "closed", StateReason: "not_planned"})
	w.fc.Advance(10 * time.Minute)
}

// backfilled is a world whose board was mirrored by one reconcile.
func backfilled(t *testing.T, opts ...worldOpt) *world {
	t.Helper()
	w := newWorld(t, opts...)
	w.board()
	w.start()
	w.reconcile()
	return w
}

func TestBackfillMirrorsTheCuratedView(t *testing.T) {
	w := backfilled(t)
	w.golden("backfill")
	issues := w.gh.Issues(dstRepo)
	if len(issues) != 3 {
		t.Fatalf("%d mirror issues, want 3 (#1, #2, #5)", len(issues))
	}
	for _, is := range issues {
		for _, leak := range []string{"Internal", "late", "4200", "cost overrun", "evil.example", "Budget"} {
			if strings.Contains(is.Title+is.Body, leak) {
				t.Errorf("mirror #%d leaks %q: %q", is.Number, leak, is.Body)
			}
			for _, c := range is.Comments {
				if strings.Contains(c.Body, leak) {
					t.Errorf("mirror #%d comment leaks %q", is.Number, leak)
				}
			}
		}
		if is.User != bot {
			t.Errorf("mirror #%d by %s", is.Number, is.User)
		}
	}
}

func TestNoChangeReconcileMakesOnlyConditionalReads(t *testing.T) {
	w := backfilled(t)
	w.resetLog()
	w.reconcile()
	first := w.gh.Calls()
	if first.Writes != 0 {
		t.Fatalf("first reconcile after the backfill wrote %d times:\n%s", first.Writes, first)
	}
	w.fc.Advance(10 * time.Minute)
	w.resetLog()
	w.reconcile()
	c := w.gh.Calls()
	t.Logf("no-change reconcile: %d conditional reads, %d full reads, %d writes", c.Conditional, c.Reads, c.Writes)
	if c.Writes != 0 || c.Reads != 0 || c.Conditional == 0 {
		t.Errorf("no-change reconcile: %d writes, %d full reads, %d conditional; want only conditional reads:\n%s", c.Writes, c.Reads, c.Conditional, c)
	}
	w.golden("backfill")
}

func TestEditReachesTheMirrorWithOnePatch(t *testing.T) {
	w := backfilled(t)
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) {
		is.Title = "Checkout flow, v2"
		is.Body = "## Client summary\nThe new checkout is live.\n\n## Internal\nStill late."
	})
	w.fc.Advance(time.Minute)
	w.resetLog()
	w.reconcile()
	w.golden("edit")
	ws := w.writes(dstToken)
	if len(ws) != 1 || ws[0].Method != "PATCH" {
		t.Errorf("writes %v, want one PATCH", ws)
	}
}

// retractCauses are the ways an item stops being published; each ends with
// its mirror neutralised, its comments gone, and the rest untouched.
var retractCauses = []struct {
	name  string
	cause func(w *world)
}{
	{"unlabel", func(w *world) {
		w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = nil })
	}},
	{"delete", func(w *world) { w.gh.DeleteIssue(srcRepo, 1) }},
	{"hide-label", func(w *world) {
		w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = append(is.Labels, "client-hidden") })
	}},
	{"not-planned", func(w *world) {
		w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.State, is.StateReason = "closed", "not_planned" })
	}},
	{"transfer", func(w *world) {
		w.gh.AddRepo("agency/archive")
		w.gh.SetAccess(srcToken, "agency/archive", fake.AccessRead)
		w.gh.TransferIssue(srcRepo, 1, "agency/archive")
	}},
	{"rule-change", func(w *world) {
		w.rules = strings.Replace(w.rules, "inherit: false", "inherit: false\n      when: 'item.Title != \"Checkout flow for @dev-ben see #12\"'", 1)
		w.start()
	}},
}

func TestRetractByEachCause(t *testing.T) {
	for _, tc := range retractCauses {
		t.Run(tc.name, func(t *testing.T) {
			w := backfilled(t)
			n := w.mirrorNumber("Checkout flow")
			tc.cause(w)
			w.fc.Advance(time.Minute)
			w.resetLog()
			w.reconcile()
			w.golden("retract-" + tc.name)
			m, ok := w.gh.Issue(dstRepo, n)
			if !ok || m.State != "closed" || m.StateReason != "not_planned" || len(m.Comments) != 0 || len(m.Labels) != 0 || m.Milestone != 0 {
				t.Errorf("mirror #%d not neutralised: %+v", n, m)
			}
			if strings.Contains(m.Title+m.Body, "Checkout") {
				t.Errorf("neutralised mirror still shows its content: %q %q", m.Title, m.Body)
			}
			if _, bad := w.sourceError(); bad {
				t.Error("a source error was recorded")
			}
		})
	}
}

func TestRetractDeletesWhereConfigured(t *testing.T) {
	w := newWorld(t)
	w.rules = strings.Replace(w.rules, "retract: neutralize", "retract: delete", 1)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessAdmin)
	w.board()
	w.start()
	w.reconcile()
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = nil })
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.golden("retract-mode-delete")
	if _, ok := w.gh.Issue(dstRepo, n); ok {
		t.Errorf("mirror #%d still exists", n)
	}
	if n := w.gh.Calls().Count(dstToken, "MUTATION", "/graphql", 200); n != 1 {
		t.Errorf("%d deleteIssue mutations, want 1", n)
	}
}

func TestCommentEditAndDeleteAreMirrored(t *testing.T) {
	w := backfilled(t)
	n := w.mirrorNumber("Checkout flow")
	src, _ := w.gh.Issue(srcRepo, 1)
	public := src.Comments[0].ID
	w.gh.EditComment(public, "[client] Design approved, with one change to the footer.")
	w.fc.Advance(time.Second)
	added := w.gh.AddComment(srcRepo, 1, "pm-anna", "[client] Footer done.")
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.golden("comment-edit")
	m, _ := w.gh.Issue(dstRepo, n)
	if len(m.Comments) != 2 || !strings.Contains(m.Comments[0].Body, "footer") || !strings.Contains(m.Comments[1].Body, "Footer done") {
		t.Fatalf("mirror comments after the edit: %+v", m.Comments)
	}
	w.gh.DeleteComment(public)
	w.gh.DeleteComment(added.ID)
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.golden("comment-delete")
	if m, _ := w.gh.Issue(dstRepo, n); len(m.Comments) != 0 {
		t.Errorf("mirror comments after the deletes: %+v", m.Comments)
	}
}

func TestMilestoneChangeReachesMilestoneAndItems(t *testing.T) {
	w := backfilled(t)
	w.gh.EditMilestone(srcRepo, 1, func(m *fake.Milestone) {
		m.DueOn = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		m.Title = "Website build and launch"
	})
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.golden("milestone-change")
	// Moving an item to another milestone mirrors that one too.
	w.gh.CreateMilestone(srcRepo, fake.NewMilestone{Title: "Launch", DueOn: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
	w.gh.EditIssue(srcRepo, 5, func(is *fake.Issue) { is.Milestone = 2 })
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.golden("milestone-move")
}

func TestLostStoreRebuildsEveryLinkWithoutCreating(t *testing.T) {
	w := backfilled(t)
	before := len(w.links(""))
	w.loseStore()
	w.resetLog()
	w.reconcile()
	if ws := w.writes(dstToken); len(ws) != 0 {
		t.Errorf("a rebuild from an empty store wrote %d times: %v", len(ws), ws)
	}
	if after := len(w.links("")); after != before {
		t.Errorf("%d links after the rebuild, %d before", after, before)
	}
	for _, l := range w.links("") {
		if l.State != "live" || l.Ref == "" {
			t.Errorf("link %s: %s %q", l.Object, l.State, l.Ref)
		}
	}
	w.golden("backfill")
}

func TestDriftIsRepairedWithExactlyOneWrite(t *testing.T) {
	w := backfilled(t)
	w.reconcile() // validators in place
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(dstRepo, n, func(is *fake.Issue) {
		is.Body = "Edited by the customer."
		is.Labels = append(is.Labels, "customer-label")
	})
	w.fc.Advance(time.Minute)
	w.resetLog()
	w.reconcile()
	ws := w.writes(dstToken)
	if len(ws) != 1 || ws[0].Method != "PATCH" || !strings.Contains(ws[0].Body, "checkout") {
		t.Errorf("drift repair wrote %v, want one PATCH of the body", ws)
	}
	m, _ := w.gh.Issue(dstRepo, n)
	if !strings.Contains(strings.Join(m.Labels, ","), "customer-label") {
		t.Errorf("the customer's label was removed: %v", m.Labels)
	}
	w.resetLog()
	w.reconcile()
	if ws := w.writes(dstToken); len(ws) != 0 {
		t.Errorf("a second reconcile wrote again: %v", ws)
	}
}

func TestLostAccessIsASourceErrorNotADeletion(t *testing.T) {
	w := backfilled(t)
	w.gh.LoseAccess(srcToken, srcRepo)
	w.fc.Advance(time.Minute)
	w.resetLog()
	w.reconcile()
	if ws := w.writes(dstToken); len(ws) != 0 {
		t.Errorf("lost access wrote %d times to the target: %v", len(ws), ws)
	}
	msg, ok := w.sourceError()
	if !ok || !strings.Contains(msg, "404") {
		t.Errorf("source error %q (recorded %v), want a 404 access error", msg, ok)
	}
	w.golden("backfill")
}

// killOnce stops the pass once at point, as a crash would.
type killOnce struct {
	point string
	fired int
}

type killed string

func (k killed) Error() string      { return "killed at " + string(k) }
func (k killed) FaultPoint() string { return string(k) }

func (k *killOnce) At(p string) error {
	if p == k.point && k.fired == 0 {
		k.fired++
		return killed(p)
	}
	return nil
}

func TestKillAfterCreateLeavesNoDuplicate(t *testing.T) {
	for _, point := range []string{"after-target-create", "after-comment-create"} {
		t.Run(point, func(t *testing.T) {
			w := newWorld(t)
			k := &killOnce{point: point}
			w.faults = k
			w.board()
			w.start()
			if err := w.eng.Enqueue(bg, workerReconcile()); err != nil {
				t.Fatal(err)
			}
			err := w.eng.RunUntilIdle(bg, "test")
			if k.fired != 1 || err == nil {
				t.Fatalf("the fault did not stop the pass: fired %d, err %v", k.fired, err)
			}
			w.restart()
			w.reconcile()
			w.golden("backfill")
		})
	}
}

func workerReconcile() store.Task { return worker.ReconcileTask() }

// mirrorNumber finds a mirror issue by the start of its title.
func (w *world) mirrorNumber(prefix string) int {
	w.t.Helper()
	for _, is := range w.gh.Issues(dstRepo) {
		if strings.HasPrefix(is.Title, prefix) {
			return is.Number
		}
	}
	w.t.Fatalf("no mirror titled %q...", prefix)
	return 0
}
