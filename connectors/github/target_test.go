package github_test

import (
	"bytes"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/connectors/github"
	fake "vitrine/fake/github"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/scrub"
)

func (w *world) target(retract string) *github.Target {
	w.t.Helper()
	if w.st == nil {
		w.start()
	}
	tg, err := github.NewTarget(github.TargetOptions{Repo: dstRepo, Retract: retract, Bot: bot,
		HTTP: w.httpClient("github:"+bot, dstName, nil), APIURL: w.gh.URL(), Token: dstToken, Clock: w.fc})
	if err != nil {
		w.t.Fatal(err)
	}
	return tg
}

func mirrorIssue(title string) mirror.Issue {
	return mirror.Issue{Key: "v1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Item: mapping.Item{
		Key: "github:agency/acme-internal/1", Title: scrub.Title(title), Status: "In progress",
		Body: scrub.Body("Some *text* @someone", scrub.Options{}),
	}}
}

func TestReadOnlyTokenIsAnErrorNamingTheRepository(t *testing.T) {
	w := newWorld(t)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessRead)
	w.gh.CreateLabel(dstRepo, "status: In progress", "ededed", "")
	_, err := w.target("").CreateItem(bg, mirrorIssue("t"))
	if err == nil || !strings.Contains(err.Error(), dstRepo) || !strings.Contains(err.Error(), "push access") {
		t.Fatalf("create with a read-only token: %v, want an error naming %s and push access", err, dstRepo)
	}
	// GitHub created the issue without its label: the key is in it, so the
	// retry finds it instead of creating another.
	ref, found, err := w.target("").FindItem(bg, mirrorIssue("t").Key)
	if err != nil || !found || ref != "1" {
		t.Errorf("find after the dropped label: %q %v %v", ref, found, err)
	}
}

func TestDeleteWithoutAdminIsAnError(t *testing.T) {
	w := newWorld(t)
	tg := w.target(github.RetractDelete)
	rem, err := tg.CreateItem(bg, mirrorIssue("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.RetractItem(bg, rem.Ref); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("delete with push access: %v, want an error about admin", err)
	}
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessAdmin)
	if err := tg.RetractItem(bg, rem.Ref); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.gh.Issue(dstRepo, 1); ok {
		t.Error("the mirror was not deleted")
	}
	if err := tg.RetractItem(bg, rem.Ref); err != nil {
		t.Errorf("retracting a deleted mirror again: %v", err)
	}
}

func TestLostCreateAnswerIsFoundNotRepeated(t *testing.T) {
	w := newWorld(t)
	w.board()
	w.start()
	dropped := 0
	w.setFault(func(r *fake.Request) fake.Fault {
		if r.Token == dstToken && r.Method == http.MethodPost && (r.Route == "/repos/{owner}/{repo}/issues" || strings.HasSuffix(r.Route, "/comments")) && dropped < 2 {
			dropped++
			return fake.Fault{Kind: fake.ApplyThenDrop}
		}
		return fake.Fault{}
	})
	w.reconcile()
	if dropped != 2 {
		t.Fatalf("%d answers dropped, want 2", dropped)
	}
	// The backfill's state, but the lost create's retry timing orders the
	// mirrors' numbers its own way: a golden of its own (same issues).
	w.golden("lost-create")
}

func TestStatusChangeSwapsOnlyTheManagedLabel(t *testing.T) {
	w := backfilled(t)
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(dstRepo, n, func(is *fake.Issue) { is.Labels = append(is.Labels, "customer-label") })
	w.reconcile() // the customer's label is not drift
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.State, is.StateReason = "closed", "completed" })
	w.fc.Advance(time.Minute)
	w.resetLog()
	w.reconcile()
	m := w.mustIssue(dstRepo, n)
	if m.State != "closed" || strings.Join(m.Labels, ",") != "customer-label,status: Done" {
		t.Errorf("mirror: %s labels %v", m.State, m.Labels)
	}
	var methods []string
	for _, r := range w.writes(dstToken) {
		if strings.HasPrefix(r.Path, "/repos/acme/acme-status/issues/") {
			methods = append(methods, r.Method+" "+r.Route)
		}
	}
	want := "PATCH /repos/{owner}/{repo}/issues/{issue_number}," +
		"DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}," +
		"POST /repos/{owner}/{repo}/issues/{issue_number}/labels"
	if got := strings.Join(methods, ","); !strings.Contains(got, want) {
		t.Errorf("writes on the mirror:\n%s\nwant one PATCH, one label removal, one label add", got)
	}
	for _, r := range w.requests() {
		if r.Route == "/repos/{owner}/{repo}/issues/{issue_number}/labels" && r.Method == http.MethodPut {
			t.Errorf("the label set was replaced: %s", r.Body)
		}
	}
}

func TestMilestoneTitleTakenByTheCustomerGetsANumber(t *testing.T) {
	w := newWorld(t)
	w.gh.CreateMilestone(dstRepo, fake.NewMilestone{Title: "Website build", Creator: "acme-admin"})
	w.board()
	w.start()
	w.reconcile()
	w.golden("milestone-title-taken")
	w.resetLog()
	w.reconcile()
	if ws := w.writes(dstToken); len(ws) != 0 {
		t.Errorf("the renamed milestone is rewritten on every pass: %v", ws)
	}
}

func TestTargetDelayHoldsFirstWritesBack(t *testing.T) {
	w := newWorld(t)
	w.rules = strings.Replace(w.rules, "retract: neutralize,", "retract: neutralize, target_delay: 1h,", 1)
	w.board()
	w.start()
	if err := w.eng.Enqueue(bg, workerReconcile()); err != nil {
		t.Fatal(err)
	}
	start := w.fc.Now()
	creates := func() []sent {
		var out []sent
		for _, r := range w.writes(dstToken) {
			if r.Route == "/repos/{owner}/{repo}/issues" {
				out = append(out, r)
			}
		}
		return out
	}
	w.stepUntil(func() bool { return len(creates()) > 0 })
	if len(creates()) == 0 {
		t.Fatal("nothing was created")
	}
	if first := creates()[0].At; first.Sub(start) < time.Hour {
		t.Errorf("first issue written %s after publishing, want at least 1h", first.Sub(start))
	}
	w.run()
	// Which mirror gets which number depends on the order the held keys
	// come back in: compare the mirrors, not their numbers.
	var got []string
	for _, is := range w.gh.Issues(dstRepo) {
		got = append(got, is.Title+" | "+is.State+" | "+strings.Join(is.Labels, ","))
	}
	sort.Strings(got)
	want := []string{
		"Checkout copy | open | status: In progress",
		"Checkout flow for @\u2060dev-ben see #\u206012 | open | status: In progress",
		"Search page | closed | status: Done",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mirrors after the delay:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSubIssueWebhookReachesParentAndChild(t *testing.T) {
	w := backfilled(t)
	w.reconcile()
	// A new, done sub-issue under the published "Checkout flow": the
	// parent's progress moves to 50%, the child is mirrored; neither was
	// ever listed (no poll runs).
	child := w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "Checkout tests", Body: "## Client summary\nTested.",
		Labels: []string{"client-visible"}, State: "closed", StateReason: "completed"})
	w.gh.SetParent(srcRepo, child.Number, 1)
	w.resetLog()
	if code := w.deliver(fake.Event{Name: "sub_issues", Action: "sub_issue_added", Repo: srcRepo, Issue: 1, SubIssue: child.Number}); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	w.run()
	w.golden("sub-issue-added")
	n := w.mirrorNumber("Checkout flow")
	if m := w.mustIssue(dstRepo, n); !strings.Contains(m.Body, "Progress: 50%") {
		t.Errorf("parent mirror: %q", m.Body)
	}
}

func TestCustomerEditOnTheMirrorIsRepairedFromItsWebhook(t *testing.T) {
	w := backfilled(t)
	w.reconcile()
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(dstRepo, n, func(is *fake.Issue) { is.Title = "Hacked" })
	w.fc.Advance(time.Minute)
	w.resetLog()
	if code := w.deliver(fake.Event{Name: "issues", Action: "edited", Repo: dstRepo, Issue: n, Sender: "acme-admin"}); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	// The bot's own edit comes back as an event too: an echo, ignored.
	if code := w.deliver(fake.Event{Name: "issues", Action: "edited", Repo: dstRepo, Issue: n, Sender: bot}); code != http.StatusAccepted {
		t.Fatalf("echo answered %d", code)
	}
	w.run()
	if ws := w.writes(dstToken); len(ws) != 1 {
		t.Errorf("repair wrote %d times, want 1: %v", len(ws), ws)
	}
	w.golden("backfill")
}

// Tokens and the webhook secret never show in logs or errors, even at
// debug level and when requests fail.
func TestSecretsNeverReachLogsOrErrors(t *testing.T) {
	var buf bytes.Buffer
	w := newWorld(t)
	w.logTo = zerolog.New(&buf).Level(zerolog.DebugLevel)
	w.board()
	w.start()
	w.reconcile()
	w.gh.LoseAccess(srcToken, srcRepo)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessRead)
	w.gh.EditIssue(dstRepo, 1, func(is *fake.Issue) { is.Title = "x" })
	w.fc.Advance(time.Minute)
	if err := w.eng.Enqueue(bg, workerReconcile()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := w.eng.Step(bg, "test"); err != nil {
			t.Fatal(err)
		}
	}
	msg, _ := w.sourceError()
	out := buf.String() + msg
	if !strings.Contains(out, "http attempt") || !strings.Contains(msg, "404") {
		t.Fatalf("nothing was logged or recorded: %.300s", out)
	}
	for _, secret := range []string{srcToken, dstToken, hookSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("%q appears in the logs or errors", secret)
		}
	}
}

// A corrective write that is paced (or rate limited, or fails) must still
// happen on the op's next pass.
func TestDriftRepairSurvivesAPacedWrite(t *testing.T) {
	w := backfilled(t)
	w.reconcile()
	n := w.mirrorNumber("Checkout flow")
	w.gh.EditIssue(dstRepo, n, func(is *fake.Issue) { is.Title = "Hacked" })
	// No time passes: the repair's PATCH comes within a second of the
	// last write and is paced.
	w.deliver(fake.Event{Name: "issues", Action: "edited", Repo: dstRepo, Issue: n, Sender: "acme-admin"})
	w.run()
	w.golden("backfill")
}

// Republishing an item whose mirror was deleted must create a new one.
func TestRepublishAfterADeleteRetractionCreatesAgain(t *testing.T) {
	w := newWorld(t)
	w.rules = strings.Replace(w.rules, "retract: neutralize", "retract: delete", 1)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessAdmin)
	w.board()
	w.start()
	w.reconcile()
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = nil })
	w.fc.Advance(time.Minute)
	w.reconcile()
	w.gh.EditIssue(srcRepo, 1, func(is *fake.Issue) { is.Labels = []string{"client-visible"} })
	w.fc.Advance(time.Minute)
	w.reconcile()
	if len(w.gh.Issues(dstRepo)) != 3 {
		t.Errorf("%d mirrors after the republish, want 3", len(w.gh.Issues(dstRepo)))
	}
}

// GitHub Enterprise Server serves REST under /api/v3 and GraphQL at
// /api/graphql.
func TestEnterpriseServerLayout(t *testing.T) {
	w := newWorld(t)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessAdmin)
	w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: "x"})
	w.start()
	s, err := github.NewSource(github.SourceOptions{Key: srcKey, Repo: srcRepo, HTTP: w.httpClient("github:"+reader, srcKey, nil),
		APIURL: w.gh.URL() + "/api/v3", Token: srcToken, Meta: w.st, Clock: w.fc})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := pollAll(t, s, ""); len(got) != 1 {
		t.Errorf("poll through /api/v3: %d items", len(got))
	}
	tg, err := github.NewTarget(github.TargetOptions{Repo: dstRepo, Retract: github.RetractDelete, Bot: bot,
		HTTP: w.httpClient("github:"+bot, dstName, nil), APIURL: w.gh.URL() + "/api/v3/", Token: dstToken, Clock: w.fc})
	if err != nil {
		t.Fatal(err)
	}
	rem, err := tg.CreateItem(bg, mirrorIssue("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.RetractItem(bg, rem.Ref); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.requests() {
		if r.Method == http.MethodPost && r.Route == "/graphql" && r.Path != "/api/graphql" {
			t.Errorf("GraphQL sent to %s", r.Path)
		}
		if r.Route != "/graphql" && !strings.HasPrefix(r.Path, "/api/v3/") {
			t.Errorf("REST sent to %s", r.Path)
		}
	}
	if _, ok := w.gh.Issue(dstRepo, 1); ok {
		t.Error("not deleted")
	}
}
