package mapping

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/vm"

	"vitrine/item"
)

// index holds the snapshots passed to one Curate call.
type index struct {
	items      map[string]*item.Item
	ids        []string // every item ID, sorted
	children   map[string][]string
	milestones map[string]*item.Milestone
	msItems    map[string][]string // milestone ID -> item IDs
	sources    map[string]bool     // sources that have a snapshot
}

func newIndex(snaps []item.Snapshot) *index {
	x := &index{
		items:      map[string]*item.Item{},
		children:   map[string][]string{},
		milestones: map[string]*item.Milestone{},
		msItems:    map[string][]string{},
		sources:    map[string]bool{},
	}
	for si := range snaps {
		s := &snaps[si]
		x.sources[s.Source] = true
		for i := range s.Items {
			it := &s.Items[i]
			// Both must agree: a snapshot cannot smuggle items of another
			// source past the customer's source filter.
			if it.Source != s.Source {
				continue
			}
			if _, dup := x.items[it.ID]; dup {
				continue
			}
			x.items[it.ID] = it
			x.ids = append(x.ids, it.ID)
		}
		for i := range s.Milestones {
			m := &s.Milestones[i]
			if m.Source != s.Source {
				continue
			}
			if _, dup := x.milestones[m.ID]; !dup {
				x.milestones[m.ID] = m
			}
		}
	}
	sort.Strings(x.ids)
	for _, id := range x.ids {
		it := x.items[id]
		if it.Parent != "" {
			x.children[it.Parent] = append(x.children[it.Parent], id)
		}
		if it.Milestone != "" {
			x.msItems[it.Milestone] = append(x.msItems[it.Milestone], id)
		}
	}
	return x
}

// choice is the selection outcome for one item and one customer.
type choice struct {
	published bool
	rule      string
	busy      bool // being decided: a parent cycle reads as unpublished
}

// selector applies one customer's selection decision table.
type selector struct {
	c    *Customer
	x    *index
	vm   vm.VM
	memo map[string]*choice
	// withheld: items other customers' rules select too (item ID -> those
	// customers). They are not published and pass nothing on by inheritance.
	withheld map[string][]string
}

func newSelector(c *Customer, x *index, withheld map[string][]string) *selector {
	return &selector{c: c, x: x, memo: map[string]*choice{}, withheld: withheld}
}

// own returns the item when it belongs to the customer's sources.
func (s *selector) own(id string) *item.Item {
	it := s.x.items[id]
	if it == nil || !s.c.sourceSet[it.Source] {
		return nil
	}
	return it
}

// ancestors lists the item's ancestors nearest first, following Parent
// within the customer's own sources and stopping at the first one outside
// them (or at a cycle).
func (s *selector) ancestors(it *item.Item) []*item.Item {
	var out []*item.Item
	seen := map[string]bool{it.ID: true}
	for p := s.own(it.Parent); p != nil && !seen[p.ID]; p = s.own(p.Parent) {
		seen[p.ID] = true
		out = append(out, p)
	}
	return out
}

// keptHome reports what keeps even the status item home: the hide label
// on it or an ancestor, or a security level the rules do not allow.
func (s *selector) keptHome(it *item.Item) bool {
	if lvl := it.SecurityLevel; lvl != "" && !s.c.allowSecLevels[lvl] {
		return true
	}
	if h := s.c.cfg.Publish.HideLabel; h != "" {
		if it.HasLabel(h) {
			return true
		}
		for _, a := range s.ancestors(it) {
			if a.HasLabel(h) {
				return true
			}
		}
	}
	return false
}

// decide applies the decision table to one item of the customer's sources.
// Conflicts with other customers are applied afterwards by Curate.
func (s *selector) decide(id string) *choice {
	if ch := s.memo[id]; ch != nil {
		if ch.busy {
			return &choice{rule: "excluded: parent cycle"}
		}
		return ch
	}
	it := s.own(id)
	if it == nil {
		return &choice{rule: "excluded: not in the customer's sources"}
	}
	ch := &choice{busy: true}
	s.memo[id] = ch
	ch.published, ch.rule = s.table(it)
	ch.busy = false
	return ch
}

func (s *selector) table(it *item.Item) (bool, string) {
	p := s.c.cfg.Publish
	anc := s.ancestors(it)
	if h := p.HideLabel; h != "" {
		if it.HasLabel(h) {
			return false, "hidden by label " + h
		}
		for _, a := range anc {
			if a.HasLabel(h) {
				return false, fmt.Sprintf("hidden by label %s on %s", h, a.Ref)
			}
		}
	}
	var rule string
	switch {
	case p.Label != "" && it.HasLabel(p.Label):
		rule = "label " + p.Label
	case p.Inherit:
		var via *item.Item // nearest ancestor withheld as a conflict
		for _, a := range anc {
			if s.decide(a.ID).published {
				rule = "inherited from " + a.Ref
				break
			}
			if via == nil && s.withheld[a.ID] != nil {
				via = a
			}
		}
		if rule == "" && via != nil {
			// Whose the subtree is, is as unclear as whose its root is.
			return false, fmt.Sprintf("withheld: inherits only from %s, withheld as a conflict with customer %s", via.Ref, strings.Join(s.withheld[via.ID], ", "))
		}
		if rule == "" {
			return false, fmt.Sprintf("excluded: no label %s and no published ancestor", p.Label)
		}
	default:
		return false, "excluded: no label " + p.Label
	}
	if lvl := it.SecurityLevel; lvl != "" && !s.c.allowSecLevels[lvl] {
		return false, fmt.Sprintf("excluded: security level %q not allowed (%s)", lvl, rule)
	}
	if s.c.when != nil {
		var msName string
		// Only the customer's own milestones, as in the view: a snapshot of
		// another source must not change what this customer sees.
		if m := s.x.milestones[it.Milestone]; m != nil && s.c.sourceSet[m.Source] {
			msName = m.Name
		}
		ok, err := evalWhen(&s.vm, s.c.when, exprItem(it, msName, s.c.loc))
		if err != nil {
			return false, fmt.Sprintf("excluded: when failed: %v (%s)", err, rule)
		}
		if !ok {
			return false, fmt.Sprintf("excluded: when false (%s)", rule)
		}
	}
	if it.State == item.Cancelled && s.c.cancelledWord == "" {
		return false, fmt.Sprintf("excluded: cancelled and retracted (%s)", rule)
	}
	if others := s.withheld[it.ID]; others != nil {
		return false, fmt.Sprintf("withheld: conflict with customer %s, whose rules also select it (%s)", strings.Join(others, ", "), rule)
	}
	return true, rule
}
