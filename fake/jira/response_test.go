package jira_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"vitrine/fake/jira"
)

// TestResponsesMatchTheDescription sends every Cloud route a request with a
// rich issue behind it: the fake checks its own answers against Atlassian's
// description (bar Jira's known quirks) and fails the test on a mismatch.
func TestResponsesMatchTheDescription(t *testing.T) {
	rec := &recorder{TB: t}
	f := jira.NewStandard(rec, jira.Options{})
	epic := f.CreateIssue(jira.SourceProject, jira.Fields{Type: "Epic", Summary: "e"})
	key := f.CreateIssue(jira.SourceProject, jira.Fields{Summary: "x", Labels: []string{"a"}, FixVersions: []string{"1.0"},
		Description: "d", EpicLink: epic, Security: "Internal", DueDate: "2026-12-01", Assignee: "dev-bob", Resolution: "Done", Status: "Done"})
	f.CreateIssue(jira.SourceProject, jira.Fields{Type: "Sub-task", Summary: "s", Parent: key})
	f.AddComment(key, jira.JSMInternalComment("bob", "hi"))
	f.AddComment(key, jira.RoleComment("bob", "hi", jira.RoleDevelopers))
	f.UpdateIssue(key, func(x *jira.Fields) { x.Summary = "y" })
	f.Grant(jira.ReaderCred, jira.SourceProject, jira.PermAll)
	f.AddCredential(jira.Credential{Name: "admin", Email: "admin@agency.example", Token: "admin-token", SiteAdmin: true})
	f.Grant("admin", jira.SourceProject, jira.PermRead)
	calls := []struct{ method, path, body string }{
		{"GET", "/rest/api/2/issue/" + key + "?expand=names,transitions,changelog,renderedFields", ""},
		{"GET", "/rest/api/2/issue/" + key + "/comment?expand=properties", ""},
		{"GET", "/rest/api/2/issue/" + key + "/comment/10000", ""},
		{"GET", "/rest/api/2/issue/" + key + "/transitions?expand=transitions.fields", ""},
		{"GET", "/rest/api/2/search/jql?jql=project%3DAGY&fields=*all&expand=names&properties=k", ""},
		{"GET", "/rest/api/2/myself", ""},
		{"GET", "/rest/api/2/serverInfo", ""},
		{"GET", "/rest/api/2/field", ""},
		{"GET", "/rest/api/2/project/AGY", ""},
		{"GET", "/rest/api/2/project/AGY/versions", ""},
		{"PUT", "/rest/api/2/issue/" + key + "/properties/k", `{"a":1}`},
		{"GET", "/rest/api/2/issue/" + key + "/properties/k", ""},
		{"GET", "/rest/api/2/issue/" + key + "/properties", ""},
		{"GET", "/rest/api/2/comment/10000/properties", ""},
		{"GET", "/rest/api/2/comment/10000/properties/sd.public.comment", ""},
		{"POST", "/rest/api/2/issue", `{"fields":{"project":{"key":"AGY"},"issuetype":{"name":"Task"},"summary":"s"}}`},
		{"POST", "/rest/api/2/issue/" + key + "/comment", `{"body":"x","properties":[{"key":"a","value":1}]}`},
		{"PUT", "/rest/api/2/issue/" + key + "/comment/10001", `{"body":"x2"}`},
		{"POST", "/rest/api/2/workflows/preview", `{"projectId":"10000","issueTypeIds":["10002"]}`},
		{"POST", "/rest/api/3/workflows", `{"projectAndIssueTypes":[{"projectId":"10000","issueTypeId":"10002"}]}`},
		{"PUT", "/rest/api/2/issue/" + key + "?returnIssue=true", `{"fields":{"summary":"z"}}`},
	}
	for _, call := range calls {
		req, _ := http.NewRequest(call.method, f.URL()+call.path, bytes.NewReader([]byte(call.body)))
		cred := jira.ReaderCred
		if call.path == "/rest/api/3/workflows" {
			cred = "admin"
		}
		req.Header.Set("Authorization", f.AuthHeader(cred))
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("%s %s: %d %s", call.method, call.path, resp.StatusCode, body)
		}
	}
	if errs := rec.errors(); len(errs) != 0 {
		t.Errorf("the fake's answers do not match the description:\n%s", strings.Join(errs, "\n"))
	}
}
