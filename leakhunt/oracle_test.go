package leakhunt

import (
	"sort"
	"strings"
	"time"

	"vitrine/item"
)

// The oracle: which items, milestones, comments and status updates each
// customer must see, written from DESIGN.md (the decision table, status
// updates, milestones) and mapping's documented rules, deliberately
// naively and sharing no code with mapping:
//
//   - an item of the customer's own sources is hidden when it or an
//     ancestor carries the hide label; ancestors are followed through
//     Parent while they are items of the customer's own sources (the chain
//     stops at the first one outside them, at a missing one, at a cycle);
//   - otherwise it is a candidate when it carries the publish label, or
//     inherit is on and an ancestor is published;
//   - a candidate is published when its security level (if any) is
//     allowed, `when` is true (a runtime error is false), it is not
//     cancelled with cancelled: retract, and it is not withheld;
//   - published is the least fixed point of those rules (computed by
//     iteration from "nothing published", so cycles publish nothing by
//     themselves);
//   - withheld: another customer reading the item's source (the same
//     container, under whatever key) would publish it too, each decided
//     without conflicts; a withheld item passes nothing on by inheritance.
//     This is mapping's documented rule (selectFor), which the oracle
//     mirrors;
//   - a milestone shows when one of its items is published;
//   - a comment shows on a published item when comments are marked, it is
//     neither internal nor restricted, starts with the marker, is no
//     /status command and something of it is left after scrubbing;
//   - a status update is a /status on_track|at_risk|off_track comment
//     (optionally after the marker) on a published item or the status
//     item, neither internal nor restricted, by an allowed author; health
//     is the newest one's.

type world struct {
	items map[string]*item.Item
	ids   []string
	ms    map[string]*item.Milestone
	phys  map[string]*pitem // item ID → what the generator made
	pms   map[string]*pms
	same  map[string][]string // container/native → item IDs (one per view)
}

func (h *hcase) world() *world {
	w := &world{items: map[string]*item.Item{}, ms: map[string]*item.Milestone{}, phys: map[string]*pitem{}, pms: map[string]*pms{}, same: map[string][]string{}}
	for _, v := range h.allViews() {
		snap := &h.snaps[v.snap]
		byNative := map[string]*pitem{}
		for _, p := range v.cont.phys {
			byNative[p.native] = p
		}
		for i := range snap.Items {
			it := &snap.Items[i]
			if it.Source != snap.Source {
				continue // not this snapshot's: ignored
			}
			if _, dup := w.items[it.ID]; dup {
				continue
			}
			w.items[it.ID] = it
			w.ids = append(w.ids, it.ID)
			_, native := item.SplitID(it.ID)
			w.phys[it.ID] = byNative[native]
			k := v.cont.name + "/" + native
			w.same[k] = append(w.same[k], it.ID)
		}
		for i := range snap.Milestones {
			m := &snap.Milestones[i]
			if _, dup := w.ms[m.ID]; !dup {
				w.ms[m.ID] = m
			}
			for _, pm := range v.cont.ms {
				if item.MakeID(v.key, pm.native) == m.ID {
					w.pms[m.ID] = pm
				}
			}
		}
	}
	sort.Strings(w.ids)
	return w
}

func (w *world) equivalents(id string) []string {
	p := w.phys[id]
	if p == nil {
		return []string{id}
	}
	return w.same[p.cont.name+"/"+p.native]
}

type expect struct {
	pub     map[string]bool
	items   map[string]*expItem
	ms      map[string]*expMs
	updates []expUpdate
	health  string
	need    map[string]bool // NeedComments
	own     []string
	vis     *visSet
}

type expItem struct {
	status    string
	done      bool
	due       string
	progress  *int
	parent    string
	milestone string
	comments  []string
	fields    []string
}

type expMs struct {
	due      string
	progress *int
	done     bool
}

type expUpdate struct {
	key, item, health string
	at                time.Time
	pc                *pcomment
	author            string
}

// localDate is a due date as the customer reads it: the calendar date, or
// the instant's date in the customer's zone, plus buffer days.
func localDate(d *item.Due, loc *time.Location, buffer int) string {
	if d == nil {
		return ""
	}
	var t time.Time
	if d.Date != "" {
		var err error
		if t, err = time.Parse(time.DateOnly, d.Date); err != nil {
			return ""
		}
	} else if !d.At.IsZero() {
		t = d.At.In(loc)
	} else {
		return ""
	}
	return time.Date(t.Year(), t.Month(), t.Day()+buffer, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// decide applies the decision table to every item of c's own sources.
func (h *hcase) decide(w *world, c *cust, withheld map[string]bool) map[string]bool {
	var own []string
	for _, id := range w.ids {
		if c.keys[w.items[id].Source] {
			own = append(own, id)
		}
	}
	ancestors := func(it *item.Item) []*item.Item {
		var out []*item.Item
		seen := map[string]bool{it.ID: true}
		for p := w.items[it.Parent]; p != nil && c.keys[p.Source] && !seen[p.ID]; p = w.items[p.Parent] {
			seen[p.ID] = true
			out = append(out, p)
		}
		return out
	}
	passes := map[string]bool{}
	anc := map[string][]*item.Item{}
	for _, id := range own {
		it := w.items[id]
		anc[id] = ancestors(it)
		hidden := c.hide != "" && contains(it.Labels, c.hide)
		for _, a := range anc[id] {
			if c.hide != "" && contains(a.Labels, c.hide) && !hidden && withheld == nil {
				h.count("oracle: hidden by an ancestor's hide label")
			}
			hidden = hidden || (c.hide != "" && contains(a.Labels, c.hide))
		}
		if hidden || withheld[id] {
			continue
		}
		if it.SecurityLevel != "" && !c.sec[it.SecurityLevel] {
			continue
		}
		if c.when != nil {
			x := whenItem{it: it, due: localDate(it.Due, c.loc, 0)}
			if m := w.ms[it.Milestone]; m != nil && c.keys[m.Source] {
				x.milestone = m.Name // a milestone of the customer's own sources only, as the view
			}
			if ok, err := c.when.eval(x); err != nil || !ok {
				continue
			}
		}
		if it.State == item.Cancelled && c.cancelWord == "" {
			continue
		}
		passes[id] = true
	}
	pub := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, id := range own {
			if pub[id] || !passes[id] {
				continue
			}
			ok := contains(w.items[id].Labels, c.label)
			if !ok && c.inherit {
				for _, a := range anc[id] {
					ok = ok || pub[a.ID]
				}
				if ok && withheld == nil {
					h.count("oracle: published by inheritance")
					if a := anc[id][0]; a.Source != w.items[id].Source {
						h.count("oracle: inherited across sources")
					}
				}
			}
			if ok {
				pub[id] = true
				changed = true
			}
		}
	}
	return pub
}

// hiddenOrSecured: the hide label on the item or an ancestor of the
// customer's sources, or a security level the rules do not allow.
func (h *hcase) hiddenOrSecured(w *world, c *cust, it *item.Item) bool {
	if it.SecurityLevel != "" && !c.sec[it.SecurityLevel] {
		return true
	}
	if c.hide == "" {
		return false
	}
	seen := map[string]bool{}
	for p := it; p != nil && c.keys[p.Source] && !seen[p.ID]; p = w.items[p.Parent] {
		seen[p.ID] = true
		if contains(p.Labels, c.hide) {
			return true
		}
	}
	return false
}

// cutMarker: the comment starts with the marker (after blanks).
func cutMarker(body, marker string) (string, bool) {
	s := strings.TrimLeft(body, " \t\r\n")
	if !strings.HasPrefix(s, marker) {
		return "", false
	}
	return s[len(marker):], true
}

// statusCmd reads "/status <health> text", optionally after the marker.
func statusCmd(body, marker string) (isCmd bool, health string) {
	s := strings.TrimLeft(body, " \t\r\n")
	if rest, ok := cutMarker(s, marker); ok {
		s = strings.TrimLeft(rest, " \t\r\n")
	}
	rest, ok := strings.CutPrefix(s, "/status")
	if !ok || (rest != "" && !strings.ContainsRune(" \t\r\n", rune(rest[0]))) {
		return false, ""
	}
	rest = strings.TrimLeft(rest, " \t")
	for _, hl := range []string{"on_track", "at_risk", "off_track"} {
		if r, ok := strings.CutPrefix(rest, hl); ok && (r == "" || strings.ContainsRune(" \t\r\n", rune(r[0]))) {
			return true, hl
		}
	}
	return true, ""
}

func (c *cust) bodyOpts(section string) mdOpts {
	return mdOpts{section: normName(section), marker: normName(c.marker), domains: c.domains}
}

func (c *cust) commentOpts() mdOpts {
	return mdOpts{marker: normName(c.marker), comment: true, domains: c.domains}
}

func percent(done, all int) *int {
	if all == 0 {
		return nil
	}
	p := done * 100 / all
	return &p
}

func (h *hcase) oracle(w *world) map[*cust]*expect {
	pure := map[*cust]map[string]bool{}
	for _, c := range h.custs {
		pure[c] = h.decide(w, c, nil)
	}
	out := map[*cust]*expect{}
	for _, c := range h.custs {
		withheld := map[string]bool{}
		for id := range pure[c] {
			for _, o := range h.custs {
				if o == c {
					continue
				}
				for _, e := range w.equivalents(id) {
					if o.keys[w.items[e].Source] && pure[o][e] {
						withheld[id] = true
					}
				}
			}
		}
		pub := pure[c]
		h.features["oracle: withheld as a conflict"] += len(withheld)
		if len(withheld) > 0 {
			pub = h.decide(w, c, withheld)
		}
		out[c] = h.expectFor(w, c, pub)
	}
	return out
}

func (h *hcase) expectFor(w *world, c *cust, pub map[string]bool) *expect {
	e := &expect{pub: pub, items: map[string]*expItem{}, ms: map[string]*expMs{}, need: map[string]bool{}}
	own := func(id string) *item.Item {
		if it := w.items[id]; it != nil && c.keys[it.Source] {
			return it
		}
		return nil
	}
	progress := func(match func(*item.Item) bool) *int {
		var done, all int
		for _, id := range w.ids {
			it := own(id)
			if it == nil || !match(it) || it.State == item.Cancelled {
				continue
			}
			all++
			if it.State == item.Done {
				done++
			}
		}
		return percent(done, all)
	}
	for _, id := range w.ids {
		it := own(id)
		if it == nil {
			continue
		}
		e.own = append(e.own, id)
		isStatusItem := c.statusItem != "" && it.Ref == c.statusItem
		if (pub[id] || isStatusItem) && !it.CommentsLoaded {
			e.need[id] = true
		}
		if !pub[id] {
			continue
		}
		x := &expItem{}
		switch {
		case it.State == item.Cancelled:
			x.status = c.cancelWord
		case it.State == item.Done:
			x.status = c.doneWord
		default:
			x.status = c.defWord
			if wd, ok := c.smap[it.Status]; ok {
				x.status = wd
			}
		}
		x.done = x.status == c.doneWord
		if c.dates {
			x.due = localDate(it.Due, c.loc, c.buffer)
		}
		if c.progress {
			x.progress = progress(func(ch *item.Item) bool { return ch.Parent == id })
		}
		if pub[it.Parent] {
			x.parent = it.Parent
		}
		if m := w.ms[it.Milestone]; m != nil && c.keys[m.Source] {
			x.milestone = it.Milestone
			if e.ms[m.ID] == nil {
				em := &expMs{done: m.Closed}
				if c.dates {
					em.due = localDate(m.Due, c.loc, c.buffer)
				}
				if c.progress {
					em.progress = progress(func(ch *item.Item) bool { return ch.Milestone == m.ID })
				}
				e.ms[m.ID] = em
			}
		}
		for _, name := range c.fields {
			if p := w.phys[id]; p != nil && p.fields[name].shows {
				x.fields = append(x.fields, name)
			}
		}
		if c.comments {
			for _, pc := range w.phys[id].comments {
				cm := &it.Comments[pc.i]
				if cm.Internal || cm.Restricted {
					continue
				}
				if isCmd, _ := statusCmd(cm.Body, c.cmarker); isCmd {
					continue
				}
				if _, ok := cutMarker(cm.Body, c.cmarker); !ok {
					continue
				}
				if !pc.board && evalDoc(pc.rest, c.commentOpts()).empty {
					continue
				}
				x.comments = append(x.comments, id+"/c/"+cm.ID)
				h.count("oracle: comment shown")
			}
			sort.Strings(x.comments)
		}
		e.items[id] = x
	}
	// status updates
	for _, id := range e.own {
		it := w.items[id]
		if !pub[id] && !(c.statusItem != "" && it.Ref == c.statusItem) {
			continue
		}
		if !pub[id] && h.gates.statusItem && h.hiddenOrSecured(w, c, it) {
			continue
		}
		p := w.phys[id]
		for _, pc := range p.comments {
			cm := &it.Comments[pc.i]
			isCmd, hl := statusCmd(cm.Body, c.cmarker)
			if !isCmd || hl == "" || cm.Internal || cm.Restricted {
				continue
			}
			if len(c.statusAuthors) > 0 && !c.statusAuthors[cm.Author] {
				continue
			}
			u := expUpdate{key: id + "/c/" + cm.ID, health: hl, at: cm.Created, pc: pc, author: cm.Author}
			if pub[id] {
				u.item = id
			}
			e.updates = append(e.updates, u)
		}
	}
	sort.SliceStable(e.updates, func(i, j int) bool {
		a, b := e.updates[i], e.updates[j]
		if !a.at.Equal(b.at) {
			return a.at.After(b.at)
		}
		return a.key < b.key
	})
	if len(e.updates) > 0 {
		e.health = e.updates[0].health
	}
	h.features["oracle: status update"] += len(e.updates)
	h.features["oracle: published"] += len(e.items)
	h.features["oracle: milestone shown"] += len(e.ms)
	e.vis = h.visibility(w, c, e)
	return e
}
