package mirror

import (
	"sort"

	"vitrine/mapping"
	"vitrine/store"
)

// Op is one planned convergence of one mirror object.
type Op struct {
	Object string
	Action string // create | update | retract
	Lane   store.Lane
}

// Actions.
const (
	ActCreate  = "create"
	ActUpdate  = "update"
	ActRetract = "retract"
)

// Plan compares a customer's view with the links recorded for one target and
// returns the objects that need a write, retractions first. links are the
// target's item and milestone links (comment links are the item op's
// business: an item's hash covers its comments). A nil view plans the
// retraction of everything.
func Plan(v *mapping.View, links []store.Link, milestones bool) []Op {
	want := map[string]string{} // object -> hash
	if v != nil {
		for _, it := range v.Items {
			want[it.Key] = it.Hash
		}
		if milestones {
			for _, m := range v.Milestones {
				want[MilestoneObject(m.Key)] = m.Hash
			}
		}
	}
	have := map[string]store.Link{}
	for _, l := range links {
		if IsCommentObject(l.Object) {
			continue
		}
		have[l.Object] = l
	}
	var ops []Op
	for obj, l := range have {
		if _, ok := want[obj]; !ok && l.State != store.LinkRetracted {
			ops = append(ops, Op{Object: obj, Action: ActRetract, Lane: store.LaneRetract})
		}
	}
	for obj, h := range want {
		l, ok := have[obj]
		switch {
		case !ok:
			ops = append(ops, Op{Object: obj, Action: ActCreate, Lane: store.LaneCreate})
		case l.State != store.LinkLive || fullPart(l.Hash) != h:
			ops = append(ops, Op{Object: obj, Action: ActUpdate, Lane: store.LaneUpdate})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Lane != ops[j].Lane {
			return ops[i].Lane < ops[j].Lane
		}
		// Milestones before items, so items find their milestone mirrored.
		mi, mj := IsMilestoneObject(ops[i].Object), IsMilestoneObject(ops[j].Object)
		if mi != mj {
			return mi
		}
		return ops[i].Object < ops[j].Object
	})
	return ops
}
