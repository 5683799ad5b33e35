package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	fake "vitrine/fake/github"
)

// The agency's side: what a PM or developer does to the private board.
// Operations are drawn from the generator's own stream and depend only on
// the seed and the source repositories' state, which vitrine never writes:
// two runs of one seed make the same changes whatever the engine does.
const (
	opCreate          = "create"
	opEdit            = "edit"
	opLabel           = "label"
	opUnlabel         = "unlabel"
	opHide            = "hide"
	opUnhide          = "unhide"
	opOtherLabel      = "other-label"
	opComment         = "comment"
	opInternalComment = "internal-comment"
	opCommentEdit     = "comment-edit"
	opCommentDelete   = "comment-delete"
	opClose           = "close"
	opCloseNotPlanned = "close-not-planned"
	opReopen          = "reopen"
	opMilestoneSet    = "milestone-set"
	opMilestoneEdit   = "milestone-edit"
	opMilestoneCreate = "milestone-create"
	opMilestoneState  = "milestone-close-or-open"
	opMilestoneDelete = "milestone-delete"
	opDelete          = "delete"
	opParent          = "sub-issue"
)

var opMix = []weighted{
	{opCreate, 7}, {opEdit, 12}, {opLabel, 7}, {opUnlabel, 5}, {opHide, 3}, {opUnhide, 3},
	{opOtherLabel, 2}, {opComment, 7}, {opInternalComment, 3}, {opCommentEdit, 7},
	{opCommentDelete, 3}, {opClose, 3}, {opCloseNotPlanned, 2}, {opReopen, 3},
	{opMilestoneSet, 5}, {opMilestoneEdit, 3}, {opMilestoneCreate, 2}, {opMilestoneState, 1},
	{opMilestoneDelete, 1}, {opDelete, 3}, {opParent, 2},
}

const (
	labelVisible = "client-visible"
	labelHidden  = "client-hidden"
	labelOther   = "bug"
)

// srcIssue is one issue the generator created, by its stable name.
type srcIssue struct {
	name     string // "acme#12": the same in every run of a seed
	num      int
	id       int64 // differs between runs (the fake's ids are global)
	deleted  bool
	comments []*srcComment
}

type srcComment struct {
	name    string // "acme#12/c345": op index of its creation
	id      int64
	created time.Time
	deleted bool
}

type srcMilestone struct {
	name    string // "acme/m3"
	num     int
	id      int64
	deleted bool
}

type srcRepo struct {
	p          pair
	issues     []*srcIssue
	milestones []*srcMilestone
}

// generator makes the operations of one run.
type generator struct {
	rng   *rand.Rand
	gh    *fake.Server
	now   func() time.Time
	repos []*srcRepo
	i     int
	mix   map[string]int
}

func newGenerator(seed uint64, w *world) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, 0x0b5)), gh: w.gh, now: w.fc.Now, mix: map[string]int{}}
	for _, p := range pairs {
		g.repos = append(g.repos, &srcRepo{p: p})
	}
	return g
}

// op is one operation and the webhook events GitHub would send for it.
type op struct {
	kind      string
	repo      *srcRepo
	events    []fake.Event
	reconcile bool // also ask for a reconcile (an operator's `vitrine sync`)
}

// gap is the virtual time until the next operation.
func (g *generator) gap() time.Duration {
	return time.Duration(2+g.rng.IntN(24)) * time.Second
}

var words = strings.Fields("checkout search login billing invoice export import report dashboard " +
	"profile settings upload gallery calendar inbox shipping tax coupon refund audit backup theme")

func (g *generator) word() string { return words[g.rng.IntN(len(words))] }

func (g *generator) title() string {
	t := fmt.Sprintf("%s %s #%d", strings.ToUpper(g.word()[:1])+g.word()[1:], g.word(), g.i)
	switch g.rng.IntN(8) {
	case 0:
		t += " for @dev-ben"
	case 1:
		t += " see #12"
	}
	return t
}

func (g *generator) body(r *srcRepo) string {
	public := fmt.Sprintf("The %s work moved on (op %d).", g.word(), g.i)
	switch g.rng.IntN(6) {
	case 0:
		public += " Preview on [staging](https://staging.example/x)."
	case 1:
		public += " Ask @dev-ann about ABC-12."
	case 2:
		public += "\n\n- " + g.word() + "\n- " + g.word()
	}
	internal := fmt.Sprintf("Costs %d, %d days late.", 1000+g.rng.IntN(9000), g.rng.IntN(9))
	if r.p.customer == "globex" {
		if g.rng.IntN(2) == 0 {
			return public + "\n\n<!-- internal -->\n" + internal + "\n<!-- /internal -->"
		}
		return public + "\n\n## Internal\n" + internal
	}
	switch g.rng.IntN(5) {
	case 0:
		return "No summary yet. " + internal
	case 1:
		return "## Client summary\n" + public
	}
	return "## Client summary\n" + public + "\n\n## Internal\n" + internal
}

func (r *srcRepo) live() []*srcIssue {
	var out []*srcIssue
	for _, is := range r.issues {
		if !is.deleted {
			out = append(out, is)
		}
	}
	return out
}

func (r *srcRepo) liveMilestones() []*srcMilestone {
	var out []*srcMilestone
	for _, m := range r.milestones {
		if !m.deleted {
			out = append(out, m)
		}
	}
	return out
}

func (r *srcRepo) liveComments(is *srcIssue) []*srcComment {
	var out []*srcComment
	for _, c := range is.comments {
		if !c.deleted {
			out = append(out, c)
		}
	}
	return out
}

func (g *generator) issue(r *srcRepo) *srcIssue {
	l := r.live()
	if len(l) == 0 {
		return nil
	}
	// Recent issues are busier.
	if g.rng.IntN(2) == 0 && len(l) > 10 {
		l = l[len(l)-10:]
	}
	return l[g.rng.IntN(len(l))]
}

func (g *generator) state(r *srcRepo, is *srcIssue) fake.Issue {
	x, ok := g.gh.Issue(r.p.src, is.num)
	if !ok {
		panic(fmt.Sprintf("chaos: %s is not in the fake", is.name))
	}
	return x
}

// closesAsCompleted: done items in a neutralising target's source (on by
// default; retracting or republishing such a mirror once never converged,
// see TestRetractingTheMirrorOfADoneItemConverges).
func (g *generator) closesAsCompleted(r *srcRepo) bool {
	return *fullMix || r.p.deleteMode
}

// step makes one operation.
func (g *generator) step() op {
	g.i++
	r := g.repos[0]
	if g.rng.IntN(10) >= 6 {
		r = g.repos[1]
	}
	// An operation that does not apply now (nothing to reopen, no
	// comment to edit) gives way to another draw, and at last to a create.
	var o op
	for try := 0; ; try++ {
		o = op{kind: pick(g.rng, opMix), repo: r}
		if try == 5 {
			o.kind = opCreate
		}
		if g.apply(&o) {
			break
		}
	}
	o.reconcile = g.rng.IntN(40) == 0
	g.mix[o.kind]++
	return o
}

func (g *generator) labelOp(o *op, is *srcIssue, label string, add bool) bool {
	r := o.repo
	cur := g.state(r, is)
	has := slices.Contains(cur.Labels, label)
	if has == add {
		return false
	}
	g.gh.EditIssue(r.p.src, is.num, func(x *fake.Issue) {
		if add {
			x.Labels = append(x.Labels, label)
		} else {
			x.Labels = slices.DeleteFunc(x.Labels, func(l string) bool { return l == label })
		}
	})
	action := "labeled"
	if !add {
		action = "unlabeled"
	}
	o.events = append(o.events, fake.Event{Name: "issues", Action: action, Repo: r.p.src, Issue: is.num, Label: label})
	return true
}

// apply performs o; false when it does not apply to the repository now.
func (g *generator) apply(o *op) bool {
	r := o.repo
	src := r.p.src
	switch o.kind {
	case opCreate:
		in := fake.NewIssue{Title: g.title(), Body: g.body(r)}
		done := g.rng.IntN(20) == 0
		if g.rng.IntN(10) < 6 {
			in.Labels = append(in.Labels, labelVisible)
		}
		if g.rng.IntN(20) == 0 {
			in.Labels = append(in.Labels, labelHidden)
		}
		if ms := r.liveMilestones(); len(ms) > 0 && g.rng.IntN(10) < 4 {
			in.Milestone = ms[g.rng.IntN(len(ms))].num
		}
		if done && g.closesAsCompleted(r) {
			in.State, in.StateReason = "closed", "completed"
		}
		x := g.gh.CreateIssue(src, in)
		r.issues = append(r.issues, &srcIssue{name: fmt.Sprintf("%s#%d", r.p.customer, x.Number), num: x.Number, id: x.ID})
		o.events = append(o.events, fake.Event{Name: "issues", Action: "opened", Repo: src, Issue: x.Number})
	case opEdit:
		is := g.issue(r)
		if is == nil {
			return false
		}
		old := g.state(r, is)
		changes := map[string]any{}
		g.gh.EditIssue(src, is.num, func(x *fake.Issue) {
			switch g.rng.IntN(3) {
			case 0:
				x.Title = g.title()
			case 1:
				x.Body = g.body(r)
			default:
				x.Title, x.Body = g.title(), g.body(r)
			}
			if x.Title != old.Title {
				changes["title"] = map[string]any{"from": old.Title}
			}
			if x.Body != old.Body {
				changes["body"] = map[string]any{"from": old.Body}
			}
		})
		o.events = append(o.events, fake.Event{Name: "issues", Action: "edited", Repo: src, Issue: is.num, Changes: changes})
	case opLabel, opUnlabel, opHide, opUnhide, opOtherLabel:
		is := g.issue(r)
		if is == nil {
			return false
		}
		label, add := labelVisible, o.kind == opLabel
		switch o.kind {
		case opHide, opUnhide:
			label, add = labelHidden, o.kind == opHide
		case opOtherLabel:
			label, add = labelOther, !slices.Contains(g.state(r, is).Labels, labelOther)
		}
		return g.labelOp(o, is, label, add)
	case opComment, opInternalComment:
		is := g.issue(r)
		if is == nil {
			return false
		}
		text := fmt.Sprintf("%s is %s (op %d).", strings.ToUpper(g.word()[:1])+g.word()[1:], g.word(), g.i)
		if o.kind == opComment {
			text = "[client] " + text
		} else {
			text = "internal: " + text + " Budget " + fmt.Sprint(g.rng.IntN(9000))
		}
		author := []string{"pm-anna", "dev-ben", "dev-cho"}[g.rng.IntN(3)]
		c := g.gh.AddComment(src, is.num, author, text)
		is.comments = append(is.comments, &srcComment{name: fmt.Sprintf("%s/c%d", is.name, g.i), id: c.ID, created: c.CreatedAt})
		o.events = append(o.events, fake.Event{Name: "issue_comment", Action: "created", Repo: src, Issue: is.num, Comment: c.ID, Sender: author})
	case opCommentEdit, opCommentDelete:
		var cands []*srcIssue
		for _, is := range r.live() {
			if len(r.liveComments(is)) > 0 {
				cands = append(cands, is)
			}
		}
		if len(cands) == 0 {
			return false
		}
		is := cands[g.rng.IntN(len(cands))]
		cs := r.liveComments(is)
		c := cs[g.rng.IntN(len(cs))]
		if o.kind == opCommentDelete {
			g.gh.DeleteComment(c.id)
			c.deleted = true
			o.events = append(o.events, fake.Event{Name: "issue_comment", Action: "deleted", Repo: src, Issue: is.num, Comment: c.id})
			return true
		}
		text := fmt.Sprintf("%s, edited in op %d.", g.word(), g.i)
		switch g.rng.IntN(4) {
		case 0:
			text = "internal again: " + text // no longer public
		default:
			text = "[client] " + text
		}
		g.gh.EditComment(c.id, text)
		o.events = append(o.events, fake.Event{Name: "issue_comment", Action: "edited", Repo: src, Issue: is.num, Comment: c.id})
	case opClose, opCloseNotPlanned, opReopen:
		is := g.issue(r)
		if is == nil {
			return false
		}
		cur := g.state(r, is)
		if (cur.State == "closed") != (o.kind == opReopen) || (o.kind == opClose && !g.closesAsCompleted(r)) {
			return false
		}
		action := "closed"
		g.gh.EditIssue(src, is.num, func(x *fake.Issue) {
			switch o.kind {
			case opClose:
				x.State, x.StateReason = "closed", "completed"
			case opCloseNotPlanned:
				x.State, x.StateReason = "closed", "not_planned"
			default:
				x.State, x.StateReason = "open", ""
				action = "reopened"
			}
		})
		o.events = append(o.events, fake.Event{Name: "issues", Action: action, Repo: src, Issue: is.num})
	case opMilestoneSet:
		is := g.issue(r)
		ms := r.liveMilestones()
		if is == nil || len(ms) == 0 {
			return false
		}
		cur := g.state(r, is)
		to := 0
		if g.rng.IntN(4) > 0 {
			to = ms[g.rng.IntN(len(ms))].num
		}
		if to == cur.Milestone {
			return false
		}
		g.gh.EditIssue(src, is.num, func(x *fake.Issue) { x.Milestone = to })
		if to == 0 {
			o.events = append(o.events, fake.Event{Name: "issues", Action: "demilestoned", Repo: src, Issue: is.num, Milestone: cur.Milestone})
		} else {
			o.events = append(o.events, fake.Event{Name: "issues", Action: "milestoned", Repo: src, Issue: is.num, Milestone: to})
		}
	case opMilestoneCreate:
		if len(r.liveMilestones()) >= 6 {
			return false
		}
		in := fake.NewMilestone{Title: fmt.Sprintf("Phase %d %s", g.i, g.word()),
			Description: "## Client summary\nWhat ships.\n## Internal\nBudget " + fmt.Sprint(g.rng.IntN(90000))}
		if g.rng.IntN(4) > 0 {
			in.DueOn = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.rng.IntN(120))
		}
		m := g.gh.CreateMilestone(src, in)
		r.milestones = append(r.milestones, &srcMilestone{name: fmt.Sprintf("%s/m%d", r.p.customer, m.Number), num: m.Number, id: m.ID})
		o.events = append(o.events, fake.Event{Name: "milestone", Action: "created", Repo: src, Milestone: m.Number})
	case opMilestoneEdit, opMilestoneState, opMilestoneDelete:
		ms := r.liveMilestones()
		if len(ms) == 0 || (o.kind == opMilestoneDelete && len(ms) < 3) {
			return false
		}
		m := ms[g.rng.IntN(len(ms))]
		switch o.kind {
		case opMilestoneDelete:
			g.gh.DeleteMilestone(src, m.num)
			m.deleted = true
			o.events = append(o.events, fake.Event{Name: "milestone", Action: "deleted", Repo: src, Milestone: m.num})
		case opMilestoneState:
			action := ""
			g.gh.EditMilestone(src, m.num, func(x *fake.Milestone) {
				if x.State == "open" {
					x.State, action = "closed", "closed"
				} else {
					x.State, action = "open", "opened"
				}
			})
			o.events = append(o.events, fake.Event{Name: "milestone", Action: action, Repo: src, Milestone: m.num})
		default:
			g.gh.EditMilestone(src, m.num, func(x *fake.Milestone) {
				switch g.rng.IntN(3) {
				case 0:
					x.Title = fmt.Sprintf("Phase %d %s", g.i, g.word())
				case 1:
					x.DueOn = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.rng.IntN(120))
				default:
					x.Description = "## Client summary\nScope " + g.word() + ".\n## Internal\nMargin " + fmt.Sprint(g.rng.IntN(50)) + "%"
				}
			})
			o.events = append(o.events, fake.Event{Name: "milestone", Action: "edited", Repo: src, Milestone: m.num})
		}
	case opDelete:
		is := g.issue(r)
		if is == nil || len(r.live()) < 5 {
			return false
		}
		g.gh.DeleteIssue(src, is.num)
		is.deleted = true
		o.events = append(o.events, fake.Event{Name: "issues", Action: "deleted", Repo: src, Issue: is.num})
	case opParent:
		return g.parentOp(o)
	default:
		panic("unknown op " + o.kind)
	}
	return true
}

// parentOp makes an issue a sub-issue of another, or detaches it: one
// level only, so there are never cycles.
func (g *generator) parentOp(o *op) bool {
	r := o.repo
	child := g.issue(r)
	if child == nil {
		return false
	}
	all := g.gh.Issues(r.p.src)
	byID := map[int64]fake.Issue{}
	hasChild := map[int64]bool{}
	for _, x := range all {
		byID[x.ID] = x
		if x.ParentID != 0 {
			hasChild[x.ParentID] = true
		}
	}
	cur := byID[child.id]
	if cur.ParentID != 0 {
		parent, ok := byID[cur.ParentID]
		if !ok {
			return false // its parent was deleted
		}
		g.gh.SetParent(r.p.src, child.num, 0)
		o.events = append(o.events, fake.Event{Name: "sub_issues", Action: "sub_issue_removed", Repo: r.p.src, Issue: parent.Number, SubIssue: child.num})
		return true
	}
	if hasChild[child.id] {
		return false
	}
	var cands []fake.Issue
	for _, x := range all {
		if x.ID != child.id && x.ParentID == 0 {
			cands = append(cands, x)
		}
	}
	if len(cands) == 0 {
		return false
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Number < cands[j].Number })
	p := cands[g.rng.IntN(len(cands))]
	g.gh.SetParent(r.p.src, child.num, p.Number)
	o.events = append(o.events, fake.Event{Name: "sub_issues", Action: "sub_issue_added", Repo: r.p.src, Issue: p.Number, SubIssue: child.num})
	return true
}

func (g *generator) mixString() string {
	var parts []string
	for _, m := range opMix {
		parts = append(parts, fmt.Sprintf("%s %d", m.kind, g.mix[m.kind]))
	}
	return strings.Join(parts, ", ")
}
