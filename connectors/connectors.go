// Package connectors holds what every tracker connector shares with the
// engine: the result of a poll and the errors that steer the engine.
// Tracker SDK types (go-github, go-jira) never leave connectors/<tool>.
package connectors

import (
	"errors"
	"fmt"
	"time"

	"vitrine/item"
)

// Poll is one page of a cursor poll.
type Poll struct {
	// Items changed since the cursor, in their current state. Comments may be
	// unloaded (item.CommentsLoaded false): the engine reads them only for
	// items a customer selects.
	Items []item.Item
	// Milestones changed since the cursor (all of them when Full).
	Milestones []item.Milestone
	// Gone lists IDs the source knows are deleted or out of scope.
	Gone []string
	// Cursor is stored once these objects are processed; the next poll
	// starts from it (connectors keep an overlap window behind it).
	Cursor string
	// More: another page follows; poll again with Cursor.
	More bool
	// Full: Items and Milestones are the source's complete contents, so a
	// cached object missing from them is gone (the file board).
	Full bool
}

var (
	// ErrGone: the item was deleted, transferred or moved away, or left the
	// source's filter, and the container itself is readable.
	ErrGone = errors.New("item gone from source")
	// ErrNotModified: a conditional read found no change.
	ErrNotModified = errors.New("not modified")
)

// AccessError is a container-level failure (the repo or project answers
// 401/403/404): a source error, never "everything was deleted".
type AccessError struct {
	Source string
	Status int
	Err    error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("%s: source not readable (HTTP %d): %v", e.Source, e.Status, e.Err)
}

func (e *AccessError) Unwrap() error { return e.Err }

// RateLimited is a rate-limit answer: nothing more may be sent with
// Credential until Until. The engine reschedules against the credential's
// pacer instead of blocking a worker.
type RateLimited struct {
	Credential string
	Until      time.Time
	Secondary  bool // GitHub secondary limit or an unannounced limit: adapt the pace down
	Err        error
}

func (e *RateLimited) Error() string {
	kind := "rate limited"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	return fmt.Sprintf("%s on credential %s until %s: %v", kind, e.Credential, e.Until.UTC().Format(time.RFC3339), e.Err)
}

func (e *RateLimited) Unwrap() error { return e.Err }

// FetchOptions steer a single-item read.
type FetchOptions struct {
	// Comments: read the item's comments too (the engine asks only for
	// items a customer selects, and for the status item).
	Comments bool
	// Cached: the engine holds the state of the last read (with comments if
	// it asked for them), so a conditional read that finds nothing new may
	// answer ErrNotModified. Without it the connector must read fully.
	Cached bool
}
