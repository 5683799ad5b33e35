package github

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"vitrine/fake/openapi"
)

// Event names a webhook delivery to build from the fake's current state.
type Event struct {
	Name   string // issues | issue_comment | label | milestone | sub_issues
	Action string // e.g. opened, edited, labeled, created, deleted, sub_issue_added
	Repo   string // owner/name
	// Issue is the issue number (issues, issue_comment); for sub_issues the
	// parent's number.
	Issue int
	// SubIssue is the child's number for sub_issues events (in Repo).
	SubIssue int
	Comment  int64  // issue_comment: the comment ID (deleted ones too)
	Label    string // label events, issues labeled/unlabeled
	// Milestone is the number for milestone events and issues
	// milestoned/demilestoned.
	Milestone int
	Assignee  string         // issues assigned/unassigned
	Sender    string         // login; default "agency-pm"
	Changes   map[string]any // the payload's "changes", e.g. {"title": {"from": "old"}}
}

// Delivery is a signed webhook request as GitHub would send it.
type Delivery struct {
	Event  string
	ID     string // X-GitHub-Delivery
	Body   []byte
	Header http.Header
}

// Request returns a POST of the delivery to url.
func (d Delivery) Request(url string) *http.Request {
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		panic(err)
	}
	r.Header = d.Header.Clone()
	return r
}

var (
	tplMu sync.Mutex
	tpls  = map[string][]byte{}
)

// templateFor reads GitHub's own example payload for an event and action
// (octokit/webhooks examples in shared/fixtures); actions without an example
// borrow one of the same shape.
func templateFor(event, action string) (map[string]any, error) {
	file := action
	switch {
	case event == "issues" && action == "closed":
		file = "reopened"
	case event == "milestone" && (action == "opened" || action == "edited"):
		file = "created"
	}
	key := event + "/" + file
	tplMu.Lock()
	data, ok := tpls[key]
	tplMu.Unlock()
	if !ok {
		p, err := openapi.Fixture("github-webhooks", event, file+".payload.json")
		if err != nil {
			return nil, err
		}
		if data, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("fake/github: no payload example for %s %s: %w", event, action, err)
		}
		tplMu.Lock()
		tpls[key] = data
		tplMu.Unlock()
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// overlay puts the fake's representation over the example's object, so
// properties the fake does not model keep GitHub's shape.
func overlay(tpl any, v map[string]any) map[string]any {
	out := map[string]any{}
	if t, ok := tpl.(map[string]any); ok {
		for k, x := range t {
			out[k] = x
		}
	}
	for k, x := range v {
		out[k] = x
	}
	return out
}

// Delivery builds a signed delivery of ev describing the fake's current
// state: the example payload's repository, issue, comment, label,
// milestone and sender objects are replaced by the fake's.
func (s *Server) Delivery(secret string, ev Event) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Sender == "" {
		ev.Sender = "agency-pm"
	}
	r := s.repoLocked(ev.Repo)
	if r == nil {
		return Delivery{}, fmt.Errorf("fake/github: webhook: no repository %s", ev.Repo)
	}
	var p map[string]any
	var err error
	if ev.Name == "sub_issues" {
		p, err = s.subIssuesPayloadLocked(r, ev)
	} else {
		p, err = s.payloadLocked(r, ev)
	}
	if err != nil {
		return Delivery{}, err
	}
	p["action"] = ev.Action
	p["repository"] = overlay(p["repository"], s.repoJSON(r, ""))
	p["sender"] = overlay(p["sender"], s.userJSON(ev.Sender))
	delete(p, "installation")
	delete(p, "organization")
	delete(p, "enterprise")

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return Delivery{}, err
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	s.deliveries++
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("fake-github-delivery/"+strconv.Itoa(s.deliveries))).String()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	mac1 := hmac.New(sha1.New, []byte(secret))
	mac1.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/fake")
	h.Set("X-GitHub-Event", ev.Name)
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(r.id, 10))
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac1.Sum(nil)))
	return Delivery{Event: ev.Name, ID: id, Body: body, Header: h}, nil
}

// issueForEventLocked finds the issue at a number, live or deleted (a
// deleted issue is described as it was); a transferred one is described at
// its old location.
func (s *Server) issueForEventLocked(r *repo, n int) (*Issue, error) {
	if is := r.issues[n]; is != nil {
		return is, nil
	}
	if t, ok := r.gone[n]; ok {
		if t.deleted {
			return t.issue, nil
		}
		old := copyIssue(t.issue)
		old.Repo, old.Number = r.full(), n
		return &old, nil
	}
	return nil, fmt.Errorf("fake/github: webhook: %s has no issue %d", r.full(), n)
}

func (s *Server) issueEventJSONLocked(r *repo, is *Issue) map[string]any {
	m := s.issueJSON(is)
	if is.Repo != r.full() || r.issues[is.Number] != is {
		// A deleted or moved issue: render against the repository given.
		m["repository_url"] = s.srv.URL + "/repos/" + r.full()
	}
	return m
}

func (s *Server) payloadLocked(r *repo, ev Event) (map[string]any, error) {
	p, err := templateFor(ev.Name, ev.Action)
	if err != nil {
		return nil, err
	}
	if ev.Changes != nil {
		p["changes"] = ev.Changes
	} else if _, ok := p["changes"]; ok {
		p["changes"] = map[string]any{}
	}
	switch ev.Name {
	case "issues", "issue_comment":
		is, err := s.issueForEventLocked(r, ev.Issue)
		if err != nil {
			return nil, err
		}
		ij := overlay(p["issue"], s.issueEventJSONLocked(r, is))
		if !is.PullRequest {
			delete(ij, "pull_request")
		}
		p["issue"] = ij
		if ev.Name == "issue_comment" {
			c := s.eventCommentLocked(is, ev.Comment)
			if c == nil {
				return nil, fmt.Errorf("fake/github: webhook: no comment %d on %s#%d", ev.Comment, r.full(), ev.Issue)
			}
			p["comment"] = overlay(p["comment"], s.commentJSON(is, c))
		}
		switch ev.Action {
		case "labeled", "unlabeled":
			l := s.eventLabelLocked(r, ev.Label)
			p["label"] = overlay(p["label"], s.labelJSON(r, l))
		case "milestoned", "demilestoned":
			m := s.eventMilestoneLocked(r, ev.Milestone)
			if m == nil {
				return nil, fmt.Errorf("fake/github: webhook: no milestone %d in %s", ev.Milestone, r.full())
			}
			p["milestone"] = overlay(p["milestone"], s.milestoneJSON(r, m))
		case "assigned", "unassigned":
			p["assignee"] = overlay(p["assignee"], s.userJSON(ev.Assignee))
		case "transferred":
			t, ok := r.gone[ev.Issue]
			if !ok || t.deleted {
				return nil, fmt.Errorf("fake/github: webhook: %s#%d was not transferred", r.full(), ev.Issue)
			}
			ch, _ := p["changes"].(map[string]any)
			if ev.Changes == nil {
				ch = map[string]any{}
			}
			ch["new_issue"] = s.issueJSON(t.issue)
			ch["new_repository"] = s.repoJSON(s.repoLocked(t.issue.Repo), "")
			p["changes"] = ch
		}
	case "label":
		l := s.eventLabelLocked(r, ev.Label)
		p["label"] = overlay(p["label"], s.labelJSON(r, l))
	case "milestone":
		m := s.eventMilestoneLocked(r, ev.Milestone)
		if m == nil {
			return nil, fmt.Errorf("fake/github: webhook: no milestone %d in %s", ev.Milestone, r.full())
		}
		p["milestone"] = overlay(p["milestone"], s.milestoneJSON(r, m))
	default:
		return nil, fmt.Errorf("fake/github: webhook event %q not supported", ev.Name)
	}
	return p, nil
}

func (s *Server) eventCommentLocked(is *Issue, id int64) *Comment {
	for _, c := range is.Comments {
		if c.ID == id {
			return c
		}
	}
	if d, ok := s.deadComments[id]; ok {
		return &d
	}
	return nil
}

func (s *Server) eventLabelLocked(r *repo, name string) *Label {
	if l := r.label(name); l != nil {
		return l
	}
	if l, ok := s.deadLabels[strings.ToLower(r.full()+"\x00"+name)]; ok {
		return &l
	}
	// GitHub describes a label by name even when it is gone.
	return &Label{Name: name, Color: "ededed", NodeID: nodeID("LA", 0)}
}

func (s *Server) eventMilestoneLocked(r *repo, n int) *Milestone {
	if m := r.milestones[n]; m != nil {
		return m
	}
	if m, ok := s.deadMilestones[fmt.Sprintf("%s#%d", strings.ToLower(r.full()), n)]; ok {
		return &m
	}
	return nil
}

// subIssuesPayloadLocked builds a sub_issues payload from the schema in
// GitHub's description (x-webhooks sub-issues-*): there is no example
// payload upstream. Issues and repositories are the REST representations
// the schema references.
func (s *Server) subIssuesPayloadLocked(r *repo, ev Event) (map[string]any, error) {
	parent, err := s.issueForEventLocked(r, ev.Issue)
	if err != nil {
		return nil, err
	}
	child, err := s.issueForEventLocked(r, ev.SubIssue)
	if err != nil {
		return nil, err
	}
	p := map[string]any{
		"parent_issue_id": parent.ID, "parent_issue": s.issueJSON(parent),
		"sub_issue_id": child.ID, "sub_issue": s.issueJSON(child),
	}
	switch ev.Action {
	case "sub_issue_added", "sub_issue_removed":
		p["sub_issue_repo"] = s.repoJSON(r, "")
	case "parent_issue_added", "parent_issue_removed":
		p["parent_issue_repo"] = s.repoJSON(r, "")
	default:
		return nil, fmt.Errorf("fake/github: webhook: sub_issues action %q not supported", ev.Action)
	}
	return p, nil
}
