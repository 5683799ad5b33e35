package github

import (
	"fmt"
	"slices"
	"strings"
)

// State is a deterministic view of the fake's data for golden comparisons:
// no IDs or timestamps, repositories by name, issues by number, labels
// sorted, comments in order.
type State struct {
	Repos []RepoState `json:"repos"`
}

// RepoState is one repository in a State.
type RepoState struct {
	Name        string           `json:"name"`
	Issues      []IssueState     `json:"issues"`
	Deleted     []int            `json:"deleted,omitempty"`
	Transferred []TransferState  `json:"transferred,omitempty"`
	Labels      []LabelState     `json:"labels"`
	Milestones  []MilestoneState `json:"milestones"`
}

// IssueState is one issue in a State.
type IssueState struct {
	Number      int            `json:"number"`
	Title       string         `json:"title"`
	Body        string         `json:"body"`
	State       string         `json:"state"`
	StateReason string         `json:"state_reason,omitempty"`
	Labels      []string       `json:"labels"`
	Milestone   string         `json:"milestone,omitempty"`
	Assignees   []string       `json:"assignees,omitempty"`
	Author      string         `json:"author"`
	PullRequest bool           `json:"pull_request,omitempty"`
	Parent      string         `json:"parent,omitempty"` // owner/name#number
	Comments    []CommentState `json:"comments"`
}

// CommentState is one comment in a State.
type CommentState struct {
	Author string `json:"author"`
	Body   string `json:"body"`
}

// LabelState is one label in a State.
type LabelState struct {
	Name        string `json:"name"`
	Color       string `json:"color"`
	Description string `json:"description,omitempty"`
}

// MilestoneState is one milestone in a State.
type MilestoneState struct {
	Number      int    `json:"number"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	State       string `json:"state"`
	DueOn       string `json:"due_on,omitempty"` // YYYY-MM-DD
}

// TransferState is an issue number that moved away.
type TransferState struct {
	Number int    `json:"number"`
	To     string `json:"to"` // owner/name#number
}

func lowerLess(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// Dump returns the State of every repository.
func (s *Server) Dump() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st State
	names := slices.Clone(s.repoOrder)
	slices.Sort(names)
	for _, key := range names {
		r := s.repos[key]
		rs := RepoState{Name: r.full(), Issues: []IssueState{}, Labels: []LabelState{}, Milestones: []MilestoneState{}}
		for _, is := range r.issues {
			x := IssueState{
				Number: is.Number, Title: is.Title, Body: is.Body, State: is.State, StateReason: is.StateReason,
				Labels: slices.Clone(is.Labels), Assignees: slices.Clone(is.Assignees), Author: is.User,
				PullRequest: is.PullRequest, Comments: []CommentState{},
			}
			if x.Labels == nil {
				x.Labels = []string{}
			}
			slices.SortFunc(x.Labels, lowerLess)
			slices.SortFunc(x.Assignees, lowerLess)
			if m := r.milestones[is.Milestone]; m != nil {
				x.Milestone = m.Title
			}
			if p := s.byID[is.ParentID]; p != nil {
				x.Parent = fmt.Sprintf("%s#%d", p.Repo, p.Number)
			}
			for _, c := range is.Comments {
				x.Comments = append(x.Comments, CommentState{Author: c.User, Body: c.Body})
			}
			rs.Issues = append(rs.Issues, x)
		}
		slices.SortFunc(rs.Issues, func(a, b IssueState) int { return a.Number - b.Number })
		for n, t := range r.gone {
			if t.deleted {
				rs.Deleted = append(rs.Deleted, n)
			} else {
				rs.Transferred = append(rs.Transferred, TransferState{Number: n, To: fmt.Sprintf("%s#%d", t.issue.Repo, t.issue.Number)})
			}
		}
		slices.Sort(rs.Deleted)
		slices.SortFunc(rs.Transferred, func(a, b TransferState) int { return a.Number - b.Number })
		for _, l := range r.labels {
			rs.Labels = append(rs.Labels, LabelState{Name: l.Name, Color: l.Color, Description: l.Description})
		}
		slices.SortFunc(rs.Labels, func(a, b LabelState) int { return lowerLess(a.Name, b.Name) })
		for _, m := range r.milestones {
			ms := MilestoneState{Number: m.Number, Title: m.Title, Description: m.Description, State: m.State}
			if !m.DueOn.IsZero() {
				ms.DueOn = m.DueOn.UTC().Format("2006-01-02")
			}
			rs.Milestones = append(rs.Milestones, ms)
		}
		slices.SortFunc(rs.Milestones, func(a, b MilestoneState) int { return a.Number - b.Number })
		st.Repos = append(st.Repos, rs)
	}
	return st
}
