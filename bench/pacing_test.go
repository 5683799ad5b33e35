package bench

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	fake "vitrine/fake/github"
)

// pacingCreates is how many mirrors a pacing run creates: more than the
// 500 an hour GitHub allows, so the hourly window is reached too.
const pacingCreates = 600

// pacingRun is what one pacing run measured, on the virtual clock.
type pacingRun struct {
	Mode        string
	Writes      int           // target writes answered 2xx (applied)
	Refused     int           // target writes the fake's windows refused (secondary-limit answers)
	Duration    time.Duration // first to last target request
	PeakMinute  int           // most applied writes in any 60 s
	PeakHour    int           // most applied writes in any 3,600 s
	FirstHour   int           // applied writes in the first hour
	RatePerMin  float64       // applied writes per minute over the run
	FirstLimit  time.Duration // from the start to the first secondary-limit answer (0: none)
	Backoff     time.Duration // from the first secondary-limit answer to the next request on the token
	MinBackoff  time.Duration // the shortest such pause after any secondary-limit answer
	Mirrors     int
	Duplicates  int // mirrors beyond one per source item
	ExtraReads  int // target reads beyond the index listings and the label check
	OpPasses    int // op passes the engine ran (each pacer refusal is one)
	WallSeconds float64
}

// pacing mirrors `creates` published items (no comments) with the
// documented GitHub pacer (80 a minute, 500 an hour, a second apart)
// against a fake enforcing mode's limits on the same virtual clock, and
// measures the target token's requests as vitrine's client saw them.
func pacing(tb testing.TB, mode fake.WindowMode, creates int) pacingRun {
	tb.Helper()
	w := &world{t: tb, fc: clock.NewFake(t0)}
	w.dir = storeDir(tb)
	w.gh = newFake(tb, w.fc, fake.Limits{Mode: mode})
	for i := 1; i <= creates; i++ {
		w.gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprintf("Item %d", i), Body: body(i, ""),
			Labels: []string{"status: In Review", "client-visible"}})
		w.fc.Advance(time.Second)
	}
	w.fc.Advance(10 * time.Minute)
	rec := &recorder{clk: w.fc}
	r, err := buildRig(bg, rigOptions{Dir: w.dir, APIURL: w.gh.URL(), Clock: w.fc, Mirror: true, Log: zerolog.Nop(),
		Transport: func(rt http.RoundTripper) http.RoundTripper { rec.base = rt; return rec }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.close)
	w.r = r
	start := time.Now()
	w.reconcile()
	run := pacingRun{WallSeconds: time.Since(start).Seconds(), OpPasses: r.passes("op", "")}
	switch mode {
	case fake.WindowsDocumented:
		run.Mode = "documented"
	case fake.WindowsUnannounced:
		run.Mode = "unannounced"
	}
	var applied, refused []time.Time
	var all []time.Time
	reads := 0
	answers := rec.answers()
	for k, a := range answers {
		all = append(all, a.At)
		switch {
		case a.Method == http.MethodGet:
			reads++
		case a.Status == http.StatusForbidden || a.Status == http.StatusTooManyRequests:
			refused = append(refused, a.At)
			// The pause is to the next request in the order sent, which
			// catches one sent at the same virtual instant.
			pause := time.Duration(-1)
			if k+1 < len(answers) {
				pause = answers[k+1].At.Sub(a.At)
			}
			if len(refused) == 1 {
				run.FirstLimit, run.Backoff = a.At.Sub(answers[0].At), pause
			}
			if pause >= 0 && (len(refused) == 1 || pause < run.MinBackoff) {
				run.MinBackoff = pause
			}
		case a.Status/100 == 2:
			applied = append(applied, a.At)
		}
	}
	run.Writes, run.Refused = len(applied), len(refused)
	if len(all) > 0 {
		run.Duration = all[len(all)-1].Sub(all[0])
	}
	run.PeakMinute = maxInWindow(applied, time.Minute)
	run.PeakHour = maxInWindow(applied, time.Hour)
	if len(applied) > 0 {
		for _, t := range applied {
			if t.Sub(applied[0]) < time.Hour {
				run.FirstHour++
			}
		}
		if d := applied[len(applied)-1].Sub(applied[0]); d > 0 {
			run.RatePerMin = float64(len(applied)-1) / d.Minutes()
		}
	}
	titles := map[string]int{}
	for _, is := range w.gh.Issues(dstRepo) {
		titles[is.Title]++
	}
	run.Mirrors = len(titles)
	for _, n := range titles {
		run.Duplicates += n - 1
	}
	run.ExtraReads = reads - 3 // the index listings (issues, milestones) of the empty target and one label check
	return run
}

// recorder notes every answer the target's client receives, on the
// virtual clock (which does not move during a call).
type recorder struct {
	base http.RoundTripper
	clk  clock.Clock
	mu   sync.Mutex
	log  []answer
}

type answer struct {
	At     time.Time
	Method string
	Status int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	a := answer{At: r.clk.Now(), Method: req.Method, Status: -1}
	if err == nil {
		a.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.log = append(r.log, a)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) answers() []answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]answer(nil), r.log...)
}

// maxInWindow is the most times in any window of length d (ts sorted).
func maxInWindow(ts []time.Time, d time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func (r pacingRun) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d writes applied, %d refused, %s virtual (%.1fs wall); peak %d/min, %d/h, %d in the first hour; %.1f/min overall",
		r.Mode, r.Writes, r.Refused, r.Duration.Round(time.Second), r.WallSeconds, r.PeakMinute, r.PeakHour, r.FirstHour, r.RatePerMin)
	if r.FirstLimit > 0 {
		fmt.Fprintf(&b, "; first secondary limit at +%s, next request %s later (after any: at least %s)", r.FirstLimit.Round(time.Second), r.Backoff.Round(time.Second), r.MinBackoff.Round(time.Second))
	}
	fmt.Fprintf(&b, "; %d mirrors, %d duplicates, %d extra target reads, %d op passes", r.Mirrors, r.Duplicates, r.ExtraReads, r.OpPasses)
	return b.String()
}

// Documented ceilings of one GitHub identity's content writes.
const (
	ceilingPerMinute = 80
	ceilingPerHour   = 500
)

// TestPacingStaysUnderTheDocumentedWindows creates 520 mirrors against a
// fake that enforces 80 a minute and 500 an hour: nothing is refused, the
// hour's budget is used, the rest waits for the window, no duplicates.
func TestPacingStaysUnderTheDocumentedWindows(t *testing.T) {
	r := pacing(t, fake.WindowsDocumented, 520)
	t.Log(r)
	if r.Mirrors != 520 || r.Duplicates != 0 {
		t.Errorf("%d mirrors and %d duplicates, want 520 and none", r.Mirrors, r.Duplicates)
	}
	if r.Refused != 0 {
		t.Errorf("%d writes over the documented windows", r.Refused)
	}
	if r.PeakMinute > ceilingPerMinute || r.PeakHour > ceilingPerHour {
		t.Errorf("peak %d a minute, %d an hour: over %d and %d", r.PeakMinute, r.PeakHour, ceilingPerMinute, ceilingPerHour)
	}
	// The second between writes caps the minute at 60; the hour is used in
	// full (pinned: a pacer that leaves budget unused fails here).
	if r.PeakMinute < 58 || r.FirstHour < ceilingPerHour-5 {
		t.Errorf("peak %d a minute, %d writes in the first hour: budget left unused (want ≥58 and ≥495)", r.PeakMinute, r.FirstHour)
	}
	if r.ExtraReads != 0 {
		t.Errorf("%d target reads beyond the index and the label check", r.ExtraReads)
	}
}

// TestPacingAdaptsToAnUnannouncedLimit creates 150 mirrors against a fake
// that refuses more than 30 writes a minute with secondary-limit 403s and
// no Retry-After: the first refusal stops the token for at least 60 s, the
// allowance drops so that refusals stay rare, and no create is repeated.
func TestPacingAdaptsToAnUnannouncedLimit(t *testing.T) {
	r := pacing(t, fake.WindowsUnannounced, 150)
	t.Log(r)
	if r.Mirrors != 150 || r.Duplicates != 0 {
		t.Errorf("%d mirrors and %d duplicates, want 150 and none", r.Mirrors, r.Duplicates)
	}
	if r.Refused == 0 {
		t.Fatal("no secondary limit was answered: the scenario does not test anything")
	}
	if r.Backoff < time.Minute || r.MinBackoff < time.Minute {
		t.Errorf("next request %s after the first secondary limit, %s at least after any: want ≥ 60 s", r.Backoff, r.MinBackoff)
	}
	// Measured: 2 refusals in 150 writes (pinned, +1 slack).
	if r.Refused > 3 {
		t.Errorf("%d secondary limits: the allowance does not adapt", r.Refused)
	}
	if r.ExtraReads != 0 {
		t.Errorf("%d target reads beyond the index and the label check: a refused create was searched for", r.ExtraReads)
	}
}

// BenchmarkPacing reports 600 creates on one token (more than an hour's
// 500) on the virtual clock, in both fake modes. Deterministic: one run.
func BenchmarkPacing(b *testing.B) {
	for _, m := range []fake.WindowMode{fake.WindowsDocumented, fake.WindowsUnannounced} {
		var r *pacingRun
		name := map[fake.WindowMode]string{fake.WindowsDocumented: "documented", fake.WindowsUnannounced: "unannounced"}[m]
		b.Run(name, func(b *testing.B) {
			if r == nil {
				x := pacing(b, m, pacingCreates)
				r = &x
			}
			b.ReportMetric(float64(r.Writes), "writes")
			b.ReportMetric(float64(r.Refused), "refused")
			b.ReportMetric(float64(r.PeakMinute), "peak-per-min")
			b.ReportMetric(float64(r.PeakHour), "peak-per-hour")
			b.ReportMetric(float64(r.FirstHour), "first-hour")
			b.ReportMetric(r.RatePerMin, "calls/min")
			b.ReportMetric(r.Duration.Minutes(), "virtual-min")
			b.ReportMetric(r.Backoff.Seconds(), "backoff-s")
			b.ReportMetric(r.MinBackoff.Seconds(), "min-backoff-s")
			b.ReportMetric(float64(r.Duplicates), "duplicates")
			b.ReportMetric(float64(r.ExtraReads), "extra-reads")
			b.ReportMetric(float64(r.OpPasses), "op-passes")
			b.ReportMetric(r.WallSeconds, "wall-s")
		})
	}
}
