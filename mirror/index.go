package mirror

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"vitrine/store"
)

// Index rebuilds a target's links from the mirrors it holds: every mirror
// carries its opaque key, so after a lost store each one is found again and
// adopted instead of created twice. Run once per target (the op keys wait
// for it); a mirror found twice under one key keeps the oldest and retracts
// the rest, audited as a duplicate; a mirror of ours whose object is not
// published any more is retracted.
func (a *Applier) Index(ctx context.Context, r Request) (Outcome, error) {
	tname := r.Target.Name()
	found, err := r.Target.Index(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("%s/%s: index mirrors: %w", r.Customer, tname, err)
	}
	objects := map[string]string{} // opaque key -> object
	if r.View != nil {
		for _, it := range r.View.Items {
			objects[a.key(r, it.Key)] = it.Key
		}
		for _, m := range r.View.Milestones {
			obj := MilestoneObject(m.Key)
			objects[a.key(r, obj)] = obj
		}
	}
	links, err := a.Store.ListLinks(ctx, r.Customer, tname, "")
	if err != nil {
		return Outcome{}, err
	}
	linkByKey := map[string]store.Link{}
	for _, l := range links {
		if !IsCommentObject(l.Object) && l.Key != "" {
			linkByKey[l.Key] = l
			objects[l.Key] = l.Object
		}
	}
	byKey := map[string][]Found{}
	for _, f := range found {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var out Outcome
	now := a.Clock.Now()
	for _, k := range keys {
		fs := byKey[k]
		l, hasLink := linkByKey[k]
		keep := oldest(fs)
		if hasLink && l.Ref != "" {
			for _, f := range fs {
				if f.Ref == l.Ref {
					keep = f
				}
			}
		}
		for _, f := range fs {
			if f.Ref == keep.Ref || f.Retracted {
				continue
			}
			if err := a.retractFound(ctx, r, f); err != nil {
				return out, err
			}
			out.Writes++
			a.audit(ctx, r, objects[k], "duplicate", "", "", fmt.Sprintf("%s %s duplicates %s: retracted", f.Kind, f.Ref, keep.Ref))
		}
		obj, known := objects[k]
		if !known {
			// Ours, but no published object has this key any more.
			if !keep.Retracted {
				if err := a.retractFound(ctx, r, keep); err != nil {
					return out, err
				}
				out.Writes++
				a.audit(ctx, r, "", "retract", "orphan", "", fmt.Sprintf("%s %s: no published object has its key", keep.Kind, keep.Ref))
			}
			continue
		}
		if hasLink && l.Ref == keep.Ref && l.State != store.LinkPending {
			continue
		}
		state := store.LinkLive
		if keep.Retracted {
			state = store.LinkRetracted
		}
		nl := store.Link{Customer: r.Customer, Target: tname, Object: obj, Ref: keep.Ref, Key: k,
			State: state, Created: now, Updated: now}
		if err := a.Store.PutLink(ctx, r.Fence, nl); err != nil {
			return out, err
		}
		if !IsMilestoneObject(obj) {
			// Comments of an adopted mirror are adopted by key too.
			if _, err := a.adoptComments(ctx, Request{Fence: r.Fence, Customer: r.Customer, Target: r.Target, Object: obj, View: r.View}, keep.Ref); err != nil {
				return out, err
			}
		}
		a.audit(ctx, r, obj, "adopt", "", "", fmt.Sprintf("%s %s found by key", keep.Kind, keep.Ref))
	}
	if err := a.Store.PutKV(ctx, nsIndexed, pairKey(r.Customer, tname), []byte(strconv.FormatInt(now.UnixNano(), 10))); err != nil {
		return out, err
	}
	out.Action = "index"
	return out, nil
}

func (a *Applier) retractFound(ctx context.Context, r Request, f Found) error {
	if f.Kind == KindMilestone {
		if mt, ok := r.Target.(MilestoneTarget); ok {
			return mt.RetractMilestone(ctx, f.Ref)
		}
		return nil
	}
	// Our comments on it go too.
	rcs, err := r.Target.ListComments(ctx, f.Ref)
	if err != nil {
		return err
	}
	for _, rc := range rcs {
		if err := r.Target.DeleteComment(ctx, f.Ref, rc.Ref); err != nil {
			return err
		}
	}
	return r.Target.RetractItem(ctx, f.Ref)
}

// oldest picks the mirror created first: the lowest numeric ref, else the
// lexically smallest.
func oldest(fs []Found) Found {
	best := fs[0]
	for _, f := range fs[1:] {
		if refLess(f.Ref, best.Ref) {
			best = f
		}
	}
	return best
}

func refLess(a, b string) bool {
	na, ea := strconv.ParseInt(a, 10, 64)
	nb, eb := strconv.ParseInt(b, 10, 64)
	if ea == nil && eb == nil {
		return na < nb
	}
	return a < b
}
