// Package mirror converges mirror targets to the curated views: it plans
// which mirror objects need a write, and applies one object at a time
// through a Target, recording identity in the store before and after every
// create so that a lost answer is found again, never repeated.
package mirror

import (
	"context"

	"vitrine/mapping"
)

// Remote is a target's answer about one mirror object after a write or read.
type Remote struct {
	Ref  string // the target's id: GitHub issue number or comment id, Jira issue id
	ETag string // validator for the next conditional read (drift checks)
}

// Issue is what a target writes for one published item.
type Issue struct {
	Key          string // opaque key, written into the mirror as a hidden marker or property
	Item         mapping.Item
	MilestoneRef string // the target's ref of the item's mirrored milestone, "" for none
}

// Comment is what a target writes for one public comment.
type Comment struct {
	Key     string
	Comment mapping.Comment
}

// Found is a vitrine-owned object discovered in a target by its key.
type Found struct {
	Kind      string // KindItem | KindMilestone
	Key       string
	Ref       string
	Retracted bool // neutralised earlier (closed, marker kept)
}

// Object kinds found in a target.
const (
	KindItem      = "item"
	KindMilestone = "milestone"
)

// RemoteComment is a vitrine-written comment as the target holds it now.
type RemoteComment struct {
	Ref  string
	Key  string
	Body string // as stored in the target, compared with CommentBody for drift
}

// Check is the result of a drift check of one mirror item.
type Check struct {
	Exists  bool
	Drifted bool   // someone changed what vitrine wrote
	ETag    string // new validator
}

// Target is one mirror destination of one customer: a GitHub repo or a
// Jira project. Every method is one logical write or read; pacing and rate
// limits are handled below it (the HTTP transport) and surface as
// *connectors.RateLimited.
type Target interface {
	Name() string       // "github:acme/acme-status"
	Credential() string // pacing identity: the account the token belongs to

	// Index lists every vitrine-owned item (and milestone) in the target by
	// its key: used once per target to rebuild lost links.
	Index(ctx context.Context) ([]Found, error)
	// FindItem looks for the mirror carrying key (after a create whose
	// answer was lost).
	FindItem(ctx context.Context, key string) (ref string, found bool, err error)
	CreateItem(ctx context.Context, w Issue) (Remote, error)
	UpdateItem(ctx context.Context, ref string, w Issue) (Remote, error)
	// RetractItem neutralises or deletes the mirror, as the target is
	// configured. Comments are removed by the caller first.
	RetractItem(ctx context.Context, ref string) error
	// CheckItem re-reads the mirror (conditionally on etag) and says whether
	// it still holds what w would write.
	CheckItem(ctx context.Context, ref, etag string, w Issue) (Check, error)

	ListComments(ctx context.Context, itemRef string) ([]RemoteComment, error)
	CommentBody(w Comment) string
	CreateComment(ctx context.Context, itemRef string, w Comment) (Remote, error)
	UpdateComment(ctx context.Context, itemRef, ref string, w Comment) (Remote, error)
	DeleteComment(ctx context.Context, itemRef, ref string) error
}

// MilestoneTarget is a Target that mirrors milestones as objects of their
// own (GitHub milestones).
type MilestoneTarget interface {
	FindMilestone(ctx context.Context, key string) (ref string, found bool, err error)
	CreateMilestone(ctx context.Context, key string, m mapping.Milestone) (Remote, error)
	UpdateMilestone(ctx context.Context, ref, key string, m mapping.Milestone) (Remote, error)
	RetractMilestone(ctx context.Context, ref string) error
}
