package github

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	gh "github.com/google/go-github/v62/github"

	"vitrine/fake/openapi"
)

const secret = "webhook-secret"

func TestWebhookSignatureVerifiesWithGoGitHub(t *testing.T) {
	w := newWorld(t, Options{})
	w.s.CreateIssue(src, NewIssue{Title: "Checkout <flow>", Body: "a & b", Labels: []string{"client-visible"}})
	d, err := w.s.Delivery(secret, Event{Name: "issues", Action: "labeled", Repo: src, Issue: 1, Label: "client-visible"})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var event any
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		payload, err := gh.ValidatePayload(r, []byte(secret))
		if err != nil {
			t.Errorf("ValidatePayload: %v", err)
			return
		}
		got = payload
		if event, err = gh.ParseWebHook(gh.WebHookType(r), payload); err != nil {
			t.Errorf("ParseWebHook: %v", err)
		}
		if gh.DeliveryID(r) == "" {
			t.Error("no delivery id")
		}
	})
	h.ServeHTTP(httptest.NewRecorder(), d.Request("http://vitrine.test/webhooks/github"))
	if string(got) != string(d.Body) {
		t.Fatal("payload differs from the signed body")
	}
	ev, ok := event.(*gh.IssuesEvent)
	if !ok {
		t.Fatalf("parsed %T", event)
	}
	if ev.GetAction() != "labeled" || ev.GetIssue().GetNumber() != 1 || ev.GetIssue().GetTitle() != "Checkout <flow>" ||
		ev.GetRepo().GetFullName() != src || ev.GetLabel().GetName() != "client-visible" || ev.GetSender().GetLogin() != "agency-pm" {
		t.Errorf("event %s #%d %q in %s label %s by %s", ev.GetAction(), ev.GetIssue().GetNumber(), ev.GetIssue().GetTitle(),
			ev.GetRepo().GetFullName(), ev.GetLabel().GetName(), ev.GetSender().GetLogin())
	}
	if ev.GetIssue().GetID() != mustIssue(t, w.s, src, 1).ID {
		t.Error("issue id is not the fake's")
	}
	// HTML is not escaped, as in GitHub's deliveries.
	if !strings.Contains(string(d.Body), `"Checkout <flow>"`) {
		t.Errorf("body escapes HTML: %.200s", d.Body)
	}
	// A wrong secret fails, and so does a changed body.
	if _, err := gh.ValidatePayload(d.Request("http://x/"), []byte("other")); err == nil {
		t.Error("wrong secret verified")
	}
	r := d.Request("http://x/")
	r.Body = http.NoBody
	if _, err := gh.ValidatePayload(r, []byte(secret)); err == nil {
		t.Error("empty body verified")
	}
	d2, _ := w.s.Delivery(secret, Event{Name: "issues", Action: "labeled", Repo: src, Issue: 1, Label: "client-visible"})
	if d2.ID == d.ID {
		t.Error("two deliveries share an id")
	}
}

func mustIssue(t *testing.T, s *Server, repo string, n int) Issue {
	t.Helper()
	is, ok := s.Issue(repo, n)
	if !ok {
		t.Fatalf("no %s#%d", repo, n)
	}
	return is
}

// Every payload the fake builds validates against GitHub's schema for it
// (components.schemas.webhook-<event>-<action> in the full description).
func TestWebhookPayloadsMatchGitHubSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("parses the 13 MB description")
	}
	full, err := openapi.Fixture(openapi.GitHubFull...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := openapi.New(full, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full GitHub description parsed in %v", c.LoadTime())
	schemas := c.Doc().Components.Schemas

	w := newWorld(t, Options{})
	s := w.s
	s.CreateMilestone(src, NewMilestone{Title: "M1", Description: "first"})
	s.CreateIssue(src, NewIssue{Title: "epic", Labels: []string{"client-visible"}, Milestone: 1, Assignees: []string{"dev"}})
	s.CreateIssue(src, NewIssue{Title: "child", Parent: 1})
	c1 := s.AddComment(src, 1, "dev", "[client] hello")
	c2 := s.AddComment(src, 1, "dev", "bye")
	s.CreateIssue(src, NewIssue{Title: "to delete"})
	s.CreateIssue(src, NewIssue{Title: "to move"})
	s.AddRepo("agency/other")
	s.TransferIssue(src, 4, "agency/other")
	s.DeleteComment(c2.ID)
	s.CreateLabel(src, "doomed", "000000", "")
	s.DeleteLabel(src, "doomed")
	s.CreateMilestone(src, NewMilestone{Title: "M2"})
	s.DeleteMilestone(src, 2)
	s.EditIssue(src, 2, func(is *Issue) { is.State = "closed" })
	s.DeleteIssue(src, 3)

	for _, ev := range []Event{
		{Name: "issues", Action: "opened", Issue: 1},
		{Name: "issues", Action: "edited", Issue: 1, Changes: map[string]any{"title": map[string]any{"from": "old"}}},
		{Name: "issues", Action: "closed", Issue: 2},
		{Name: "issues", Action: "reopened", Issue: 1},
		{Name: "issues", Action: "labeled", Issue: 1, Label: "client-visible"},
		{Name: "issues", Action: "unlabeled", Issue: 1, Label: "doomed"},
		{Name: "issues", Action: "milestoned", Issue: 1, Milestone: 1},
		{Name: "issues", Action: "demilestoned", Issue: 1, Milestone: 2},
		{Name: "issues", Action: "assigned", Issue: 1, Assignee: "dev"},
		{Name: "issues", Action: "deleted", Issue: 3},
		{Name: "issues", Action: "transferred", Issue: 4},
		{Name: "issue_comment", Action: "created", Issue: 1, Comment: c1.ID},
		{Name: "issue_comment", Action: "edited", Issue: 1, Comment: c1.ID, Changes: map[string]any{"body": map[string]any{"from": "x"}}},
		{Name: "issue_comment", Action: "deleted", Issue: 1, Comment: c2.ID},
		{Name: "label", Action: "created", Label: "client-visible"},
		{Name: "label", Action: "deleted", Label: "doomed"},
		{Name: "milestone", Action: "created", Milestone: 1},
		{Name: "milestone", Action: "closed", Milestone: 1},
		{Name: "milestone", Action: "deleted", Milestone: 2},
		{Name: "sub_issues", Action: "sub_issue_added", Issue: 1, SubIssue: 2},
		{Name: "sub_issues", Action: "sub_issue_removed", Issue: 1, SubIssue: 2},
		{Name: "sub_issues", Action: "parent_issue_added", Issue: 1, SubIssue: 2},
		{Name: "sub_issues", Action: "parent_issue_removed", Issue: 1, SubIssue: 2},
	} {
		ev.Repo = src
		name := "webhook-" + strings.ReplaceAll(ev.Name+"-"+ev.Action, "_", "-")
		t.Run(ev.Name+" "+ev.Action, func(t *testing.T) {
			d, err := s.Delivery(secret, ev)
			if err != nil {
				t.Fatal(err)
			}
			if d.Header.Get("X-GitHub-Event") != ev.Name {
				t.Errorf("event header %q", d.Header.Get("X-GitHub-Event"))
			}
			var v any
			if err := json.Unmarshal(d.Body, &v); err != nil {
				t.Fatal(err)
			}
			ref := schemas[name]
			if ref == nil {
				t.Fatalf("no schema %s", name)
			}
			if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
				t.Errorf("%s does not match %s: %.2000v", ev.Action, name, err)
			}
			m := v.(map[string]any)
			if m["action"] != ev.Action || m["repository"].(map[string]any)["full_name"] != src {
				t.Errorf("action %v repository %v", m["action"], m["repository"].(map[string]any)["full_name"])
			}
			if _, ok := m["installation"]; ok {
				t.Error("template's installation kept")
			}
			if ev.Name == "sub_issues" {
				if m["parent_issue"].(map[string]any)["title"] != "epic" || m["sub_issue"].(map[string]any)["title"] != "child" {
					t.Errorf("sub_issues payload %v", m)
				}
			}
			if ev.Action == "transferred" {
				ni := m["changes"].(map[string]any)["new_issue"].(map[string]any)
				if !strings.HasSuffix(ni["repository_url"].(string), "/repos/agency/other") {
					t.Errorf("new_issue %v", ni["repository_url"])
				}
			}
		})
	}
}
