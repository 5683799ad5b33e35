package jira_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/config"
	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/webhooks"
	"vitrine/worker"
)

const hookSecret = "hook-secret"

// world is the whole engine as the app builds it, over a fake Jira.
type world struct {
	*rig
	dir    string
	rules  *config.Rules
	set    *mapping.Set
	db     string
	st     *sqlite.Store
	e      *worker.Engine
	pacer  *pace.Pacer
	hook   http.Handler
	faults mirror.Faults

	mu   sync.Mutex
	sent []string // every request body the target credential sent
}

const e2eRules = `reconcile: {interval: 10m}
customers:
  - id: acme
    name: ACME Corp
    sources:
      - jira: {project: AGY, url: "%[1]s", jql: 'component = Website'}
    publish: {label: client-visible, hide_label: client-hidden}
    show: {body: section, body_section: Client summary, comments: marked, dates: true}
    statuses: {map: {"In Review": In Progress}, default: In Progress, done: Done}
    targets:
      - page: {}
      - jira: {project: ACMEP, url: "%[1]s"%[2]s}
  - id: globex
    name: Globex
    sources:
      - jira: {project: AGY, url: "%[1]s", jql: 'component = App OR project = OTHER'}
    publish: {label: globex-visible}
    targets:
      - page: {}
`

func newWorld(t *testing.T, flavor fakejira.Flavor) *world {
	t.Helper()
	w := &world{dir: t.TempDir()}
	r := newRig(t, flavor, func(o *fakejira.Options) {
		o.WebhookSecret = hookSecret
		o.Fault = func(q *fakejira.Request) fakejira.Fault {
			if q.Cred == fakejira.WriterCred && len(q.Body) > 0 {
				w.mu.Lock()
				w.sent = append(w.sent, string(q.Body))
				w.mu.Unlock()
			}
			return fakejira.Fault{}
		}
	})
	w.rig = r
	w.db = filepath.Join(w.dir, "vitrine.db")
	rp := filepath.Join(w.dir, "vitrine.yaml")
	extra := ""
	if flavor == fakejira.DataCenter {
		// No workflow read on Data Center: the ways are configured.
		extra = `, transitions: {"In Progress": [Start], Done: [Start, Resolve]}`
	}
	if err := os.WriteFile(rp, []byte(fmt.Sprintf(e2eRules, r.f.URL(), extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.rules, err = config.Load(rp); err != nil {
		t.Fatal(err)
	}
	if w.set, err = mapping.Compile(w.rules); err != nil {
		t.Fatal(err)
	}
	w.f.AddComponent(fakejira.SourceProject, "Website")
	w.f.AddComponent(fakejira.SourceProject, "App")
	w.f.AddProject("OTHER", "Another client")
	w.f.Grant(fakejira.ReaderCred, "OTHER", fakejira.PermRead)
	w.open(w.db)
	return w
}

// open builds a fresh engine (new connectors, new pacer) on the SQLite file
// at db, as a restarted process would.
func (w *world) open(db string) {
	t := w.t
	t.Helper()
	if w.st != nil {
		w.st.Close()
	}
	st, err := sqlite.Open(context.Background(), db, sqlite.WithClock(w.clk))
	if err != nil {
		t.Fatal(err)
	}
	w.st = st
	t.Cleanup(func() { st.Close() })
	// Jira Cloud's budget, without the gap between writes: on a virtual
	// clock a pass's writes all fall on one instant, and the gap would
	// split every create from its transitions (that path is pinned by
	// TestRateLimitsComeBackTyped).
	lim := pace.JiraCloud()
	lim.MinGap = 0
	if w.pacer, err = pace.New(pace.Options{Clock: w.clk, Default: lim}); err != nil {
		t.Fatal(err)
	}
	sources := map[string]worker.Source{}
	hookSources := map[string][]string{}
	targets := map[string][]worker.Binding{}
	hookTargets := map[string][]jira.TargetRef{}
	for _, c := range w.rules.Customers {
		for _, s := range c.Sources {
			key := mapping.SourceKey(s)
			if _, ok := sources[key]; ok {
				continue
			}
			o := w.sourceOptions(key, s.Jira.JQL)
			o.Site, o.Project, o.Milestones, o.Fields = s.Jira.URL, s.Jira.Project, s.Jira.Milestones, s.Jira.Fields
			src, err := jira.NewSource(o)
			if err != nil {
				t.Fatal(err)
			}
			sources[key] = src
			hookSources[s.Jira.Project] = append(hookSources[s.Jira.Project], key)
		}
		for _, tc := range c.Targets {
			if tc.Jira == nil {
				continue
			}
			u, _ := url.Parse(tc.Jira.URL)
			o := w.targetOptions(w.pacer)
			o.Name = "jira:" + u.Host + "/" + tc.Jira.Project
			o.Site, o.Project, o.IssueType, o.Transitions, o.Retract = tc.Jira.URL, tc.Jira.Project, tc.Jira.IssueType, tc.Jira.Transitions, tc.Jira.Retract
			o.Done = c.Statuses.Done
			tg, err := jira.NewTarget(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Check(context.Background(), w.words(c.ID)); err != nil {
				t.Fatalf("validate --online: %v", err)
			}
			targets[c.ID] = append(targets[c.ID], worker.Binding{Target: tg, Delay: tc.Jira.TargetDelay.Duration})
			hookTargets[tc.Jira.Project] = append(hookTargets[tc.Jira.Project], jira.TargetRef{Customer: c.ID, Target: o.Name})
		}
	}
	w.e, err = worker.New(worker.Config{
		Store: w.st, Rules: w.set, Sources: sources, Targets: targets, Pacer: w.pacer,
		Clock: w.clk, Log: zerolog.Nop(), KeySecret: []byte("key-secret"), Owner: "test",
		Interval: w.rules.Reconcile.Interval.Duration, Faults: w.faults,
	})
	if err != nil {
		t.Fatal(err)
	}
	parser, err := jira.NewWebhookParser(jira.WebhookOptions{
		Secret: hookSecret, Site: w.host(), Sources: hookSources, Targets: hookTargets, BotAccount: "writer@agency.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	w.hook = webhooks.New(map[string]webhooks.Parser{"jira": parser}, w.st, w.e.Wake, zerolog.Nop(), nil)
}

// words are the statuses a customer can be shown.
func (w *world) words(customer string) []string {
	for _, c := range w.rules.Customers {
		if c.ID == customer {
			set := map[string]bool{c.Statuses.Default: true, c.Statuses.Done: true}
			for _, v := range c.Statuses.Map.Values {
				set[v] = true
			}
			var out []string
			for k := range set {
				out = append(out, k)
			}
			slices.Sort(out)
			return out
		}
	}
	return nil
}

func (w *world) sync() {
	w.t.Helper()
	ctx := context.Background()
	if err := w.e.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		w.t.Fatal(err)
	}
	w.run()
}

func (w *world) run() {
	w.t.Helper()
	if err := w.e.RunUntilIdle(context.Background(), "test"); err != nil {
		w.t.Fatal(err)
	}
}

// deliver sends a delivery of the fake through the webhook handler.
func (w *world) deliver(d fakejira.Delivery) int {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/jira", bytes.NewReader(d.Body))
	req.Header = d.Header.Clone()
	rec := httptest.NewRecorder()
	w.hook.ServeHTTP(rec, req)
	return rec.Code
}

// mirrorOf is the mirror issue of a source issue in ACMEP.
func (w *world) mirrorOf(sourceKey string) (fakejira.IssueState, bool) {
	w.t.Helper()
	return w.mirrorOfID(w.id(sourceKey))
}

func (w *world) mirrorOfID(id string) (fakejira.IssueState, bool) {
	w.t.Helper()
	links, err := w.st.ListLinks(context.Background(), "acme", "jira:"+w.host()+"/ACMEP", "")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasSuffix(l.Object, "/"+id) && !mirror.IsCommentObject(l.Object) {
			st, ok := w.f.Issue(l.Ref)
			return st, ok
		}
	}
	return fakejira.IssueState{}, false
}

func (w *world) view(customer string) mapping.View {
	w.t.Helper()
	rec, ok, err := w.st.GetView(context.Background(), customer)
	if err != nil || !ok {
		w.t.Fatalf("view %s: %v %v", customer, ok, err)
	}
	var v mapping.View
	if err := json.Unmarshal(rec.Data, &v); err != nil {
		w.t.Fatal(err)
	}
	return v
}

func viewTitles(v mapping.View) []string {
	var out []string
	for _, it := range v.Items {
		var b strings.Builder
		for _, in := range it.Title {
			b.WriteString(in.Text)
			for _, c := range in.Children {
				b.WriteString(c.Text)
			}
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

type crashAt struct{ point string }

func (c *crashAt) At(point string) error {
	if c != nil && point == c.point {
		c.point = "" // once
		return faultErr(point)
	}
	return nil
}

type faultErr string

func (f faultErr) Error() string      { return "injected fault at " + string(f) }
func (f faultErr) FaultPoint() string { return string(f) }

// canaries are texts that must never reach the mirror project.
var canaries = []string{"CANARY-other-project", "CANARY-jsm", "CANARY-prop", "CANARY-role", "CANARY-group", "CANARY-private", "CANARY-budget", "CANARY-secret", "CANARY-draft", "CANARY-globex", "CANARY-edited-internal"}

func (w *world) assertNoLeak() {
	w.t.Helper()
	w.mu.Lock()
	sent := strings.Join(w.sent, "\n")
	w.mu.Unlock()
	for _, c := range canaries {
		if strings.Contains(sent, c) {
			w.t.Errorf("%s was sent to the mirror project", c)
		}
	}
	for _, p := range w.f.Dump().Projects {
		if p.Key != fakejira.TargetProject {
			continue
		}
		b, _ := json.Marshal(p)
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				w.t.Errorf("%s leaked into the mirror project", c)
			}
		}
	}
}

func TestEndToEnd(t *testing.T) {
	flavors(t, func(t *testing.T, fl fakejira.Flavor) { endToEnd(t, fl) })
}

func endToEnd(t *testing.T, fl fakejira.Flavor) {
	w := newWorld(t, fl)
	f := w.f
	web := []string{"Website"}
	issue := func(summary string, mod func(*fakejira.Fields)) string {
		x := fakejira.Fields{Type: "Task", Summary: summary, Components: web, Labels: []string{"client-visible"}}
		if mod != nil {
			mod(&x)
		}
		w.clk.Advance(time.Second)
		return f.CreateIssue(fakejira.SourceProject, x)
	}
	a := issue("Launch the site", func(x *fakejira.Fields) {
		x.Type, x.Status, x.DueDate = "Story", "In Progress", "2026-12-01"
		x.Description = "h2. Client summary\nWe launch on *Monday*.\nh2. Internal\nCANARY-budget is 12k."
	})
	pub := f.AddComment(a, fakejira.PublicComment("pm-anna", "[client] Deployed to staging."))
	f.AddComment(a, fakejira.JSMInternalComment("dev-bob", "[client] CANARY-jsm"))
	f.AddComment(a, fakejira.SDInternalComment("dev-bob", "[client] CANARY-prop"))
	f.AddComment(a, fakejira.RoleComment("dev-bob", "[client] CANARY-role", fakejira.RoleDevelopers))
	f.AddComment(a, fakejira.GroupComment("dev-bob", "[client] CANARY-group", fakejira.GroupStaff))
	if fl == fakejira.Cloud {
		// jsdPublic exists on Cloud only (Data Center JSM marks internal
		// comments by the property alone).
		f.AddComment(a, fakejira.JSDPrivateComment("dev-bob", "[client] CANARY-private"))
	}
	b := issue("Checkout flow", func(x *fakejira.Fields) { x.Status, x.Resolution = "Done", "Done" })
	c := issue("Analytics", nil)
	d := issue("Search", nil)
	e := issue("Newsletter", nil)
	mv := issue("Mobile app", nil)
	issue("CANARY-secret plan", func(x *fakejira.Fields) { x.Security = "Internal" })
	issue("CANARY-draft", func(x *fakejira.Fields) { x.Labels = nil })
	issue("CANARY-globex login", func(x *fakejira.Fields) { x.Components, x.Labels = []string{"App"}, []string{"globex-visible"} })
	other := f.CreateIssue("OTHER", fakejira.Fields{Summary: "CANARY-other-project", Labels: []string{"globex-visible"}})
	w.clk.Advance(time.Minute)

	// Backfill.
	w.sync()
	want := []string{"Analytics", "Checkout flow", "Launch the site", "Mobile app", "Newsletter", "Search"}
	if got := viewTitles(w.view("acme")); !slices.Equal(got, want) {
		t.Fatalf("acme sees %v", got)
	}
	if got := viewTitles(w.view("globex")); !slices.Equal(got, []string{"CANARY-globex login"}) {
		t.Fatalf("globex sees %v", got)
	}
	// Not even for a moment: globex's filter reaches out to project OTHER,
	// yet nothing of it was ever shown (the audit keeps every showing).
	audits, err := w.st.ListAudit(context.Background(), store.AuditQuery{Customer: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audits {
		if strings.HasSuffix(a.Object, "/"+w.id(other)) {
			t.Errorf("globex was shown %s of another project: %+v", other, a)
		}
	}
	ma, ok := w.mirrorOf(a)
	if !ok || ma.Status != "In Progress" || ma.DueDate != "2026-12-01" || len(ma.Comments) != 1 || !strings.Contains(ma.Comments[0].Body, "Deployed to staging") {
		t.Fatalf("mirror of A: %+v", ma)
	}
	if mb, _ := w.mirrorOf(b); mb.Status != "Done" || mb.Resolution != "Done" {
		t.Errorf("mirror of B: %q %q", mb.Status, mb.Resolution)
	}
	if n := f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue", 201); n != 6 {
		t.Errorf("%d mirrors created, want 6", n)
	}
	w.assertNoLeak()

	// A reconcile with nothing changed writes nothing.
	f.ResetCalls()
	w.clk.Advance(10 * time.Minute)
	w.sync()
	if n := w.writesBy(fakejira.WriterCred); n != 0 {
		t.Errorf("a no-change reconcile wrote %d times:\n%s", n, strings.Join(f.CallSummary(), "\n"))
	}
	// Reads, per source: the user's zone, one poll page, the query of issues
	// that left the filter, the versions, one search per published item
	// (membership and state at once) and the comments of those that have
	// any; per mirror, one read for drift.
	if rd, wr := f.Reads(fakejira.ReaderCred), f.Reads(fakejira.WriterCred); rd != 4+6+1+4+1 || wr != 6 {
		t.Errorf("no-change reconcile read %d times as the reader, %d as the writer; want 16 and 6:\n%s", rd, wr, strings.Join(f.CallSummary(), "\n"))
	}

	// Edits, a new comment, and B reopened, seen through webhooks.
	w.clk.Advance(time.Minute)
	f.UpdateIssue(a, func(x *fakejira.Fields) { x.Summary = "Launch the new site" })
	cid := f.AddComment(a, fakejira.PublicComment("pm-anna", "[client] Live on Monday."))
	f.UpdateIssue(b, func(x *fakejira.Fields) { x.Status, x.Resolution = "In Review", "" })
	for _, dl := range []fakejira.Delivery{
		f.Webhook(fakejira.EventIssueUpdated, a, ""),
		f.Webhook(fakejira.EventCommentCreated, a, cid),
		f.Webhook(fakejira.EventIssueUpdated, b, ""),
	} {
		if code := w.deliver(dl); code != http.StatusAccepted {
			t.Fatalf("webhook %s: %d", dl.Event, code)
		}
	}
	// Order is not trusted: the same delivery again is a duplicate.
	if code := w.deliver(f.Webhook(fakejira.EventIssueUpdated, b, "").Retry(1)); code != http.StatusAccepted {
		t.Errorf("a fresh delivery: %d", code)
	}
	w.run()
	ma, _ = w.mirrorOf(a)
	if ma.Summary != "Launch the new site" || len(ma.Comments) != 2 {
		t.Errorf("after edits: %q, %d comments", ma.Summary, len(ma.Comments))
	}
	if mb, _ := w.mirrorOf(b); mb.Status != "In Progress" || mb.Resolution != "" {
		t.Errorf("B reopened: %q %q", mb.Status, mb.Resolution)
	}

	// The customer edits a mirror (a webhook hints at drift), then deletes
	// one (the reconcile's drift check finds it): both are repaired.
	mb, _ := w.mirrorOf(b)
	w.clk.Advance(time.Minute)
	f.UpdateIssueAs(mb.Key, "customer-carl", func(x *fakejira.Fields) { x.Summary = "Checkout flow (our notes)" })
	if code := w.deliver(f.Webhook(fakejira.EventIssueUpdated, mb.Key, "")); code != http.StatusAccepted {
		t.Fatalf("drift webhook: %d", code)
	}
	w.run()
	if m, _ := w.mirrorOf(b); m.Summary != "Checkout flow" {
		t.Errorf("edited mirror not repaired: %q", m.Summary)
	}
	f.DeleteIssue(mb.Key)
	w.clk.Advance(10 * time.Minute)
	w.sync()
	if m, ok := w.mirrorOf(b); !ok || m.Key == mb.Key || m.Summary != "Checkout flow" || m.Status != "In Progress" {
		t.Errorf("deleted mirror not recreated: %+v", m)
	}

	// A public comment made internal (JSM's property, by an agent) leaves.
	f.AddCredential(fakejira.Credential{Name: "agent", Email: "agent@agency.example", Token: "agent-token", PAT: "agent-pat"})
	f.Grant("agent", fakejira.SourceProject, fakejira.PermAll)
	w.clk.Advance(time.Minute)
	agentEdit(t, w, a, pub, "[client] Deployed to staging. CANARY-edited-internal")
	if code := w.deliver(f.Webhook(fakejira.EventCommentUpdated, a, pub)); code != http.StatusAccepted {
		t.Fatalf("comment_updated: %d", code)
	}
	w.run()
	if ma, _ = w.mirrorOf(a); len(ma.Comments) != 1 || !strings.Contains(ma.Comments[0].Body, "Live on Monday") {
		t.Errorf("after the comment turned internal: %+v", ma.Comments)
	}
	w.assertNoLeak()

	// Retraction by each cause.
	gone := map[string]string{c: w.id(c), d: w.id(d), e: w.id(e), mv: w.id(mv)}
	w.clk.Advance(time.Minute)
	f.UpdateIssue(c, func(x *fakejira.Fields) { x.Labels = nil })     // label removed
	f.UpdateIssue(d, func(x *fakejira.Fields) { x.Components = nil }) // left the customer's jql
	f.DeleteIssue(e)                                                  // deleted
	f.MoveIssue(mv, "OTHER")                                          // moved
	if code := w.deliver(f.Webhook(fakejira.EventIssueUpdated, c, "")); code != http.StatusAccepted {
		t.Fatalf("webhook: %d", code)
	}
	if code := w.deliver(f.Webhook(fakejira.EventIssueDeleted, e, "")); code != http.StatusAccepted {
		t.Fatalf("webhook: %d", code)
	}
	w.run()
	w.clk.Advance(10 * time.Minute)
	w.sync() // the jql exit and the move: found by the reconcile's re-verification
	if got := viewTitles(w.view("acme")); !slices.Equal(got, []string{"Checkout flow", "Launch the new site"}) {
		t.Fatalf("after retractions acme sees %v", got)
	}
	for _, k := range []string{c, d, e, mv} {
		m, ok := w.mirrorOfID(gone[k])
		if !ok || m.Summary != "Retracted" || m.StatusCategory != "Done" || m.Description != "" || len(m.Comments) != 0 {
			t.Errorf("mirror of %s after retraction: %+v", k, m)
		}
	}

	// Lost store: a new database rebuilds its links from the mirrors.
	f.ResetCalls()
	w.open(filepath.Join(w.dir, "rebuilt.db"))
	w.sync()
	if n := f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue", 0); n != 0 {
		t.Errorf("rebuild created %d mirrors again", n)
	}
	if n := f.Count(fakejira.WriterCred, "POST", "/rest/api/2/issue/{issueIdOrKey}/comment", 0); n != 0 {
		t.Errorf("rebuild wrote %d comments again", n)
	}
	if got := viewTitles(w.view("acme")); !slices.Equal(got, []string{"Checkout flow", "Launch the new site"}) {
		t.Fatalf("after rebuild acme sees %v", got)
	}

	// Lost access: a source error, never a mass retraction.
	f.ResetCalls()
	f.LoseAccess(fakejira.ReaderCred, fakejira.SourceProject, http.StatusForbidden)
	w.clk.Advance(10 * time.Minute)
	w.sync()
	if n := w.writesBy(fakejira.WriterCred); n != 0 {
		t.Errorf("lost access wrote %d times to the target", n)
	}
	if got := viewTitles(w.view("acme")); len(got) != 2 {
		t.Errorf("lost access changed the page: %v", got)
	}
	if _, bad, _ := w.st.GetKV(context.Background(), "source-error", w.sourceKey("component = Website")); !bad {
		t.Error("no source error recorded")
	}
	f.RestoreAccess(fakejira.ReaderCred, fakejira.SourceProject)

	// Restart after a create whose answer was lost: no duplicate.
	nw := issue("Onboarding", nil)
	w.faults = &crashAt{point: mirror.FaultAfterCreate}
	w.open(filepath.Join(w.dir, "rebuilt.db"))
	ctx := context.Background()
	if err := w.e.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		t.Fatal(err)
	}
	if err := w.e.RunUntilIdle(ctx, "test"); err == nil || !worker.IsCrash(err) {
		t.Fatalf("the fault did not stop the pass: %v", err)
	}
	w.faults = nil
	w.clk.Advance(3 * time.Minute) // the dead process's lease expires
	w.open(filepath.Join(w.dir, "rebuilt.db"))
	w.sync()
	if got := viewTitles(w.view("acme")); !slices.Contains(got, "Onboarding") {
		t.Fatalf("after restart acme sees %v", got)
	}
	n := 0
	for _, is := range f.Dump().Projects[1].Issues {
		if is.Summary == "Onboarding" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d mirrors of Onboarding, want 1", n)
	}
	if m, _ := w.mirrorOf(nw); m.Status != "In Progress" {
		t.Errorf("adopted mirror status %q", m.Status)
	}

	w.assertNoLeak()
	golden(t, "e2e_"+string(fl)+".golden.json", w.f.Dump())
}

// agentEdit edits a comment through REST as an agent, marking it internal
// the way JSM does (the sd.public.comment property).
func agentEdit(t *testing.T, w *world, key, id, body string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"body": body, "properties": []any{map[string]any{"key": "sd.public.comment", "value": map[string]any{"internal": true}}}})
	req, _ := http.NewRequest(http.MethodPut, w.f.URL()+"/rest/api/2/issue/"+key+"/comment/"+id, bytes.NewReader(b))
	req.Header.Set("Authorization", w.f.AuthHeader("agent"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent edit: %d", resp.StatusCode)
	}
}

func (w *world) sourceKey(jql string) string {
	for _, c := range w.rules.Customers {
		for _, s := range c.Sources {
			if s.Jira != nil && s.Jira.JQL == jql {
				return mapping.SourceKey(s)
			}
		}
	}
	return ""
}

var opaqueKey = regexp.MustCompile(`v1[a-z2-7]{32}`)

// golden compares the fake's state with a golden file; opaque keys (HMACs
// over names that carry the test server's port) become stable labels.
func golden(t *testing.T, name string, st fakejira.State) {
	t.Helper()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	b = opaqueKey.ReplaceAllFunc(b, func(k []byte) []byte {
		l, ok := labels[string(k)]
		if !ok {
			l = fmt.Sprintf("opaque-key-%d", len(labels)+1)
			labels[string(k)] = l
		}
		return []byte(l)
	})
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, diffLines(string(want), string(b)))
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 40; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("%d: -%s\n%d: +%s", i+1, x, i+1, y))
		}
	}
	return strings.Join(out, "\n")
}
