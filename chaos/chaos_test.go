package chaos

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	fake "vitrine/fake/github"
)

var (
	seedFlag  = flag.Uint64("seed", 0, "seed of the operations, webhook fates and faults (0: a new one, printed)")
	opsFlag   = flag.Int("ops", 2000, "operations per run (-short: 300 unless set)")
	onlyFault = flag.String("only-fault", "", "inject only this fault kind (triage; see faults_test.go)")
	fullMix   = flag.Bool("full-mix", true, "also close acme's issues as completed (on since TestRetractingTheMirrorOfADoneItemConverges passes; -full-mix=false leaves it out)")
)

const (
	faultRate = 0.20
	// convergeLimit bounds the virtual time of one settling reconcile;
	// convergeRounds how many reconciles may still write.
	convergeLimit  = 12 * time.Hour
	convergeRounds = 6
)

var (
	seedOnce sync.Once
	seedVal  uint64
)

// seed is one seed for every test of the package, so they share the clean
// run; ops is the number of operations per run.
func seed(t *testing.T) (seed uint64, ops int) {
	seedOnce.Do(func() {
		seedVal = *seedFlag
		if seedVal == 0 {
			seedVal = uint64(time.Now().UnixNano())%1_000_000_000 + 1
		}
	})
	ops = *opsFlag
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "ops" })
	if testing.Short() && !set {
		ops = 300
	}
	t.Logf("seed %d, %d operations (reproduce: go test ./chaos -run '%s' -seed %d -ops %d)", seedVal, ops, t.Name(), seedVal, ops)
	return seedVal, ops
}

// hookFate says what happens to one webhook delivery.
type hookFate struct {
	drop  bool
	delay int  // operations later (0: at once)
	again bool // redelivered later with the same delivery id
}

type hookPolicy func(*rand.Rand) hookFate

func allHooks(*rand.Rand) hookFate { return hookFate{} }

// faultyHooks: most deliveries at once, some late (out of order), some
// twice, some never.
func faultyHooks(r *rand.Rand) hookFate {
	switch n := r.IntN(100); {
	case n < 10:
		return hookFate{drop: true}
	case n < 20:
		return hookFate{delay: 1 + r.IntN(5)}
	case n < 25:
		return hookFate{again: true}
	}
	return hookFate{}
}

func dropHooks(r *rand.Rand) hookFate { return hookFate{drop: r.IntN(100) < 30} }

// result is what one run left behind.
type result struct {
	name        string
	w           *world // its store and fake stay open until the test ends
	dump        fake.State
	live        [][]fake.Issue // per pair, the source's issues
	insp        []inspection   // per pair
	gen         *generator
	elapsed     time.Duration
	virtual     time.Duration
	steps       int
	calls       fake.Calls
	overlaps    []fake.Overlap
	violations  []fake.Violation
	duplicates  []string // from the audit log
	parked      string
	hooks       hookStats
	convergedIn int
}

// play makes nops operations, each at its time on the virtual clock, with
// its webhooks as policy says, the engine running as serve runs it between.
func play(t *testing.T, w *world, seed uint64, nops int, policy hookPolicy) *generator {
	t.Helper()
	g := newGenerator(seed, w)
	hrng := rand.New(rand.NewPCG(seed, 0x400c))
	type later struct {
		due int
		d   fake.Delivery
	}
	var queue []later
	flush := func(i int) {
		kept := queue[:0]
		for _, l := range queue {
			if l.due <= i {
				w.deliver(l.d)
			} else {
				kept = append(kept, l)
			}
		}
		queue = kept
	}
	at := w.fc.Now()
	for i := 0; i < nops; i++ {
		at = at.Add(g.gap())
		w.drive(at)
		o := g.step()
		for _, ev := range o.events {
			d, err := w.gh.Delivery(hookSecret, ev)
			if err != nil {
				t.Fatalf("op %d %s: webhook %s %s: %v", g.i, o.kind, ev.Name, ev.Action, err)
			}
			w.hooks.sent++
			f := policy(hrng)
			switch {
			case f.drop:
				w.hooks.dropped++
			case f.delay > 0:
				w.hooks.delayed++
				queue = append(queue, later{due: i + f.delay, d: d})
			default:
				w.deliver(d)
				if f.again {
					w.hooks.redelivered++
					queue = append(queue, later{due: i + 1 + hrng.IntN(10), d: d})
				}
			}
		}
		flush(i)
		if o.reconcile {
			if err := w.eng.Enqueue(bg, reconcileTask()); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(nops + 100)
	return g
}

func (w *world) collect(g *generator, start time.Time) *result {
	w.t.Helper()
	r := &result{name: w.name, w: w, dump: w.gh.Dump(), gen: g, elapsed: time.Since(start), virtual: w.fc.Now().Sub(t0),
		steps: w.steps, calls: w.gh.Calls(), overlaps: w.gh.Overlaps(), violations: w.gh.Violations(), hooks: w.hooks}
	for _, sr := range g.repos {
		r.live = append(r.live, w.gh.Issues(sr.p.src))
		r.insp = append(r.insp, inspect(r.dump, sr))
		dups, err := auditDuplicates(w.st, sr.p.customer)
		if err != nil {
			w.t.Fatal(err)
		}
		r.duplicates = append(r.duplicates, dups...)
	}
	parked, err := w.st.Parked(bg)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(parked) > 0 {
		r.parked = w.queueReport()
	}
	return r
}

func (r *result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s run: %s real, %s virtual, %d passes, %d requests to the fake (%d writes), webhooks %d sent / %d dropped / %d late / %d twice",
		r.name, r.elapsed.Round(time.Millisecond), r.virtual.Round(time.Second), r.steps,
		r.calls.Count("", "", "", 0), r.calls.Writes, r.hooks.sent, r.hooks.dropped, r.hooks.delayed, r.hooks.redelivered)
	for i, in := range r.insp {
		fmt.Fprintf(&b, "\n  %s: %d live mirrors, %d milestones, %d retracted and kept", pairs[i].dst, len(in.state.Issues), len(in.state.Milestones), in.retracted)
	}
	if r.convergedIn > 0 {
		fmt.Fprintf(&b, "\n  converged after %d reconcile(s) with faults off", r.convergedIn)
	}
	return b.String()
}

// clean runs, keyed by seed and operation count, shared by the tests.
var (
	cleanMu   sync.Mutex
	cleanRuns = map[[2]uint64]*result{}
)

// golden is the fault-free run of the seed: every webhook delivered at
// once, no faults. Its mirrors must also be what the rules say. The first
// test to ask runs it; a parallel one waits for it.
func golden(t *testing.T, seed uint64, nops int) *result {
	t.Helper()
	cleanMu.Lock()
	defer cleanMu.Unlock()
	k := [2]uint64{seed, uint64(nops)}
	if r, ok := cleanRuns[k]; ok {
		if r == nil {
			t.Fatalf("the clean run of seed %d failed (see the other test): no golden state to compare with", seed)
		}
		return r
	}
	cleanRuns[k] = nil // until it is known to be right
	start := time.Now()
	w := newWorld(t, worldOptions{name: "clean"})
	g := play(t, w, seed, nops, allHooks)
	rounds := w.converge(convergeRounds, convergeLimit)
	r := w.collect(g, start)
	r.convergedIn = rounds
	t.Logf("operation mix: %s", g.mixString())
	t.Log(r.summary())
	bad := false
	for i, in := range r.insp {
		for _, p := range checkExpected(r.dump, r.live[i], g.repos[i], in.state) {
			t.Errorf("clean run, %s: %s", pairs[i].dst, p)
			bad = true
		}
	}
	bad = r.check(t) || bad
	if bad {
		t.Fatalf("the clean run of seed %d is wrong: no golden state to compare with", seed)
	}
	cleanRuns[k] = r
	return r
}

// check reports duplicates, overlaps, window violations and anything
// else wrong in r on its own; it returns whether there was any.
func (r *result) check(t *testing.T) bool {
	t.Helper()
	bad := false
	fail := func(format string, args ...any) {
		t.Errorf("%s run: "+format, append([]any{r.name}, args...)...)
		bad = true
	}
	for i, in := range r.insp {
		for _, d := range in.duplicates {
			fail("%s: duplicate: %s", pairs[i].dst, d)
		}
		for _, p := range in.problems {
			fail("%s: %s", pairs[i].dst, p)
		}
	}
	for _, d := range r.duplicates {
		fail("the applier found a duplicate mirror: %s", d)
	}
	for _, o := range r.overlaps {
		fail("overlapping requests on %s: %s while %s", o.Object, o.Second, o.First)
	}
	for i, v := range r.violations {
		if i == 5 {
			fail("... %d more write-window violations", len(r.violations)-5)
			break
		}
		fail("write over GitHub's %s window: %s %s at %s", v.Window, v.Method, v.Route, v.At)
	}
	if r.parked != "" {
		t.Logf("%s run: keys left parked:\n%s", r.name, r.parked)
	}
	return bad
}

// sameAsGolden compares r's sources (the operations must have been the
// same) and mirrors with the golden run's.
func (r *result) sameAsGolden(t *testing.T, g *result) {
	t.Helper()
	for i, p := range pairs {
		want, got := repoState(g.dump, p.src), repoState(r.dump, p.src)
		if a, b := mustJSON(want), mustJSON(got); a != b {
			t.Fatalf("%s: the source differs from the clean run's: the operations were not the same\n%s", p.src, diffLines(a, b, 10))
		}
		diffs := diffStates(g.insp[i].state, r.insp[i].state)
		for j, d := range diffs {
			if j == 12 {
				t.Errorf("%s run, %s: ... and %d more differences", r.name, p.dst, len(diffs)-j)
				break
			}
			t.Errorf("%s run, %s differs from the golden state: %s\n%s", r.name, p.dst, d.text, r.w.explain(r.gen.repos[i], d.name))
		}
	}
}

func mustJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

type difference struct{ name, text string }

// diffStates lists what differs, object by object.
func diffStates(want, got mirrorState) []difference {
	var out []difference
	add := func(kind, name string, w, g any, hasW, hasG bool) {
		switch {
		case !hasG:
			out = append(out, difference{name, fmt.Sprintf("%s %s is missing; golden:\n%s", kind, name, mustJSON(w))})
		case !hasW:
			out = append(out, difference{name, fmt.Sprintf("%s %s should not be there:\n%s", kind, name, mustJSON(g))})
		default:
			a, b := mustJSON(w), mustJSON(g)
			if a != b {
				out = append(out, difference{name, fmt.Sprintf("%s %s:\n%s", kind, name, diffLines(a, b, 8))})
			}
		}
	}
	for _, n := range unionKeys(want.Issues, got.Issues) {
		w, hw := want.Issues[n]
		g, hg := got.Issues[n]
		add("issue", n, w, g, hw, hg)
	}
	for _, n := range unionKeys(want.Milestones, got.Milestones) {
		w, hw := want.Milestones[n]
		g, hg := got.Milestones[n]
		add("milestone", n, w, g, hw, hg)
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestTwoThousandOperationsWithTwentyPercentFaultsEndInTheGoldenState(t *testing.T) {
	t.Parallel()
	s, n := seed(t)
	start := time.Now()
	inj := newInjector(s, faultRate)
	w := newWorld(t, worldOptions{name: "faulty", faults: inj})
	g := play(t, w, s, n, faultyHooks)
	inj.setOn(false)
	rounds := w.converge(convergeRounds, convergeLimit)
	r := w.collect(g, start)
	r.convergedIn = rounds
	t.Log(r.summary())
	t.Logf("faults: %s", inj)
	r.check(t)
	r.sameAsGolden(t, golden(t, s, n))
	if t.Failed() {
		t.Logf("seed %d: reproduce with go test ./chaos -run %s -seed %d -ops %d -v", s, t.Name(), s, n)
	}
}

func TestThirtyPercentOfWebhooksDroppedConvergesWithinTwoReconcileIntervals(t *testing.T) {
	t.Parallel()
	s, n := seed(t)
	start := time.Now()
	w := newWorld(t, worldOptions{name: "dropped-webhooks"})
	g := play(t, w, s, n, dropHooks)
	last := w.fc.Now()
	w.drive(last.Add(2 * w.interval))
	r := w.collect(g, start)
	t.Log(r.summary())
	r.check(t)
	r.sameAsGolden(t, golden(t, s, n))
	if t.Failed() {
		t.Logf("seed %d: reproduce with go test ./chaos -run %s -seed %d -ops %d -v", s, t.Name(), s, n)
	}
}

// TestMain trades memory for time: the runs allocate a lot and the
// collector would take an eighth of the CPU.
func TestMain(m *testing.M) {
	debug.SetGCPercent(200)
	os.Exit(m.Run())
}
