package leakhunt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mirror/page"
)

// genRules draws one customer's rules. Zero values stand for defaults half
// of the time, so that mapping's own defaults are exercised too.
func (h *hcase) genRules(c *cust) {
	r := h.r
	cfg := config.Customer{ID: c.id, Name: c.name}
	cfg.Publish.Label = c.label
	if h.chance(0.8) {
		c.hide = pick(r, h.hides)
		cfg.Publish.HideLabel = c.hide
	}
	c.inherit = h.chance(0.5)
	cfg.Publish.Inherit = c.inherit
	if h.chance(0.4) {
		c.when = h.genWhen(c, 0)
		cfg.Publish.When = c.when.src()
		h.count("when")
	}
	c.sec = map[string]bool{}
	for _, l := range h.subset(h.secLevels, 0.4) {
		c.sec[l] = true
		cfg.Publish.AllowSecurityLevels = append(cfg.Publish.AllowSecurityLevels, l)
	}
	c.statusAuthors = map[string]bool{}
	if h.chance(0.5) {
		for _, a := range h.subset(h.authors, 0.5) {
			c.statusAuthors[a] = true
			cfg.Publish.StatusAuthors = append(cfg.Publish.StatusAuthors, a)
		}
	}
	if h.chance(0.3) {
		var refs []string
		for _, v := range c.views {
			for _, p := range v.cont.phys {
				refs = append(refs, p.base.Ref)
			}
		}
		for _, ct := range h.conts {
			if len(ct.phys) > 0 {
				refs = append(refs, ct.phys[0].base.Ref) // maybe another customer's
			}
		}
		c.statusItem = pick(r, refs)
		cfg.Publish.StatusItem = c.statusItem
		h.count("status_item")
	}

	sh := &cfg.Show
	switch x := r.IntN(10); {
	case x < 2:
		c.titleSection, sh.Title = true, "section"
		h.count("title section")
	case x < 6:
		sh.Title = "source"
	}
	switch x := r.IntN(20); {
	case x < 5:
		c.body = "none"
		if h.chance(0.5) {
			sh.Body = "none"
		}
	case x < 14:
		c.body, sh.Body = "section", "section"
	default:
		c.body, sh.Body = "all", "all"
	}
	if h.chance(0.3) {
		c.msDesc, sh.MilestoneDescription = true, "section"
	} else if h.chance(0.3) {
		sh.MilestoneDescription = "none"
	}
	if c.titleSection || c.body == "section" || c.msDesc || h.chance(0.5) {
		c.section = pick(r, h.sections)
		if h.chance(0.2) {
			c.section = strings.ToLower(c.section)
		}
		sh.BodySection = c.section
	}
	if h.chance(0.8) {
		c.marker = pick(r, h.markers)
		sh.InternalMarker = c.marker
	}
	if h.chance(0.65) {
		c.comments, sh.Comments = true, "marked"
	} else if h.chance(0.3) {
		sh.Comments = "none"
	}
	if c.cmarker != "[client]" || h.chance(0.3) {
		sh.CommentMarker = c.cmarker
	}
	if h.chance(0.4) {
		c.authorName, sh.CommentAuthor = true, "name"
	} else if h.chance(0.3) {
		sh.CommentAuthor = "team"
	}
	c.team = "Agency team"
	if c.name != "" {
		c.team = c.name + " team"
		c.teamToks = c.nameToks
	}
	if h.chance(0.2) {
		t := h.reg.tok(fmt.Sprintf("customer %d team name", c.i))
		c.team, sh.TeamName, c.teamToks = "Crew "+t, "Crew "+t, []string{t}
	}
	c.dates, sh.Dates = h.chance(0.6), false
	sh.Dates = c.dates
	c.progress = h.chance(0.5)
	sh.Progress = c.progress
	c.assignees = h.chance(0.4)
	sh.Assignees = c.assignees
	c.domains = h.subset(h.domains, 0.35)
	sh.LinkDomains = c.domains
	c.fields = h.subset(h.fieldNames, 0.4)
	if h.chance(0.2) {
		c.fields = append(c.fields, "nosuchfield")
	}
	sh.Fields = c.fields

	c.smap = map[string]string{}
	words := []string{"Underway", "On hold", "In review", "Planned"}
	for _, s := range h.subset(h.statuses, 0.4) {
		w := pick(r, words)
		c.smap[s] = w
		cfg.Statuses.Map.Keys = append(cfg.Statuses.Map.Keys, s)
		if cfg.Statuses.Map.Values == nil {
			cfg.Statuses.Map.Values = map[string]string{}
		}
		cfg.Statuses.Map.Values[s] = w
	}
	c.defWord = "In progress"
	if h.chance(0.3) {
		c.defWord, cfg.Statuses.Default = "Ongoing", "Ongoing"
	}
	c.doneWord = "Done"
	if h.chance(0.3) {
		c.doneWord, cfg.Statuses.Done = "Finished", "Finished"
	}
	switch r.IntN(4) {
	case 0:
		cfg.Statuses.Cancelled = "retract"
	case 1:
		c.cancelWord, cfg.Statuses.Cancelled = "Dropped", "Dropped"
	}
	c.buffer = pick(r, []int{0, 0, 1, 3, 7, 30})
	cfg.Dates.BufferDays = c.buffer
	cfg.Timezone = pick(r, []string{"", "UTC", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"})
	tz := cfg.Timezone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		panic(err)
	}
	c.loc = loc

	for _, v := range c.views {
		cfg.Sources = append(cfg.Sources, h.sourceCfg(v, true))
	}
	feed := pick(r, []string{"", "full", "titles", "off"})
	c.feed, _ = page.ParseFeedMode(feed)
	cfg.Targets = append(cfg.Targets, config.Target{Page: &config.PageTarget{Feed: feed}})
	if h.chance(0.3) {
		cfg.Targets = append(cfg.Targets, config.Target{GitHub: &config.GitHubTarget{Repo: "mirror/" + h.reg.tok("github target repo")}})
	}
	if h.chance(0.2) {
		cfg.Targets = append(cfg.Targets, config.Target{Jira: &config.JiraTarget{Project: strings.ToUpper(h.reg.tok("jira target project"))}})
	}
	c.cfg = cfg
}

// Labels and comment markers are drawn before the items that carry them.
func (h *hcase) drawLabels() {
	for _, c := range h.custs {
		c.label = h.reg.tok(fmt.Sprintf("customer %d publish label", c.i))
		c.cmarker = "[client]"
		if h.chance(0.6) {
			c.cmarker = pick(h.r, h.cmarkers)
		}
	}
}

func (h *hcase) buildRules() {
	h.rules = &config.Rules{}
	for _, c := range h.custs {
		h.rules.Customers = append(h.rules.Customers, c.cfg)
	}
}

// wnode is a `when` expression over a small grammar, written out for
// expr-lang and evaluated here directly.
type wnode struct {
	op   string // and | or | not | atom
	a, b *wnode
	at   watom
}

type watom struct {
	kind  string
	s     string
	field string
	n     int
	neg   bool
}

func (h *hcase) genWhen(c *cust, depth int) *wnode {
	r := h.r
	if depth < 2 && h.chance(0.45) {
		switch r.IntN(3) {
		case 0:
			return &wnode{op: "and", a: h.genWhen(c, depth+1), b: h.genWhen(c, depth+1)}
		case 1:
			return &wnode{op: "or", a: h.genWhen(c, depth+1), b: h.genWhen(c, depth+1)}
		default:
			return &wnode{op: "not", a: h.genWhen(c, depth+1)}
		}
	}
	a := watom{neg: h.chance(0.3)}
	switch r.IntN(15) {
	case 0:
		a.kind, a.s = "type", pick(r, h.types)
	case 1:
		a.kind, a.s = "kind", pick(r, []string{"issue", "subtask", "epic"})
	case 2:
		a.kind, a.s = "status", pick(r, h.statuses)
	case 3:
		a.kind, a.s = "state", pick(r, []string{"open", "done", "cancelled"})
	case 4:
		a.kind, a.s = "label", pick(r, append(append([]string{c.label}, h.noise...), h.hides...))
	case 5:
		a.kind, a.s = "title", pick(r, []string{"Note", "Fix"}) // no canary holds a capital
	case 6:
		a.kind = "milestone"
		var names []string
		for _, ct := range h.conts {
			for _, m := range ct.ms {
				names = append(names, m.base.Name)
			}
		}
		if len(names) > 0 {
			a.s = pick(r, names)
		}
	case 7:
		a.kind, a.s = "assignee", pick(r, h.assignees)
	case 8:
		a.kind, a.n = "fieldgt", r.IntN(8)
		a.s = h.fieldNames[0]
		if h.chance(0.2) {
			a.s = h.fieldNames[1+r.IntN(len(h.fieldNames)-1)]
		}
	case 9:
		a.kind, a.s, a.field = "fieldeq", pick(r, []string{"many", "x"}), h.fieldNames[0]
	case 10:
		a.kind = "source"
		a.s = pick(r, c.views).key
	case 11:
		a.kind, a.s = "sourceprefix", pick(r, []string{"github:", "jira:", "file:"})
	case 12:
		a.kind = "parent"
	case 13:
		a.kind = "duebefore"
		a.s = fmt.Sprintf("%04d-06-15", 1100+r.IntN(2000))
	default:
		a.kind = "due"
	}
	return &wnode{op: "atom", at: a}
}

func (w *wnode) src() string {
	switch w.op {
	case "and":
		return "(" + w.a.src() + " && " + w.b.src() + ")"
	case "or":
		return "(" + w.a.src() + " || " + w.b.src() + ")"
	case "not":
		return "!(" + w.a.src() + ")"
	}
	a := w.at
	q := strconv.Quote
	var s string
	switch a.kind {
	case "type":
		s = "item.Type == " + q(a.s)
	case "kind":
		s = "item.Kind == " + q(a.s)
	case "status":
		s = "item.Status == " + q(a.s)
	case "state":
		s = "item.State == " + q(a.s)
	case "label":
		s = "(" + q(a.s) + " in item.Labels)"
	case "title":
		s = "(item.Title contains " + q(a.s) + ")"
	case "milestone":
		s = "item.Milestone == " + q(a.s)
	case "assignee":
		s = "(" + q(a.s) + " in item.Assignees)"
	case "fieldgt":
		s = "(item.Fields[" + q(a.s) + "] > " + strconv.Itoa(a.n) + ")"
	case "fieldeq":
		s = "(item.Fields[" + q(a.field) + "] == " + q(a.s) + ")"
	case "source":
		s = "item.Source == " + q(a.s)
	case "sourceprefix":
		s = "(item.Source startsWith " + q(a.s) + ")"
	case "parent":
		s = "item.HasParent"
	case "duebefore":
		s = "(item.Due != \"\" && item.Due < " + q(a.s) + ")"
	case "due":
		s = "item.Due == \"\""
	}
	if a.neg {
		return "!(" + s + ")"
	}
	return s
}

// whenItem is what the oracle knows of an item for `when`.
type whenItem struct {
	it        *item.Item
	milestone string
	due       string
}

// eval: a runtime error propagates to the top and counts as false there.
func (w *wnode) eval(x whenItem) (bool, error) {
	switch w.op {
	case "and":
		a, err := w.a.eval(x)
		if err != nil || !a {
			return false, err
		}
		return w.b.eval(x)
	case "or":
		a, err := w.a.eval(x)
		if err != nil || a {
			return a, err
		}
		return w.b.eval(x)
	case "not":
		a, err := w.a.eval(x)
		return !a, err
	}
	a := w.at
	it := x.it
	var v bool
	switch a.kind {
	case "type":
		v = it.Type == a.s
	case "kind":
		v = string(it.Kind) == a.s
	case "status":
		v = it.Status == a.s
	case "state":
		v = string(it.State) == a.s
	case "label":
		v = contains(it.Labels, a.s)
	case "title":
		v = strings.Contains(it.Title, a.s)
	case "milestone":
		v = x.milestone == a.s
	case "assignee":
		v = contains(it.Assignees, a.s)
	case "fieldgt":
		switch f := it.Fields[a.s].(type) {
		case int:
			v = f > a.n
		case float64:
			v = f > float64(a.n)
		default:
			return false, fmt.Errorf("invalid operation: %T > int", f)
		}
	case "fieldeq":
		s, ok := it.Fields[a.field].(string)
		v = ok && s == a.s
	case "source":
		v = it.Source == a.s
	case "sourceprefix":
		v = strings.HasPrefix(it.Source, a.s)
	case "parent":
		v = it.Parent != ""
	case "duebefore":
		v = x.due != "" && x.due < a.s
	case "due":
		v = x.due == ""
	}
	if a.neg {
		v = !v
	}
	return v, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
