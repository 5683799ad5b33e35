package jira

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// jqlFixture is a source with issues that differ in every field the JQL
// subset can test, each updated a minute after the previous one.
func jqlFixture(t *testing.T) *Server {
	s := NewStandard(t, Options{TimeZone: "UTC"})
	s.AddProject("OTHER", "Other")
	s.Grant(ReaderCred, "OTHER", PermRead)
	s.CreateIssue(SourceProject, Fields{Summary: "one", Labels: []string{"client-visible"}})
	s.Advance(time.Minute)
	s.CreateIssue(SourceProject, Fields{Type: "Bug", Summary: "two", Labels: []string{"client-visible", "client-hidden"},
		Components: []string{"Website"}, Status: "In Progress"})
	s.Advance(time.Minute)
	s.CreateIssue(SourceProject, Fields{Type: "Story", Summary: "three", Status: "Done", Resolution: "Won't Do", FixVersions: []string{"1.0"}})
	s.Advance(time.Minute)
	s.CreateIssue("OTHER", Fields{Summary: "four", Labels: []string{"x"}, Parent: "AGY-3"})
	s.Advance(time.Minute)
	return s
}

func (s *Server) searchKeys(cred, jql string) ([]string, *response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &request{s: s, cred: s.creds[cred]}
	found, r := s.search(q, searchParams{jql: jql}, true)
	if r != nil {
		return nil, r
	}
	var keys []string
	for _, is := range found {
		keys = append(keys, is.key)
	}
	return keys, nil
}

func TestJQLSubset(t *testing.T) {
	s := jqlFixture(t)
	cases := []struct{ jql, want string }{
		{`project = AGY ORDER BY updated ASC`, "AGY-1 AGY-2 AGY-3"},
		{`project = AGY ORDER BY updated DESC`, "AGY-3 AGY-2 AGY-1"},
		{`project = agy`, "AGY-3 AGY-2 AGY-1"}, // no ORDER BY: id descending
		{`project in (AGY, OTHER) ORDER BY id`, "AGY-1 AGY-2 AGY-3 OTHER-1"},
		{`project in ("Agency internal") ORDER BY key ASC`, "AGY-1 AGY-2 AGY-3"},
		{`project = AGY AND labels = client-visible ORDER BY id`, "AGY-1 AGY-2"},
		{`project = AGY AND labels != client-hidden ORDER BY id`, "AGY-1"}, // != skips unlabelled AGY-3, as Jira does
		{`project = AGY AND NOT labels = client-hidden ORDER BY id`, "AGY-1 AGY-3"},
		{`project = AGY AND labels in (x, client-hidden) ORDER BY id`, "AGY-2"},
		{`project in (AGY, OTHER) AND labels not in (client-hidden) ORDER BY id`, "AGY-1 OTHER-1"},
		{`project = AGY AND labels is EMPTY`, "AGY-3"},
		{`project = AGY AND labels IS NOT empty ORDER BY id`, "AGY-1 AGY-2"},
		{`project = AGY AND component = Website`, "AGY-2"},
		{`project = AGY AND issuetype = Bug`, "AGY-2"},
		{`project = AGY AND type != Task ORDER BY id`, "AGY-2 AGY-3"},
		{`project = AGY AND status = "In Progress"`, "AGY-2"},
		{`project = AGY AND status in ("To Do", Done) ORDER BY id`, "AGY-1 AGY-3"},
		{`project = AGY AND statusCategory = Done`, "AGY-3"},
		{`project = AGY AND statusCategory != done ORDER BY id`, "AGY-1 AGY-2"},
		{`project = AGY AND resolution = "Won't Do"`, "AGY-3"},
		{`project = AGY AND resolution is EMPTY ORDER BY id`, "AGY-1 AGY-2"},
		{`project = AGY AND fixVersion = "1.0"`, "AGY-3"},
		{`parent = AGY-3`, "OTHER-1"},
		{`key = AGY-2`, "AGY-2"},
		{`issuekey in (AGY-1, AGY-3) ORDER BY key DESC`, "AGY-3 AGY-1"},
		{`id in (10000, 10002) ORDER BY id`, "AGY-1 AGY-3"},
		{`id > 10001 ORDER BY id`, "AGY-3 OTHER-1"},
		{`project = AGY AND updated >= "2026/11/20 09:01" ORDER BY updated ASC`, "AGY-2 AGY-3"},
		{`project = AGY AND updated > "2026-11-20 09:01" ORDER BY updated ASC`, "AGY-3"},
		{`project = AGY AND updated <= "2026/11/20 09:01" ORDER BY updated ASC`, "AGY-1 AGY-2"},
		{`project = AGY AND updated = "2026/11/20 09:01"`, "AGY-2"},
		{`project = AGY AND created >= "2026/11/20" ORDER BY created`, "AGY-1 AGY-2 AGY-3"},
		{`project = AGY AND updated >= -3m ORDER BY id`, "AGY-2 AGY-3"}, // now is 09:04
		{`(project = AGY AND labels = client-hidden) OR (project = OTHER) ORDER BY id`, "AGY-2 OTHER-1"},
		{`project = AGY AND (status = Done OR labels = client-hidden) ORDER BY updated ASC, id`, "AGY-2 AGY-3"},
		{`project = AGY and labels = client-visible and not status = "In Progress"`, "AGY-1"},
	}
	for _, tc := range cases {
		got, r := s.searchKeys(ReaderCred, tc.jql)
		if r != nil {
			t.Errorf("%s: %d %v", tc.jql, r.status, r.body)
			continue
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s\n got %q\nwant %q", tc.jql, strings.Join(got, " "), tc.want)
		}
	}
}

func TestJQLErrorsAreJiraShaped400s(t *testing.T) {
	s := jqlFixture(t)
	s.AddProject("HIDDEN", "Hidden")
	s.DeleteIssue("AGY-1")
	cases := []struct{ jql, want string }{
		{``, "Unbounded JQL queries are not allowed here"},
		{`ORDER BY updated`, "Unbounded JQL queries are not allowed here"},
		{`project = NOPE`, "The value 'NOPE' does not exist for the field 'project'."},
		{`project = HIDDEN`, "The value 'HIDDEN' does not exist for the field 'project'."},
		{`key = AGY-1`, "An issue with key 'AGY-1' does not exist for field 'key'."},
		{`colour = red`, "Field 'colour' does not exist or you do not have permission to view it."},
		{`project = AGY AND status = Nope`, "The value 'Nope' does not exist for the field 'status'."},
		{`project = AGY AND labels > x`, "The operator '>' is not supported by the 'labels' field."},
		{`project = AGY AND updated >= "20 Nov 2026"`, "Date value '20 Nov 2026' for field 'updated' is invalid."},
		{`project = AGY AND`, "Expecting a field name but reached the end of the query."},
		{`project = AGY labels = x`, "Expecting either 'OR' or 'AND' but got 'labels'."},
		{`project = AGY AND (labels = x`, "Expecting ')'"},
		{`project = "AGY`, "has not been completed"},
		{`project = AGY ORDER BY summary`, "Not able to sort using field 'summary'."},
		{`project = AGY AND summary ~ launch`, "searching by field 'summary' is not supported by this fake"},
		{`project = AGY AND assignee = currentUser()`, "not supported by this fake"},
		{`project = AGY AND status was Done`, "not supported by this fake"},
		{`project = AGY AND labels in x`, "Expecting '('"},
		{`project = AGY AND status is EMPTY`, "does not support searching for EMPTY values"},
	}
	for _, tc := range cases {
		_, r := s.searchKeys(ReaderCred, tc.jql)
		if r == nil || r.status != 400 {
			t.Errorf("%s: want a 400, got %+v", tc.jql, r)
			continue
		}
		b, _ := json.Marshal(r.body)
		var e struct {
			ErrorMessages []string          `json:"errorMessages"`
			Errors        map[string]string `json:"errors"`
		}
		json.Unmarshal(b, &e)
		if len(e.ErrorMessages) != 1 || !strings.Contains(e.ErrorMessages[0], tc.want) || e.Errors == nil {
			t.Errorf("%s: %s, want a message containing %q", tc.jql, b, tc.want)
		}
	}
}

func TestIndexLagIsMeasuredOnTheFakeClock(t *testing.T) {
	s := jqlFixture(t)
	s.SetIndexLag(10 * time.Second)
	s.UpdateIssue("AGY-1", func(f *Fields) { f.Labels = []string{"client-hidden"} })
	keys, _ := s.searchKeys(ReaderCred, `labels = client-hidden ORDER BY id`)
	if strings.Join(keys, " ") != "AGY-2" {
		t.Errorf("at +0s: %v", keys)
	}
	s.Advance(9 * time.Second)
	if keys, _ = s.searchKeys(ReaderCred, `labels = client-hidden ORDER BY id`); strings.Join(keys, " ") != "AGY-2" {
		t.Errorf("at +9s: %v", keys)
	}
	s.Advance(time.Second)
	if keys, _ = s.searchKeys(ReaderCred, `labels = client-hidden ORDER BY id`); strings.Join(keys, " ") != "AGY-1 AGY-2" {
		t.Errorf("at +10s: %v", keys)
	}
}

func TestSelfCheckFlagsAnAnswerOfTheWrongShape(t *testing.T) {
	rec := &recordTB{TB: t}
	s := NewStandard(rec, Options{})
	key := s.CreateIssue(SourceProject, Fields{Summary: "x"})
	r := httptest.NewRequest("GET", "/rest/api/2/issue/"+key+"/comment/10000", nil)
	rt, _, _ := s.match("GET", r.URL.Path)
	s.selfCheck(r, rt, ok(200, map[string]any{"id": "10000", "body": "x", "jsdPublic": "yes"}))
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "jsdPublic") {
		t.Errorf("errors %q, want one about jsdPublic", rec.errs)
	}
	// Jira's own date format is not flagged
	rec.errs = nil
	s.selfCheck(r, rt, ok(200, map[string]any{"id": "10000", "body": "x", "created": "2026-11-20T01:00:00.000-0800"}))
	if len(rec.errs) != 0 {
		t.Errorf("quirks flagged: %q", rec.errs)
	}
}

type recordTB struct {
	testing.TB
	errs []string
}

func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordTB) Helper() {}
