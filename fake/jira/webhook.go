package jira

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"vitrine/fake/openapi"
)

// Event is a Jira webhook event name.
type Event string

const (
	EventIssueCreated   Event = "jira:issue_created"
	EventIssueUpdated   Event = "jira:issue_updated"
	EventIssueDeleted   Event = "jira:issue_deleted"
	EventCommentCreated Event = "comment_created"
	EventCommentUpdated Event = "comment_updated"
	EventCommentDeleted Event = "comment_deleted"
)

// templates name the real deliveries (fixtures/jira-webhooks/
// mattermost-plugin-jira) each event is shaped after. Data Center comment
// events carry no issue (only comment.self names it), as Server sends them.
var templates = map[Flavor]map[Event]string{
	Cloud: {
		EventIssueCreated:   "webhook-issue-created.json",
		EventIssueUpdated:   "webhook-issue-updated-edited.json",
		EventIssueDeleted:   "webhook-issue-deleted.json",
		EventCommentCreated: "webhook-cloud-comment-created.json",
		EventCommentUpdated: "webhook-cloud-comment-updated.json",
		EventCommentDeleted: "webhook-cloud-comment-deleted.json",
	},
	DataCenter: {
		EventIssueCreated:   "webhook-issue-created.json",
		EventIssueUpdated:   "webhook-server-issue-updated-many-fields.json",
		EventIssueDeleted:   "webhook-issue-deleted.json",
		EventCommentCreated: "webhook-server-comment-created.json",
		EventCommentUpdated: "webhook-server-comment-updated.json",
		EventCommentDeleted: "webhook-server-comment-deleted.json",
	},
}

var (
	templateMu    sync.Mutex
	templateCache = map[string]map[string]json.RawMessage{}
)

func (s *Server) template(name string) (map[string]json.RawMessage, error) {
	dir := s.opts.FixturesDir
	if dir == "" {
		var err error
		if dir, err = openapi.Fixture(); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, "jira-webhooks", "mattermost-plugin-jira", name)
	templateMu.Lock()
	defer templateMu.Unlock()
	if t, ok := templateCache[path]; ok {
		return t, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t map[string]json.RawMessage
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	templateCache[path] = t
	return t, nil
}

// Delivery is one webhook request as Jira would send it.
type Delivery struct {
	Event  Event
	ID     string // X-Atlassian-Webhook-Identifier, kept across retries
	Body   []byte
	Header http.Header
}

// Sign is the X-Hub-Signature value Jira sends: the HMAC-SHA256 of the raw
// body with the webhook's secret, prefixed by the method name.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook builds a delivery describing the fake's current state of an issue
// (and, for comment events, one of its comments; deleted issues and
// comments are described as they were). The actor is who last changed it.
func (s *Server) Webhook(ev Event, issueKey, commentID string) Delivery {
	s.t.Helper()
	d, err := s.webhook(ev, issueKey, commentID)
	if err != nil {
		s.t.Fatalf("fake/jira: webhook %s %s %s: %v", ev, issueKey, commentID, err)
	}
	return d
}

func (s *Server) webhook(ev Event, issueKey, commentID string) (Delivery, error) {
	name, ok := templates[s.opts.Flavor][ev]
	if !ok {
		return Delivery{}, fmt.Errorf("unknown event %q", ev)
	}
	tmpl, err := s.template(name)
	if err != nil {
		return Delivery{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, found := s.lookupIDLocked(issueKey)
	if !found {
		return Delivery{}, fmt.Errorf("no issue %s", issueKey)
	}
	is := s.issueByID(id)
	v := viewer{loc: s.defTZ}
	out := map[string]any{}
	for k, raw := range tmpl {
		out[k] = raw
	}
	out["timestamp"] = s.now().UnixMilli()
	out["webhookEvent"] = string(ev)

	actor := is.reporter
	if n := len(is.changelog); n > 0 {
		actor = is.changelog[n-1].author
	}
	if ev == EventIssueDeleted {
		actor = s.deletedBy[id]
		if actor == "" {
			actor = "pm-anna"
		}
	}
	var cm *comment
	if commentID != "" {
		cm = is.comment(commentID)
		if cm == nil {
			for i := len(s.deletedComments) - 1; i >= 0; i-- {
				dc := s.deletedComments[i]
				if dc.issueID == id && strconv.FormatInt(dc.c.id, 10) == commentID {
					c := dc.c
					cm = &c
					break
				}
			}
		}
		if cm == nil {
			return Delivery{}, fmt.Errorf("no comment %s on %s", commentID, issueKey)
		}
		actor = cm.updateAuthor
	}
	switch ev {
	case EventCommentCreated, EventCommentUpdated, EventCommentDeleted:
		if cm == nil {
			return Delivery{}, fmt.Errorf("%s needs a comment id", ev)
		}
	}

	if _, ok := tmpl["user"]; ok {
		out["user"] = s.renderUser(actor)
	}
	if cm != nil {
		if _, ok := tmpl["comment"]; ok || ev == EventCommentCreated {
			out["comment"] = s.renderComment(is, cm, v, false)
		}
	}
	if raw, ok := tmpl["issue"]; ok {
		full := s.renderIssue(is, v, fieldSel{all: true}, nil, nil)
		if cm != nil {
			// Comment events carry a short issue: only the fields the real
			// delivery has.
			var ti struct {
				Fields map[string]json.RawMessage `json:"fields"`
			}
			json.Unmarshal(raw, &ti)
			short := map[string]any{}
			for k, val := range full["fields"].(map[string]any) {
				if _, keep := ti.Fields[k]; keep {
					short[k] = val
				}
			}
			full = map[string]any{"id": full["id"], "self": full["self"], "key": full["key"], "fields": short}
		}
		out["issue"] = full
	}
	if _, ok := tmpl["changelog"]; ok {
		cl := map[string]any{"id": strconv.FormatInt(s.nextChangeID, 10), "items": []any{}}
		if n := len(is.changelog); n > 0 {
			e := is.changelog[n-1]
			if ev == EventIssueCreated {
				e = is.changelog[0]
			}
			ce := s.renderChangeEntry(e, v)
			cl = map[string]any{"id": ce["id"], "items": ce["items"]}
		}
		out["changelog"] = cl
	}
	body, err := json.Marshal(out)
	if err != nil {
		return Delivery{}, err
	}
	s.nextDelivery++
	d := Delivery{
		Event: ev,
		ID:    fmt.Sprintf("%d", 7300000+s.nextDelivery),
		Body:  body,
		Header: http.Header{
			"Content-Type":                   {"application/json; charset=UTF-8"},
			"User-Agent":                     {"Atlassian Webhook HTTP Client"},
			"X-Atlassian-Webhook-Flow":       {"Primary"},
			"X-Atlassian-Webhook-Identifier": {""},
		},
	}
	d.Header.Set("X-Atlassian-Webhook-Identifier", d.ID)
	if s.opts.WebhookSecret != "" {
		d.Header.Set("X-Hub-Signature", Sign(s.opts.WebhookSecret, body))
	}
	return d, nil
}

// Retry is the same delivery sent again (same identifier), as Jira retries.
func (d Delivery) Retry(n int) Delivery {
	h := d.Header.Clone()
	h.Set("X-Atlassian-Webhook-Retry", strconv.Itoa(n))
	d.Header = h
	return d
}

// Deliver POSTs a delivery to url.
func Deliver(ctx context.Context, client *http.Client, url string, d Delivery) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return nil, err
	}
	req.Header = d.Header.Clone()
	if client == nil {
		client = http.DefaultClient
	}
	return client.Do(req)
}
