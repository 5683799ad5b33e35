package mirror

import (
	"context"
	"fmt"

	"vitrine/store"
)

// KV namespaces of drift checks. Verify never writes links itself: an op on
// the same object may be in flight, and links belong to the op's lease.
const (
	nsDrift = "drift" // customer|target|object -> "edited" | "deleted"
	nsETag  = "mirror-etag"
)

// Verify re-reads every live mirror item of a target with conditional reads
// and schedules a repair where someone else changed or deleted it (drift).
// An unchanged mirror costs one conditional read (a GitHub 304 is free).
func (a *Applier) Verify(ctx context.Context, r Request) (Outcome, error) {
	tname := r.Target.Name()
	var out Outcome
	links, err := a.Store.ListLinks(ctx, r.Customer, tname, "")
	if err != nil {
		return out, err
	}
	for _, l := range links {
		if IsCommentObject(l.Object) || IsMilestoneObject(l.Object) || l.State != store.LinkLive {
			continue
		}
		want := findItem(r.View, l.Object)
		if want == nil || fullPart(l.Hash) != want.Hash {
			continue // the plan already writes or retracts it
		}
		msRef := ""
		if want.Milestone != "" {
			if ml, ok, err := a.Store.GetLink(ctx, r.Customer, tname, MilestoneObject(want.Milestone)); err == nil && ok {
				msRef = ml.Ref
			}
		}
		k := pairKey(r.Customer, tname, l.Object)
		etag := l.Remote
		if raw, ok, err := a.Store.GetKV(ctx, nsETag, k); err == nil && ok {
			etag = string(raw)
		}
		c, err := r.Target.CheckItem(ctx, l.Ref, etag, Issue{Key: l.Key, Item: *want, MilestoneRef: msRef})
		if err != nil {
			return out, fmt.Errorf("%s/%s %s: check mirror %s: %w", r.Customer, tname, l.Object, l.Ref, err)
		}
		flag := ""
		switch {
		case !c.Exists:
			flag = "deleted"
		case c.Drifted:
			flag = "edited"
		}
		if c.ETag != "" && c.ETag != etag {
			if err := a.Store.PutKV(ctx, nsETag, k, []byte(c.ETag)); err != nil {
				return out, err
			}
		}
		if flag == "" {
			continue
		}
		if err := a.Store.PutKV(ctx, nsDrift, k, []byte(flag)); err != nil {
			return out, err
		}
		a.audit(ctx, r, l.Object, "drift", "", "", "mirror "+l.Ref+" "+flag+" in the target: repairing")
		out.Enqueue = append(out.Enqueue, store.Task{Key: OpKey(r.Customer, tname, l.Object), Lane: store.LaneUpdate})
	}
	return out, nil
}

// peekDrift returns an object's drift flag; the op clears it once the
// repair is done (clearDrift).
func (a *Applier) peekDrift(ctx context.Context, r Request) (string, error) {
	raw, ok, err := a.Store.GetKV(ctx, nsDrift, pairKey(r.Customer, r.Target.Name(), r.Object))
	if err != nil || !ok {
		return "", err
	}
	return string(raw), nil
}

func (a *Applier) clearDrift(ctx context.Context, r Request) error {
	return a.Store.DeleteKV(ctx, nsDrift, pairKey(r.Customer, r.Target.Name(), r.Object))
}
