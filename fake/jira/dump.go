package jira

import (
	"encoding/json"
	"slices"
	"strconv"
)

// State is every project's live issues, deterministic and free of clock
// values, for golden comparisons (json.Marshal sorts the map keys).
type State struct {
	Projects []ProjectState `json:"projects"`
}

type ProjectState struct {
	Key    string       `json:"key"`
	ID     string       `json:"id"`
	Issues []IssueState `json:"issues"`
}

// IssueState is one issue as Dump and Issue show it.
type IssueState struct {
	ID             string                     `json:"id"`
	Key            string                     `json:"key"`
	OldKeys        []string                   `json:"oldKeys,omitempty"`
	Type           string                     `json:"type"`
	Summary        string                     `json:"summary"`
	Description    string                     `json:"description,omitempty"`
	Status         string                     `json:"status"`
	StatusCategory string                     `json:"statusCategory"`
	Resolution     string                     `json:"resolution,omitempty"`
	Labels         []string                   `json:"labels,omitempty"`
	Components     []string                   `json:"components,omitempty"`
	FixVersions    []string                   `json:"fixVersions,omitempty"`
	Parent         string                     `json:"parent,omitempty"`
	EpicLink       string                     `json:"epicLink,omitempty"`
	Security       string                     `json:"security,omitempty"`
	DueDate        string                     `json:"dueDate,omitempty"`
	Assignee       string                     `json:"assignee,omitempty"`
	Reporter       string                     `json:"reporter,omitempty"`
	Custom         map[string]json.RawMessage `json:"custom,omitempty"`
	Properties     map[string]json.RawMessage `json:"properties,omitempty"`
	Comments       []CommentState             `json:"comments,omitempty"`
}

type CommentState struct {
	ID         string                     `json:"id"`
	Author     string                     `json:"author"`
	Body       string                     `json:"body"`
	JSDPublic  bool                       `json:"jsdPublic"`
	Visibility *Visibility                `json:"visibility,omitempty"`
	Properties map[string]json.RawMessage `json:"properties,omitempty"`
}

// Dump is the state of every project, projects in the order they were
// added, issues by id.
func (s *Server) Dump() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Projects: []ProjectState{}}
	for _, key := range s.projectOrder {
		p := s.projects[key]
		ps := ProjectState{Key: p.key, ID: p.id, Issues: []IssueState{}}
		for _, id := range s.issueOrder {
			if is, ok := s.issues[id]; ok && is.project == key {
				ps.Issues = append(ps.Issues, s.issueState(is))
			}
		}
		st.Projects = append(st.Projects, ps)
	}
	return st
}

// Issue is one live issue's state (found by any of its keys or its id).
func (s *Server) Issue(idOrKey string) (IssueState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(idOrKey)
	if is == nil {
		return IssueState{}, false
	}
	return s.issueState(is), true
}

func (s *Server) issueState(is *issue) IssueState {
	f := s.fieldsOf(is)
	out := IssueState{
		ID: strconv.FormatInt(is.id, 10), Key: is.key, OldKeys: slices.Clone(is.oldKeys), Type: is.typ,
		Summary: is.summary, Description: is.description, Status: is.status,
		StatusCategory: statusByName(is.status).category.name, Resolution: is.resolution,
		Labels: slices.Clone(is.labels), Components: slices.Clone(is.components), FixVersions: slices.Clone(is.fixVersions),
		Parent: f.Parent, EpicLink: is.epicLink, Security: is.security, DueDate: is.dueDate,
		Assignee: is.assignee, Reporter: is.reporter,
	}
	if len(is.custom) > 0 {
		out.Custom = map[string]json.RawMessage{}
		for k, v := range is.custom {
			out.Custom[k] = slices.Clone(v)
		}
	}
	if len(is.props) > 0 {
		out.Properties = map[string]json.RawMessage{}
		for k, v := range is.props {
			out.Properties[k] = slices.Clone(v)
		}
	}
	for _, c := range is.comments {
		cs := CommentState{ID: strconv.FormatInt(c.id, 10), Author: c.author, Body: c.body, JSDPublic: c.jsdPublic}
		if c.visibility != nil {
			v := *c.visibility
			cs.Visibility = &v
		}
		if len(c.props) > 0 {
			cs.Properties = map[string]json.RawMessage{}
			for k, v := range c.props {
				cs.Properties[k] = slices.Clone(v)
			}
		}
		out.Comments = append(out.Comments, cs)
	}
	return out
}
