// Package item holds the canonical work item: the one shape every source
// connector produces and the mapping consumes. Nothing here is customer-facing;
// the mapping decides what of it may leave.
package item

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// State is the status category a connector derives from the tracker's own
// model (GitHub state and state_reason, Jira status category and resolution).
type State string

const (
	Open      State = "open"
	Done      State = "done"
	Cancelled State = "cancelled" // GitHub not_planned/duplicate; Jira done-category with a non-done resolution
)

// Kind is what an item is structurally; Type is the tracker's own issue type.
type Kind string

const (
	KindIssue   Kind = "issue"
	KindSubtask Kind = "subtask"
	KindEpic    Kind = "epic"
)

// Item is one work item of a source in canonical form.
//
// ID is immutable and globally unique: Source + "/" + the tracker's immutable
// id (GitHub issue id, Jira issue id, the file board's id). Numbers and keys
// change on transfer or move and are kept in Ref for display only.
type Item struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Ref    string `json:"ref"` // display only: "agency/acme-internal#12", "ACME-12"
	URL    string `json:"url"` // the internal tracker URL

	Kind  Kind   `json:"kind"`
	Type  string `json:"type"`
	Title string `json:"title"`
	Body  string `json:"body"` // CommonMark, whatever the tracker's own syntax

	Status     string `json:"status"` // the tracker's status name, internal vocabulary
	State      State  `json:"state"`
	Resolution string `json:"resolution,omitempty"`

	Labels    []string `json:"labels,omitempty"`
	Parent    string   `json:"parent,omitempty"`    // parent item ID (a GitHub sub-issue may sit in another repo)
	Milestone string   `json:"milestone,omitempty"` // milestone ID in the same source
	Assignees []string `json:"assignees,omitempty"`
	Reporter  string   `json:"reporter,omitempty"`

	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
	Start     *Due       `json:"start,omitempty"`
	Due       *Due       `json:"due,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`

	// Fields holds custom fields (estimate, cost, time spent, ...) by the name
	// the source configuration gives them. Values are JSON scalars or lists.
	Fields map[string]any `json:"fields,omitempty"`

	SecurityLevel string `json:"security_level,omitempty"`

	Comments []Comment `json:"comments,omitempty"`
	// CommentCount is what the tracker reports; CommentsLoaded says whether
	// Comments holds them. Connectors may list items without comments and
	// let the engine read comments only for items a customer selects.
	CommentCount   int  `json:"comment_count"`
	CommentsLoaded bool `json:"comments_loaded"`
}

// Comment is one comment of an item. Internal and Restricted comments never
// leave, whatever the rules say.
type Comment struct {
	ID         string    `json:"id"`
	Author     string    `json:"author"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Body       string    `json:"body"`                 // CommonMark
	Internal   bool      `json:"internal,omitempty"`   // JSM internal, or otherwise not public
	Restricted bool      `json:"restricted,omitempty"` // visibility limited to a role or group
}

// Milestone is a GitHub milestone, a Jira fix version or (with
// `milestones: epics`) a Jira epic. ID follows the item rule: Source + "/" +
// a native id that cannot collide with an item's (connectors prefix it).
type Milestone struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"` // CommonMark
	Due         *Due      `json:"due,omitempty"`
	Closed      bool      `json:"closed,omitempty"`
	URL         string    `json:"url,omitempty"`
	Updated     time.Time `json:"updated"`
}

// Due is a date as the tracker gives it: a calendar date (Jira duedate, the
// file board) or an instant (GitHub milestone due_on) that the mapping turns
// into a date in the customer's time zone.
type Due struct {
	Date string    `json:"date,omitempty"` // "2006-01-02"
	At   time.Time `json:"at,omitzero"`
}

// Snapshot is everything one source holds at one moment, or the part of it
// the store knows.
type Snapshot struct {
	Source     string      `json:"source"`
	Items      []Item      `json:"items"`
	Milestones []Milestone `json:"milestones"`
}

// MakeID joins a source key and a native id into an item or milestone ID.
func MakeID(source, native string) string { return source + "/" + native }

// SplitID returns the source key and native id of an ID made by MakeID.
// Native ids never contain a slash.
func SplitID(id string) (source, native string) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return "", id
	}
	return id[:i], id[i+1:]
}

// Hash is a stable content hash of any JSON-encodable value (struct fields
// encode in declaration order, map keys sorted).
func Hash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only unsupported types fail, which is a programming error.
		panic("item.Hash: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// HasLabel reports whether the item carries label l (exact match, as GitHub
// and Jira compare labels).
func (it *Item) HasLabel(l string) bool {
	for _, x := range it.Labels {
		if x == l {
			return true
		}
	}
	return false
}
