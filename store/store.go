// Package store defines the records vitrine keeps and the contract every
// store implementation (store/sqlite, store/redis) meets; store/storetest
// checks an implementation against it.
//
// The store owns identity: a mirror object is found by (customer, target,
// object key), where the object key derives from the source's immutable id.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped) for these conditions.
var (
	// ErrFenced: the caller's lease on the key was lost (expired and taken by
	// another worker); its write was refused. An expired lease nobody took
	// over still holds.
	ErrFenced = errors.New("lease lost: write fenced off")
	// ErrUnavailable: the backing store cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
)

// Record kinds in the source cache.
const (
	KindItem      = "item"
	KindMilestone = "milestone"
)

// Snapshot is the cached current state of one source object.
type Snapshot struct {
	ID      string    // item or milestone ID
	Source  string    // source key
	Kind    string    // KindItem | KindMilestone
	Hash    string    // hash of Data
	Data    []byte    // canonical JSON (item.Item or item.Milestone)
	Updated time.Time // the source's own updated time
	Seen    time.Time // when vitrine last read it
}

// ViewRecord is one customer's current curated view.
type ViewRecord struct {
	Customer string
	Hash     string
	Data     []byte    // JSON of mapping.View
	Changed  time.Time // when Hash last changed ("last updated" on the page)
}

// Link states.
const (
	LinkPending   = "pending"   // a create was sent; its answer is not recorded yet
	LinkLive      = "live"      // the mirror object exists and holds Hash
	LinkRetracted = "retracted" // neutralised or deleted in the target
)

// Link ties one curated object to its mirror in one target.
type Link struct {
	Customer string
	Target   string // target name, "github:acme/acme-status"
	Object   string // item key, "ms:"+milestone key, item key+"/c/"+comment id
	Ref      string // the target's id for the mirror (issue number, Jira id, comment id)
	Key      string // the opaque key written into the mirror
	Hash     string // curated hash last written
	Remote   string // the target's fingerprint after our last write (ETag, updated time), for drift
	State    string // LinkPending | LinkLive | LinkRetracted
	Created  time.Time
	Updated  time.Time
}

// AuditEntry is one line of the audit log: what a customer was shown, changed
// or had retracted, when, and why.
type AuditEntry struct {
	Seq      int64 // assigned by the store, increasing
	Time     time.Time
	Customer string
	Target   string // "page" or a target name
	Object   string // object key
	Action   string // publish | update | retract | duplicate | pause | resume | rotate | emergency-retract | conflict
	Rule     string // the rule that selected (or the cause that retracted)
	Hash     string // curated hash of what was shown
	Detail   string
}

// AuditQuery selects audit entries; zero fields match everything. Since is
// inclusive; Limit keeps the newest entries, returned in Seq order.
type AuditQuery struct {
	Customer string
	Target   string
	Object   string
	Since    time.Time
	Limit    int // 0: no limit
}

// DeliveryRetention is how long delivery ids are remembered at least.
const DeliveryRetention = 7 * 24 * time.Hour

// Lanes order work: a lower lane is claimed first among ready keys.
type Lane int

const (
	LaneControl    Lane = 0 // fetches and view passes: cheap, and they produce the writes
	LaneRetract    Lane = 1
	LaneUpdate     Lane = 2
	LaneCreate     Lane = 3
	LaneBackground Lane = 4 // reconcile scans and drift checks
)

// Task asks for one pass over a key.
type Task struct {
	Key       string
	Lane      Lane
	NotBefore time.Time // zero: now
}

// Job is a claimed key, held under a lease until Complete, Retry, Defer or
// Park. Token fences store writes made on its behalf.
type Job struct {
	Key       string
	Lane      Lane
	Attempt   int // failed passes so far
	Token     int64
	Owner     string
	Enqueued  time.Time // when the oldest pending request arrived: the delivery's Received, else the task's NotBefore, else the store's clock
	LastError string
}

// Fence returns the fence for writes made while holding j.
func (j *Job) Fence() Fence { return Fence{Key: j.Key, Token: j.Token} }

// Fence proves a writer holds the lease on Key.
type Fence struct {
	Key   string
	Token int64
}

// Delivery is one accepted webhook delivery.
type Delivery struct {
	ID       string // "github:<X-GitHub-Delivery>", "jira:<site>:<identifier>"
	Received time.Time
	Tasks    []Task
}

// QueueStats feeds `vitrine status` and the metrics.
type QueueStats struct {
	Ready    int           // pending keys whose time has come
	Waiting  int           // pending keys scheduled later
	InFlight int           // leased
	Parked   int           // given up, awaiting an operator or the next reconcile
	Oldest   time.Duration // age of the oldest pending request
	// Intake counts accepted deliveries not yet moved into the queue: a
	// Redis intake stream's entries, read or not. Always 0 on SQLite, whose
	// Accept enqueues in the same transaction.
	Intake int
}

// Snapshots is the source cache.
type Snapshots interface {
	// PutSnapshot stores s unless the stored one has a newer Updated; it
	// reports whether the stored hash changed.
	PutSnapshot(ctx context.Context, s Snapshot) (changed bool, err error)
	GetSnapshot(ctx context.Context, id string) (Snapshot, bool, error)
	DeleteSnapshot(ctx context.Context, id string) (existed bool, err error)
	ListSnapshots(ctx context.Context, source string) ([]Snapshot, error)
}

// Views holds each customer's curated view.
type Views interface {
	PutView(ctx context.Context, v ViewRecord) error
	GetView(ctx context.Context, customer string) (ViewRecord, bool, error)
	DeleteView(ctx context.Context, customer string) error
	ListViews(ctx context.Context) ([]string, error) // customer ids
}

// Links holds mirror identities. Writes are fenced by the lease of the key
// that owns the object.
type Links interface {
	GetLink(ctx context.Context, customer, target, object string) (Link, bool, error)
	PutLink(ctx context.Context, f Fence, l Link) error
	DeleteLink(ctx context.Context, f Fence, customer, target, object string) error
	// ListLinks lists a customer's links in a target whose object key starts
	// with prefix ("" for all), ordered by object key.
	ListLinks(ctx context.Context, customer, target, prefix string) ([]Link, error)
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// KV holds small named values: cursors, ETags, page epochs, source errors,
// pause flags. Namespaces keep them apart.
type KV interface {
	GetKV(ctx context.Context, ns, key string) ([]byte, bool, error)
	PutKV(ctx context.Context, ns, key string, val []byte) error
	DeleteKV(ctx context.Context, ns, key string) error
	ListKV(ctx context.Context, ns string) (map[string][]byte, error)
}

// Intake accepts webhook deliveries durably.
type Intake interface {
	// Accept records d.ID and enqueues d.Tasks atomically; a delivery id seen
	// before (kept at least 7 days) is a duplicate and enqueues nothing.
	Accept(ctx context.Context, d Delivery) (dup bool, err error)
	// PruneDeliveries forgets delivery ids received before t, but never one
	// younger than DeliveryRetention (GitHub redelivers for 3 days).
	PruneDeliveries(ctx context.Context, before time.Time) error
}

// Queue is a per-key work queue with controller work-queue semantics: a key
// is pending at most once (requests coalesce, keeping the earliest time and
// lowest lane); a leased key is never claimed by another worker; a request
// for a leased key marks it dirty, so it runs exactly once more after the
// current pass.
type Queue interface {
	Enqueue(ctx context.Context, tasks ...Task) error
	// Claim leases the ready key with the lowest lane, then the earliest
	// time; nil when none is ready at now.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration) (*Job, error)
	// Lock leases a specific key for a caller outside the queue loop (a
	// one-shot sync, an operator command). ok is false while another holds it;
	// an expired lease is taken over; a pending request is not consumed.
	Lock(ctx context.Context, key, owner string, now time.Time, lease time.Duration) (j *Job, ok bool, err error)
	// Renew extends a lease; ErrFenced when it was lost.
	Renew(ctx context.Context, j *Job, now time.Time, lease time.Duration) error
	// Complete ends a pass; a dirty key becomes ready again.
	Complete(ctx context.Context, j *Job) error
	// Retry ends a failed pass: Attempt+1, ready again at at.
	Retry(ctx context.Context, j *Job, at time.Time, lastErr string) error
	// Defer ends a pass that could not start (pacing): ready again at at,
	// Attempt unchanged.
	Defer(ctx context.Context, j *Job, at time.Time) error
	// Park ends a pass (Attempt+1) and sets the key aside with its last error
	// until Unpark or a new Enqueue of the key; a key requested again during
	// the pass runs once more instead.
	Park(ctx context.Context, j *Job, lastErr string) error
	Unpark(ctx context.Context, key string) error
	Parked(ctx context.Context) ([]Job, error)
	// NextReady is the earliest time a pending key becomes ready or a lease
	// runs out (ok=false: nothing pending or leased).
	NextReady(ctx context.Context) (t time.Time, ok bool, err error)
	Stats(ctx context.Context, now time.Time) (QueueStats, error)
}

// Store is everything a store implementation provides.
type Store interface {
	Snapshots
	Views
	Links
	Audit
	KV
	Intake
	Queue
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
