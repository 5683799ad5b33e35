package leakhunt

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror/page"
)

// gates turn on constructs that trigger known, reported bugs. They never
// change what the random stream draws, so a seed gives the same case with
// and without them except for the gated construct.
type gates struct {
	alias      bool // one container read under two source keys (jql filters, host spellings)
	statusItem bool // the oracle's stricter rule: a hidden or secured status item posts no update
	crossMs    bool // items naming a milestone of another source (outside the connectors' contract)
}

type hcase struct {
	seed  uint64
	r     *rand.Rand
	ra    *rand.Rand // draws for gated constructs only
	reg   *registry
	gates gates
	dir   string // holds the board files file sources point at

	conts []*container
	byKey map[string]*view
	custs []*cust
	snaps []item.Snapshot
	rules *config.Rules

	// pools of values rules and items share
	hides, noise, types, statuses, secLevels, authors, assignees, fieldNames []string
	domains, sections, markers, cmarkers                                     []string
	words                                                                    []string

	features map[string]int
}

type container struct {
	kind  string // github | jira | file
	name  string // owner/repo (github), project key (jira), path (file)
	phys  []*pitem
	ms    []*pms
	views []*view
}

type view struct {
	key     string
	cont    *container
	alias   string // "" for the container's first view, else how it aliases it
	members map[*pitem]bool
	snap    int // index in hcase.snaps
}

type pitem struct {
	native    string
	cont      *container
	where     string
	base      item.Item // without ID, Source, Parent, Milestone
	parent    *pitem
	parentID  string // a parent that is no item anywhere (dangling)
	selfLoop  bool
	ms        *pms
	msID      string // a milestone ID that is no milestone (dangling), or one of another source
	titleToks []string
	body      *mdDoc
	comments  []*pcomment
	fields    map[string]fieldInfo
	assignees []string
}

type fieldInfo struct {
	shows bool // fieldText writes it
	toks  []string
	nums  []string
	dates []time.Time
}

type pcomment struct {
	i     int    // index in base.Comments
	rest  *mdDoc // what follows the marker, or the /status health
	board bool   // "/statusboard" comes before rest: not the command, ordinary text
}

type pms struct {
	native   string
	cont     *container
	where    string
	base     item.Milestone
	nameToks []string
	desc     *mdDoc
}

type cust struct {
	i        int
	id, name string
	nameToks []string
	team     string
	teamToks []string
	views    []*view
	keys     map[string]bool
	cfg      config.Customer

	label, hide   string
	inherit       bool
	when          *wnode
	sec           map[string]bool
	statusAuthors map[string]bool
	statusItem    string

	titleSection bool
	body         string
	section      string // as configured
	marker       string
	comments     bool
	cmarker      string // effective
	authorName   bool
	dates        bool
	progress     bool
	assignees    bool
	msDesc       bool
	domains      []string
	fields       []string
	smap         map[string]string
	defWord      string
	doneWord     string
	cancelWord   string // "" retracts
	buffer       int
	loc          *time.Location
	feed         page.FeedMode
}

func (h *hcase) count(feature string) { h.features[feature]++ }

func (h *hcase) chance(p float64) bool { return h.r.Float64() < p }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (h *hcase) subset(xs []string, p float64) []string {
	var out []string
	for _, x := range xs {
		if h.chance(p) {
			out = append(out, x)
		}
	}
	return out
}

func (h *hcase) toks(n int, where string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = h.reg.tok(fmt.Sprintf("%s %d", where, i))
	}
	return out
}

// generate builds one case from its seed.
func generate(seed uint64, g gates, dir string) *hcase {
	r := rand.New(rand.NewPCG(seed, 0x6c65616b68756e74))
	h := &hcase{seed: seed, r: r, ra: rand.New(rand.NewPCG(seed, 0x616c696173)), reg: newRegistry(r), gates: g, dir: dir,
		byKey: map[string]*view{}, features: map[string]int{}}
	h.hides = h.toks(2, "hide label pool")
	h.noise = h.toks(3, "noise label pool")
	h.types = h.toks(3, "issue type pool")
	h.statuses = h.toks(5, "internal status pool")
	h.secLevels = h.toks(3, "security level pool")
	h.authors = h.toks(4, "comment author pool")
	h.assignees = h.toks(4, "assignee pool")
	h.fieldNames = h.toks(5, "custom field name pool")
	h.domains = []string{"acme.example", "globex.example", "docs.initech.example", "umbrella.example"}
	h.sections = []string{"Client summary", "Customer notes", "Public update"}
	h.markers = []string{"Internal", "Team only", "Private notes"}
	h.cmarkers = []string{"[client]", "[public]", "(customer)"}
	h.words = []string{"Note", "plan", "ship", "review", "check", "done", "next", "and", "Fix", "the"}

	nc := 1 + r.IntN(3)
	for i := 0; i < nc; i++ {
		c := &cust{i: i, keys: map[string]bool{}}
		c.id = h.reg.tok(fmt.Sprintf("customer %d id", i))
		if h.chance(0.9) {
			t := h.reg.tok(fmt.Sprintf("customer %d name", i))
			c.name = pick(r, []string{"Acme ", "Globex ", "Initech "}) + t
			c.nameToks = []string{t}
		}
		h.custs = append(h.custs, c)
	}
	h.drawLabels()
	h.genSources()
	for _, ct := range h.conts {
		h.genContainer(ct)
	}
	h.linkParents()
	for _, c := range h.custs {
		h.genRules(c)
	}
	h.buildSnapshots()
	h.buildRules()
	return h
}

// genSources gives each customer one to three sources, sharing some with
// customers before it.
func (h *hcase) genSources() {
	for _, c := range h.custs {
		n := 1 + h.r.IntN(3)
		for j := 0; j < n; j++ {
			var shareable []*container
			for _, ct := range h.conts {
				mine := false
				for _, v := range c.views {
					mine = mine || v.cont == ct
				}
				if !mine {
					shareable = append(shareable, ct)
				}
			}
			if len(shareable) > 0 && h.chance(0.4) {
				ct := pick(h.r, shareable)
				v := ct.views[0]
				wantAlias := h.chance(0.3)
				if wantAlias && h.gates.alias {
					v = h.aliasView(ct)
				}
				c.views = append(c.views, v)
				c.keys[v.key] = true
				h.count("shared source")
				continue
			}
			ct := h.newContainer()
			c.views = append(c.views, ct.views[0])
			c.keys[ct.views[0].key] = true
		}
	}
}

func (h *hcase) newContainer() *container {
	ct := &container{}
	switch h.r.IntN(3) {
	case 0:
		ct.kind = "github"
		ct.name = h.reg.tok("github owner") + "/" + h.reg.tok("github repo")
	case 1:
		ct.kind = "jira"
		ct.name = strings.ToUpper(h.reg.tok("jira project"))
	default:
		ct.kind = "file"
		ct.name = "boards/" + h.reg.tok("board file") + ".yaml"
		if err := os.MkdirAll(filepath.Join(h.dir, "boards"), 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(h.dir, ct.name), nil, 0o644)
		}
	}
	v := &view{cont: ct}
	v.key = mapping.SourceKey(h.sourceCfg(v, false))
	ct.views = append(ct.views, v)
	h.conts = append(h.conts, ct)
	h.byKey[v.key] = v
	h.count("source " + ct.kind)
	return ct
}

// aliasView reads a container under another key: a Jira jql filter, or an
// explicit API host where the other customer leaves it to the default. The
// rules checker treats both as the same container.
func (h *hcase) aliasView(ct *container) *view {
	v := &view{cont: ct}
	switch ct.kind {
	case "jira":
		if h.ra.IntN(2) == 0 {
			v.alias = "jql"
		} else {
			v.alias = "jira-url"
		}
	case "github":
		v.alias = "github-host"
	default:
		// Board paths are keyed by config.Load's resolution: see
		// filekey_test.go, which goes through Load.
		return ct.views[0]
	}
	v.key = mapping.SourceKey(h.sourceCfg(v, false))
	if other, dup := h.byKey[v.key]; dup {
		return other
	}
	if v.alias == "jql" {
		v.members = map[*pitem]bool{}
	}
	ct.views = append(ct.views, v)
	h.byKey[v.key] = v
	h.count("alias " + v.alias)
	return v
}

// sourceCfg is how a customer's rules name a view; variant spellings give
// the same key.
func (h *hcase) sourceCfg(v *view, variant bool) config.Source {
	ct := v.cont
	switch ct.kind {
	case "github":
		g := &config.GitHubSource{Repo: ct.name}
		if variant && h.chance(0.3) {
			g.Repo = strings.ToUpper(ct.name[:1]) + ct.name[1:]
		}
		if variant && h.chance(0.3) {
			g.APIURL = "https://api.github.com"
		}
		if v.alias == "github-host" {
			g.APIURL = "https://ghe.example/api/v3"
		}
		return config.Source{GitHub: g}
	case "jira":
		j := &config.JiraSource{Project: ct.name}
		switch v.alias {
		case "jql":
			j.JQL = "component = Web"
		case "jira-url":
			j.URL = "https://jira.example"
		}
		return config.Source{Jira: j}
	default:
		return config.Source{File: &config.FileSource{Path: ct.name, Resolved: filepath.Join(h.dir, ct.name)}}
	}
}

func (h *hcase) readers(ct *container) []*cust {
	var out []*cust
	for _, c := range h.custs {
		for _, v := range c.views {
			if v.cont == ct {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// genContainer fills one container with milestones and items. Labels are
// those of the customers reading it, the hide labels and noise.
func (h *hcase) genContainer(ct *container) {
	readers := h.readers(ct)
	for n := h.r.IntN(4); n > 0; n-- {
		h.genMilestone(ct)
	}
	for n := 2 + h.r.IntN(7); n > 0; n-- {
		h.genItem(ct, readers)
	}
}

func (h *hcase) genMilestone(ct *container) {
	m := &pms{cont: ct}
	m.native = "m" + h.reg.tok("milestone native id")
	m.where = fmt.Sprintf("milestone %s of %s", m.native, ct.name)
	t := h.reg.tok(m.where + " name")
	m.nameToks = []string{t}
	m.base.Name = pick(h.r, []string{"Release ", "Phase ", "Launch "}) + t
	if h.chance(0.3) {
		t2 := h.reg.tok(m.where + " name")
		m.base.Name += " @" + t2
		m.nameToks = append(m.nameToks, t2)
	}
	m.desc = h.genDoc(m.where+" description", 2+h.r.IntN(4), false)
	m.base.Description = m.desc.Markdown()
	if h.chance(0.8) {
		d := h.reg.date(m.where + " due")
		if h.chance(0.5) {
			m.base.Due = &item.Due{Date: d.Format(time.DateOnly)}
		} else {
			m.base.Due = &item.Due{At: d}
			h.count("milestone due instant")
		}
	}
	m.base.Closed = h.chance(0.2)
	fillNever(h.reg, reflect.ValueOf(&m.base).Elem(), milestonePolicy, m.where)
	ct.ms = append(ct.ms, m)
}

func (h *hcase) genItem(ct *container, readers []*cust) {
	p := &pitem{cont: ct, fields: map[string]fieldInfo{}}
	p.native = h.reg.tok("item native id")
	p.where = fmt.Sprintf("item %s of %s", p.native, ct.name)
	it := &p.base
	it.Ref = h.reg.tok(p.where + " ref")
	if h.chance(0.05) && len(h.conts) > 0 {
		// Refs repeat across boards; status_item matches every one.
		for _, o := range h.conts {
			if len(o.phys) > 0 {
				it.Ref = o.phys[0].base.Ref
				break
			}
		}
	}
	it.Kind = pick(h.r, []item.Kind{item.KindIssue, item.KindIssue, item.KindSubtask, item.KindEpic})
	it.Type = pick(h.r, h.types)
	it.Status = pick(h.r, h.statuses)
	switch x := h.r.IntN(10); {
	case x < 6:
		it.State = item.Open
	case x < 8:
		it.State = item.Done
	default:
		it.State = item.Cancelled
		h.count("cancelled item")
	}
	// title: plain text, every canary in it shows with the title
	var tw []string
	for n := 1 + h.r.IntN(3); n > 0; n-- {
		switch h.r.IntN(6) {
		case 0:
			t := h.reg.textTok(p.where + " title")
			tw = append(tw, "@"+t)
			p.titleToks = append(p.titleToks, t)
		case 1:
			t := h.reg.textTok(p.where + " title")
			tw = append(tw, "<!-- "+t+" -->") // a title is plain text: this shows as written
			p.titleToks = append(p.titleToks, t)
		default:
			t := h.reg.textTok(p.where + " title")
			tw = append(tw, pick(h.r, h.words), t)
			p.titleToks = append(p.titleToks, t)
		}
	}
	if h.chance(0.2) {
		tw = append(tw, pick(h.r, []string{"#12", "ABC-7", "org/repo#4", "https://evil.example/x"}))
	}
	it.Title = strings.Join(tw, " ")
	if h.chance(0.03) {
		it.Title, p.titleToks = "", nil
	}
	// labels
	for _, c := range readers {
		if h.chance(0.6) {
			it.Labels = append(it.Labels, c.label)
		}
	}
	if h.chance(0.15) {
		it.Labels = append(it.Labels, pick(h.r, h.hides))
		h.count("hide label")
	}
	if h.chance(0.3) {
		it.Labels = append(it.Labels, pick(h.r, h.noise))
	}
	if h.chance(0.15) {
		it.SecurityLevel = pick(h.r, h.secLevels)
	}
	it.Assignees = h.subset(h.assignees, 0.25)
	p.assignees = it.Assignees
	// body
	p.body = h.genDoc(p.where+" body", 3+h.r.IntN(7), false)
	it.Body = p.body.Markdown()
	// due
	if h.chance(0.6) {
		d := h.reg.date(p.where + " due")
		if h.chance(0.5) {
			it.Due = &item.Due{Date: d.Format(time.DateOnly)}
		} else {
			it.Due = &item.Due{At: d}
			h.count("item due instant")
		}
	}
	// milestone
	switch x := h.r.Float64(); {
	case len(ct.ms) > 0 && x < 0.6:
		p.ms = pick(h.r, ct.ms)
	case x < 0.63:
		p.msID = "dangling-milestone" + h.reg.tok("dangling milestone id")
		h.count("milestone dangling")
	case x < 0.66 && h.gates.crossMs:
		// The contract says the same source; mapping must not read another
		// source's milestone the customer does not own.
		for _, o := range h.conts {
			if o != ct && len(o.ms) > 0 {
				p.msID = item.MakeID(o.views[0].key, o.ms[0].native)
				h.count("milestone of another source")
				break
			}
		}
	}
	h.genFields(p)
	// comments
	it.CommentsLoaded = true
	if h.chance(0.05) {
		it.CommentsLoaded = false
		h.count("comments not loaded")
	} else {
		for n := h.r.IntN(5); n > 0; n-- {
			h.genComment(p)
		}
	}
	fillNever(h.reg, reflect.ValueOf(it).Elem(), itemPolicy, p.where)
	ct.phys = append(ct.phys, p)
}

func (h *hcase) genFields(p *pitem) {
	f := map[string]any{}
	w := p.where + " field "
	// The first name is the one `when` compares with numbers.
	if h.chance(0.7) {
		switch h.r.IntN(6) {
		case 0, 1, 2:
			f[h.fieldNames[0]] = h.r.IntN(10)
		case 3:
			f[h.fieldNames[0]] = 2.5
		case 4:
			f[h.fieldNames[0]] = "many" // `> 3` is a runtime error: false
		default:
			f[h.fieldNames[0]] = true
		}
		p.fields[h.fieldNames[0]] = fieldInfo{shows: true}
	}
	for _, name := range h.fieldNames[1:] {
		if !h.chance(0.5) {
			continue
		}
		var fi fieldInfo
		switch h.r.IntN(8) {
		case 0:
			n := h.reg.num(w + name)
			f[name] = n
			fi = fieldInfo{shows: true, nums: []string{fmt.Sprint(n)}}
		case 1, 2:
			t := h.reg.textTok(w + name)
			f[name] = t
			fi = fieldInfo{shows: true, toks: []string{t}}
		case 3:
			t, n := h.reg.textTok(w+name), h.reg.num(w+name)
			f[name] = []any{t, n}
			fi = fieldInfo{shows: true, toks: []string{t}, nums: []string{fmt.Sprint(n)}}
		case 4:
			t, hid := h.reg.textTok(w+name), h.reg.textTok(w+name+" (nested list: never shown)")
			f[name] = []any{t, []any{hid}, map[string]any{"x": h.reg.textTok(w + name + " (object in a list: never shown)")}}
			fi = fieldInfo{shows: true, toks: []string{t}}
			h.count("field nested value")
		case 5:
			f[name] = map[string]any{"k": h.reg.textTok(w + name + " (object: never shown)")}
			fi = fieldInfo{shows: false}
			h.count("field object value")
		case 6:
			d := h.reg.date(w + name)
			f[name] = d
			fi = fieldInfo{shows: true, dates: []time.Time{d}}
		default:
			f[name] = h.chance(0.5)
			fi = fieldInfo{shows: true}
		}
		p.fields[name] = fi
	}
	if len(f) > 0 {
		p.base.Fields = f
	}
}

func (h *hcase) genComment(p *pitem) {
	it := &p.base
	i := len(it.Comments)
	cm := item.Comment{ID: "c" + h.reg.tok("comment native id")}
	where := fmt.Sprintf("%s comment %s", p.where, cm.ID)
	cm.Author = pick(h.r, h.authors)
	cm.Created = h.reg.date(where + " created")
	if h.chance(0.1) && i > 0 {
		cm.Created = it.Comments[i-1].Created // same instant: ordered by key
		h.count("comment time tie")
	}
	cm.Internal = h.chance(0.1)
	cm.Restricted = h.chance(0.1)
	rest := h.genDoc(where+" body", 1+h.r.IntN(3), true)
	if h.chance(0.05) {
		rest = &mdDoc{}
	}
	prefix := ""
	if x := h.r.Float64(); x < 0.5 {
		var ms []string
		for _, c := range h.readers(p.cont) {
			ms = append(ms, c.cmarker)
		}
		if len(ms) > 0 {
			prefix = pick(h.r, ms)
		}
	} else if x < 0.75 {
		prefix = pick(h.r, h.cmarkers)
	}
	ws := pick(h.r, []string{"", "", " ", "\n", " \t"})
	var body string
	switch x := h.r.IntN(10); {
	case x < 6:
		sep := pick(h.r, []string{" ", "\n\n", "", "\n"})
		if prefix == "" {
			sep = ""
		}
		body = ws + prefix + sep + rest.Markdown()
	case x < 9:
		health := pick(h.r, []string{"on_track", "at_risk", "off_track", "on_track", "at_risk", "off_track", "bogus", "ON_TRACK", "on_trackx"})
		head := "/status" + pick(h.r, []string{" ", "  ", "\t"}) + health
		if prefix != "" {
			head = prefix + " " + head
		}
		body = ws + head
		if md := rest.Markdown(); md != "" {
			body += pick(h.r, []string{" ", "\n\n", "\n"}) + md
		}
		h.count("status comment")
	default:
		// not the command: an ordinary comment
		head := "/statusboard"
		if prefix != "" {
			head = prefix + " " + head
		}
		body = ws + head
		if md := rest.Markdown(); md != "" {
			body += "\n\n" + md
		}
	}
	cm.Body = body
	fillNever(h.reg, reflect.ValueOf(&cm).Elem(), commentPolicy, where)
	it.Comments = append(it.Comments, cm)
	p.comments = append(p.comments, &pcomment{i: i, rest: rest, board: strings.Contains(body, "/statusboard")})
}

// linkParents: sub-issues in the same container, in another one (read by
// the same customer or not), dangling parents and cycles.
func (h *hcase) linkParents() {
	var all []*pitem
	for _, ct := range h.conts {
		all = append(all, ct.phys...)
	}
	for _, ct := range h.conts {
		for _, p := range ct.phys {
			switch x := h.r.Float64(); {
			case x < 0.35 && len(ct.phys) > 1:
				q := pick(h.r, ct.phys)
				if q == p {
					p.selfLoop = true
					h.count("parent self loop")
				} else {
					p.parent = q
				}
			case x < 0.5 && len(h.conts) > 1:
				q := pick(h.r, all)
				if q.cont != p.cont {
					p.parent = q
					h.count("parent in another source")
				}
			case x < 0.53:
				p.parentID = "dangling" + h.reg.tok("dangling parent id")
			}
		}
	}
	if len(all) > 1 && h.chance(0.1) {
		a, b := pick(h.r, all), pick(h.r, all)
		if a != b {
			a.parent, b.parent = b, a
			a.selfLoop, b.selfLoop, a.parentID, b.parentID = false, false, "", ""
			h.count("parent cycle")
		}
	}
}

// buildSnapshots turns each view into a snapshot. A jql view holds a part
// of its container. A few snapshots also carry an item claiming another
// source, which no customer may see.
func (h *hcase) buildSnapshots() {
	for _, v := range h.allViews() {
		r := h.r
		if v.alias != "" {
			r = h.ra
		}
		snap := item.Snapshot{Source: v.key}
		for _, m := range v.cont.ms {
			mm := m.base
			mm.ID = item.MakeID(v.key, m.native)
			mm.Source = v.key
			snap.Milestones = append(snap.Milestones, mm)
		}
		for _, p := range v.cont.phys {
			if v.members != nil {
				if r.Float64() >= 0.6 {
					continue
				}
				v.members[p] = true
			}
			it := p.base
			it.ID = item.MakeID(v.key, p.native)
			it.Source = v.key
			switch {
			case p.selfLoop:
				it.Parent = it.ID
			case p.parentID != "":
				it.Parent = item.MakeID(v.key, p.parentID)
			case p.parent != nil && p.parent.cont == p.cont:
				it.Parent = item.MakeID(v.key, p.parent.native)
			case p.parent != nil:
				it.Parent = item.MakeID(p.parent.cont.views[0].key, p.parent.native)
			}
			switch {
			case p.ms != nil:
				it.Milestone = item.MakeID(v.key, p.ms.native)
			case strings.HasPrefix(p.msID, "dangling"):
				it.Milestone = item.MakeID(v.key, p.msID)
			case p.msID != "":
				it.Milestone = p.msID
			}
			snap.Items = append(snap.Items, it)
		}
		if v.alias == "" && len(h.conts) > 1 && r.Float64() < 0.1 {
			// A snapshot cannot smuggle items of another source.
			other := pick(r, h.conts).views[0]
			if other != v {
				native := h.reg.tok("smuggled item native id")
				it := item.Item{ID: item.MakeID(other.key, native), Source: other.key, Title: h.reg.textTok("smuggled item title"),
					Body: h.reg.textTok("smuggled item body"), CommentsLoaded: true}
				for _, c := range h.custs {
					it.Labels = append(it.Labels, c.label)
				}
				snap.Items = append(snap.Items, it)
				h.count("smuggled item")
			}
		}
		r.Shuffle(len(snap.Items), func(i, j int) { snap.Items[i], snap.Items[j] = snap.Items[j], snap.Items[i] })
		v.snap = len(h.snaps)
		h.snaps = append(h.snaps, snap)
	}
}

func (h *hcase) allViews() []*view {
	var out []*view
	for _, ct := range h.conts {
		out = append(out, ct.views...)
	}
	return out
}
