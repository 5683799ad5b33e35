package jira_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/connectors"
	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/item"
)

const srcKey = "jira:agency/AGY"

func flavors(t *testing.T, fn func(t *testing.T, fl fakejira.Flavor)) {
	for _, fl := range []fakejira.Flavor{fakejira.Cloud, fakejira.DataCenter} {
		t.Run(string(fl), func(t *testing.T) { fn(t, fl) })
	}
}

func commentBy(cs []item.Comment, body string) *item.Comment {
	for i := range cs {
		if strings.Contains(cs[i].Body, body) {
			return &cs[i]
		}
	}
	return nil
}

func TestFetchReadsTheIssueAndDecidesCommentVisibilityItself(t *testing.T) {
	flavors(t, func(t *testing.T, fl fakejira.Flavor) {
		r := newRig(t, fl)
		f := r.f
		epic := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Type: "Epic", Summary: "Phase 1"})
		key := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{
			Type: "Story", Summary: "Launch the site", Description: "h2. Client summary\nWe launch on *Monday*.",
			Labels: []string{"client-visible"}, FixVersions: []string{"1.0"}, EpicLink: epic, DueDate: "2026-12-01",
			Assignee: "dev-bob", Status: "Done", Resolution: "Done",
			Custom: map[string]any{fakejira.StoryPointsField: 3, fakejira.BudgetField: 12000},
		})
		f.AddComment(key, fakejira.PublicComment("pm-anna", "[client] all good"))
		f.AddComment(key, fakejira.JSMInternalComment("dev-bob", "jsm internal"))
		f.AddComment(key, fakejira.SDInternalComment("dev-bob", "internal by property only"))
		f.AddComment(key, fakejira.RoleComment("dev-bob", "developers only", fakejira.RoleDevelopers))
		f.AddComment(key, fakejira.GroupComment("dev-bob", "staff only", fakejira.GroupStaff))
		if fl == fakejira.Cloud {
			f.AddComment(key, fakejira.JSDPrivateComment("dev-bob", "jsdPublic false only"))
		}
		s := r.source(srcKey, "", func(o *jira.SourceOptions) {
			o.Fields = map[string]string{"estimate": fakejira.StoryPointsField}
		})
		id := item.MakeID(srcKey, r.id(key))
		it, err := s.Fetch(context.Background(), id, connectors.FetchOptions{Comments: true})
		if err != nil {
			t.Fatal(err)
		}
		if it.ID != id || it.Ref != key || it.Title != "Launch the site" || it.Type != "Story" || it.Kind != item.KindIssue {
			t.Errorf("identity: %+v", it)
		}
		if it.Body != "## Client summary\n\nWe launch on **Monday**." {
			t.Errorf("body %q", it.Body)
		}
		if it.Status != "Done" || it.State != item.Done || it.Resolution != "Done" || it.Completed == nil {
			t.Errorf("state: %q %q %q %v", it.Status, it.State, it.Resolution, it.Completed)
		}
		if it.Parent != item.MakeID(srcKey, r.id(epic)) {
			t.Errorf("parent %q, want the epic", it.Parent)
		}
		if !strings.HasPrefix(it.Milestone, srcKey+"/v-") || it.Due == nil || it.Due.Date != "2026-12-01" {
			t.Errorf("milestone %q due %+v", it.Milestone, it.Due)
		}
		if it.Fields["estimate"] != float64(3) || len(it.Fields) != 1 {
			t.Errorf("fields %v: only the configured field, by its name", it.Fields)
		}
		if !slices.Equal(it.Assignees, []string{"dev-bob"}) || !it.CommentsLoaded {
			t.Errorf("assignees %v loaded %v", it.Assignees, it.CommentsLoaded)
		}
		want := map[string][2]bool{ // body -> internal, restricted
			"all good":                  {false, false},
			"jsm internal":              {true, false},
			"internal by property only": {true, false},
			"developers only":           {false, true},
			"staff only":                {false, true},
		}
		if fl == fakejira.Cloud {
			want["jsdPublic false only"] = [2]bool{true, false}
		}
		if len(it.Comments) != len(want) {
			t.Fatalf("%d comments, want %d", len(it.Comments), len(want))
		}
		for body, w := range want {
			c := commentBy(it.Comments, body)
			if c == nil || c.Internal != w[0] || c.Restricted != w[1] {
				t.Errorf("comment %q: %+v, want internal=%v restricted=%v", body, c, w[0], w[1])
			}
		}
		if c := commentBy(it.Comments, "all good"); c.Body != "[client] all good" || c.Author != "pm-anna" || c.Created.IsZero() {
			t.Errorf("public comment %+v", c)
		}
	})
}

func TestCommentsInASearchAnswerAreNeverTrusted(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	key := r.f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "Support", Labels: []string{"client-visible"}})
	r.f.AddComment(key, fakejira.SDInternalComment("dev-bob", "internal by property only"))
	p, err := r.source(srcKey, "").Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].CommentsLoaded || p.Items[0].CommentCount != 1 || len(p.Items[0].Comments) != 0 {
		t.Fatalf("polled item: %+v; want comments counted but not loaded", p.Items)
	}
}

func TestSecurityLevelIsCarriedToTheMapping(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	key := r.f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "Secret", Labels: []string{"client-visible"}, Security: "Internal"})
	it, err := r.source(srcKey, "").Fetch(context.Background(), item.MakeID(srcKey, r.id(key)), connectors.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if it.SecurityLevel != "Internal" {
		t.Errorf("security level %q", it.SecurityLevel)
	}
}

func TestFetchTellsGoneFromUnreadable(t *testing.T) {
	flavors(t, func(t *testing.T, fl fakejira.Flavor) {
		r := newRig(t, fl)
		f := r.f
		f.AddProject("OTHER", "Elsewhere")
		f.Grant(fakejira.ReaderCred, "OTHER", fakejira.PermRead)
		web := f.AddComponent(fakejira.SourceProject, "Website")
		_ = web
		mk := func(s string) string {
			return f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: s, Labels: []string{"client-visible"}, Components: []string{"Website"}})
		}
		kept, left, deleted, moved := mk("kept"), mk("left the filter"), mk("deleted"), mk("moved")
		ids := map[string]string{}
		for _, k := range []string{kept, left, deleted, moved} {
			ids[k] = item.MakeID(srcKey, r.id(k))
		}
		s := r.source(srcKey, "component = Website")
		ctx := context.Background()
		f.UpdateIssue(left, func(x *fakejira.Fields) { x.Components = nil })
		f.DeleteIssue(deleted)
		f.MoveIssue(moved, "OTHER")
		for k, want := range map[string]error{kept: nil, left: connectors.ErrGone, deleted: connectors.ErrGone, moved: connectors.ErrGone} {
			_, err := s.Fetch(ctx, ids[k], connectors.FetchOptions{Comments: true})
			if !errors.Is(err, want) && !(want == nil && err == nil) {
				t.Errorf("%s: %v, want %v", k, err, want)
			}
		}
		for _, st := range []int{http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized} {
			f.LoseAccess(fakejira.ReaderCred, fakejira.SourceProject, st)
			_, err := s.Fetch(ctx, ids[kept], connectors.FetchOptions{Comments: true})
			var ae *connectors.AccessError
			if !errors.As(err, &ae) || ae.Status != st || errors.Is(err, connectors.ErrGone) {
				t.Errorf("lost access %d: %v, want an AccessError with that status", st, err)
			}
			if _, err := s.Poll(ctx, ""); !errors.As(err, &ae) {
				t.Errorf("lost access %d: poll %v, want an AccessError", st, err)
			}
			f.RestoreAccess(fakejira.ReaderCred, fakejira.SourceProject)
		}
	})
}

// pollAll runs a poll cycle to its end and returns what it handed over.
func pollAll(t *testing.T, s *jira.Source, cursor string) (items []item.Item, gone []string, ms []item.Milestone, next string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		p, err := s.Poll(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, p.Items...)
		gone = append(gone, p.Gone...)
		ms = append(ms, p.Milestones...)
		cursor = p.Cursor
		if !p.More {
			return items, gone, ms, cursor
		}
	}
	t.Fatal("poll did not end")
	return
}

func refs(items []item.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Ref)
	}
	slices.Sort(out)
	return out
}

func TestPollPagesDeduplicatesAndNeverCrossesTheProject(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	f := r.f
	f.AddProject("OTHER", "Elsewhere")
	f.Grant(fakejira.ReaderCred, "OTHER", fakejira.PermRead)
	var keys []string
	for i := range 12 {
		r.clk.Advance(time.Second)
		keys = append(keys, f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "item", Labels: []string{"client-visible"}, Assignee: []string{"x", "y"}[i%2]}))
	}
	f.CreateIssue("OTHER", fakejira.Fields{Summary: "not ours", Labels: []string{"client-visible"}})
	// A customer filter that tries to reach out of its project.
	s := r.source(srcKey, `labels = client-visible OR project = OTHER`, func(o *jira.SourceOptions) { o.PageSize = 5 })
	items, _, _, cur := pollAll(t, s, "")
	if got := refs(items); len(got) != 12 || slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "OTHER-") }) {
		t.Fatalf("first cycle listed %v", got)
	}
	// Nothing changed: the overlap window re-reads, the cursor dedups.
	r.clk.Advance(time.Minute)
	items, _, _, cur = pollAll(t, s, cur)
	if len(items) != 0 {
		t.Errorf("unchanged project re-listed %v", refs(items))
	}
	f.UpdateIssue(keys[3], func(x *fakejira.Fields) { x.Summary = "edited" })
	items, _, _, _ = pollAll(t, s, cur)
	if got := refs(items); !slices.Equal(got, []string{keys[3]}) {
		t.Errorf("after one edit: %v", got)
	}
	if err := jira.CheckJQL(`labels = x) OR (project = OTHER`); err == nil {
		t.Error("a filter closing its own parenthesis was accepted")
	}
	if _, err := jira.NewSource(r.sourceOptions(srcKey, `labels = x ORDER BY created`)); err == nil {
		t.Error("a filter with ORDER BY was accepted")
	}
}

func TestPollCursorCatchesTheCursorMinuteLateIndexAndZoneEdges(t *testing.T) {
	// The reader's Jira zone is UTC+14: JQL dates are read there, a day
	// ahead of the UTC the cursor keeps.
	r := newRig(t, fakejira.Cloud)
	f := r.f
	f.SetTimeZone(fakejira.ReaderCred, "Pacific/Kiritimati")
	s := r.source(srcKey, "")
	a := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "a"})
	r.clk.Advance(30 * time.Second)
	_, _, _, cur := pollAll(t, s, "")

	// 1. An update in the same minute as the cursor.
	r.clk.Advance(10 * time.Second)
	f.UpdateIssue(a, func(x *fakejira.Fields) { x.Summary = "a, same minute" })
	items, _, _, cur := pollAll(t, s, cur)
	if got := refs(items); !slices.Equal(got, []string{a}) || items[0].Title != "a, same minute" {
		t.Fatalf("update in the cursor's minute: %v", got)
	}

	// 2. Search sees b's update late: c (updated after it) is indexed first.
	r.clk.Advance(2 * time.Minute)
	b := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "b"})
	r.clk.Advance(time.Minute)
	c := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "c"})
	hide := r.id(b)
	f.SetFault(func(q *fakejira.Request) fakejira.Fault {
		if jql := q.HTTP.URL.Query().Get("jql"); q.Route == "/rest/api/2/search/jql" && !strings.Contains(jql, "NOT") && !strings.Contains(jql, "id != ") {
			return fakejira.Fault{Kind: fakejira.Answer, Status: 200, Body: withoutIssue(t, r, q, hide)}
		}
		return fakejira.Fault{}
	})
	items, _, _, cur = pollAll(t, s, cur)
	if got := refs(items); !slices.Equal(got, []string{c}) {
		t.Fatalf("with b not indexed yet: %v", got)
	}
	f.SetFault(nil)
	r.clk.Advance(2 * time.Minute) // b is indexed now, behind the cursor
	items, _, _, cur = pollAll(t, s, cur)
	if got := refs(items); !slices.Equal(got, []string{b}) {
		t.Fatalf("late-indexed update: %v, want b (inside the overlap window)", got)
	}

	// 3. The Jira user's zone moves across the date line to Los Angeles:
	// the cached zone is now wrong (the answers' offsets show it), and a
	// bound written in it would be read 22 hours late.
	f.SetTimeZone(fakejira.ReaderCred, "America/Los_Angeles")
	r.clk.Advance(time.Minute)
	f.UpdateIssue(c, func(x *fakejira.Fields) { x.Summary = "c, after the zone moved" })
	items, _, _, _ = pollAll(t, s, cur)
	if got := refs(items); !slices.Equal(got, []string{c}) {
		t.Fatalf("after the user's zone moved: %v", got)
	}
}

func TestLeavingTheFilterIsListedAsGone(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	f := r.f
	f.AddComponent(fakejira.SourceProject, "Website")
	in := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "in", Components: []string{"Website"}})
	s := r.source(srcKey, "component = Website")
	items, _, _, cur := pollAll(t, s, "")
	if got := refs(items); !slices.Equal(got, []string{in}) {
		t.Fatalf("first cycle %v", got)
	}
	r.clk.Advance(time.Minute)
	f.UpdateIssue(in, func(x *fakejira.Fields) { x.Components = nil })
	items, gone, _, _ := pollAll(t, s, cur)
	if len(items) != 0 || !slices.Equal(gone, []string{item.MakeID(srcKey, r.id(in))}) {
		t.Fatalf("after leaving the filter: items %v gone %v", refs(items), gone)
	}
}

func TestMilestonesVersionsAndEpics(t *testing.T) {
	r := newRig(t, fakejira.Cloud)
	f := r.f
	vid := f.AddVersion(fakejira.SourceProject, "1.0", "2026-12-24", false)
	epic := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Type: "Epic", Summary: "Phase 1", DueDate: "2027-01-15"})
	story := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Type: "Story", Summary: "Login", Parent: epic})
	ctx := context.Background()

	ms, err := r.source(srcKey, "").Milestones(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != item.MakeID(srcKey, "v-"+vid) || ms[0].Name != "1.0" || ms[0].Due == nil || ms[0].Due.Date != "2026-12-24" {
		t.Errorf("versions: %+v", ms)
	}

	s := r.source(srcKey, "", func(o *jira.SourceOptions) { o.Milestones = "epics" })
	ms, err = s.Milestones(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	eid := item.MakeID(srcKey, "e-"+r.id(epic))
	if len(ms) != 1 || ms[0].ID != eid || ms[0].Name != "Phase 1" || ms[0].Due.Date != "2027-01-15" {
		t.Fatalf("epics: %+v", ms)
	}
	items, _, pms, _ := pollAll(t, s, "")
	if got := refs(items); !slices.Equal(got, []string{story}) || len(pms) != 1 || pms[0].ID != eid {
		t.Fatalf("epics mode poll: items %v milestones %+v", got, pms)
	}
	if items[0].Milestone != eid || items[0].Parent != "" {
		t.Errorf("child of the epic: milestone %q parent %q", items[0].Milestone, items[0].Parent)
	}
	if _, err := s.Fetch(ctx, item.MakeID(srcKey, r.id(epic)), connectors.FetchOptions{}); !errors.Is(err, connectors.ErrGone) {
		t.Errorf("an epic is not an item with milestones: epics: %v", err)
	}
}

// withoutIssue answers a search as the fake would, minus one issue.
func withoutIssue(t *testing.T, r *rig, q *fakejira.Request, id string) string {
	t.Helper()
	u := *q.HTTP.URL
	qs := u.Query()
	qs.Set("jql", strings.Replace(qs.Get("jql"), " ORDER BY", " AND id != "+id+" ORDER BY", 1))
	u.RawQuery = qs.Encode()
	req, _ := http.NewRequest(http.MethodGet, r.f.URL()+u.RequestURI(), nil)
	req.Header.Set("Authorization", r.f.AuthHeader(fakejira.ReaderCred))
	resp, err := r.f.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
