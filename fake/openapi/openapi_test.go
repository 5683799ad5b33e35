package openapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func checker(t *testing.T, rel []string, opts Options) *Checker {
	t.Helper()
	p, err := Fixture(rel...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func req(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if body != "" {
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	r.Header.Set("Authorization", "token t")
	return r
}

func TestBadGitHubRequestsFailNamingTheProblem(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	for _, tc := range []struct {
		name, method, target, body string
		kind                       error
		want                       []string // substrings of the message
	}{
		{"issue without title", "POST", "/repos/o/r/issues", `{"body":"b"}`, ErrInvalid,
			[]string{"issues/create", `property "title" is missing`}},
		{"title of the wrong type", "POST", "/repos/o/r/issues", `{"title":true}`, ErrInvalid,
			[]string{"issues/create", "at /title"}},
		{"labels as a string", "POST", "/repos/o/r/issues", `{"title":"t","labels":"bug"}`, ErrInvalid,
			[]string{"issues/create", "at /labels", "must be an array"}},
		{"state bogus", "PATCH", "/repos/o/r/issues/3", `{"state":"bogus"}`, ErrInvalid,
			[]string{"issues/update", "at /state", "bogus"}},
		{"issue number not a number", "GET", "/repos/o/r/issues/abc", "", ErrInvalid,
			[]string{"issues/get", `path parameter "issue_number"`}},
		{"unknown path", "GET", "/repos/o/r/wiki", "", ErrNoRoute,
			[]string{"/repos/o/r/wiki", "no path template matches"}},
		// GitHub accepts a bare array too (go-github sends one), but its
		// description documents only the object form: fake/github adapts.
		{"labels as a bare array", "POST", "/repos/o/r/issues/3/labels", `["a"]`, ErrInvalid,
			[]string{"issues/add-labels", "oneOf"}},
		{"wrong method", "PUT", "/repos/o/r/issues", `{"title":"t"}`, ErrMethodNotAllowed,
			[]string{"method PUT not allowed on /repos/{owner}/{repo}/issues", "GET, POST"}},
		{"per_page=abc", "GET", "/repos/o/r/issues?per_page=abc", "", ErrInvalid,
			[]string{"issues/list-for-repo", `query parameter "per_page"`}},
		{"state=bogus in the query", "GET", "/repos/o/r/issues?state=bogus", "", ErrInvalid,
			[]string{"issues/list-for-repo", `query parameter "state"`}},
		{"comment without body", "POST", "/repos/o/r/issues/3/comments", `{"text":"x"}`, ErrInvalid,
			[]string{"issues/create-comment", `property "body" is missing`}},
		{"comment with no request body at all", "POST", "/repos/o/r/issues/3/comments", "", ErrInvalid,
			[]string{"issues/create-comment", "body: value is required but missing"}},
		{"not JSON", "POST", "/repos/o/r/issues", `{"title":`, ErrInvalid,
			[]string{"issues/create", "failed to decode request body"}},
		{"wrong content type", "POST", "/repos/o/r/labels", `name=x`, ErrInvalid,
			[]string{"issues/create-label", "Content-Type"}},
		{"milestone state bogus", "PATCH", "/repos/o/r/milestones/2", `{"state":"bogus"}`, ErrInvalid,
			[]string{"issues/update-milestone", "at /state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req(tc.method, tc.target, tc.body)
			if tc.name == "wrong content type" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			err := c.Check(r, []byte(tc.body))
			if err == nil {
				t.Fatalf("%s %s %s: passed, want an error", tc.method, tc.target, tc.body)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGoodGitHubRequestsPass(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	for _, tc := range []struct{ method, target, body, op string }{
		{"GET", "/repos/o/r/issues?state=all&sort=updated&direction=asc&per_page=100&since=2026-01-01T00:00:00Z&page=2", "", "issues/list-for-repo"},
		{"GET", "/repos/o/r/issues?creator=bot&sort=created&direction=desc", "", "issues/list-for-repo"},
		{"POST", "/repos/o/r/issues", `{"title":"t","body":"b","labels":["a"],"milestone":null}`, "issues/create"},
		{"POST", "/repos/o/r/issues", `{"title":"t","milestone":3,"assignees":["x"]}`, "issues/create"},
		{"PATCH", "/repos/o/r/issues/3", `{"state":"closed","state_reason":"not_planned"}`, "issues/update"},
		{"PATCH", "/repos/o/r/issues/3", `{"milestone":null,"title":"x","body":null}`, "issues/update"},
		{"GET", "/repos/o/r/issues/3", "", "issues/get"},
		{"GET", "/repos/o/r/issues/comments/77", "", "issues/get-comment"},
		{"PATCH", "/repos/o/r/issues/comments/77", `{"body":"x"}`, "issues/update-comment"},
		{"DELETE", "/repos/o/r/issues/comments/77", "", "issues/delete-comment"},
		{"GET", "/repos/o/r/issues/3/comments?per_page=100", "", "issues/list-comments"},
		{"POST", "/repos/o/r/issues/3/comments", `{"body":"hi"}`, "issues/create-comment"},
		{"POST", "/repos/o/r/issues/3/labels", `{"labels":["a"]}`, "issues/add-labels"},
		{"DELETE", "/repos/o/r/issues/3/labels/client%20visible", "", "issues/remove-label"},
		{"DELETE", "/repos/o/r/issues/3/labels/a%2Fb", "", "issues/remove-label"},
		{"POST", "/repos/o/r/labels", `{"name":"x","color":"ededed"}`, "issues/create-label"},
		{"GET", "/repos/o/r/milestones?state=all&per_page=100", "", "issues/list-milestones"},
		{"POST", "/repos/o/r/milestones", `{"title":"v1","due_on":"2026-03-01T00:00:00Z"}`, "issues/create-milestone"},
		{"PATCH", "/repos/o/r/milestones/2", `{"state":"closed","description":"d"}`, "issues/update-milestone"},
		{"GET", "/repos/o/r", "", "repos/get"},
		{"GET", "/repos/o/r/issues/3/sub_issues?per_page=50", "", "issues/list-sub-issues"},
		{"GET", "/repos/o/r/issues/3/parent", "", "issues/get-parent"},
	} {
		t.Run(tc.method+" "+tc.target+" "+tc.body, func(t *testing.T) {
			route, err := c.CheckRoute(req(tc.method, tc.target, tc.body), []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if route.OperationID != tc.op {
				t.Errorf("operation %s, want %s", route.OperationID, tc.op)
			}
		})
	}
}

// The subset keeps GitHub's typeless `nullable` next to oneOf, which made
// Prism skip body validation; kin-openapi handles it.
func TestNullableOneOfWithoutType(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	if err := c.Check(req("POST", "/repos/o/r/issues", "x"), []byte(`{"title":"t","milestone":null}`)); err != nil {
		t.Errorf("milestone null rejected: %v", err)
	}
	if err := c.Check(req("POST", "/repos/o/r/issues", "x"), []byte(`{"milestone":null}`)); err == nil {
		t.Error("a body without title and with milestone null passed")
	}
	if err := c.Check(req("POST", "/repos/o/r/issues", "x"), []byte(`{"title":"t","milestone":true}`)); err == nil {
		t.Error("milestone true passed")
	}
}

func TestLiteralSegmentBeatsParameter(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	r, err := c.Find("GET", "/repos/o/r/issues/comments")
	if err != nil {
		t.Fatal(err)
	}
	if r.Template != "/repos/{owner}/{repo}/issues/comments" {
		t.Errorf("template %s", r.Template)
	}
	r, err = c.Find("GET", "/repos/o/r/issues/12")
	if err != nil {
		t.Fatal(err)
	}
	if r.Template != "/repos/{owner}/{repo}/issues/{issue_number}" || r.Params["issue_number"] != "12" || r.Params["owner"] != "o" {
		t.Errorf("route %+v", r)
	}
	r, err = c.Find("DELETE", "/repos/o/r/issues/1/labels/a%2Fb%20c")
	if err != nil {
		t.Fatal(err)
	}
	if r.Params["name"] != "a/b c" {
		t.Errorf("label name %q, want unescaped %q", r.Params["name"], "a/b c")
	}
}

func TestCheckLeavesTheRequestBodyAlone(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	r := httptest.NewRequest("POST", "/repos/o/r/issues", strings.NewReader(`{"title":"t"}`))
	r.Header.Set("Content-Type", "application/json")
	if err := c.Check(r, []byte(`{"title":"t"}`)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _ := r.Body.Read(b)
	if string(b[:n]) != `{"title":"t"}` {
		t.Errorf("body after Check: %q", b[:n])
	}
}

func TestDescriptionIsParsedOncePerProcess(t *testing.T) {
	a := checker(t, GitHubSubset, Options{})
	start := time.Now()
	b := checker(t, GitHubSubset, Options{RewritePath: PrefixRewrite("/api/v3/", "/")})
	if a.Doc() != b.Doc() {
		t.Error("a second checker parsed the file again")
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("second New took %v", d)
	}
	t.Logf("GitHub subset parsed in %v", a.LoadTime())
}

func TestJiraV2PathIsCheckedAgainstV3(t *testing.T) {
	c := checker(t, JiraV3, Options{
		RewritePath:     PrefixRewrite("/rest/api/2/", "/rest/api/3/"),
		StringBodyProps: []string{"description", "body", "environment"},
	})
	t.Logf("Jira v3 parsed in %v", c.LoadTime())
	route, err := c.CheckRoute(req("POST", "/rest/api/2/issue/ABC-1/comment", "x"), []byte(`{"body":"h1. wiki text"}`))
	if err != nil {
		t.Fatal(err)
	}
	if route.OperationID != "addComment" || route.Params["issueIdOrKey"] != "ABC-1" {
		t.Errorf("route %+v", route)
	}
	if err := c.Check(req("GET", "/rest/api/2/issue/ABC-1?fields=summary&expand=renderedFields", ""), nil); err != nil {
		t.Errorf("get issue: %v", err)
	}
	err = c.Check(req("GET", "/rest/api/2/search/jql?maxResults=fifty", ""), nil)
	if err == nil || !strings.Contains(err.Error(), `query parameter "maxResults"`) {
		t.Errorf("maxResults=fifty: %v", err)
	}
	// Webhook registration has no anonymous alternative in its security list.
	r := req("GET", "/rest/api/2/webhook", "")
	r.Header.Del("Authorization")
	err = c.Check(r, nil)
	if err == nil || !strings.Contains(err.Error(), "no Authorization header") {
		t.Errorf("webhook without Authorization: %v", err)
	}
	r.Header.Set("Authorization", "Basic eDp5")
	if err := c.Check(r, nil); err != nil {
		t.Errorf("webhook with Authorization: %v", err)
	}
}

func TestStringBodiesAcceptedOnlyForNamedProperties(t *testing.T) {
	strict, err := New("testdata/adf.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	lax, err := New("testdata/adf.json", Options{StringBodyProps: []string{"description", "body"}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"summary":"s","description":"h1. wiki","nested":{"body":"plain"}}`
	if err := strict.Check(req("POST", "/rest/api/3/thing", "x"), []byte(body)); err == nil {
		t.Error("strict checker accepted string description")
	}
	if err := lax.Check(req("POST", "/rest/api/3/thing", "x"), []byte(body)); err != nil {
		t.Errorf("lax checker: %v", err)
	}
	err = lax.Check(req("POST", "/rest/api/3/thing", "x"), []byte(`{"summary":"s","other":"text"}`))
	if err == nil || !strings.Contains(err.Error(), "at /other") {
		t.Errorf("string in an unnamed property: %v", err)
	}
	err = lax.Check(req("POST", "/rest/api/3/thing", "x"), []byte(`{"description":"text"}`))
	if err == nil || !strings.Contains(err.Error(), `property "summary" is missing`) {
		t.Errorf("missing summary with a string description: %v", err)
	}
	err = lax.Check(req("POST", "/rest/api/3/thing", "x"), []byte(`{"summary":"s","description":{"type":"nope"}}`))
	if err == nil || !strings.Contains(err.Error(), "at /description/type") {
		t.Errorf("bad ADF object: %v", err)
	}
}

func TestCheckResponseCatchesAnIncompleteAnswer(t *testing.T) {
	c := checker(t, GitHubSubset, Options{})
	r := req("GET", "/repos/o/r/labels/bug", "")
	route, err := c.Find("GET", "/repos/o/r/labels/bug")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	good := `{"id":1,"node_id":"x","url":"https://x/1","name":"bug","description":null,"color":"ff0000","default":false}`
	if err := c.CheckResponse(r, route, 200, h, []byte(good)); err != nil {
		t.Errorf("complete label: %v", err)
	}
	err = c.CheckResponse(r, route, 200, h, []byte(`{"id":1,"name":"bug"}`))
	if err == nil || !strings.Contains(err.Error(), "response 200") || !strings.Contains(err.Error(), `"color" is missing`) {
		t.Errorf("incomplete label: %v", err)
	}
	if err := c.CheckResponse(r, route, 404, h, []byte(`{}`)); err != nil {
		t.Errorf("error answers are not checked: %v", err)
	}
}
