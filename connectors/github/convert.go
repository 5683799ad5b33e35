package github

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"vitrine/item"
)

// issueJSON is an issue as the REST API sends it: go-github v62's Issue plus
// what v62 does not know (sub-issues, issue types).
type issueJSON struct {
	gh.Issue
	ParentIssueURL *string `json:"parent_issue_url,omitempty"`
	Type           *struct {
		Name string `json:"name"`
	} `json:"type,omitempty"`
}

func (is *issueJSON) isPR() bool { return is.PullRequestLinks != nil }

// repoOfAPIURL returns owner/name from an API URL such as
// https://api.github.com/repos/o/r/issues/3 (or /api/v3/repos/o/r on
// Enterprise Server), and the issue number when the URL names one.
func repoOfAPIURL(raw string) (repo string, number int, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+2 < len(segs); i++ {
		if segs[i] != "repos" {
			continue
		}
		owner, _ := url.PathUnescape(segs[i+1])
		name, _ := url.PathUnescape(segs[i+2])
		if owner == "" || name == "" {
			return "", 0, false
		}
		repo = owner + "/" + name
		if i+4 < len(segs) && segs[i+3] == "issues" {
			number, _ = strconv.Atoi(segs[i+4])
		}
		return repo, number, true
	}
	return "", 0, false
}

// state maps GitHub's state and state_reason to the canonical category:
// closed as not_planned or duplicate is cancelled, any other close is done.
func state(s, reason string) item.State {
	if s != "closed" {
		return item.Open
	}
	switch reason {
	case "not_planned", "duplicate":
		return item.Cancelled
	}
	return item.Done
}

func ts(t *gh.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time.UTC()
}

// milestoneNative is a milestone's native id: "m-" + its immutable id, which
// no issue id (all digits) can equal.
func milestoneNative(id int64) string { return "m-" + strconv.FormatInt(id, 10) }

// convertMilestone turns a GitHub milestone into the canonical one.
func convertMilestone(source string, m *gh.Milestone) item.Milestone {
	out := item.Milestone{
		ID:          item.MakeID(source, milestoneNative(m.GetID())),
		Source:      source,
		Name:        m.GetTitle(),
		Description: m.GetDescription(),
		Closed:      m.GetState() == "closed",
		URL:         m.GetHTMLURL(),
		Updated:     ts(m.UpdatedAt),
	}
	if m.DueOn != nil && !m.DueOn.Time.IsZero() {
		out.Due = &item.Due{At: m.DueOn.Time.UTC()}
	}
	return out
}

func convertComment(c *gh.IssueComment) item.Comment {
	return item.Comment{
		ID:      strconv.FormatInt(c.GetID(), 10),
		Author:  c.GetUser().GetLogin(),
		Created: ts(c.CreatedAt),
		Updated: ts(c.UpdatedAt),
		Body:    c.GetBody(),
	}
}

// commentsOf converts a comment list in the order GitHub gives it (oldest
// first).
func commentsOf(cs []*gh.IssueComment) []item.Comment {
	out := make([]item.Comment, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, convertComment(c))
		}
	}
	return out
}

// issuePart is an item without what the comments read adds: the part an
// issue's own validator stands for.
func issuePart(it item.Item) item.Item {
	it.Comments, it.CommentsLoaded = nil, false
	return it
}

func issueHash(it item.Item) string { return item.Hash(issuePart(it)) }

func commentsHash(cs []item.Comment) string {
	if cs == nil {
		cs = []item.Comment{}
	}
	return item.Hash(cs)
}
