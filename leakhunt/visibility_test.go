package leakhunt

import (
	"fmt"
	"time"
)

// visSet is what one customer may read (allowed) and what its page must
// show (need). Every registered canary not allowed must not leave.
type visSet struct {
	toks      map[string]bool
	need      map[string]string // canary → why it must show
	nums      map[string]bool
	needNums  map[string]string
	days      map[string]bool // ISO days that may show
	needDays  map[string]string
	otherName string
}

func (v *visSet) allow(why string, need bool, toks ...string) {
	for _, t := range toks {
		v.toks[t] = true
		if need {
			v.need[t] = why
		}
	}
}

func (v *visSet) allowInstant(t time.Time, loc *time.Location) {
	v.days[t.UTC().Format(time.DateOnly)] = true
	v.days[t.In(loc).Format(time.DateOnly)] = true
}

// visibility walks what the oracle says the customer sees and collects
// the canaries of every shown place, with the model's own rules for what
// of a text shows.
func (h *hcase) visibility(w *world, c *cust, e *expect) *visSet {
	v := &visSet{toks: map[string]bool{}, need: map[string]string{}, nums: map[string]bool{}, needNums: map[string]string{}, days: map[string]bool{}, needDays: map[string]string{}}
	v.allow("customer name", true, c.nameToks...)
	v.allow("team name", false, c.teamToks...)
	addDoc := func(why string, vis mdVis) {
		v.allow(why, true, vis.toks...)
		v.allow(why+" (link URL)", true, vis.urls...)
	}
	for id, x := range e.items {
		it := w.items[id]
		p := w.phys[id]
		what := fmt.Sprintf("item %s of %s", p.native, it.Source)
		titleShown := true
		if c.titleSection {
			bv := evalDoc(p.body, c.bodyOpts(c.section))
			if bv.firstOK {
				titleShown = false
				h.count("oracle: title from a section")
				v.allow(what+": title from the section's first line", true, bv.first...)
			}
		}
		if titleShown {
			v.allow(what+": title", true, p.titleToks...)
		}
		switch c.body {
		case "all":
			addDoc(what+": body", evalDoc(p.body, c.bodyOpts("")))
		case "section":
			addDoc(what+": body section", evalDoc(p.body, c.bodyOpts(c.section)))
		}
		if c.assignees {
			v.allow(what+": assignee", true, p.assignees...)
		}
		for _, name := range x.fields {
			fi := p.fields[name]
			v.allow(what+": field name", true, name)
			v.allow(what+": field "+name, true, fi.toks...)
			for _, n := range fi.nums {
				v.nums[n] = true
				v.needNums[n] = what + ": field " + name
			}
			for _, d := range fi.dates {
				v.days[d.UTC().Format(time.DateOnly)] = true
			}
		}
		if x.due != "" {
			v.days[x.due] = true
			v.needDays[x.due] = what + ": due date"
		}
		byKey := map[string]*pcomment{}
		for _, pc := range p.comments {
			byKey[id+"/c/"+it.Comments[pc.i].ID] = pc
		}
		for _, k := range x.comments {
			pc := byKey[k]
			cm := &it.Comments[pc.i]
			addDoc(what+": comment "+cm.ID, evalDoc(pc.rest, c.commentOpts()))
			v.allowInstant(cm.Created, c.loc)
			if c.authorName {
				v.allow(what+": comment author", true, cm.Author)
			}
		}
	}
	for _, u := range e.updates {
		addDoc("status update "+u.key, evalDoc(u.pc.rest, c.commentOpts()))
		v.allowInstant(u.at, c.loc)
		if c.authorName {
			v.allow("status update author", true, u.author)
		}
	}
	for id, x := range e.ms {
		pm := w.pms[id]
		what := "milestone " + pm.native
		v.allow(what+": name", true, pm.nameToks...)
		if c.msDesc {
			addDoc(what+": description section", evalDoc(pm.desc, c.bodyOpts(c.section)))
		}
		if x.due != "" {
			v.days[x.due] = true
			v.needDays[x.due] = what + ": due date"
		}
	}
	return v
}
