package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"vitrine/clock"
	"vitrine/fake/openapi"
)

const (
	src      = "agency/acme-internal"
	dst      = "acme/acme-status"
	srcToken = "src-token"
	dstToken = "dst-token"
	bot      = "vitrine-bot"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// world is the usual set-up: a private source repo read with one token, a
// customer repo written with another.
type world struct {
	s     *Server
	clk   *clock.Fake
	src   *gh.Client
	dst   *gh.Client
	admin *gh.Client
}

func newWorld(t *testing.T, opts Options) *world {
	t.Helper()
	clk := clock.NewFake(t0)
	opts.Clock = clk
	s := New(t, opts)
	s.AddRepo(src)
	s.AddRepo(dst)
	s.AddToken(srcToken, "vitrine-reader")
	s.AddToken(dstToken, bot)
	s.AddToken("admin-token", "acme-admin")
	s.SetAccess(srcToken, src, AccessRead)
	s.SetAccess(dstToken, dst, AccessPush)
	s.SetAccess("admin-token", dst, AccessAdmin)
	return &world{s: s, clk: clk, src: client(t, s, srcToken), dst: client(t, s, dstToken), admin: client(t, s, "admin-token")}
}

func client(t *testing.T, s *Server, token string) *gh.Client {
	t.Helper()
	c := gh.NewClient(nil).WithAuthToken(token)
	u, err := url.Parse(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

// recorder stands in for the test so a test can assert the fake failed it.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

var bg = context.Background()

func TestCreateIssueWithLabelsAndMilestone(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateMilestone(dst, NewMilestone{Title: "Launch", DueOn: t0.AddDate(0, 1, 0)})
	w.s.CreateLabel(dst, "client-visible", "0e8a16", "")
	is, resp, err := w.dst.Issues.Create(bg, "acme", "acme-status", &gh.IssueRequest{
		Title: gh.String("Checkout <b>flow</b>"), Body: gh.String("Done & dusted"),
		Labels: &[]string{"CLIENT-VISIBLE", "vitrine"}, Milestone: gh.Int(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || is.GetNumber() != 1 || is.GetUser().GetLogin() != bot || is.GetTitle() != "Checkout <b>flow</b>" {
		t.Errorf("created %d #%d by %s %q", resp.StatusCode, is.GetNumber(), is.GetUser().GetLogin(), is.GetTitle())
	}
	if is.GetMilestone().GetTitle() != "Launch" || len(is.Labels) != 2 || is.Labels[0].GetName() != "client-visible" {
		t.Errorf("milestone %q labels %v", is.GetMilestone().GetTitle(), is.Labels)
	}
	if !is.GetCreatedAt().Time.Equal(t0) || is.ClosedAt != nil {
		t.Errorf("created_at %v closed_at %v", is.GetCreatedAt(), is.ClosedAt)
	}
	got, _, err := w.dst.Issues.Get(bg, "acme", "acme-status", 1)
	if err != nil || got.GetID() != is.GetID() || got.GetNodeID() == "" {
		t.Fatalf("get: %v %v", got, err)
	}
	// The label that did not exist was created, as GitHub does.
	labels, _, err := w.dst.Issues.ListLabels(bg, "acme", "acme-status", nil)
	if err != nil || len(labels) != 2 || labels[1].GetName() != "vitrine" {
		t.Errorf("repo labels %v %v", labels, err)
	}
}

func TestSilentDropOfLabelsAndMilestoneWithoutPush(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.SetAccess(dstToken, dst, AccessRead)
	w.s.CreateMilestone(dst, NewMilestone{Title: "Launch"})
	is, resp, err := w.dst.Issues.Create(bg, "acme", "acme-status", &gh.IssueRequest{
		Title: gh.String("t"), Labels: &[]string{"client-visible"}, Milestone: gh.Int(1), Assignees: &[]string{"x"},
	})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create without push: %v", err)
	}
	if len(is.Labels) != 0 || is.Milestone != nil || len(is.Assignees) != 0 {
		t.Errorf("labels %v milestone %v assignees %v were not dropped", is.Labels, is.Milestone, is.Assignees)
	}
	_, _, err = w.dst.Issues.Edit(bg, "acme", "acme-status", 1, &gh.IssueRequest{Title: gh.String("t2"), Labels: &[]string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err = w.dst.Issues.AddLabelsToIssue(bg, "acme", "acme-status", 1, []string{"client-visible"})
	if err == nil || resp.StatusCode != 403 {
		t.Errorf("add labels without push: %v", err)
	}
	st := w.s.Dump().Repos[0]
	if st.Name != dst || st.Issues[0].Title != "t2" || len(st.Issues[0].Labels) != 0 || len(st.Labels) != 0 {
		t.Errorf("state %+v", st)
	}
}

func TestLabelEndpointsAreCaseInsensitive(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateLabel(dst, "Client-Visible", "0e8a16", "")
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	labels, _, err := w.dst.Issues.AddLabelsToIssue(bg, "acme", "acme-status", 1, []string{"client-visible", "needs review"})
	if err != nil || len(labels) != 2 || labels[0].GetName() != "Client-Visible" || labels[1].GetName() != "needs review" {
		t.Fatalf("add: %v %v", labels, err)
	}
	if _, err := w.dst.Issues.RemoveLabelForIssue(bg, "acme", "acme-status", 1, "NEEDS REVIEW"); err != nil {
		t.Errorf("remove with other case: %v", err)
	}
	_, resp, err := w.dst.Issues.AddLabelsToIssue(bg, "acme", "acme-status", 1, []string{"CLIENT-VISIBLE"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	resp, err = w.dst.Issues.RemoveLabelForIssue(bg, "acme", "acme-status", 1, "needs review")
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("removing a label the issue lacks: %v", err)
	}
	_, resp, err = w.dst.Issues.CreateLabel(bg, "acme", "acme-status", &gh.Label{Name: gh.String("client-VISIBLE")})
	if err == nil || resp.StatusCode != 422 {
		t.Errorf("creating a label that exists in another case: %v", err)
	}
	is, _ := w.s.Issue(dst, 1)
	if len(is.Labels) != 1 || is.Labels[0] != "Client-Visible" {
		t.Errorf("labels %v", is.Labels)
	}
}

func TestListSinceSortPaginationAndETag(t *testing.T) {
	w := newWorld(t, Options{})
	for i := 1; i <= 5; i++ {
		w.s.CreateIssue(src, NewIssue{Title: fmt.Sprintf("issue %d", i), PullRequest: i == 3})
		w.clk.Advance(time.Minute)
	}
	// Touch #1 last: it sorts last by updated_at.
	w.s.AddComment(src, 1, "dev", "note")
	since := t0.Add(90 * time.Second) // after #1 and #2 were created
	opt := &gh.IssueListByRepoOptions{State: "all", Sort: "updated", Direction: "asc", Since: since,
		ListOptions: gh.ListOptions{PerPage: 2}}
	var got []string
	for page := 0; ; page++ {
		issues, resp, err := w.src.Issues.ListByRepo(bg, "agency", "acme-internal", opt)
		if err != nil {
			t.Fatal(err)
		}
		if page == 0 && (resp.NextPage != 2 || resp.LastPage != 2) {
			t.Errorf("first page links: next %d last %d (Link %q)", resp.NextPage, resp.LastPage, resp.Header.Get("Link"))
		}
		for _, is := range issues {
			got = append(got, fmt.Sprintf("#%d pr=%v", is.GetNumber(), is.IsPullRequest()))
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if want := "#3 pr=true,#4 pr=false,#5 pr=false,#1 pr=false"; strings.Join(got, ",") != want {
		t.Errorf("listed %s, want %s", strings.Join(got, ","), want)
	}

	// A conditional read answers 304 and costs no rate limit.
	req, _ := w.src.NewRequest("GET", "repos/agency/acme-internal/issues/2", nil)
	resp, err := w.src.Do(bg, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	etag, remaining := resp.Header.Get("ETag"), resp.Rate.Remaining
	w.s.ResetCalls()
	req.Header.Set("If-None-Match", etag)
	resp, err = w.src.Do(bg, req, nil)
	if resp == nil || resp.StatusCode != 304 {
		t.Fatalf("conditional read: %v %v", resp, err)
	}
	if resp.Rate.Remaining != remaining {
		t.Errorf("304 cost rate limit: remaining %d, was %d", resp.Rate.Remaining, remaining)
	}
	calls := w.s.Calls()
	if calls.Conditional != 1 || calls.Reads != 0 || calls.Count(srcToken, "GET", "/repos/{owner}/{repo}/issues/{issue_number}", 304) != 1 {
		t.Errorf("calls:\n%s", calls)
	}
	// A new comment bumps updated_at, so the representation and ETag change.
	w.clk.Advance(time.Minute)
	w.s.AddComment(src, 2, "dev", "x")
	resp, _ = w.src.Do(bg, req, nil)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a comment: %d etag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func TestCreatorFilterAndCreatedDesc(t *testing.T) {
	w := newWorld(t, Options{})
	for i, u := range []string{bot, "customer", bot, bot} {
		w.s.CreateIssue(dst, NewIssue{Title: fmt.Sprint(i), User: u})
		w.clk.Advance(time.Second)
	}
	issues, _, err := w.dst.Issues.ListByRepo(bg, "acme", "acme-status", &gh.IssueListByRepoOptions{
		Creator: bot, Sort: "created", Direction: "desc", State: "all"})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, is := range issues {
		nums = append(nums, is.GetNumber())
	}
	if fmt.Sprint(nums) != "[4 3 1]" {
		t.Errorf("bot's issues newest first: %v", nums)
	}
}

func TestCommentsBumpIssueUpdatedAt(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	w.clk.Advance(time.Hour)
	c, _, err := w.dst.Issues.CreateComment(bg, "acme", "acme-status", 1, &gh.IssueComment{Body: gh.String("hello")})
	if err != nil {
		t.Fatal(err)
	}
	is, _ := w.s.Issue(dst, 1)
	if !is.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("updated_at %v after a comment", is.UpdatedAt)
	}
	w.clk.Advance(time.Hour)
	if _, _, err := w.dst.Issues.EditComment(bg, "acme", "acme-status", c.GetID(), &gh.IssueComment{Body: gh.String("edited")}); err != nil {
		t.Fatal(err)
	}
	is, _ = w.s.Issue(dst, 1)
	if !is.UpdatedAt.Equal(t0.Add(2*time.Hour)) || is.Comments[0].Body != "edited" {
		t.Errorf("after edit: %v %q", is.UpdatedAt, is.Comments[0].Body)
	}
	list, _, err := w.dst.Issues.ListComments(bg, "acme", "acme-status", 1, &gh.IssueListCommentsOptions{Since: &[]time.Time{t0.Add(90 * time.Minute)}[0]})
	if err != nil || len(list) != 1 {
		t.Errorf("comments since: %v %v", list, err)
	}
	w.clk.Advance(time.Hour)
	if _, err := w.dst.Issues.DeleteComment(bg, "acme", "acme-status", c.GetID()); err != nil {
		t.Fatal(err)
	}
	_, resp, err := w.dst.Issues.GetComment(bg, "acme", "acme-status", c.GetID())
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("deleted comment: %v", err)
	}
	is, _ = w.s.Issue(dst, 1)
	if !is.UpdatedAt.Equal(t0.Add(3*time.Hour)) || len(is.Comments) != 0 {
		t.Errorf("after delete: %v %d comments", is.UpdatedAt, len(is.Comments))
	}
}

func TestCloseAsNotPlannedAndReopen(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	w.clk.Advance(time.Minute)
	is, _, err := w.dst.Issues.Edit(bg, "acme", "acme-status", 1, &gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String("not_planned")})
	if err != nil {
		t.Fatal(err)
	}
	if is.GetState() != "closed" || is.GetStateReason() != "not_planned" || !is.GetClosedAt().Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("closed: %s %s %v", is.GetState(), is.GetStateReason(), is.GetClosedAt())
	}
	is, _, _ = w.dst.Issues.Edit(bg, "acme", "acme-status", 1, &gh.IssueRequest{State: gh.String("open")})
	if is.GetState() != "open" || is.GetStateReason() != "reopened" || is.ClosedAt != nil {
		t.Errorf("reopened: %s %s %v", is.GetState(), is.GetStateReason(), is.ClosedAt)
	}
}

func TestMilestonesCreateUpdateList(t *testing.T) {
	w := newWorld(t, Options{})
	due := gh.Timestamp{Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	m, _, err := w.dst.Issues.CreateMilestone(bg, "acme", "acme-status", &gh.Milestone{Title: gh.String("Beta"), DueOn: &due, Description: gh.String("d")})
	if err != nil || m.GetNumber() != 1 {
		t.Fatalf("create: %v %v", m, err)
	}
	if _, _, err := w.dst.Issues.EditMilestone(bg, "acme", "acme-status", 1, &gh.Milestone{State: gh.String("closed")}); err != nil {
		t.Fatal(err)
	}
	open, _, _ := w.dst.Issues.ListMilestones(bg, "acme", "acme-status", nil)
	all, _, _ := w.dst.Issues.ListMilestones(bg, "acme", "acme-status", &gh.MilestoneListOptions{State: "all"})
	if len(open) != 0 || len(all) != 1 || all[0].GetState() != "closed" || all[0].ClosedAt == nil {
		t.Errorf("open %v all %v", open, all)
	}
	_, resp, err := w.src.Issues.CreateMilestone(bg, "agency", "acme-internal", &gh.Milestone{Title: gh.String("x")})
	if err == nil || resp.StatusCode != 403 {
		t.Errorf("milestone create with read access: %v", err)
	}
	st := w.s.Dump()
	if ms := st.Repos[0].Milestones; len(ms) != 1 || ms[0].DueOn != "2026-03-01" || ms[0].State != "closed" {
		t.Errorf("dump milestones %+v", ms)
	}
}

func TestTransferredIssueMovesPermanently(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.AddRepo("agency/other")
	w.s.SetAccess(srcToken, "agency/other", AccessRead)
	w.s.CreateIssue(src, NewIssue{Title: "moving"})
	n := w.s.TransferIssue(src, 1, "agency/other")
	// go-github follows the 301 to /repositories/{id}/issues/{n}.
	is, _, err := w.src.Issues.Get(bg, "agency", "acme-internal", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(is.GetRepositoryURL(), "/repos/agency/other") || is.GetNumber() != n {
		t.Errorf("followed to %s #%d", is.GetRepositoryURL(), is.GetNumber())
	}
	// Without following, the answer is GitHub's 301.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", w.s.URL()+"/repos/agency/acme-internal/issues/1", nil)
	req.Header.Set("Authorization", "token "+srcToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || !strings.Contains(resp.Header.Get("Location"), fmt.Sprintf("/issues/%d", n)) {
		t.Errorf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := w.s.Calls().Count(srcToken, "GET", "/repos/{owner}/{repo}/issues/{issue_number}", 301); c != 2 {
		t.Errorf("301s counted: %d\n%s", c, w.s.Calls())
	}
}

func TestDeletedIssueIsGoneAndGraphQLDeleteNeedsAdmin(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(src, NewIssue{Title: "a"})
	w.s.DeleteIssue(src, 1)
	_, resp, err := w.src.Issues.Get(bg, "agency", "acme-internal", 1)
	if err == nil || resp.StatusCode != 410 {
		t.Errorf("deleted issue: %v", err)
	}
	is := w.s.CreateIssue(dst, NewIssue{Title: "mirror", User: bot})
	del := func(c *gh.Client) map[string]any {
		body := map[string]any{
			"query":     `mutation($input: DeleteIssueInput!) { deleteIssue(input: $input) { clientMutationId } }`,
			"variables": map[string]any{"input": map[string]any{"issueId": is.NodeID}},
		}
		req, _ := c.NewRequest("POST", "graphql", body)
		var out map[string]any
		if _, err := c.Do(bg, req, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := del(w.dst)
	if errs, _ := out["errors"].([]any); len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "FORBIDDEN") {
		t.Errorf("push token deleteIssue: %v", out)
	}
	if _, ok := w.s.Issue(dst, 1); !ok {
		t.Fatal("issue deleted without admin")
	}
	out = del(w.admin)
	if out["errors"] != nil {
		t.Errorf("admin deleteIssue: %v", out)
	}
	_, resp, err = w.dst.Issues.Get(bg, "acme", "acme-status", 1)
	if err == nil || resp.StatusCode != 410 {
		t.Errorf("after deleteIssue: %v", err)
	}
	if c := w.s.Calls().Count("admin-token", "MUTATION", "/graphql", 200); c != 1 {
		t.Errorf("mutation calls %d", c)
	}
	if d := w.s.Dump().Repos[0].Deleted; fmt.Sprint(d) != "[1]" {
		t.Errorf("dump deleted %v", d)
	}
}

func TestLostAccessAnswers404(t *testing.T) {
	w := newWorld(t, Options{})
	if _, _, err := w.src.Repositories.Get(bg, "agency", "acme-internal"); err != nil {
		t.Fatal(err)
	}
	w.s.LoseAccess(srcToken, src)
	_, resp, err := w.src.Repositories.Get(bg, "agency", "acme-internal")
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("repo after losing access: %v", err)
	}
	_, resp, err = w.src.Issues.ListByRepo(bg, "agency", "acme-internal", nil)
	if err == nil || resp.StatusCode != 404 {
		t.Errorf("issues after losing access: %v", err)
	}
}

func TestSubIssuesAndParent(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(src, NewIssue{Title: "epic"})
	w.s.CreateIssue(src, NewIssue{Title: "child", Parent: 1})
	w.s.CreateIssue(src, NewIssue{Title: "loner"})
	req, _ := w.src.NewRequest("GET", "repos/agency/acme-internal/issues/1/sub_issues", nil)
	var subs []*gh.Issue
	if _, err := w.src.Do(bg, req, &subs); err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].GetNumber() != 2 {
		t.Errorf("sub-issues %v", subs)
	}
	req, _ = w.src.NewRequest("GET", "repos/agency/acme-internal/issues/2/parent", nil)
	var parent gh.Issue
	if _, err := w.src.Do(bg, req, &parent); err != nil || parent.GetNumber() != 1 {
		t.Errorf("parent %v %v", parent.GetNumber(), err)
	}
	req, _ = w.src.NewRequest("GET", "repos/agency/acme-internal/issues/3/parent", nil)
	if resp, err := w.src.Do(bg, req, &parent); err == nil || resp.StatusCode != 404 {
		t.Errorf("parent of a top-level issue: %v", err)
	}
}

func TestUnknownRouteAndInvalidRequestFailTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	s := New(rec, Options{})
	s.AddRepo(dst)
	s.AddToken(dstToken, bot)
	s.SetAccess(dstToken, dst, AccessPush)
	c := client(t, s, dstToken)
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"GET", "repos/acme/acme-status/wiki", nil, 404, "no path template matches"},
		{"PUT", "repos/acme/acme-status/issues", map[string]any{"title": "x"}, 404, "method PUT not allowed"},
		{"POST", "repos/acme/acme-status/issues", map[string]any{"body": "no title"}, 400, `property "title" is missing`},
		{"PATCH", "repos/acme/acme-status/issues/1", map[string]any{"state": "bogus"}, 400, "at /state"},
		{"GET", "repos/acme/acme-status/issues?per_page=abc", nil, 400, `query parameter "per_page"`},
		{"GET", "repos/acme/acme-status/hooks", nil, 501, "not implemented by the fake"},
	} {
		before := len(rec.failures())
		req, _ := c.NewRequest(tc.method, tc.path, tc.body)
		resp, _ := c.Do(bg, req, nil)
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s %s: answer %v, want %d", tc.method, tc.path, resp, tc.status)
		}
		f := rec.failures()
		if len(f) != before+1 || !strings.Contains(f[len(f)-1], tc.want) {
			t.Errorf("%s %s: test failures %q, want one naming %q", tc.method, tc.path, f[before:], tc.want)
		}
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   Fault
		check   func(t *testing.T, resp *gh.Response, err error)
		applied bool
	}{
		{"503", Status(503), func(t *testing.T, resp *gh.Response, err error) {
			if resp == nil || resp.StatusCode != 503 {
				t.Errorf("%v %v", resp, err)
			}
		}, false},
		{"secondary limit with Retry-After", SecondaryLimit(403, 90*time.Second), func(t *testing.T, resp *gh.Response, err error) {
			var ae *gh.AbuseRateLimitError
			if !errors.As(err, &ae) || ae.RetryAfter == nil || *ae.RetryAfter != 90*time.Second {
				t.Errorf("%T %v", err, err)
			}
		}, false},
		{"secondary limit as 429", SecondaryLimit(429, 30*time.Second), func(t *testing.T, resp *gh.Response, err error) {
			if resp == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" {
				t.Errorf("%v %v", resp, err)
			}
		}, false},
		{"primary limit", PrimaryLimit(403, t0.Add(time.Hour)), func(t *testing.T, resp *gh.Response, err error) {
			var re *gh.RateLimitError
			if !errors.As(err, &re) || re.Rate.Reset.Unix() != t0.Add(time.Hour).Unix() {
				t.Errorf("%T %v", err, err)
			}
		}, false},
		{"drop before apply", Fault{Kind: DropBeforeApply}, func(t *testing.T, resp *gh.Response, err error) {
			if err == nil {
				t.Error("no error")
			}
		}, false},
		{"apply then drop", Fault{Kind: ApplyThenDrop}, func(t *testing.T, resp *gh.Response, err error) {
			if err == nil {
				t.Error("no error")
			}
		}, true},
		{"apply then hang", Fault{Kind: ApplyThenHang}, func(t *testing.T, resp *gh.Response, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v", err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Options{})
			w.s.SetFault(func(r *Request) Fault {
				if r.OperationID == "issues/create" {
					return tc.fault
				}
				return Fault{}
			})
			ctx, cancel := context.WithTimeout(bg, 2*time.Second)
			defer cancel()
			if tc.fault.Kind == ApplyThenHang {
				ctx, cancel = context.WithTimeout(bg, 200*time.Millisecond)
				defer cancel()
			}
			_, resp, err := w.dst.Issues.Create(ctx, "acme", "acme-status", &gh.IssueRequest{Title: gh.String("x")})
			tc.check(t, resp, err)
			if _, ok := w.s.Issue(dst, 1); ok != tc.applied {
				t.Errorf("applied %v, want %v", ok, tc.applied)
			}
			if n := w.s.Calls().Count(dstToken, "POST", "/repos/{owner}/{repo}/issues", NoAnswer); (n == 1) != (tc.fault.Kind >= DropBeforeApply) {
				t.Errorf("unanswered calls %d\n%s", n, w.s.Calls())
			}
		})
	}
}

func TestSlowFaultHoldsUntilReleased(t *testing.T) {
	w := newWorld(t, Options{})
	release := make(chan struct{})
	arrived := make(chan struct{})
	w.s.SetFault(func(r *Request) Fault {
		close(arrived)
		return Fault{Wait: release}
	})
	done := make(chan error, 1)
	go func() {
		_, _, err := w.dst.Issues.Create(bg, "acme", "acme-status", &gh.IssueRequest{Title: gh.String("slow")})
		done <- err
	}()
	<-arrived
	select {
	case err := <-done:
		t.Fatalf("answered before release: %v", err)
	default:
	}
	if _, ok := w.s.Issue(dst, 1); ok {
		t.Error("applied before release")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := w.s.Issue(dst, 1); !ok {
		t.Error("not applied after release")
	}
}

func rawWrite(t *testing.T, s *Server, token string, n int) *http.Response {
	t.Helper()
	body := fmt.Sprintf(`{"body":"comment %d"}`, n)
	req, _ := http.NewRequest("POST", s.URL()+"/repos/acme/acme-status/issues/1/comments", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestDocumentedWriteWindowsOnTheFakeClock(t *testing.T) {
	w := newWorld(t, Options{Limits: Limits{Mode: WindowsDocumented, PerMinute: 3, PerHour: 5}})
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	for i := 0; i < 3; i++ {
		if r := rawWrite(t, w.s, dstToken, i); r.StatusCode != 201 {
			t.Fatalf("write %d: %d", i, r.StatusCode)
		}
		w.clk.Advance(10 * time.Second)
	}
	// 3 writes at 0s, 10s, 20s; now 30s: the minute window is full until 60s.
	r := rawWrite(t, w.s, dstToken, 3)
	if r.StatusCode != 403 || r.Header.Get("Retry-After") != "30" {
		t.Errorf("4th write in a minute: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	// Another token has its own windows; reads do not count.
	w.s.SetAccess("admin-token", dst, AccessAdmin)
	if r := rawWrite(t, w.s, "admin-token", 9); r.StatusCode != 201 {
		t.Errorf("other token: %d", r.StatusCode)
	}
	w.clk.Advance(30 * time.Second)
	for i := 4; i < 6; i++ {
		if r := rawWrite(t, w.s, dstToken, i); r.StatusCode != 201 {
			t.Fatalf("write %d after the minute: %d", i, r.StatusCode)
		}
		w.clk.Advance(time.Minute)
	}
	r = rawWrite(t, w.s, dstToken, 6)
	if r.StatusCode != 403 || r.Header.Get("Retry-After") == "" {
		t.Errorf("6th write in an hour: %d", r.StatusCode)
	}
	v := w.s.Violations()
	if len(v) != 2 || v[0].Window != "minute" || v[1].Window != "hour" || v[0].Token != dstToken {
		t.Errorf("violations %+v", v)
	}
	if n := len(w.s.Dump().Repos[0].Issues[0].Comments); n != 6 {
		t.Errorf("%d comments applied, want 6 (refused writes are not applied)", n)
	}
}

func TestUnannouncedLowerLimitAnswersWithoutRetryAfter(t *testing.T) {
	w := newWorld(t, Options{Limits: Limits{Mode: WindowsUnannounced}})
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	for i := 0; i < 30; i++ {
		if r := rawWrite(t, w.s, dstToken, i); r.StatusCode != 201 {
			t.Fatalf("write %d: %d", i, r.StatusCode)
		}
	}
	_, resp, err := w.dst.Issues.CreateComment(bg, "acme", "acme-status", 1, &gh.IssueComment{Body: gh.String("31st")})
	var ae *gh.AbuseRateLimitError
	if !errors.As(err, &ae) || resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		t.Errorf("31st write: %T %v, headers %v", err, err, resp.Header)
	}
	// Like GitHub, the answer still carries the primary x-ratelimit-reset,
	// which go-github takes as RetryAfter when Retry-After is absent: a
	// client must not read that as the secondary limit's end.
	if ae != nil && ae.RetryAfter == nil {
		t.Error("go-github found no x-ratelimit-reset to fall back to")
	}
	if len(w.s.Violations()) != 1 {
		t.Errorf("violations %v", w.s.Violations())
	}
	w.clk.Advance(time.Minute)
	if r := rawWrite(t, w.s, dstToken, 31); r.StatusCode != 201 {
		t.Errorf("after a minute: %d", r.StatusCode)
	}
}

func TestPrimaryLimitCountsFullReadsOnly(t *testing.T) {
	w := newWorld(t, Options{PrimaryLimit: 3})
	w.s.CreateIssue(src, NewIssue{Title: "a"})
	req, _ := w.src.NewRequest("GET", "repos/agency/acme-internal/issues/1", nil)
	resp, err := w.src.Do(bg, req, nil)
	if err != nil || resp.Rate.Remaining != 2 || resp.Header.Get("X-Ratelimit-Used") != "1" || resp.Header.Get("X-Ratelimit-Resource") != "core" {
		t.Fatalf("first read: %v %v", resp.Rate, err)
	}
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	for i := 0; i < 5; i++ {
		if resp, _ = w.src.Do(bg, req, nil); resp.StatusCode != 304 {
			t.Fatalf("conditional %d: %d", i, resp.StatusCode)
		}
	}
	req.Header.Del("If-None-Match")
	w.src.Do(bg, req, nil)
	resp, _ = w.src.Do(bg, req, nil)
	if resp.Rate.Remaining != 0 {
		t.Errorf("remaining %d after 3 full reads", resp.Rate.Remaining)
	}
	_, err = w.src.Do(bg, req, nil)
	var re *gh.RateLimitError
	if !errors.As(err, &re) {
		t.Errorf("4th full read: %T %v", err, err)
	}
}

func TestOverlappingRequestsOnOneIssueFailTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	clk := clock.NewFake(t0)
	s := New(rec, Options{Clock: clk})
	s.AddRepo(dst)
	s.AddToken(dstToken, bot)
	s.SetAccess(dstToken, dst, AccessPush)
	s.CreateIssue(dst, NewIssue{Title: "a", User: bot})
	s.CreateIssue(dst, NewIssue{Title: "b", User: bot})
	c := client(t, s, dstToken)
	release, arrived := make(chan struct{}), make(chan struct{})
	s.SetFault(func(r *Request) Fault {
		if r.Method == "PATCH" {
			close(arrived)
			return Fault{Wait: release}
		}
		return Fault{}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Issues.Edit(bg, "acme", "acme-status", 1, &gh.IssueRequest{Title: gh.String("a2")})
	}()
	<-arrived
	// Another issue may be touched meanwhile; the same issue may not.
	if _, _, err := c.Issues.ListComments(bg, "acme", "acme-status", 2, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.failures()) != 0 {
		t.Fatalf("unexpected failures %v", rec.failures())
	}
	if _, _, err := c.Issues.ListComments(bg, "acme", "acme-status", 1, nil); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	o := s.Overlaps()
	if len(o) != 1 || o[0].Object != "acme/acme-status#1" || !strings.HasPrefix(o[0].First, "PATCH") {
		t.Errorf("overlaps %+v", o)
	}
	if f := rec.failures(); len(f) != 1 || !strings.Contains(f[0], "concurrent requests on acme/acme-status#1") {
		t.Errorf("failures %q", f)
	}
}

func TestEnterpriseLayoutIsServed(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(src, NewIssue{Title: "a"})
	c, err := gh.NewClient(nil).WithAuthToken(srcToken).WithEnterpriseURLs(w.s.URL(), w.s.URL())
	if err != nil {
		t.Fatal(err)
	}
	is, _, err := c.Issues.Get(bg, "agency", "acme-internal", 1)
	if err != nil || is.GetTitle() != "a" {
		t.Errorf("GHES-style get: %v %v", is, err)
	}
}

func TestDumpIsStableJSON(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateMilestone(src, NewMilestone{Title: "M1", DueOn: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)})
	w.s.CreateIssue(src, NewIssue{Title: "b", Labels: []string{"zeta", "Alpha"}, Milestone: 1})
	w.s.CreateIssue(src, NewIssue{Title: "c", Parent: 1, State: "closed", StateReason: "not_planned"})
	w.s.AddComment(src, 1, "dev", "first")
	w.s.AddComment(src, 1, "pm", "second")
	w.s.AddRepo("agency/other")
	w.s.CreateIssue(src, NewIssue{Title: "d"})
	w.s.TransferIssue(src, 3, "agency/other")
	got, err := json.Marshal(w.s.Dump())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"repos":[` +
		`{"name":"acme/acme-status","issues":[],"labels":[],"milestones":[]},` +
		`{"name":"agency/acme-internal","issues":[` +
		`{"number":1,"title":"b","body":"","state":"open","labels":["Alpha","zeta"],"milestone":"M1","author":"agency-pm","comments":[{"author":"dev","body":"first"},{"author":"pm","body":"second"}]},` +
		`{"number":2,"title":"c","body":"","state":"closed","state_reason":"not_planned","labels":[],"author":"agency-pm","parent":"agency/acme-internal#1","comments":[]}],` +
		`"transferred":[{"number":3,"to":"agency/other#1"}],` +
		`"labels":[{"name":"Alpha","color":"ededed"},{"name":"zeta","color":"ededed"}],` +
		`"milestones":[{"number":1,"title":"M1","state":"open","due_on":"2026-02-01"}]},` +
		`{"name":"agency/other","issues":[{"number":1,"title":"d","body":"","state":"open","labels":[],"author":"agency-pm","comments":[]}],"labels":[],"milestones":[]}]}`
	if string(got) != want {
		t.Errorf("dump\n got %s\nwant %s", got, want)
	}
}

// The subset has every operation the fake serves, under the same path and
// method as GitHub's full description.
func TestSubsetHasEveryImplementedOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("parses the 13 MB description")
	}
	s := New(t, Options{})
	full, err := openapi.Fixture(openapi.GitHubFull...)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := openapi.New(full, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for path, item := range s.checker.Doc().Paths.Map() {
		for method, op := range item.Operations() {
			if s.handlerFor(&openapi.Route{OperationID: op.OperationID}) == nil {
				continue
			}
			found++
			fop := fc.Doc().Paths.Value(path)
			if fop == nil || fop.GetOperation(method) == nil || fop.GetOperation(method).OperationID != op.OperationID {
				t.Errorf("%s %s (%s) differs in the full description", method, path, op.OperationID)
			}
		}
	}
	if found != 31 {
		t.Errorf("%d implemented operations found in the subset, want 31", found)
	}
	for _, want := range []string{"/repos/{owner}/{repo}/issues/{issue_number}/sub_issues", "/repos/{owner}/{repo}/issues/{issue_number}/parent"} {
		if s.checker.Doc().Paths.Value(want) == nil {
			t.Errorf("subset lacks %s", want)
		}
	}
}

func TestRemoveMilestoneAndRenameLabel(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateMilestone(dst, NewMilestone{Title: "M"})
	w.s.CreateIssue(dst, NewIssue{Title: "a", User: bot, Milestone: 1, Labels: []string{"status: doing"}})
	is, _, err := w.dst.Issues.RemoveMilestone(bg, "acme", "acme-status", 1)
	if err != nil || is.Milestone != nil {
		t.Fatalf("remove milestone: %v %v", is.Milestone, err)
	}
	w.s.EditLabel(dst, "STATUS: DOING", func(l *Label) { l.Name = "status: done" })
	got, _, err := w.dst.Issues.Get(bg, "acme", "acme-status", 1)
	if err != nil || len(got.Labels) != 1 || got.Labels[0].GetName() != "status: done" {
		t.Errorf("labels after rename %v %v", got.Labels, err)
	}
}
