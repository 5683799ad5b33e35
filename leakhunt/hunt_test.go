// Package leakhunt hunts leaks with random boards and rules: every case is
// curated by mapping and compared with a naive oracle written from
// DESIGN.md (oracle_test.go, md_test.go), and everything the customer can
// receive is rendered and searched for canaries of every hidden place.
//
//	go test ./leakhunt/                                  kept seeds, then 3000 random cases
//	go test ./leakhunt/ -run 'TestLeakHunt$' -v -args -seed S -n N
//	go test ./leakhunt/ -v -args -bugs                   also the constructs of open bugs
//
// (-n is also a go command flag: pass the hunt's flags after -args.)
package leakhunt

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "time/tzdata"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror/page"
	"vitrine/scrub"
)

var (
	flagSeed = flag.Uint64("seed", 0, "seed of the first random case (0: from the clock; printed)")
	flagN    = flag.Int("n", 0, "number of random cases (0: the default)")
	flagBugs = flag.Bool("bugs", false, "also generate constructs that trigger known open bugs, and run their skipped regression tests")
	flagDump = flag.Bool("dump", false, "print the rules and snapshots of every failing case")
)

// defaultCases keeps `go test ./leakhunt/` well under a minute on two
// shared cores; -n goes longer.
const defaultCases = 3000

const seedsFile = "testdata/seeds.txt"

// knownBugs are open, reported bugs: the gate that generates their
// trigger, and what goes wrong. A seeds.txt line tagged bug=<name> is
// skipped while the bug is listed here (run it with -bugs). Fixed so far:
// alias (one container under two source keys), filekey (boards keyed by the
// path as written), whenms (`when` reading another source's milestone),
// statusitem (a hidden or secured status item posting updates).
var knownBugs = map[string]string{}

var curationTime = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

var idKey = []byte("leakhunt page id key")

func TestCanaryPoliciesCoverEveryField(t *testing.T) {
	for _, e := range policyErrors() {
		t.Error(e)
	}
}

type seedLine struct {
	seed uint64
	bug  string
	note string
}

func readSeeds(t *testing.T) []seedLine {
	f, err := os.Open(seedsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []seedLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, note, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		s, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			t.Fatalf("%s:%d: %q is not a seed", seedsFile, n, fs[0])
		}
		sl := seedLine{seed: s, note: strings.TrimSpace(note)}
		for _, f := range fs[1:] {
			if b, ok := strings.CutPrefix(f, "bug="); ok {
				sl.bug = b
			}
		}
		out = append(out, sl)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeptSeeds runs every seed that ever failed, first (go test runs
// tests in source order).
func TestKeptSeeds(t *testing.T) {
	dir := t.TempDir()
	for _, sl := range readSeeds(t) {
		t.Run(strconv.FormatUint(sl.seed, 10), func(t *testing.T) {
			g := gates{}
			if sl.bug != "" {
				if _, open := knownBugs[sl.bug]; open && !*flagBugs {
					t.Skipf("BUG: %s (seed kept for the regression; run with -bugs)", knownBugs[sl.bug])
				}
				g = gatesFor(sl.bug)
			}
			if errs := runCase(sl.seed, g, dir); len(errs) > 0 {
				reportCase(t, sl.seed, g, dir, errs)
			}
		})
	}
}

func gatesFor(bug string) gates {
	switch bug {
	case "alias":
		return gates{alias: true}
	case "statusitem":
		return gates{statusItem: true}
	case "whenms":
		return gates{crossMs: true}
	}
	return gates{}
}

func TestLeakHunt(t *testing.T) {
	n := *flagN
	if n <= 0 {
		n = defaultCases
	}
	base := *flagSeed
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	// Every gate is on: the bugs they were made for are fixed. -bugs keeps
	// its meaning for the next open one.
	g := gates{alias: true, statusItem: true, crossMs: true}
	t.Logf("leakhunt: %d cases, seeds %d..%d (one case: go test ./leakhunt/ -run 'TestLeakHunt$' -v -args -seed SEED -n 1)", n, base, base+uint64(n)-1)
	dir := t.TempDir()
	start := time.Now()
	type failure struct {
		seed uint64
		errs []string
	}
	var (
		mu       sync.Mutex
		failures []failure
		features = map[string]int{}
		wg       sync.WaitGroup
		next     = make(chan uint64)
	)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				errs := runCaseFeatures(s, g, dir, features, &mu)
				if len(errs) > 0 {
					mu.Lock()
					failures = append(failures, failure{s, errs})
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- base + uint64(i)
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	t.Logf("leakhunt: %d cases in %v: %.0f cases/s", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	var names []string
	for k := range features {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "%s=%d ", k, features[k])
	}
	t.Logf("leakhunt: constructs generated: %s", b.String())
	sort.Slice(failures, func(i, j int) bool { return failures[i].seed < failures[j].seed })
	for i, f := range failures {
		if i >= 5 {
			t.Errorf("... and %d more failing seeds", len(failures)-i)
			break
		}
		reportCase(t, f.seed, g, dir, f.errs)
	}
}

func reportCase(t *testing.T, seed uint64, g gates, dir string, errs []string) {
	t.Helper()
	const max = 12
	shown := errs
	if len(shown) > max {
		shown = append(shown[:max:max], fmt.Sprintf("... and %d more", len(errs)-max))
	}
	var bugs []string
	for name, on := range map[string]bool{"alias": g.alias, "statusitem": g.statusItem, "whenms": g.crossMs} {
		if on {
			bugs = append(bugs, name)
		}
	}
	sort.Strings(bugs)
	bug := ""
	switch len(bugs) {
	case 0:
	case 1:
		bug = " bug=" + bugs[0]
	default:
		bug = " bug=<one of " + strings.Join(bugs, ", ") + ": rerun the seed in TestKeptSeeds with each to tell which>"
	}
	t.Errorf("seed %d failed:\n  %s\n  reproduce: go test ./leakhunt/ -run 'TestLeakHunt$' -v -args -seed %d -n 1%s\n  keep it: add the line \"%d%s # <what failed>\" to leakhunt/%s",
		seed, strings.Join(shown, "\n  "), seed, map[bool]string{true: " -bugs", false: ""}[len(bugs) > 0], seed, bug, seedsFile)
	if *flagDump {
		h := generate(seed, g, dir)
		rb, _ := json.MarshalIndent(h.rules, "", " ")
		sb, _ := json.MarshalIndent(h.snaps, "", " ")
		t.Logf("rules:\n%s\nsnapshots:\n%s", rb, sb)
	}
}

func runCaseFeatures(seed uint64, g gates, dir string, features map[string]int, mu *sync.Mutex) []string {
	h, errs := runCaseH(seed, g, dir)
	mu.Lock()
	for k, v := range h.features {
		features[k] += v
	}
	mu.Unlock()
	return errs
}

func runCase(seed uint64, g gates, dir string) []string {
	_, errs := runCaseH(seed, g, dir)
	return errs
}

// runCaseH generates one case, checks its rules, curates every customer,
// compares with the oracle, renders every output and hunts canaries.
func runCaseH(seed uint64, g gates, dir string) (h *hcase, errs []string) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			errs = append(errs, fmt.Sprintf("panic: %v\n%s", r, buf))
		}
	}()
	h = generate(seed, g, dir)
	ruleErrs, refused := h.checkRules()
	if refused {
		return h, nil // config refuses one container spelled two ways: nothing to curate
	}
	errs = append(errs, ruleErrs...)
	set, err := mapping.Compile(h.rules)
	if err != nil {
		return h, append(errs, fmt.Sprintf("compile: %v", err))
	}
	w := h.world()
	exp := h.oracle(w)
	for _, c := range h.custs {
		// Curate with exactly the snapshots the engine passes, and with
		// every snapshot (as Explain does): the view must not depend on
		// the snapshots of sources the customer does not need.
		res, err := set.Curate(c.id, h.snapsFor(set.SourcesFor(c.id)), curationTime)
		if err != nil {
			errs = append(errs, fmt.Sprintf("customer %s: curate: %v", c.id, err))
			continue
		}
		if all, err := set.Curate(c.id, h.snaps, curationTime); err != nil {
			errs = append(errs, fmt.Sprintf("customer %s: curate with every snapshot: %v", c.id, err))
		} else if all.View.Hash != res.View.Hash {
			errs = append(errs, fmt.Sprintf("customer %s: the view changes when snapshots of other sources are passed too", c.id))
			errs = append(errs, h.compare(w, c, exp[c], all)...)
		}
		errs = append(errs, h.compare(w, c, exp[c], res)...)
		errs = append(errs, h.hunt(c, exp[c], res.View)...)
		errs = append(errs, h.hiddenChangesNothing(set, c, exp[c], res.View)...)
	}
	return h, errs
}

// hiddenChangesNothing: with every text canary the customer may not read
// replaced by another, the view and its hash stay the same (mapping's
// promise that a change to anything the customer cannot see changes
// nothing, so it is neither written nor leaked through the hash).
func (h *hcase) hiddenChangesNothing(set *mapping.Set, c *cust, e *expect, v mapping.View) []string {
	swap := map[string]string{}
	for t := range h.reg.text {
		if !e.vis.toks[t] {
			b := []byte(t)
			for i, j := 4, len(b)-1; i < j; i, j = i+1, j-1 {
				b[i], b[j] = b[j], b[i]
			}
			b[4] = 'z'
			swap[t] = string(b)
			swap[strings.ToUpper(t)] = strings.ToUpper(string(b)) // reference labels are matched case-insensitively
		}
	}
	if len(swap) == 0 {
		return nil
	}
	snaps := rewrite(reflect.ValueOf(h.snapsFor(set.SourcesFor(c.id))), swap).Interface().([]item.Snapshot)
	res, err := set.Curate(c.id, snaps, curationTime)
	if err != nil {
		return []string{fmt.Sprintf("customer %s: curate with hidden text changed: %v", c.id, err)}
	}
	if res.View.Hash != v.Hash {
		a, _ := json.Marshal(withoutKeys(v))
		b, _ := json.Marshal(withoutKeys(res.View))
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		return []string{fmt.Sprintf("customer %s: the view changes when only text it may not read changes; first difference at …%s… / …%s…",
			c.id, a[max(i-80, 0):min(i+80, len(a))], b[max(i-80, 0):min(i+80, len(b))])}
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

// swapCanaries replaces the canaries of swap in s.
func swapCanaries(s string, swap map[string]string) string {
	var b strings.Builder
	last := 0
	for i := 0; i+14 <= len(s); {
		j := strings.Index(s[i:], "cnry")
		if k := strings.Index(s[i:], "CNRY"); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		if j < 0 || i+j+14 > len(s) {
			break
		}
		i += j
		if r, ok := swap[s[i:i+14]]; ok {
			b.WriteString(s[last:i])
			b.WriteString(r)
			last = i + 14
			i += 14
			continue
		}
		i += 4
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// rewrite deep-copies v with every string passed through swapCanaries.
func rewrite(v reflect.Value, rp map[string]string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		return reflect.ValueOf(swapCanaries(v.String(), rp)).Convert(v.Type())
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(rewrite(v.Index(i), rp))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(rewrite(it.Key(), rp), rewrite(it.Value(), rp))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(rewrite(v.Elem(), rp))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(rewrite(v.Elem(), rp))
		return out
	case reflect.Struct:
		if v.Type() == timeType {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			out.Field(i).Set(rewrite(v.Field(i), rp))
		}
		return out
	}
	return v
}

func (h *hcase) snapsFor(keys []string) []item.Snapshot {
	var out []item.Snapshot
	for _, k := range keys {
		if v := h.byKey[k]; v != nil {
			out = append(out, h.snaps[v.snap])
		}
	}
	return out
}

// checkRules: the generated rules are valid, and the invalid variants made
// of them on purpose are rejected. refused: the rules read one container
// under two spellings (gate alias) and config refuses them, which is one
// way to fix that bug.
func (h *hcase) checkRules() (errs []string, refused bool) {
	valid := h.rulesCopy()
	if err := valid.Validate(); err != nil {
		if h.spellingAlias() {
			return nil, true
		}
		errs = append(errs, fmt.Sprintf("config.Validate rejects valid generated rules: %v", err))
	}
	// Two customers sharing a container with the same label (spelled
	// differently): both could select the same item.
	for i, a := range h.custs {
		for _, b := range h.custs[i+1:] {
			if !h.shareContainer(a, b) {
				continue
			}
			r := h.rulesCopy()
			r.Customers[b.i].Publish.Label = " " + strings.ToUpper(a.label) + " "
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "share source") {
				errs = append(errs, fmt.Sprintf("config.Validate accepts customers %s and %s sharing a source with one label: %v", a.id, b.id, err))
			}
		}
	}
	c := h.custs[0]
	r := h.rulesCopy()
	r.Customers[0].Publish.HideLabel = c.label
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "hide_label is the same as label") {
		errs = append(errs, fmt.Sprintf("config.Validate accepts hide_label equal to label: %v", err))
	}
	r = h.rulesCopy()
	r.Customers[0].Show.LinkDomains = append(r.Customers[0].Show.LinkDomains, "Acme.Example")
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "lower case") {
		errs = append(errs, fmt.Sprintf("config.Validate accepts an upper-case link domain: %v", err))
	}
	if len(h.custs) > 1 {
		r = h.rulesCopy()
		r.Customers[1].ID = r.Customers[0].ID
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "already used") {
			errs = append(errs, fmt.Sprintf("config.Validate accepts two customers with one id: %v", err))
		}
	}
	r = h.rulesCopy()
	r.Customers[0].Sources = append(r.Customers[0].Sources, h.sourceCfg(c.views[0], true))
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "already a source of this customer") {
		errs = append(errs, fmt.Sprintf("config.Validate accepts a customer naming one source twice: %v", err))
	}
	return errs, false
}

// spellingAlias: a container is read under two spellings of its name or
// host (not a jql filter, which is a legitimate per-customer view).
func (h *hcase) spellingAlias() bool {
	for _, v := range h.allViews() {
		if v.alias != "" && v.alias != "jql" {
			return true
		}
	}
	return false
}

func (h *hcase) shareContainer(a, b *cust) bool {
	for _, va := range a.views {
		for _, vb := range b.views {
			if va.cont == vb.cont {
				return true
			}
		}
	}
	return false
}

// rulesCopy is the rules with defaults applied, as Load gives them to
// Validate; the compiled rules keep their zero values.
func (h *hcase) rulesCopy() *config.Rules {
	r := &config.Rules{}
	for _, c := range h.custs {
		cc := c.cfg
		cc.Sources = nil
		for _, v := range c.views {
			s := h.sourceCfgFixed(c, v)
			cc.Sources = append(cc.Sources, s)
		}
		cc.Targets = nil
		for _, t := range c.cfg.Targets {
			t2 := t
			switch {
			case t.Page != nil:
				p := *t.Page
				t2.Page = &p
			case t.GitHub != nil:
				g := *t.GitHub
				t2.GitHub = &g
			case t.Jira != nil:
				j := *t.Jira
				t2.Jira = &j
			}
			cc.Targets = append(cc.Targets, t2)
		}
		r.Customers = append(r.Customers, cc)
	}
	r.ApplyDefaults()
	return r
}

// sourceCfgFixed copies the customer's own spelling of a view.
func (h *hcase) sourceCfgFixed(c *cust, v *view) config.Source {
	for j, cv := range c.views {
		if cv == v {
			s := c.cfg.Sources[j]
			switch {
			case s.GitHub != nil:
				g := *s.GitHub
				s.GitHub = &g
			case s.Jira != nil:
				jr := *s.Jira
				s.Jira = &jr
			case s.File != nil:
				f := *s.File
				s.File = &f
			}
			return s
		}
	}
	return h.sourceCfg(v, false)
}

// compare checks the curated view against the oracle.
func (h *hcase) compare(w *world, c *cust, e *expect, res mapping.Result) []string {
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf("customer %s: ", c.id)+fmt.Sprintf(format, args...))
	}
	v := res.View
	got := map[string]*mapping.Item{}
	for i := range v.Items {
		got[v.Items[i].Key] = &v.Items[i]
	}
	for id := range e.items {
		if got[id] == nil {
			bad("item %s (%s) must be published: %s", id, w.items[id].Ref, decisionOf(res, id))
		}
	}
	for id := range got {
		if e.items[id] == nil {
			bad("item %s must not be published: %s", id, decisionOf(res, id))
		}
	}
	for id, x := range e.items {
		g := got[id]
		if g == nil {
			continue
		}
		if g.Status != x.status || g.Done != x.done {
			bad("item %s: status %q done %v, want %q %v", id, g.Status, g.Done, x.status, x.done)
		}
		if g.Due != x.due {
			bad("item %s: due %q, want %q", id, g.Due, x.due)
		}
		if !samePtr(g.Progress, x.progress) {
			bad("item %s: progress %v, want %v", id, ptrText(g.Progress), ptrText(x.progress))
		}
		if g.Parent != x.parent {
			bad("item %s: parent %q, want %q", id, g.Parent, x.parent)
		}
		if g.Milestone != x.milestone {
			bad("item %s: milestone %q, want %q", id, g.Milestone, x.milestone)
		}
		var ck []string
		for _, cm := range g.Comments {
			ck = append(ck, cm.Key)
		}
		sort.Strings(ck)
		if strings.Join(ck, " ") != strings.Join(x.comments, " ") {
			bad("item %s: comments %v, want %v", id, ck, x.comments)
		}
		var fn []string
		for _, f := range g.Fields {
			fn = append(fn, f.Name)
		}
		if strings.Join(fn, " ") != strings.Join(x.fields, " ") {
			bad("item %s: fields %v, want %v", id, fn, x.fields)
		}
	}
	gotMs := map[string]*mapping.Milestone{}
	for i := range v.Milestones {
		gotMs[v.Milestones[i].Key] = &v.Milestones[i]
	}
	for id, x := range e.ms {
		g := gotMs[id]
		if g == nil {
			bad("milestone %s must show", id)
			continue
		}
		if g.Due != x.due || g.Done != x.done || !samePtr(g.Progress, x.progress) {
			bad("milestone %s: due %q done %v progress %s, want %q %v %s", id, g.Due, g.Done, ptrText(g.Progress), x.due, x.done, ptrText(x.progress))
		}
	}
	for id := range gotMs {
		if e.ms[id] == nil {
			bad("milestone %s must not show", id)
		}
	}
	var gu, eu []string
	for _, u := range v.Updates {
		gu = append(gu, u.Key+"@"+u.Item+"="+u.Health)
	}
	for _, u := range e.updates {
		eu = append(eu, u.key+"@"+u.item+"="+u.health)
	}
	if strings.Join(gu, " ") != strings.Join(eu, " ") {
		bad("status updates (newest first)\n    got  %v\n    want %v", gu, eu)
	}
	if v.Health != e.health {
		bad("health %q, want %q", v.Health, e.health)
	}
	var gn, en []string
	gn = append(gn, res.NeedComments...)
	for id := range e.need {
		en = append(en, id)
	}
	sort.Strings(gn)
	sort.Strings(en)
	if strings.Join(gn, " ") != strings.Join(en, " ") {
		bad("NeedComments %v, want %v", gn, en)
	}
	var gd []string
	for _, d := range res.Decisions {
		gd = append(gd, d.Item)
	}
	if strings.Join(gd, " ") != strings.Join(e.own, " ") {
		bad("decisions for %d items, want one for each of the %d items of its sources", len(gd), len(e.own))
	}
	return errs
}

func decisionOf(res mapping.Result, id string) string {
	for _, d := range res.Decisions {
		if d.Item == id {
			return fmt.Sprintf("rule %q", d.Rule)
		}
	}
	return "no decision"
}

func samePtr(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func ptrText(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p)
}

type output struct {
	name, text string
}

// outputs renders everything a customer can receive from its view.
func outputs(c *cust, v mapping.View) ([]output, error) {
	var outs []output
	add := func(name, text string) { outs = append(outs, output{name, text}) }
	pg, err := page.Render(v, page.Options{IDKey: idKey, Feed: c.feed})
	if err != nil {
		return nil, err
	}
	add("page", string(pg))
	for _, mode := range []page.FeedMode{page.FeedFull, page.FeedTitles} {
		f, err := page.RenderFeed(v, mode, page.Options{IDKey: idKey, PageURL: "https://status.example/p/token/"})
		if err != nil {
			return nil, err
		}
		add("feed "+string(mode), string(f))
	}
	js, err := json.Marshal(withoutKeys(v))
	if err != nil {
		return nil, err
	}
	add("view JSON without keys", string(js))
	doc := func(name string, d scrub.Doc) {
		add(name+" markdown", d.Markdown())
		add(name+" wiki", d.Wiki())
		add(name+" html", d.HTML())
		add(name+" plain", d.PlainText())
	}
	inl := func(name string, in []scrub.Inline) {
		add(name+" text", scrub.InlineText(in, scrub.TitlePlain))
		add(name+" github", scrub.InlineText(in, scrub.TitleGitHub))
		add(name+" jira", scrub.InlineText(in, scrub.TitleJira))
		add(name+" html", scrub.InlineHTML(in))
	}
	for i, it := range v.Items {
		n := fmt.Sprintf("item[%d]", i)
		inl(n+" title", it.Title)
		doc(n+" body", it.Body)
		for j, cm := range it.Comments {
			doc(fmt.Sprintf("%s comment[%d]", n, j), cm.Body)
		}
	}
	for i, m := range v.Milestones {
		n := fmt.Sprintf("milestone[%d]", i)
		inl(n+" name", m.Name)
		doc(n+" description", m.Description)
	}
	for i, u := range v.Updates {
		doc(fmt.Sprintf("update[%d]", i), u.Body)
	}
	return outs, nil
}

// withoutKeys blanks what is identity by design (source ids, the customer
// id, hashes); what is left is what renderers may print.
func withoutKeys(v mapping.View) mapping.View {
	v.Customer, v.Hash = "", ""
	v.Items = append([]mapping.Item(nil), v.Items...)
	for i := range v.Items {
		it := &v.Items[i]
		it.Key, it.Parent, it.Milestone, it.Hash = "", "", "", ""
		it.Comments = append([]mapping.Comment(nil), it.Comments...)
		for j := range it.Comments {
			it.Comments[j].Key, it.Comments[j].Hash = "", ""
		}
	}
	v.Milestones = append([]mapping.Milestone(nil), v.Milestones...)
	for i := range v.Milestones {
		v.Milestones[i].Key, v.Milestones[i].Hash = "", ""
	}
	v.Updates = append([]mapping.Update(nil), v.Updates...)
	for i := range v.Updates {
		v.Updates[i].Key, v.Updates[i].Item, v.Updates[i].Hash = "", "", ""
	}
	return v
}

// hunt searches every output for canaries the customer may not read, and
// the page for those it must.
func (h *hcase) hunt(c *cust, e *expect, v mapping.View) []string {
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf("customer %s: ", c.id)+fmt.Sprintf(format, args...))
	}
	outs, err := outputs(c, v)
	if err != nil {
		return []string{fmt.Sprintf("customer %s: render: %v", c.id, err)}
	}
	vis := e.vis
	for _, o := range outs {
		f := scan(o.text)
		for _, t := range f.toks {
			where, known := h.reg.toks[t]
			switch {
			case !known:
				bad("%s: unknown canary-like %q: …%s…", o.name, t, around(o.text, t))
			case !vis.toks[t]:
				bad("LEAK in %s: %s (%s): …%s…", o.name, t, where, around(o.text, t))
			}
		}
		for _, m := range f.mangled {
			bad("%s: a canary was cut or changed: %q", o.name, m)
		}
		for _, n := range f.nums {
			if where, ok := h.reg.nums[n]; ok && !vis.nums[n] {
				bad("LEAK in %s: number %s (%s): …%s…", o.name, n, where, around(o.text, n))
			}
		}
		for _, d := range f.days {
			if where, ok := h.reg.dates[d.iso]; ok && !vis.days[d.iso] {
				bad("LEAK in %s: date %s as %q (%s): …%s…", o.name, d.iso, d.as, where, around(o.text, d.as))
			}
		}
		if o.name == "page" {
			found := map[string]bool{}
			for _, t := range f.toks {
				found[t] = true
			}
			var missing []string
			for t, why := range vis.need {
				if !found[t] {
					missing = append(missing, fmt.Sprintf("%s (%s)", t, why))
				}
			}
			for n, why := range vis.needNums {
				if !strings.Contains(o.text, n) {
					missing = append(missing, fmt.Sprintf("%s (%s)", n, why))
				}
			}
			for d, why := range vis.needDays {
				if !strings.Contains(o.text, d) {
					missing = append(missing, fmt.Sprintf("%s (%s)", d, why))
				}
			}
			sort.Strings(missing)
			for _, m := range missing {
				bad("page is missing what must show: %s", m)
			}
		}
	}
	return errs
}

func around(s, sub string) string {
	i := strings.Index(strings.ToLower(s), strings.ToLower(sub))
	if i < 0 {
		return "(in a decoded form)"
	}
	lo, hi := max(i-70, 0), min(i+len(sub)+50, len(s))
	return strings.ReplaceAll(s[lo:hi], "\n", `\n`)
}

type found struct {
	toks    []string
	mangled []string
	nums    []string
	days    []day
}

type day struct{ iso, as string }

var (
	months  = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	joiners = strings.NewReplacer("\u200b", "", "\u2060", "", "&#8203;", "", "\u00ad", "", "\\", "")
)

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// scan finds canaries, nine-digit numbers and dates in an output as
// written and in its decoded forms (joiners and backslashes taken out,
// entities, percent-escapes and \u escapes decoded).
func scan(out string) found {
	var f found
	seen := map[string]bool{}
	forms := []string{out}
	if strings.ContainsAny(out, "\\&%\u200b\u2060\u00ad") {
		stripped := joiners.Replace(out)
		unent := html.UnescapeString(stripped)
		twice := joiners.Replace(html.UnescapeString(unent)) // HTML inside XML (the feed's content)
		forms = append(forms, stripped, unent, twice, percentDecode(twice), joiners.Replace(html.UnescapeString(jsonUnescape(out))))
	}
	for _, s := range forms {
		for _, prefix := range []string{"cnry", "CNRY"} {
			for i := 0; ; {
				j := strings.Index(s[i:], prefix)
				if j < 0 {
					break
				}
				i += j
				k := i + 4
				for k < len(s) && k < i+14 && strings.IndexByte(b32, s[k]|0x20) >= 0 {
					k++
				}
				t := strings.ToLower(s[i:k])
				if !seen[t] {
					seen[t] = true
					if k-i == 14 {
						f.toks = append(f.toks, t)
					} else {
						f.mangled = append(f.mangled, s[i:min(i+20, len(s))])
					}
				}
				i = k
			}
		}
	}
	for _, s := range forms[:min(len(forms), 3)] {
		// nine-digit numbers
		for i := 0; i < len(s); {
			if !isDigitByte(s[i]) {
				i++
				continue
			}
			j := i
			for j < len(s) && isDigitByte(s[j]) {
				j++
			}
			if n := s[i:j]; len(n) == 9 && !seen[n] {
				seen[n] = true
				f.nums = append(f.nums, n)
			}
			// 2006-01-02
			if j-i == 4 && j+6 <= len(s) && s[j] == '-' && isDigitByte(s[j+1]) && isDigitByte(s[j+2]) && s[j+3] == '-' && isDigitByte(s[j+4]) && isDigitByte(s[j+5]) {
				f.days = append(f.days, day{iso: s[i : j+6], as: s[i : j+6]})
			}
			i = j
		}
		// 2 Jan 2006 and Jan 2, 2006
		for _, m := range months {
			for i := 0; ; {
				j := strings.Index(s[i:], m+" ")
				if j < 0 {
					break
				}
				i += j
				if a, b := i-1, i; a > 0 && s[a] == ' ' && isDigitByte(s[a-1]) {
					d0 := a - 1
					for d0 > 0 && isDigitByte(s[d0-1]) {
						d0--
					}
					if y := b + 4; y+4 <= len(s) && isDigitByte(s[y]) && isDigitByte(s[y+3]) {
						if t, err := time.Parse("2 Jan 2006", s[d0:y+4]); err == nil {
							f.days = append(f.days, day{iso: t.Format(time.DateOnly), as: s[d0 : y+4]})
						}
					}
				}
				if k := strings.IndexByte(s[i+4:min(i+8, len(s))], ','); k >= 0 {
					if t, err := time.Parse("Jan 2, 2006", s[i:min(i+4+k+6, len(s))]); err == nil {
						f.days = append(f.days, day{iso: t.Format(time.DateOnly), as: s[i:min(i+4+k+6, len(s))]})
					}
				}
				i += 4
			}
		}
	}
	return f
}

func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var uEscape = regexp.MustCompile(`\\u[0-9a-fA-F]{4}`)

func jsonUnescape(s string) string {
	return uEscape.ReplaceAllStringFunc(s, func(m string) string {
		v, _ := strconv.ParseUint(m[2:], 16, 32)
		return string(rune(v))
	})
}
