package mapping

import (
	"time"

	"vitrine/scrub"
)

// View is what one customer may see: the rules of that customer applied to
// that customer's sources. Every renderer and target writes from a View and
// nothing else, so nothing outside it can leak.
//
// Keys are internal identities (source item IDs) used to link mirror objects;
// renderers must never print them.
type View struct {
	Customer string `json:"customer"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`

	// Health is the health of the newest status update: on_track, at_risk,
	// off_track, or "" when there is none.
	Health     string      `json:"health,omitempty"`
	Updates    []Update    `json:"updates,omitempty"`    // newest first
	Milestones []Milestone `json:"milestones,omitempty"` // by due date, then name, then key
	Groups     []string    `json:"groups,omitempty"`     // customer status words in display order
	Items      []Item      `json:"items,omitempty"`      // by group order, then due date, then title

	// Hash covers everything above.
	Hash string `json:"hash"`
}

// Item is one published item as the customer sees it.
type Item struct {
	Key       string         `json:"key"` // source item ID: identity of the mirror objects
	Title     []scrub.Inline `json:"title"`
	Body      scrub.Doc      `json:"body"`
	Status    string         `json:"status"`              // the customer's word
	Done      bool           `json:"done,omitempty"`      // the status is the `done` word
	Due       string         `json:"due,omitempty"`       // buffered, "2006-01-02", when show.dates
	Progress  *int           `json:"progress,omitempty"`  // percent over children, when show.progress and it has children
	Milestone string         `json:"milestone,omitempty"` // key of a View milestone
	Parent    string         `json:"parent,omitempty"`    // key of the parent when the parent is published too
	Assignees []string       `json:"assignees,omitempty"` // when show.assignees
	Fields    []Field        `json:"fields,omitempty"`    // allow-listed custom fields
	Comments  []Comment      `json:"comments,omitempty"`  // oldest first
	Hash      string         `json:"hash"`                // covers every field above but Key
}

// Field is one allow-listed custom field, its value as text.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Comment is one public comment.
type Comment struct {
	Key    string    `json:"key"` // item key + "/c/" + source comment id
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Body   scrub.Doc `json:"body"`
	Hash   string    `json:"hash"`
}

// Milestone is a roadmap entry: shown only when one of its items is published.
type Milestone struct {
	Key         string         `json:"key"` // source milestone ID
	Name        []scrub.Inline `json:"name"`
	Description scrub.Doc      `json:"description"`
	Due         string         `json:"due,omitempty"`      // buffered, when show.dates
	Progress    *int           `json:"progress,omitempty"` // percent, when show.progress
	Done        bool           `json:"done,omitempty"`
	Hash        string         `json:"hash"`
}

// Update is one project status update (a `/status` comment).
type Update struct {
	Key    string    `json:"key"`            // the comment's key
	Item   string    `json:"item,omitempty"` // key of the item it was posted on, when that item is published
	Health string    `json:"health"`         // on_track | at_risk | off_track
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Body   scrub.Doc `json:"body"`
	Hash   string    `json:"hash"`
}

// Decision says why an item of the customer's sources was or was not
// selected. Internal: explain and audit only.
type Decision struct {
	Item     string   `json:"item"` // source item ID
	Ref      string   `json:"ref"`
	Selected bool     `json:"selected"`
	Rule     string   `json:"rule"`             // "label client-visible", "inherited from ACME-3", "hidden by label client-hidden on ACME-1", ...
	Fields   []string `json:"fields,omitempty"` // names of the fields that leave when selected
	// Notes are what else explain should say: a title shown from the source
	// because the section is missing, /status comments that were ignored.
	Notes []string `json:"notes,omitempty"`
}

// Result is the outcome of curating one customer.
type Result struct {
	View      View       `json:"view"`
	Decisions []Decision `json:"decisions"` // one per item of the customer's sources, by item ID
	// NeedComments lists selected items (and the status item) whose comments
	// were not loaded (item.CommentsLoaded false): the engine loads them and
	// curates again before writing, or their comments would be retracted.
	NeedComments []string `json:"need_comments,omitempty"`
}

// Health values of status updates.
const (
	OnTrack  = "on_track"
	AtRisk   = "at_risk"
	OffTrack = "off_track"
)
