package mirror

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/fault"
	"vitrine/mapping"
	"vitrine/pace"
	"vitrine/store"
)

// LinkStore is the part of the store the applier needs.
type LinkStore interface {
	GetLink(ctx context.Context, customer, target, object string) (store.Link, bool, error)
	PutLink(ctx context.Context, f store.Fence, l store.Link) error
	DeleteLink(ctx context.Context, f store.Fence, customer, target, object string) error
	ListLinks(ctx context.Context, customer, target, prefix string) ([]store.Link, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) error
	GetKV(ctx context.Context, ns, key string) ([]byte, bool, error)
	PutKV(ctx context.Context, ns, key string, val []byte) error
	DeleteKV(ctx context.Context, ns, key string) error
}

// Faults lets tests stop a pass at a named point, as a crash would.
type Faults interface {
	At(point string) error
}

// Named fault points (package fault names them all).
const (
	FaultAfterCreate        = fault.AfterTargetCreate  // the target answered 2xx, the link is not stored yet
	FaultAfterCommentCreate = fault.AfterCommentCreate // during comment sync
)

// KV namespaces the applier owns.
const (
	nsIndexed   = "target-indexed" // customer|target -> time the target's mirrors were indexed
	nsFirstSeen = "first-seen"     // customer|target|object -> time the object was first planned
)

// Applier converges one mirror object at a time.
type Applier struct {
	Store  LinkStore
	Clock  clock.Clock
	Secret []byte // VITRINE_KEY_SECRET
	Log    zerolog.Logger
	Faults Faults
}

// Request is one op: converge Object of Customer in Target to View.
type Request struct {
	Fence    store.Fence
	Customer string
	Target   Target
	Object   string
	View     *mapping.View // nil: the customer must see nothing (removed, emergency retract)
	Delay    time.Duration // target_delay: hold first writes back
}

// Outcome says what a pass did and what must follow.
type Outcome struct {
	Action  string       // create | update | retract | adopt | "" (nothing to do)
	Writes  int          // target writes made
	After   time.Time    // non-zero: run this key again at After (not a failure)
	Enqueue []store.Task // other keys that must run (a milestone before its items, the index)
}

// indexRetry is when an op on a target whose mirrors were never indexed
// runs again: it asks for the index key first.
const indexRetry = time.Second

// IndexKey is the queue key that rebuilds a target's links from its mirrors.
func IndexKey(customer, target string) string { return "index:" + customer + "|" + target }

func pairKey(parts ...string) string {
	s := parts[0]
	for _, p := range parts[1:] {
		s += "|" + p
	}
	return s
}

// Apply runs one op.
func (a *Applier) Apply(ctx context.Context, r Request) (Outcome, error) {
	tname := r.Target.Name()
	indexed, err := a.indexed(ctx, r.Customer, tname)
	if err != nil {
		return Outcome{}, err
	}
	if !indexed {
		return Outcome{
			After:   a.Clock.Now().Add(indexRetry),
			Enqueue: []store.Task{{Key: IndexKey(r.Customer, tname), Lane: store.LaneControl}},
		}, nil
	}
	if IsMilestoneObject(r.Object) {
		return a.applyMilestone(ctx, r)
	}
	return a.applyItem(ctx, r)
}

func (a *Applier) indexed(ctx context.Context, customer, target string) (bool, error) {
	_, ok, err := a.Store.GetKV(ctx, nsIndexed, pairKey(customer, target))
	if err != nil {
		return false, fmt.Errorf("%s/%s: read index marker: %w", customer, target, err)
	}
	return ok, nil
}

func (a *Applier) key(r Request, object string) string {
	return OpaqueKey(a.Secret, r.Customer, r.Target.Name(), object)
}

func (a *Applier) audit(ctx context.Context, r Request, object, action, rule, hash, detail string) {
	e := store.AuditEntry{
		Time: a.Clock.Now(), Customer: r.Customer, Target: r.Target.Name(), Object: object,
		Action: action, Rule: rule, Hash: hash, Detail: detail,
	}
	if err := a.Store.AppendAudit(ctx, e); err != nil {
		a.Log.Error().Err(err).Str("customer", r.Customer).Str("target", r.Target.Name()).Msg("audit append failed")
	}
}

func findItem(v *mapping.View, key string) *mapping.Item {
	if v == nil {
		return nil
	}
	for i := range v.Items {
		if v.Items[i].Key == key {
			return &v.Items[i]
		}
	}
	return nil
}

func findMilestone(v *mapping.View, key string) *mapping.Milestone {
	if v == nil {
		return nil
	}
	for i := range v.Milestones {
		if v.Milestones[i].Key == key {
			return &v.Milestones[i]
		}
	}
	return nil
}

// held reports whether target_delay still holds the first write of object
// back, recording when it was first planned.
func (a *Applier) held(ctx context.Context, r Request, object string) (time.Time, bool, error) {
	if r.Delay <= 0 {
		return time.Time{}, false, nil
	}
	now := a.Clock.Now()
	k := pairKey(r.Customer, r.Target.Name(), object)
	raw, ok, err := a.Store.GetKV(ctx, nsFirstSeen, k)
	if err != nil {
		return time.Time{}, false, err
	}
	first := now
	if ok {
		if n, perr := strconv.ParseInt(string(raw), 10, 64); perr == nil {
			first = time.Unix(0, n)
		}
	} else if err := a.Store.PutKV(ctx, nsFirstSeen, k, []byte(strconv.FormatInt(now.UnixNano(), 10))); err != nil {
		return time.Time{}, false, err
	}
	until := first.Add(r.Delay)
	return until, now.Before(until), nil
}

func (a *Applier) forgetFirstSeen(ctx context.Context, r Request, object string) {
	if r.Delay > 0 {
		_ = a.Store.DeleteKV(ctx, nsFirstSeen, pairKey(r.Customer, r.Target.Name(), object))
	}
}

func (a *Applier) applyItem(ctx context.Context, r Request) (Outcome, error) {
	tname := r.Target.Name()
	want := findItem(r.View, r.Object)
	link, has, err := a.Store.GetLink(ctx, r.Customer, tname, r.Object)
	if err != nil {
		return Outcome{}, fmt.Errorf("%s/%s %s: read link: %w", r.Customer, tname, r.Object, err)
	}
	if want == nil {
		return a.retractItem(ctx, r, link, has)
	}
	edited := false
	switch drift, err := a.peekDrift(ctx, r); {
	case err != nil:
		return Outcome{}, fmt.Errorf("%s/%s %s: read drift flag: %w", r.Customer, tname, r.Object, err)
	case drift == "deleted" && has:
		// Deleted by someone else: create it again, comments too.
		comments, err := a.Store.ListLinks(ctx, r.Customer, tname, r.Object+commentInfix)
		if err != nil {
			return Outcome{}, err
		}
		for _, cl := range comments {
			if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, cl.Object); err != nil {
				return Outcome{}, err
			}
		}
		if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object); err != nil {
			return Outcome{}, err
		}
		// The links are gone: the flag has done its work (a create that
		// follows is protected by its own pending link).
		if err := a.clearDrift(ctx, r); err != nil {
			return Outcome{}, err
		}
		has, link = false, store.Link{}
	case drift == "edited":
		link.Hash = "drift" // exactly one corrective update below
		edited = true
	case drift != "":
		if err := a.clearDrift(ctx, r); err != nil {
			return Outcome{}, err
		}
	}

	// Held items wait out their own delay before they wait for their
	// milestone (held alike), not once a second for it.
	if !has {
		if until, hold, err := a.held(ctx, r, r.Object); err != nil {
			return Outcome{}, fmt.Errorf("%s/%s %s: target delay: %w", r.Customer, tname, r.Object, err)
		} else if hold {
			return Outcome{After: until}, nil
		}
	}
	var out Outcome
	msRef := ""
	if want.Milestone != "" {
		if _, ok := r.Target.(MilestoneTarget); ok {
			ml, mok, err := a.Store.GetLink(ctx, r.Customer, tname, MilestoneObject(want.Milestone))
			if err != nil {
				return Outcome{}, fmt.Errorf("%s/%s %s: read milestone link: %w", r.Customer, tname, r.Object, err)
			}
			if !mok || ml.State != store.LinkLive || ml.Ref == "" {
				// The milestone goes first; this item follows it shortly.
				return Outcome{
					After: a.Clock.Now().Add(indexRetry),
					Enqueue: []store.Task{{
						Key: OpKey(r.Customer, tname, MilestoneObject(want.Milestone)), Lane: store.LaneUpdate,
					}},
				}, nil
			}
			msRef = ml.Ref
		}
	}
	issue := Issue{Key: a.key(r, r.Object), Item: *want, MilestoneRef: msRef}
	now := a.Clock.Now()

	var comments []store.Link
	switch {
	case !has || link.State == store.LinkPending:
		ref, found := "", false
		if has && link.Ref != "" {
			// The create landed but a follow-up write did not: we know it.
			ref, found = link.Ref, true
		} else if has {
			// A create was sent and its answer may have been lost: find it
			// by its key before creating again.
			ref, found, err = r.Target.FindItem(ctx, issue.Key)
			if err != nil {
				return Outcome{}, fmt.Errorf("%s/%s %s: find pending mirror: %w", r.Customer, tname, r.Object, err)
			}
		}
		if found {
			link = store.Link{Customer: r.Customer, Target: tname, Object: r.Object, Ref: ref, Key: issue.Key,
				State: store.LinkLive, Created: link.Created, Updated: now}
			if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
				return Outcome{}, fmt.Errorf("%s/%s %s: adopt mirror %s: %w", r.Customer, tname, r.Object, ref, err)
			}
			out.Action = "adopt"
			// Its comments may have been written too: adopt them by key.
			if comments, err = a.adoptComments(ctx, r, ref); err != nil {
				return out, err
			}
			// Bring it to the wanted state below (an update is cheap and the
			// lost pass may have stopped half way).
			if rem, err := r.Target.UpdateItem(ctx, ref, issue); err != nil {
				return out, fmt.Errorf("%s/%s %s: update adopted mirror %s: %w", r.Customer, tname, r.Object, ref, err)
			} else {
				out.Writes++
				link.Remote = rem.ETag
			}
		} else {
			pending := store.Link{Customer: r.Customer, Target: tname, Object: r.Object, Key: issue.Key,
				State: store.LinkPending, Created: now, Updated: now}
			if err := a.Store.PutLink(ctx, r.Fence, pending); err != nil {
				return Outcome{}, fmt.Errorf("%s/%s %s: record pending create: %w", r.Customer, tname, r.Object, err)
			}
			rem, err := r.Target.CreateItem(ctx, issue)
			if err != nil && rem.Ref == "" && notSent(err) {
				// The pacer held the create back: nothing can be lost, so the
				// next pass creates without searching for it first.
				if derr := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object); derr != nil {
					return Outcome{}, derr
				}
				return Outcome{}, fmt.Errorf("%s/%s %s: create mirror: %w", r.Customer, tname, r.Object, err)
			}
			if err != nil {
				if rem.Ref != "" {
					// Created, then a later step of the create failed (a
					// paced transition): remember the mirror, stay pending.
					pending.Ref = rem.Ref
					if perr := a.Store.PutLink(ctx, r.Fence, pending); perr != nil {
						a.Log.Error().Err(perr).Str("customer", r.Customer).Str("target", tname).Msg("record created mirror")
					}
				}
				return Outcome{}, fmt.Errorf("%s/%s %s: create mirror: %w", r.Customer, tname, r.Object, err)
			}
			out.Writes++
			if a.Faults != nil {
				if err := a.Faults.At(FaultAfterCreate); err != nil {
					return out, err
				}
			}
			link = pending
			link.Ref, link.Remote, link.State, link.Updated = rem.Ref, rem.ETag, store.LinkLive, a.Clock.Now()
			// The issue holds what was wanted; only comments may still be
			// missing (the full part stays empty until they are written).
			link.Hash = "." + contentHash(*want)
			if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
				return out, fmt.Errorf("%s/%s %s: record created mirror %s: %w", r.Customer, tname, r.Object, rem.Ref, err)
			}
			out.Action = ActCreate
		}
	default:
		if comments, err = a.Store.ListLinks(ctx, r.Customer, tname, r.Object+commentInfix); err != nil {
			return Outcome{}, fmt.Errorf("%s/%s %s: list comment links: %w", r.Customer, tname, r.Object, err)
		}
		if link.State == store.LinkRetracted || contentPart(link.Hash) != contentHash(*want) {
			republish := link.State == store.LinkRetracted
			if republish {
				// From its first write on, the mirror may show the item
				// again: a pass that stops half way must leave a link that a
				// retraction acts on (live, with no hash: rewritten next).
				link.State, link.Hash, link.Updated = store.LinkLive, "", a.Clock.Now()
				if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
					return Outcome{}, fmt.Errorf("%s/%s %s: record republish of %s: %w", r.Customer, tname, r.Object, link.Ref, err)
				}
			}
			rem, err := r.Target.UpdateItem(ctx, link.Ref, issue)
			if err != nil {
				return Outcome{}, fmt.Errorf("%s/%s %s: update mirror %s: %w", r.Customer, tname, r.Object, link.Ref, err)
			}
			out.Writes++
			link.Remote = rem.ETag
			out.Action = ActUpdate
			if republish {
				out.Action = ActCreate // republished under the same link
			}
			link.State = store.LinkLive
		}
	}

	n, err := a.syncComments(ctx, r, link.Ref, want.Comments, comments)
	out.Writes += n
	if err != nil {
		return out, err
	}
	if out.Writes > 0 {
		// Our own write changed the mirror: a validator a drift check
		// stored earlier is stale.
		if err := a.Store.DeleteKV(ctx, nsETag, pairKey(r.Customer, tname, r.Object)); err != nil {
			return out, err
		}
	}
	if lh := itemLinkHash(*want); link.Hash != lh || link.State != store.LinkLive {
		prevHash := link.Hash
		link.Hash, link.State, link.Updated = lh, store.LinkLive, a.Clock.Now()
		if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
			return out, fmt.Errorf("%s/%s %s: record mirror %s: %w", r.Customer, tname, r.Object, link.Ref, err)
		}
		action := "update"
		if prevHash == "" {
			action = "publish"
		}
		if out.Action == "" {
			out.Action = ActUpdate
		}
		a.audit(ctx, r, r.Object, action, "", want.Hash, "mirror "+link.Ref)
	}
	if edited {
		// Only now is the drift repaired: a paced or failed write above
		// keeps the flag for the next pass.
		if err := a.clearDrift(ctx, r); err != nil {
			return out, err
		}
	}
	a.forgetFirstSeen(ctx, r, r.Object)
	return out, nil
}

// adoptComments records links for the comments vitrine already wrote on a
// mirror found by key, so they are updated rather than written twice.
func (a *Applier) adoptComments(ctx context.Context, r Request, itemRef string) ([]store.Link, error) {
	tname := r.Target.Name()
	remote, err := r.Target.ListComments(ctx, itemRef)
	if err != nil {
		return nil, fmt.Errorf("%s/%s %s: list mirror comments of %s: %w", r.Customer, tname, r.Object, itemRef, err)
	}
	existing, err := a.Store.ListLinks(ctx, r.Customer, tname, r.Object+commentInfix)
	if err != nil {
		return nil, err
	}
	byKey := map[string]store.Link{}
	for _, l := range existing {
		byKey[l.Key] = l
	}
	// Comment keys derive from comment objects; the wanted comments tell us
	// which object a key belongs to. Unknown keys are stale comments of ours.
	wantByKey := map[string]string{}
	if it := findItem(r.View, r.Object); it != nil {
		for _, c := range it.Comments {
			wantByKey[a.key(r, c.Key)] = c.Key
		}
	}
	now := a.Clock.Now()
	var out []store.Link
	for _, rc := range remote {
		if l, ok := byKey[rc.Key]; ok {
			l.Ref, l.State = rc.Ref, store.LinkLive
			if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
				return nil, err
			}
			out = append(out, l)
			delete(byKey, rc.Key)
			continue
		}
		obj, ok := wantByKey[rc.Key]
		if !ok {
			// A comment of ours whose object is no longer wanted: give it a
			// link under a synthetic object so syncComments deletes it.
			obj = r.Object + commentInfix + "stale-" + rc.Ref
		}
		l := store.Link{Customer: r.Customer, Target: tname, Object: obj, Ref: rc.Ref, Key: rc.Key,
			State: store.LinkLive, Created: now, Updated: now}
		if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	// Links left are pending creates that never landed.
	for _, l := range byKey {
		if l.State == store.LinkPending {
			if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, l.Object); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

func (a *Applier) syncComments(ctx context.Context, r Request, itemRef string, want []mapping.Comment, links []store.Link) (int, error) {
	tname := r.Target.Name()
	writes := 0
	wantBy := map[string]mapping.Comment{}
	for _, c := range want {
		wantBy[c.Key] = c
	}
	haveBy := map[string]store.Link{}
	for _, l := range links {
		haveBy[l.Object] = l
	}
	// Deletions first: retractions go before everything else.
	var gone []string
	for obj := range haveBy {
		if _, ok := wantBy[obj]; !ok {
			gone = append(gone, obj)
		}
	}
	sort.Strings(gone)
	var goneRemote map[string]string
	for _, obj := range gone {
		l := haveBy[obj]
		if l.Ref == "" && l.State == store.LinkPending {
			// Its create may have landed with the answer lost: find it by
			// its key before letting the link go.
			if goneRemote == nil {
				goneRemote = map[string]string{}
				rcs, err := r.Target.ListComments(ctx, itemRef)
				if err != nil {
					return writes, fmt.Errorf("%s/%s %s: list mirror comments: %w", r.Customer, tname, r.Object, err)
				}
				for _, rc := range rcs {
					goneRemote[rc.Key] = rc.Ref
				}
			}
			l.Ref = goneRemote[l.Key]
		}
		if l.Ref != "" && l.State != store.LinkRetracted {
			if err := r.Target.DeleteComment(ctx, itemRef, l.Ref); err != nil {
				return writes, fmt.Errorf("%s/%s %s: delete mirror comment %s: %w", r.Customer, tname, obj, l.Ref, err)
			}
			writes++
		}
		if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, obj); err != nil {
			return writes, err
		}
		a.audit(ctx, r, obj, "retract", "", "", "comment "+l.Ref)
	}
	// Pending comment links whose answer was lost: look for them by key once.
	var pendingRemote map[string]string
	for _, c := range want {
		l, ok := haveBy[c.Key]
		w := Comment{Key: a.key(r, c.Key), Comment: c}
		switch {
		case ok && l.State == store.LinkPending:
			if pendingRemote == nil {
				pendingRemote = map[string]string{}
				rcs, err := r.Target.ListComments(ctx, itemRef)
				if err != nil {
					return writes, fmt.Errorf("%s/%s %s: list mirror comments: %w", r.Customer, tname, r.Object, err)
				}
				for _, rc := range rcs {
					pendingRemote[rc.Key] = rc.Ref
				}
			}
			if ref, found := pendingRemote[w.Key]; found {
				l.Ref, l.State = ref, store.LinkLive
				l.Hash = "" // unknown content: rewrite below
				if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
					return writes, err
				}
				if _, err := r.Target.UpdateComment(ctx, itemRef, ref, w); err != nil {
					return writes, fmt.Errorf("%s/%s %s: update mirror comment %s: %w", r.Customer, tname, c.Key, ref, err)
				}
				writes++
				l.Hash = c.Hash
				if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
					return writes, err
				}
				continue
			}
			fallthrough
		case !ok:
			now := a.Clock.Now()
			l = store.Link{Customer: r.Customer, Target: tname, Object: c.Key, Key: w.Key,
				State: store.LinkPending, Created: now, Updated: now}
			if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
				return writes, err
			}
			rem, err := r.Target.CreateComment(ctx, itemRef, w)
			if err != nil {
				if rem.Ref == "" && notSent(err) {
					// Held back by the pacer: no answer can be lost.
					if derr := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, c.Key); derr != nil {
						return writes, derr
					}
				}
				return writes, fmt.Errorf("%s/%s %s: create mirror comment: %w", r.Customer, tname, c.Key, err)
			}
			writes++
			if a.Faults != nil {
				if err := a.Faults.At(FaultAfterCommentCreate); err != nil {
					return writes, err
				}
			}
			l.Ref, l.Remote, l.Hash, l.State, l.Updated = rem.Ref, rem.ETag, c.Hash, store.LinkLive, a.Clock.Now()
			if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
				return writes, err
			}
			a.audit(ctx, r, c.Key, "publish", "", c.Hash, "comment "+rem.Ref)
		case l.Hash != c.Hash:
			rem, err := r.Target.UpdateComment(ctx, itemRef, l.Ref, w)
			if errors.Is(err, connectors.ErrGone) {
				// Someone deleted our comment in the target: write it again.
				if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, c.Key); err != nil {
					return writes, err
				}
				a.audit(ctx, r, c.Key, "drift", "", "", "comment "+l.Ref+" deleted in the target: recreating")
				now := a.Clock.Now()
				l = store.Link{Customer: r.Customer, Target: tname, Object: c.Key, Key: w.Key,
					State: store.LinkPending, Created: now, Updated: now}
				if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
					return writes, err
				}
				rem, err = r.Target.CreateComment(ctx, itemRef, w)
				if err != nil {
					return writes, fmt.Errorf("%s/%s %s: recreate mirror comment: %w", r.Customer, tname, c.Key, err)
				}
				writes++
				l.Ref = rem.Ref
			} else if err != nil {
				return writes, fmt.Errorf("%s/%s %s: update mirror comment %s: %w", r.Customer, tname, c.Key, l.Ref, err)
			}
			if l.State != store.LinkPending {
				writes++
			}
			l.Remote, l.Hash, l.State, l.Updated = rem.ETag, c.Hash, store.LinkLive, a.Clock.Now()
			if err := a.Store.PutLink(ctx, r.Fence, l); err != nil {
				return writes, err
			}
			a.audit(ctx, r, c.Key, "update", "", c.Hash, "comment "+l.Ref)
		}
	}
	return writes, nil
}

func (a *Applier) retractItem(ctx context.Context, r Request, link store.Link, has bool) (Outcome, error) {
	tname := r.Target.Name()
	a.forgetFirstSeen(ctx, r, r.Object)
	if !has || link.State == store.LinkRetracted {
		return Outcome{}, nil
	}
	var out Outcome
	if link.State == store.LinkPending {
		ref, found, err := r.Target.FindItem(ctx, link.Key)
		if err != nil {
			return out, fmt.Errorf("%s/%s %s: find pending mirror: %w", r.Customer, tname, r.Object, err)
		}
		if !found {
			return out, a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object)
		}
		link.Ref = ref
	}
	comments, err := a.Store.ListLinks(ctx, r.Customer, tname, r.Object+commentInfix)
	if err != nil {
		return out, err
	}
	n, err := a.syncComments(ctx, r, link.Ref, nil, comments)
	out.Writes += n
	if err != nil {
		return out, err
	}
	if err := r.Target.RetractItem(ctx, link.Ref); err != nil {
		return out, fmt.Errorf("%s/%s %s: retract mirror %s: %w", r.Customer, tname, r.Object, link.Ref, err)
	}
	out.Writes++
	if d, ok := r.Target.(interface{ DeletesOnRetract() bool }); ok && d.DeletesOnRetract() {
		// Deleted, not neutralised: nothing is left to update, a republish
		// creates a new mirror (under the same key).
		if err := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object); err != nil {
			return out, fmt.Errorf("%s/%s %s: record deletion of %s: %w", r.Customer, tname, r.Object, link.Ref, err)
		}
		out.Action = ActRetract
		a.audit(ctx, r, r.Object, "retract", "", "", "mirror "+link.Ref+" deleted")
		return out, nil
	}
	link.State, link.Hash, link.Updated = store.LinkRetracted, "", a.Clock.Now()
	if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
		return out, fmt.Errorf("%s/%s %s: record retraction of %s: %w", r.Customer, tname, r.Object, link.Ref, err)
	}
	out.Action = ActRetract
	a.audit(ctx, r, r.Object, "retract", "", "", "mirror "+link.Ref)
	return out, nil
}

func (a *Applier) applyMilestone(ctx context.Context, r Request) (Outcome, error) {
	tname := r.Target.Name()
	mt, ok := r.Target.(MilestoneTarget)
	if !ok {
		return Outcome{}, nil
	}
	msKey := r.Object[len(milestonePrefix):]
	want := findMilestone(r.View, msKey)
	link, has, err := a.Store.GetLink(ctx, r.Customer, tname, r.Object)
	if err != nil {
		return Outcome{}, err
	}
	key := a.key(r, r.Object)
	now := a.Clock.Now()
	var out Outcome
	if want == nil {
		if !has || link.State == store.LinkRetracted {
			return out, nil
		}
		if link.State == store.LinkPending {
			ref, found, err := mt.FindMilestone(ctx, key)
			if err != nil {
				return out, err
			}
			if !found {
				return out, a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object)
			}
			link.Ref = ref
		}
		if err := mt.RetractMilestone(ctx, link.Ref); err != nil {
			return out, fmt.Errorf("%s/%s %s: retract milestone %s: %w", r.Customer, tname, r.Object, link.Ref, err)
		}
		out.Writes++
		link.State, link.Hash, link.Updated = store.LinkRetracted, "", now
		out.Action = ActRetract
		a.audit(ctx, r, r.Object, "retract", "", "", "milestone "+link.Ref)
		return out, a.Store.PutLink(ctx, r.Fence, link)
	}
	if !has || link.State == store.LinkPending {
		ref, found := "", false
		if has {
			if ref, found, err = mt.FindMilestone(ctx, key); err != nil {
				return out, err
			}
		}
		if !found {
			if !has {
				// target_delay holds a milestone's first write back too: its
				// name and date are content like an item's.
				if until, hold, err := a.held(ctx, r, r.Object); err != nil {
					return out, fmt.Errorf("%s/%s %s: target delay: %w", r.Customer, tname, r.Object, err)
				} else if hold {
					return Outcome{After: until}, nil
				}
			}
			pending := store.Link{Customer: r.Customer, Target: tname, Object: r.Object, Key: key,
				State: store.LinkPending, Created: now, Updated: now}
			if err := a.Store.PutLink(ctx, r.Fence, pending); err != nil {
				return out, err
			}
			rem, err := mt.CreateMilestone(ctx, key, *want)
			if err != nil {
				if rem.Ref == "" && notSent(err) {
					if derr := a.Store.DeleteLink(ctx, r.Fence, r.Customer, tname, r.Object); derr != nil {
						return out, derr
					}
				}
				return out, fmt.Errorf("%s/%s %s: create milestone: %w", r.Customer, tname, r.Object, err)
			}
			out.Writes++
			if a.Faults != nil {
				if err := a.Faults.At(FaultAfterCreate); err != nil {
					return out, err
				}
			}
			link = pending
			link.Ref, link.Remote, link.Hash, link.State = rem.Ref, rem.ETag, want.Hash, store.LinkLive
			a.forgetFirstSeen(ctx, r, r.Object)
			out.Action = ActCreate
			a.audit(ctx, r, r.Object, "publish", "", want.Hash, "milestone "+rem.Ref)
			return out, a.Store.PutLink(ctx, r.Fence, link)
		}
		link = store.Link{Customer: r.Customer, Target: tname, Object: r.Object, Key: key, Ref: ref,
			State: store.LinkLive, Created: now}
	}
	if link.Hash == want.Hash && link.State == store.LinkLive {
		return out, nil
	}
	if link.State == store.LinkRetracted {
		// The PATCH may land with its answer lost: from here on the
		// milestone may show again, so a retraction must act on it.
		link.State, link.Hash, link.Updated = store.LinkLive, "", now
		if err := a.Store.PutLink(ctx, r.Fence, link); err != nil {
			return out, fmt.Errorf("%s/%s %s: record republish of milestone %s: %w", r.Customer, tname, r.Object, link.Ref, err)
		}
	}
	rem, err := mt.UpdateMilestone(ctx, link.Ref, key, *want)
	if err != nil {
		return out, fmt.Errorf("%s/%s %s: update milestone %s: %w", r.Customer, tname, r.Object, link.Ref, err)
	}
	out.Writes++
	link.Remote, link.Hash, link.State, link.Updated = rem.ETag, want.Hash, store.LinkLive, a.Clock.Now()
	out.Action = ActUpdate
	a.audit(ctx, r, r.Object, "update", "", want.Hash, "milestone "+link.Ref)
	return out, a.Store.PutLink(ctx, r.Fence, link)
}

// notSent reports whether a write failed before anything was sent: the
// credential's pacer refused it. Any other failure may have reached the
// target, and a create then has to be found by its key before it is retried.
func notSent(err error) bool { return errors.Is(err, pace.ErrPaced) }
