package jira

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"vitrine/item"
)

// The JSON shapes this package reads. go-jira's own types lose what
// matters here (jsdPublic, comment properties, status categories,
// hierarchy levels), so answers are decoded into these.

type issueJSON struct {
	ID         string                     `json:"id"`
	Key        string                     `json:"key"`
	Fields     map[string]json.RawMessage `json:"fields"`
	Properties map[string]json.RawMessage `json:"properties"`
}

type userJSON struct {
	AccountID    string `json:"accountId"`
	Name         string `json:"name"`
	Key          string `json:"key"`
	DisplayName  string `json:"displayName"`
	EmailAddress string `json:"emailAddress"`
}

func (u *userJSON) display() string {
	if u == nil {
		return ""
	}
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Name
}

type issueTypeJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Subtask        bool   `json:"subtask"`
	HierarchyLevel *int   `json:"hierarchyLevel"`
}

// isEpic: Cloud marks epics by hierarchy level 1; Data Center (and older
// Cloud answers) only by the type's name.
func (t issueTypeJSON) isEpic() bool {
	if t.HierarchyLevel != nil {
		return *t.HierarchyLevel == 1
	}
	return strings.EqualFold(t.Name, "Epic")
}

type statusJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	StatusCategory struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	} `json:"statusCategory"`
}

type commentPageJSON struct {
	StartAt    int           `json:"startAt"`
	MaxResults int           `json:"maxResults"`
	Total      int           `json:"total"`
	Comments   []commentJSON `json:"comments"`
}

type stdFields struct {
	Summary     string        `json:"summary"`
	Description *string       `json:"description"`
	IssueType   issueTypeJSON `json:"issuetype"`
	Project     struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"project"`
	Status     *statusJSON `json:"status"`
	Resolution *struct {
		Name string `json:"name"`
	} `json:"resolution"`
	ResolutionDate string   `json:"resolutiondate"`
	Labels         []string `json:"labels"`
	FixVersions    []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"fixVersions"`
	Parent *struct {
		ID     string `json:"id"`
		Key    string `json:"key"`
		Fields struct {
			IssueType issueTypeJSON `json:"issuetype"`
		} `json:"fields"`
	} `json:"parent"`
	Security *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"security"`
	DueDate  string           `json:"duedate"`
	Assignee *userJSON        `json:"assignee"`
	Reporter *userJSON        `json:"reporter"`
	Created  string           `json:"created"`
	Updated  string           `json:"updated"`
	Comment  *commentPageJSON `json:"comment"`
}

// issueFields are the fields every read of a source issue asks for.
var issueFields = []string{
	"summary", "description", "issuetype", "project", "status", "resolution", "resolutiondate",
	"labels", "fixVersions", "parent", "security", "duedate", "assignee", "reporter",
	"created", "updated", "comment",
}

// doneResolutions are the resolutions that mean the work was done; any
// other resolution on a done-category status means it was cancelled.
var doneResolutions = map[string]bool{"": true, "done": true, "fixed": true, "resolved": true, "complete": true, "completed": true}

func (f *stdFields) state() item.State {
	if f.Status == nil || f.Status.StatusCategory.Key != "done" {
		return item.Open
	}
	res := ""
	if f.Resolution != nil {
		res = strings.ToLower(strings.TrimSpace(f.Resolution.Name))
	}
	if doneResolutions[res] {
		return item.Done
	}
	return item.Cancelled
}

// fieldValue turns a custom field's JSON into a scalar or a list of
// scalars: option and user objects become their value or name.
func fieldValue(raw json.RawMessage) (any, bool) {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return nil, false
	}
	return scalar(v)
}

func scalar(v any) (any, bool) {
	switch x := v.(type) {
	case string, float64, bool:
		return x, true
	case map[string]any:
		for _, k := range []string{"value", "name", "displayName", "title", "key"} {
			if s, ok := x[k].(string); ok && s != "" {
				return s, true
			}
		}
		return nil, false
	case []any:
		var out []any
		for _, e := range x {
			if s, ok := scalar(e); ok {
				if _, isList := s.([]any); !isList {
					out = append(out, s)
				}
			}
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 63)
	return err == nil
}

func timeOrZero(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}
