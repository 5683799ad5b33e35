package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"vitrine/connectors"
	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/pace"
	"vitrine/scrub"
)

func mirrorIssue(key, title, body, status string) mirror.Issue {
	return mirror.Issue{Key: key, Item: mapping.Item{
		Key: "jira:agency/AGY/1", Title: scrub.Title(title), Body: scrub.Body(body, scrub.Options{}), Status: status,
	}}
}

func prop(t *testing.T, st fakejira.IssueState) map[string]string {
	t.Helper()
	var p map[string]string
	if err := json.Unmarshal(st.Properties[jira.DefaultProperty], &p); err != nil {
		t.Fatalf("property %s of %s: %v (%s)", jira.DefaultProperty, st.Key, err, st.Properties[jira.DefaultProperty])
	}
	return p
}

func TestCreateReachesDoneInTwoHopsSettingTheResolution(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	tg := r.target()
	ctx := context.Background()
	w := mirrorIssue("v1key", "Launch *the* site @anna ACME-12", "We launch on **Monday**.\n\n<b>x</b>", "Done")
	w.Item.Due = "2026-12-24"
	rem, err := tg.CreateItem(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := r.f.Issue(rem.Ref)
	if !ok {
		t.Fatalf("no issue %s", rem.Ref)
	}
	if st.Status != "Done" || st.Resolution != "Done" || st.DueDate != "2026-12-24" {
		t.Errorf("status %q resolution %q due %q", st.Status, st.Resolution, st.DueDate)
	}
	if strings.Contains(st.Summary, "@anna") || !strings.Contains(st.Summary, "ACME") || strings.Contains(st.Summary, "ACME-12") {
		t.Errorf("summary %q: mention and key must be broken", st.Summary)
	}
	if !strings.Contains(st.Description, `*Monday*`) {
		t.Errorf("description %q", st.Description)
	}
	if p := prop(t, st); p["key"] != "v1key" || p["state"] != "live" {
		t.Errorf("property %v", p)
	}
	if n := r.f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue/{issueIdOrKey}/transitions", 204); n != 2 {
		t.Errorf("%d transitions, want 2 (Start, Resolve)", n)
	}
	if n := r.writesBy(fakejira.WriterCred); n != 3 {
		t.Errorf("%d writes, want 3: create and two transitions\n%s", n, strings.Join(r.f.CallSummary(), "\n"))
	}
	// Nothing changed: no write.
	r.f.ResetCalls()
	if _, err := tg.UpdateItem(ctx, rem.Ref, w); err != nil {
		t.Fatal(err)
	}
	if n := r.writesBy(fakejira.WriterCred); n != 0 {
		t.Errorf("an update without change wrote %d times", n)
	}
	// Back to work: Done -> To Do -> In Progress along the workflow.
	w.Item.Status = "In Progress"
	if _, err := tg.UpdateItem(ctx, rem.Ref, w); err != nil {
		t.Fatal(err)
	}
	st, _ = r.f.Issue(rem.Ref)
	if st.Status != "In Progress" || st.Resolution != "" {
		t.Errorf("reopened: %q %q", st.Status, st.Resolution)
	}
	if n := r.writesBy(fakejira.WriterCred); n != 2 {
		t.Errorf("reopening wrote %d times, want 2 transitions", n)
	}
	// A title edit is one PUT.
	r.f.ResetCalls()
	w.Item.Title = scrub.Title("Launch the new site")
	if _, err := tg.UpdateItem(ctx, rem.Ref, w); err != nil {
		t.Fatal(err)
	}
	if n := r.f.Count(fakejira.WriterCred, "PUT", "/rest/api/2/issue/{issueIdOrKey}", 204); n != 1 || r.writesBy(fakejira.WriterCred) != 1 {
		t.Errorf("title edit: %v", r.f.CallSummary())
	}
}

func TestCheckTargetNamesWorkflowStatusAndIssueType(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	ctx := context.Background()
	o := r.targetOptions(nil)
	if err := jira.CheckTarget(ctx, o, []string{"In Progress", "Done", "In Review", "to do"}); err != nil {
		t.Fatalf("reachable statuses: %v", err)
	}
	err := jira.CheckTarget(ctx, o, []string{"Done", "Archived"})
	if err == nil {
		t.Fatal("Archived is unreachable, yet the check passed")
	}
	for _, want := range []string{`"ACMEP: Software Simplified Workflow"`, `"Archived"`, "issue type Task"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	o.Transitions = map[string][]string{"Shipped": {"Start", "Ship"}}
	if err := jira.CheckTarget(ctx, o, []string{"Shipped"}); err == nil || !strings.Contains(err.Error(), `transition "Ship"`) {
		t.Errorf("a configured transition that does not exist: %v", err)
	}
	if err := jira.CheckTarget(ctx, o, []string{"On hold"}); err == nil || !strings.Contains(err.Error(), `no status "On hold"`) {
		t.Errorf("a customer word without a status: %v", err)
	}
	o.Transitions = nil
	o.IssueType = "Incident"
	if err := jira.CheckTarget(ctx, o, []string{"Done"}); err == nil || !strings.Contains(err.Error(), `"Incident"`) {
		t.Errorf("a missing issue type: %v", err)
	}
	if r.writesBy(fakejira.WriterCred) != 0 {
		t.Errorf("the check wrote")
	}
}

func TestDataCenterFollowsTheConfiguredTransitions(t *testing.T) {
	r := newRig(t, fakejira.DataCenter)
	ctx := context.Background()
	cfg := func(o *jira.TargetOptions) {
		o.Transitions = map[string][]string{"Done": {"Start", "Resolve"}, "In progress": {"Start"}}
		o.Done = "Done"
	}
	if err := jira.CheckTarget(ctx, func() jira.TargetOptions { o := r.targetOptions(nil); cfg(&o); return o }(), []string{"Done", "In progress", "To Do"}); err == nil ||
		!strings.Contains(err.Error(), `status "To Do"`) || strings.Contains(err.Error(), `status "Done"`) {
		t.Errorf("DC check: %v; want only the unconfigured status named", err)
	}
	tg := r.target(cfg)
	w := mirrorIssue("v1dc", "Launch", "Soon.", "Done")
	rem, err := tg.CreateItem(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := r.f.Issue(rem.Ref)
	if st.Status != "Done" || st.Resolution != "Done" {
		t.Fatalf("status %q resolution %q", st.Status, st.Resolution)
	}
	if p := prop(t, st); p["status"] != "Done" || p["at"] != "Done" {
		t.Errorf("property %v: where the word led is kept", p)
	}
	// A restarted target (nothing learned in memory) does not walk again.
	r.f.ResetCalls()
	if _, err := r.target(cfg).UpdateItem(ctx, rem.Ref, w); err != nil {
		t.Fatal(err)
	}
	if n := r.writesBy(fakejira.WriterCred); n != 0 {
		t.Errorf("restarted target wrote %d times for an unchanged mirror: %v", n, r.f.CallSummary())
	}
	// Reopened by the customer word: back to To Do, then Start.
	w.Item.Status = "In progress"
	if _, err := tg.UpdateItem(ctx, rem.Ref, w); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.f.Issue(rem.Ref); st.Status != "In Progress" {
		t.Errorf("after reopening: %q", st.Status)
	}
}

func TestRetractNeutralisesOrDeletes(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	ctx := context.Background()
	tg := r.target()
	rem, err := tg.CreateItem(ctx, mirrorIssue("v1a", "Secret plan", "Details.", "In Progress"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.RetractItem(ctx, rem.Ref); err != nil {
		t.Fatal(err)
	}
	st, _ := r.f.Issue(rem.Ref)
	if st.Summary != "Retracted" || st.Description != "" || st.StatusCategory != "Done" || st.Resolution != "Won't Do" {
		t.Errorf("neutralised: %+v", st)
	}
	if p := prop(t, st); p["key"] != "v1a" || p["state"] != "retracted" {
		t.Errorf("property %v", p)
	}
	found, err := tg.Index(ctx)
	if err != nil || len(found) != 1 || !found[0].Retracted || found[0].Ref != rem.Ref {
		t.Errorf("index %+v %v", found, err)
	}
	r.f.ResetCalls()
	if err := tg.RetractItem(ctx, rem.Ref); err != nil || r.writesBy(fakejira.WriterCred) != 0 {
		t.Errorf("retracting twice: %v, %d writes", err, r.writesBy(fakejira.WriterCred))
	}

	del := r.target(func(o *jira.TargetOptions) { o.Retract = "delete" })
	rem2, err := del.CreateItem(ctx, mirrorIssue("v1b", "Other", "", "To Do"))
	if err != nil {
		t.Fatal(err)
	}
	if err := del.RetractItem(ctx, rem2.Ref); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.f.Issue(rem2.Ref); ok {
		t.Error("delete left the issue")
	}
	// Without the delete permission: neutralised instead.
	r.f.Grant(fakejira.WriterCred, fakejira.TargetProject, fakejira.PermWrite|fakejira.PermViewWorkflow)
	rem3, err := del.CreateItem(ctx, mirrorIssue("v1c", "Third", "", "To Do"))
	if err != nil {
		t.Fatal(err)
	}
	if err := del.RetractItem(ctx, rem3.Ref); err != nil {
		t.Fatal(err)
	}
	if st, ok := r.f.Issue(rem3.Ref); !ok || st.Summary != "Retracted" || st.StatusCategory != "Done" {
		t.Errorf("delete not permitted: %+v", st)
	}
}

func TestFindItemAfterALostAnswer(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	ctx := context.Background()
	tg := r.target()
	rem, err := tg.CreateItem(ctx, mirrorIssue("v1lost", "Launch", "", "To Do"))
	if err != nil {
		t.Fatal(err)
	}
	r.f.CreateIssue(fakejira.TargetProject, fakejira.Fields{Summary: "the customer's own issue"})
	// A fresh target (the process that created it died) finds it by scanning.
	fresh := r.target()
	ref, ok, err := fresh.FindItem(ctx, "v1lost")
	if err != nil || !ok || ref != rem.Ref {
		t.Errorf("FindItem: %q %v %v, want %s", ref, ok, err, rem.Ref)
	}
	if _, ok, _ := fresh.FindItem(ctx, "v1other"); ok {
		t.Error("found a key nobody wrote")
	}

	// Jira applies a create and the connection drops before the answer:
	// the create is not sent again, and the key finds it.
	dropped := false
	r.f.SetFault(func(q *fakejira.Request) fakejira.Fault {
		if q.Method == "POST" && q.Route == "/rest/api/2/issue" && !dropped {
			dropped = true
			return fakejira.Fault{Kind: fakejira.ApplyThenDrop}
		}
		return fakejira.Fault{}
	})
	if _, err := fresh.CreateItem(ctx, mirrorIssue("v1drop", "Dropped", "", "To Do")); err == nil {
		t.Fatal("a dropped answer read as a success")
	}
	if n := r.f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue", 0); n != 2 {
		t.Errorf("%d creates sent, want 2 (the first mirror, and the dropped one once)", n)
	}
	ref, ok, err = fresh.FindItem(ctx, "v1drop")
	if st, _ := r.f.Issue(ref); err != nil || !ok || st.Summary != "Dropped" {
		t.Errorf("FindItem after a dropped answer: %q %v %v", ref, ok, err)
	}
}

func TestCheckItemSeesDriftButNotComments(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	ctx := context.Background()
	tg := r.target()
	w := mirrorIssue("v1d", "Launch", "Soon.", "In Progress")
	rem, err := tg.CreateItem(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tg.CheckItem(ctx, rem.Ref, rem.ETag, w)
	if err != nil || !c.Exists || c.Drifted || c.ETag != rem.ETag {
		t.Fatalf("untouched: %+v %v", c, err)
	}
	r.clk.Advance(time.Minute)
	r.f.AddComment(rem.Ref, fakejira.PublicComment("customer-carl", "thanks!"))
	c, err = tg.CheckItem(ctx, rem.Ref, rem.ETag, w)
	if err != nil || c.Drifted || c.ETag == rem.ETag {
		t.Errorf("a customer comment: %+v %v; not drift, new validator", c, err)
	}
	r.clk.Advance(time.Minute)
	r.f.UpdateIssueAs(rem.Ref, "customer-carl", func(f *fakejira.Fields) { f.Summary = "Launch (edited by the customer)" })
	if c, _ := tg.CheckItem(ctx, rem.Ref, c.ETag, w); !c.Drifted {
		t.Error("an edited summary is drift")
	}
	r.f.UpdateIssueAs(rem.Ref, "customer-carl", func(f *fakejira.Fields) { f.Summary = "Launch"; f.Status = "In Review" })
	if c, _ := tg.CheckItem(ctx, rem.Ref, c.ETag, w); !c.Drifted {
		t.Error("a moved status is drift")
	}
	r.f.DeleteIssue(rem.Ref)
	if c, err := tg.CheckItem(ctx, rem.Ref, c.ETag, w); err != nil || c.Exists {
		t.Errorf("deleted: %+v %v", c, err)
	}
}

func TestCommentsCarryTheirKeyAndLeaveTheCustomersAlone(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	ctx := context.Background()
	tg := r.target()
	rem, err := tg.CreateItem(ctx, mirrorIssue("v1e", "Launch", "", "To Do"))
	if err != nil {
		t.Fatal(err)
	}
	wc := mirror.Comment{Key: "v1ckey", Comment: mapping.Comment{Author: "ACME team", Time: t0, Body: scrub.Body("Deployed *today*. {color:red}", scrub.Options{})}}
	cr, err := tg.CreateComment(ctx, rem.Ref, wc)
	if err != nil {
		t.Fatal(err)
	}
	r.f.AddComment(rem.Ref, fakejira.PublicComment("customer-carl", "great"))
	list, err := tg.ListComments(ctx, rem.Ref)
	if err != nil || len(list) != 1 || list[0].Ref != cr.Ref || list[0].Key != "v1ckey" || list[0].Body != tg.CommentBody(wc) {
		t.Fatalf("list: %+v %v", list, err)
	}
	if !strings.Contains(list[0].Body, `\{color`) || !strings.HasPrefix(list[0].Body, "*ACME team* · 2026") {
		t.Errorf("comment body %q: author line, escaped macro", list[0].Body)
	}
	wc.Comment.Body = scrub.Body("Deployed yesterday.", scrub.Options{})
	if _, err := tg.UpdateComment(ctx, rem.Ref, cr.Ref, wc); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteComment(ctx, rem.Ref, cr.Ref); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteComment(ctx, rem.Ref, cr.Ref); err != nil {
		t.Errorf("deleting a deleted comment: %v", err)
	}
	st, _ := r.f.Issue(rem.Ref)
	if len(st.Comments) != 1 || st.Comments[0].Author != "customer-carl" {
		t.Errorf("comments left: %+v", st.Comments)
	}
}

func TestRateLimitsComeBackTyped(t *testing.T) {
	r := newRig(t, fakejira.Cloud, func(o *fakejira.Options) {
		o.WriteLimits = []fakejira.WriteWindow{{Limit: 2, Per: 10 * time.Second}}
	})
	ctx := context.Background()
	tg := r.target()
	// Create (1) and two transitions (2, 3): the third write to the issue
	// is over Jira's per-issue limit.
	_, err := tg.CreateItem(ctx, mirrorIssue("v1f", "Launch", "", "Done"))
	var rl *connectors.RateLimited
	if !errors.As(err, &rl) || rl.Until.Before(t0.Add(time.Second)) || errors.Is(err, pace.ErrPaced) {
		t.Fatalf("per-issue limit: %v, want a vendor RateLimited with Retry-After", err)
	}
	// The pacer holds the same write back itself, per issue, before Jira has to.
	p, err := pace.New(pace.Options{Clock: r.clk, Default: pace.Limits{PerMinute: 100, PerHour: 1000, PerSubject: 1, SubjectWindow: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r.f.SetWriteLimits(nil)
	paced := r.target(func(o *jira.TargetOptions) { *o = r.targetOptions(p) })
	pctx := ctx // outside a worker pass: paced in the update lane under its method and path
	_, err = paced.CreateItem(pctx, mirrorIssue("v1g", "Launch", "", "Done"))
	if !errors.As(err, &rl) || !errors.Is(err, pace.ErrPaced) {
		t.Fatalf("paced: %v, want pace.ErrPaced inside a RateLimited", err)
	}
	// The pass comes back later and finds its mirror without a new create.
	r.clk.Advance(11 * time.Second)
	ref, ok, err := paced.FindItem(pctx, "v1g")
	if err != nil || !ok {
		t.Fatalf("FindItem after a paced pass: %v %v", ok, err)
	}
	if _, err := paced.UpdateItem(pctx, ref, mirrorIssue("v1g", "Launch", "", "Done")); err != nil {
		r.clk.Advance(11 * time.Second)
		if _, err := paced.UpdateItem(pctx, ref, mirrorIssue("v1g", "Launch", "", "Done")); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := r.f.Issue(ref); st.Status != "Done" {
		t.Errorf("status %q", st.Status)
	}
	if n := r.f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue", 201); n != 2 {
		t.Errorf("%d creates, want 2 (one per mirror)", n)
	}
}
