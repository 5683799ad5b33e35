package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// report renders BENCHMARKS.md. The explanations here describe the
// scenarios in bench/; the minimum formulas are the ones coded in
// bench/api_test.go (minBackfill, minNoChange, minEdits, minFlip), and the
// notes on what drives an excess go with the pinned counts there: change
// them together.
type report struct {
	b     strings.Builder
	stats map[string]stat
	runs  []groupRun
}

func render(m machine, runs []groupRun) string {
	r := &report{stats: reduce(runs), runs: runs}
	r.header(m)
	r.intake()
	r.endToEnd()
	r.api()
	r.reconcile()
	r.page()
	r.pacing()
	r.packages()
	r.commands()
	return r.b.String()
}

func (r *report) p(format string, a ...any) { fmt.Fprintf(&r.b, format, a...) }

// get returns the median of a benchmark's metric, or "n/a".
func (r *report) get(name, unit string) (float64, bool) {
	s, ok := r.stats[name]
	if !ok {
		return 0, false
	}
	return s.median(unit)
}

func (r *report) runsOf(name string) string {
	if s, ok := r.stats[name]; ok {
		return fmt.Sprint(s.Runs)
	}
	return "0"
}

func (r *report) skipped(name string) bool {
	for _, gr := range r.runs {
		for _, s := range gr.Skipped {
			if s == name || strings.HasPrefix(name, s+"/") {
				return true
			}
		}
	}
	return false
}

// num formats a metric with a sensible precision, "n/a" when missing.
func (r *report) num(name, unit string, digits int) string {
	v, ok := r.get(name, unit)
	if !ok {
		if r.skipped(name) {
			return "skipped"
		}
		return "n/a"
	}
	return fnum(v, digits)
}

func fnum(v float64, digits int) string {
	switch {
	case math.Abs(v) >= 1000:
		return group3(fmt.Sprintf("%.0f", v))
	default:
		return fmt.Sprintf("%.*f", digits, v)
	}
}

// group3 puts thousands separators into an integer string.
func group3(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dur formats a duration given in ns.
func dur(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
}

func (r *report) durOf(name string) string {
	v, ok := r.get(name, "ns/op")
	if !ok {
		return r.num(name, "ns/op", 0)
	}
	return dur(v)
}

func humanDur(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
}

func (r *report) header(m machine) {
	r.p("# vitrine benchmarks\n\n")
	r.p("Written by `make bench` (`go run ./cmd/benchreport -out BENCHMARKS.md`); do not edit by hand.\n")
	r.p("The benchmarks live in `bench/` (plus `mapping`, `scrub` and `store/redis`). Call counts and pacing\n")
	r.p("are deterministic, so the same scenarios are also asserted by ordinary tests in `bench/` (`make test`).\n\n")
	if m.Quick {
		r.p("> **Quick run** (`-quick`): one short run per benchmark, to check the pipeline. Not figures to quote.\n\n")
	}
	r.p("## Machine\n\n| | |\n|---|---|\n")
	r.p("| CPU | %s, %d logical CPUs (GOMAXPROCS %d) |\n", m.CPU, m.Cores, max(m.Procs, 1))
	if m.MemGiB > 0 {
		r.p("| Memory | %.1f GiB |\n", m.MemGiB)
	}
	os := m.OS
	if m.Kernel != "" {
		os += ", Linux " + m.Kernel
	}
	r.p("| OS | %s |\n", os)
	r.p("| Go | %s |\n", m.Go)
	r.p("| Date | %s |\n", m.Date.Format("2006-01-02 15:04 MST"))
	r.p("| Command | `make bench`, %s in all (the `go test` runs are listed at the end) |\n", humanDur(m.Took))
	r.p("| Load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n", m.LoadStart, m.LoadEnd)
	if busy(m.LoadStart, m.Cores) || busy(m.LoadEnd, m.Cores) {
		r.p("> The load average exceeded the %d CPUs during this run: other work shared the machine, and the\n", m.Cores)
		r.p("> timed figures are higher than on an idle one. Ratios, counts and pacing are not affected.\n\n")
	}
	r.p("**How to read.** The machine is shared and noisy: every timed figure is the median of several runs\n")
	r.p("(the *runs* column; `go test -count`), and timed figures compare only between runs on one machine.\n")
	r.p("API efficiency is given as ratios, calls made ÷ the minimum the scenario needs: 1.00 is optimal, and\n")
	r.p("a ratio is independent of the machine. Pacing runs on a virtual clock and is deterministic too.\n\n")
}

// busy reports whether the 1-minute load average exceeds the CPUs.
func busy(load string, cores int) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return false
	}
	var v float64
	if _, err := fmt.Sscan(f[0], &v); err != nil {
		return false
	}
	return v > float64(cores)
}

func (r *report) intake() {
	r.p("## Webhook intake\n\n")
	r.p("Signed GitHub `issues` deliveries (the fake's rendering of GitHub's own example payloads, 100 issues)\n")
	r.p("POSTed over loopback to the real intake handler (`webhooks.Handler` with the GitHub parser), which answers\n")
	r.p("202 only once the delivery is durably queued (promise 8). *Senders* is the number of concurrent\n")
	r.p("connections; each request carries a fresh `X-GitHub-Delivery`. Time to 2xx is measured by the sender.\n")
	r.p("SQLite: a file on the real disk, WAL with `synchronous=FULL`. Redis: a private `redis-server` with\n")
	r.p("`appendonly yes` and **`appendfsync always`** (what the store requires by default: an accepted delivery\n")
	r.p("is on disk before the answer).\n\n")
	r.p("| store | senders | events/s | p50 to 2xx | p99 to 2xx | runs |\n|---|---:|---:|---:|---:|---:|\n")
	for _, mode := range []string{"sqlite", "redis"} {
		for _, c := range []string{"1", "8"} {
			n := "Intake/" + mode + "/c=" + c
			r.p("| %s | %s | %s | %s ms | %s ms | %s |\n", map[string]string{"sqlite": "SQLite", "redis": "Redis"}[mode], c,
				r.num(n, "events/s", 0), r.num(n, "p50-ms", 2), r.num(n, "p99-ms", 2), r.runsOf(n))
		}
	}
	r.p("\nGitHub gives a delivery 10 s before it counts it failed; read the p99 against that.\n\n")
}

func (r *report) endToEnd() {
	r.p("## End to end: webhook to mirror written\n\n")
	r.p("`vitrine serve` as wired by the app, on the wall clock: intake on a loopback server, two workers, a\n")
	r.p("SQLite file on the real disk, the fake GitHub as source and mirror target, pacing off (limits nobody\n")
	r.p("reaches). The repository has 1,000 items, 100 published and mirrored. Each op edits a published item's\n")
	r.p("client section, POSTs its signed delivery and stops the clock when vitrine's client has the answer to\n")
	r.p("the mirror's PATCH. One delivery at a time, each for another item. The path: intake (fsync), wake-up,\n")
	r.p("item read (issue + conditional comment list), view pass (curates the whole customer), op pass (mirror\n")
	r.p("read + PATCH).\n\n")
	r.p("*As served*, a webhook's hint waits `webhooks.Coalesce` (1 s) before its item is read, so a burst of\n")
	r.p("edits to one item costs one read and one write (see the API table); *processing* sets that window to\n")
	r.p("zero and shows what vitrine itself spends on the way.\n\n")
	r.p("| mode | p50 | p99 | events per run | runs |\n|---|---:|---:|---:|---:|\n")
	for _, m := range []struct{ label, bench, group string }{
		{"processing (no window)", "EndToEnd/processing", "end-to-end"},
		{"as served (1 s window)", "EndToEnd/served", "end-to-end-served"},
	} {
		iters := "n/a"
		for _, gr := range r.runs {
			if gr.Group.Name == m.group {
				iters = strings.TrimSuffix(gr.Group.BenchTime, "x")
			}
		}
		r.p("| %s | %s ms | %s ms | %s | %s |\n", m.label, r.num(m.bench, "p50-ms", 1), r.num(m.bench, "p99-ms", 1), iters, r.runsOf(m.bench))
	}
	r.p("\nEach event curates the customer's whole repository (every snapshot is decoded and curated): the\n")
	r.p("latency grows with the repository. `mapping` alone takes %s for 10,000 items (below), and the\n", r.durOf("Curate10k"))
	r.p("view pass also reads and decodes all 10,000 snapshots from the store.\n\n")
}

// apiRow is one scenario of the API-efficiency table.
type apiRow struct {
	bench, short, title, reads, cond, writes, drivers string
}

var apiRows = []apiRow{
	{
		bench:  "APICalls/backfill",
		short:  "Backfill, 1,000 of 10,000",
		title:  "Backfill: 1,000 published items out of 10,000 (100 with comments)",
		reads:  "⌈10,000/100⌉ list pages + 100 comment reads (one per published item with comments) + 1 milestone list + 2 pages indexing the empty target (issues, milestones)",
		cond:   "0",
		writes: "1,000 creates (labels in the create) + 100 comments + 1 status label",
		drivers: "1 label existence check (`GET /labels/{name}`) and 1 extra list page (the keyset poll re-reads the page it rests on). " +
			"Items the reconcile's own scan listed are not re-verified by it, and a create the pacer holds back leaves no pending link to search for.",
	},
	{
		bench:   "APICalls/first",
		short:   "First reconcile after it",
		title:   "The reconcile after the backfill, nothing changed (10,000 items, 1,000 mirrors)",
		reads:   "1,000 items + 1,000 mirrors, each read once for a validator (a listing carries no per-item ETag, nor does a create's answer)",
		cond:    "1 listing + 1 milestone list + 100 comment lists",
		writes:  "0",
		drivers: "None beyond the one-time validators: from here on re-verification is conditional.",
	},
	{
		bench:   "APICalls/no-change",
		short:   "No-change reconcile",
		title:   "A reconcile with nothing changed (10,000 items, 1,000 mirrors), validators known",
		reads:   "0",
		cond:    "1 listing + 1 milestone list + 1,000 items + 100 comment lists + 1,000 mirrors, all 304 (promise 5's re-verification)",
		writes:  "0",
		drivers: "None: every read is a 304.",
	},
	{
		bench:   "APICalls/edits-50",
		short:   "50 edits in 1 s",
		title:   "50 edits to one published item within 1 s (50 webhooks)",
		reads:   "1 issue read after the burst (+1 conditional comment list)",
		cond:    "1",
		writes:  "1 mirror update",
		drivers: "Hints wait `webhooks.Coalesce` (1 s) before their key is read, so the burst coalesces into one read; the mirror update reads the mirror once before writing it (+1 target read).",
	},
	{
		bench:  "APICalls/label-flip-100",
		short:  "Label flip on 100 items",
		title:  "A status-label flip on 100 published items (In Review → Blocked: \"In progress\" → \"On hold\"), 200 webhooks over 10 s",
		reads:  "100 issue reads, one per changed item (+10 conditional comment lists)",
		cond:   "10",
		writes: "100 × (remove the old managed label + add the new one) + 1 label created",
		drivers: "The pacer is asked before an op reads anything, so a deferred pass costs no call. Each mirror is read once per write pass (`UpdateItem` compares before it writes), " +
			"and a mirror's two label writes fall into two passes (GitHub asks for a second between writes): +2 target reads per item. Writes are the minimum.",
	},
}

func (r *report) api() {
	r.p("## API efficiency\n\n")
	r.p("The whole engine as the app wires it, with GitHub's documented pacing (80 writes a minute, 500 an hour,\n")
	r.p("a second apart), against the fake GitHub on a virtual clock; calls are counted by the fake. *Reads* are\n")
	r.p("GETs answered in full (they cost rate limit); *conditional* are GETs answered 304 (free on GitHub);\n")
	r.p("*writes* are POST, PATCH, PUT, DELETE. The worker is modelled as always free and instantaneous (every\n")
	r.p("ready key is processed before the next delivery arrives): the worst case for coalescing. Ratio = made ÷\n")
	r.p("minimum; 1.00 is optimal; where the minimum is 0 the excess is shown instead. The burst and the flip run\n")
	r.p("on a 1,000-item repository (their counts do not depend on the repository's size). `TestAPICallsAgainstTheirMinimum`\n")
	r.p("runs all five on 1,000 items and pins the counts (±2 %% + 2 calls).\n\n")
	r.p("| scenario | reads made / min | ratio | source / target reads | conditional made / min | writes made / min | ratio | op passes |\n")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range apiRows {
		r.p("| %s | %s / %s | %s | %s / %s | %s / %s | %s / %s | %s | %s |\n", row.short,
			r.intOr(row.bench, "reads"), r.intOr(row.bench, "min-reads"), r.ratio(row.bench, "reads", "min-reads"),
			r.intOr(row.bench, "src-reads"), r.intOr(row.bench, "tgt-reads"),
			r.intOr(row.bench, "cond"), r.intOr(row.bench, "min-cond"),
			r.intOr(row.bench, "writes"), r.intOr(row.bench, "min-writes"), r.ratio(row.bench, "writes", "min-writes"),
			r.intOr(row.bench, "op-passes"))
	}
	r.p("\n*Op passes* are the engine's passes over write keys; a pass the pacer defers counts, and each one\n")
	r.p("loads and decodes the customer's whole stored view.\n\n")
	r.p("**Minimum formulas** (coded in `bench/api_test.go`):\n\n")
	for _, row := range apiRows {
		r.p("- *%s*. Reads: %s. Conditional: %s. Writes: %s.\n", row.title, row.reads, row.cond, row.writes)
	}
	r.p("\n**What drives the excess:**\n\n")
	for _, row := range apiRows {
		r.p("- *%s*: %s\n", row.short, row.drivers)
	}
	r.p("\n")
}

func (r *report) intOr(name, unit string) string {
	v, ok := r.get(name, unit)
	if !ok {
		return "n/a"
	}
	return group3(fmt.Sprintf("%.0f", v))
}

func (r *report) ratio(name, made, min string) string {
	m, ok1 := r.get(name, made)
	n, ok2 := r.get(name, min)
	switch {
	case !ok1 || !ok2:
		return "n/a"
	case n == 0 && m == 0:
		return "1.00"
	case n == 0:
		return fmt.Sprintf("+%s", group3(fmt.Sprintf("%.0f", m)))
	}
	return fmt.Sprintf("%.2f", m/n)
}

func (r *report) reconcile() {
	r.p("## Full reconcile of 10,000 items\n\n")
	r.p("One full reconcile of a repository of 10,000 issues (1,000 published, 100 with comments) for a customer\n")
	r.p("with a page and a GitHub mirror, each in a fresh child process as `vitrine sync` runs it: *cold* (empty\n")
	r.p("store and target: everything listed, curated and created) once, then *no change* (the runs after it).\n")
	r.p("SQLite on the real disk; pacing off (its waits would dominate: the cold pass's 1,101 writes need over two\n")
	r.p("hours under GitHub's 500 an hour). **Peak memory is the child's `VmHWM` from `/proc/self/status`** (peak\n")
	r.p("resident set of the vitrine process alone; the fake GitHub runs in the parent), next to the peak Go heap\n")
	r.p("in use sampled every 10 ms with `runtime.ReadMemStats`. *Waiting for the API* is the time the engine spent\n")
	r.p("in HTTP round trips to the fake (one pass at a time, so they add up); *vitrine's own time* is the rest.\n\n")
	r.p("| pass | wall | vitrine's own time | waiting for the API | CPU (user+sys) | peak RSS | peak Go heap | requests | runs |\n")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range []struct{ name, title string }{{"Reconcile10k/cold", "cold"}, {"Reconcile10k/no-change", "no change"}} {
		runs := r.intOr(p.name, "runs")
		r.p("| %s | %s s | %s s | %s s | %s s | %s MB | %s MB | %s | %s |\n", p.title,
			r.num(p.name, "wall-s", 2), r.num(p.name, "own-s", 2), r.num(p.name, "api-wait-s", 2), r.num(p.name, "cpu-s", 2),
			r.num(p.name, "vmhwm-MB", 0), r.num(p.name, "heap-MB", 0), r.intOr(p.name, "requests"), runs)
	}
	r.p("\nAgainst api.github.com the wall time is mostly the requests times GitHub's latency (one pass at a\n")
	r.p("time): the cold pass's listing is %s pages, and each no-change pass re-verifies every published item\n", "⌈10,000/100⌉")
	r.p("and mirror with one conditional request each. The fake answers a long listing slowly (it renders every\n")
	r.p("issue since the cursor and scans all issues for each one's sub-issues), which is most of the cold pass's\n")
	r.p("API wait here; it is a cost of the fake, not of vitrine.\n\n")
}

func (r *report) page() {
	n := "PageRender1k"
	r.p("## Page render\n\n")
	r.p("`page.Render` of a customer with 1,000 published items (of 2,000), 20 milestones, a status update and\n")
	r.p("public comments on every tenth item: one render, uncached. (The page handler keeps each customer's\n")
	r.p("rendered page and feed by view hash, so requests for an unchanged view do not render again.)\n\n")
	r.p("| items | time | HTML | allocated per render | allocations | runs |\n|---:|---:|---:|---:|---:|---:|\n")
	kb := "n/a"
	if v, ok := r.get(n, "page-bytes"); ok {
		kb = fmt.Sprintf("%.0f KB", v/1024)
	}
	mb := "n/a"
	if v, ok := r.get(n, "B/op"); ok {
		mb = fmt.Sprintf("%.1f MB", v/(1<<20))
	}
	r.p("| 1,000 | %s | %s | %s | %s | %s |\n\n", r.durOf(n), kb, mb, r.intOr(n, "allocs/op"), r.runsOf(n))
}

func (r *report) pacing() {
	r.p("## Write pacing\n\n")
	r.p("The whole engine creates 600 mirrors on one token (more than the 500 an hour GitHub allows), with the\n")
	r.p("documented pacer (80 a minute, 500 an hour, a second between writes), on a virtual clock shared with\n")
	r.p("a fake GitHub that enforces limits per token: *documented* mode refuses writes over 80 a minute or 500\n")
	r.p("an hour like GitHub's secondary limit, with `Retry-After`; *unannounced* mode refuses over an unpublished\n")
	r.p("30 a minute, with secondary-limit 403s and no `Retry-After`. Deterministic: one run each.\n")
	r.p("`TestPacingStaysUnderTheDocumentedWindows` (520 creates) and `TestPacingAdaptsToAnUnannouncedLimit`\n")
	r.p("(150 creates) assert it: the run finishes, nothing is refused in documented mode, the first\n")
	r.p("secondary-limit answer stops the token at least 60 s, refusals stay rare, no duplicate is created.\n\n")
	r.p("| fake's limit | writes | refused | peak a minute (÷ 80) | peak an hour (÷ 500) | overall | first back-off | duplicates | extra reads | virtual time |\n")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range []string{"documented", "unannounced"} {
		n := "Pacing/" + m
		backoff := "none needed"
		if v, ok := r.get(n, "refused"); ok && v > 0 {
			backoff = r.num(n, "backoff-s", 0) + " s"
		}
		r.p("| %s | %s | %s | %s (%s) | %s (%s) | %s/min | %s | %s | %s | %s min |\n", map[string]string{
			"documented": "documented 80/min, 500/h", "unannounced": "unannounced 30/min"}[m],
			r.intOr(n, "writes"), r.intOr(n, "refused"),
			r.intOr(n, "peak-per-min"), r.frac(n, "peak-per-min", 80),
			r.intOr(n, "peak-per-hour"), r.frac(n, "peak-per-hour", 500),
			r.num(n, "calls/min", 1), backoff, r.intOr(n, "duplicates"), r.intOr(n, "extra-reads"), r.num(n, "virtual-min", 0))
	}
	r.p("\nOn a secondary-limit answer the pacer blocks the token (for `Retry-After`, or 60 s without one), halves\n")
	r.p("its per-minute allowance and adds 4 back per clean minute: hence few refusals against a lower limit\n")
	r.p("nobody announced, and none against the documented one.\n")
	r.p("The minute peak is 60, not 80: the pacer leaves a second between writes (GitHub asks integrations to),\n")
	r.p("which caps a minute at 60. The hour's 500 is the binding limit for larger runs: the overall rate of a\n")
	r.p("600-write run is about 500 in the first hour and the rest once the window moves. The writes include the\n")
	r.p("one managed status label. Op passes (claims of a write key, a pacer refusal included): %s documented,\n", r.intOr("Pacing/documented", "op-passes"))
	r.p("%s unannounced; each pass decodes the customer's whole stored view.\n\n", r.intOr("Pacing/unannounced", "op-passes"))
}

func (r *report) frac(name, unit string, of float64) string {
	v, ok := r.get(name, unit)
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v/of)
}

func (r *report) packages() {
	r.p("## Package benchmarks\n\n")
	r.p("| benchmark | what | time/op | allocated/op | allocs/op | other | runs |\n|---|---|---:|---:|---:|---:|---:|\n")
	row := func(name, what, other string) {
		b := "n/a"
		if v, ok := r.get(name, "B/op"); ok {
			b = fmt.Sprintf("%.1f MB", v/(1<<20))
			if v < 1<<20 {
				b = fmt.Sprintf("%.1f KB", v/1024)
			}
		}
		r.p("| `%s` | %s | %s | %s | %s | %s | %s |\n", name, what, r.durOf(name), b, r.intOr(name, "allocs/op"), other, r.runsOf(name))
	}
	row("Curate10k", "`mapping`: curate 10,000 items (1,000 published, 50 milestones)", "")
	row("Body", "`scrub`: a 5 KB issue body to the safe document", r.num("Body", "MB/s", 1)+" MB/s")
	row("Renderers", "`scrub`: that document to Markdown, Jira wiki, HTML, text", "")
	for _, f := range []string{"always", "everysec"} {
		n := "Accept/appendfsync=" + f
		row(n, "`store/redis`: concurrent `Accept` (no HTTP), appendfsync "+f, r.num(n, "accepts/s", 0)+" accepts/s")
	}
	r.p("\n")
}

func (r *report) commands() {
	r.p("## Runs\n\n| group | command | took |\n|---|---|---:|\n")
	for _, gr := range r.runs {
		// A pipe inside a table cell must be escaped, code span or not.
		r.p("| %s | `%s` | %s |\n", gr.Group.Name, strings.ReplaceAll(gr.Group.command("go"), "|", `\|`), humanDur(gr.Took))
	}
	r.p("\n")
}
