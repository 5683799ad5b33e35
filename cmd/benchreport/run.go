package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// group is one `go test` run: the benchmarks of one package matching a
// pattern, with the bench time and run count that suit them.
type group struct {
	Name      string
	Pkg       string
	Bench     string
	BenchTime string // "" for go test's default (1s)
	Count     int
}

// groups lists the runs of `make bench`, 4 to 7 minutes on 2 cores.
// Deterministic scenarios (call counts, virtual-clock pacing) run once;
// the reconcile of 10,000 items runs its cold pass once (one long run)
// and its no-change pass three times; everything timed runs 5 times.
func groups(quick bool) []group {
	gs := []group{
		{Name: "intake", Pkg: "./bench", Bench: "^BenchmarkIntake$", BenchTime: "1s", Count: 5},
		{Name: "end-to-end", Pkg: "./bench", Bench: "^BenchmarkEndToEnd$/^processing$", BenchTime: "100x", Count: 5},
		// Each served event waits the 1 s coalescing window: fewer events.
		{Name: "end-to-end-served", Pkg: "./bench", Bench: "^BenchmarkEndToEnd$/^served$", BenchTime: "20x", Count: 3},
		{Name: "api-calls", Pkg: "./bench", Bench: "^BenchmarkAPICalls$", BenchTime: "1x", Count: 1},
		{Name: "pacing", Pkg: "./bench", Bench: "^BenchmarkPacing$", BenchTime: "1x", Count: 1},
		{Name: "reconcile-10k", Pkg: "./bench", Bench: "^BenchmarkReconcile10k$", BenchTime: "3x", Count: 1},
		{Name: "page-render", Pkg: "./bench", Bench: "^BenchmarkPageRender1k$", BenchTime: "1s", Count: 5},
		{Name: "curate", Pkg: "./mapping", Bench: "^BenchmarkCurate10k$", BenchTime: "1s", Count: 5},
		{Name: "scrub", Pkg: "./scrub", Bench: "^(BenchmarkBody|BenchmarkRenderers)$", BenchTime: "1s", Count: 5},
		{Name: "redis-accept", Pkg: "./store/redis", Bench: "^BenchmarkAccept$", BenchTime: "1s", Count: 5},
	}
	if quick {
		for i := range gs {
			gs[i].Count = 1
			switch gs[i].Name {
			case "end-to-end":
				gs[i].BenchTime = "10x"
			case "end-to-end-served":
				gs[i].BenchTime = "3x"
			case "reconcile-10k", "api-calls", "pacing":
				gs[i].BenchTime = "1x"
			default:
				gs[i].BenchTime = "100ms"
			}
		}
	}
	return gs
}

func (g group) args() []string {
	a := []string{"test", "-run", "^$", "-bench", g.Bench, "-benchmem", "-count", strconv.Itoa(g.Count), "-timeout", "60m"}
	if g.BenchTime != "" {
		a = append(a, "-benchtime", g.BenchTime)
	}
	return append(a, g.Pkg)
}

func (g group) command(goBin string) string {
	var b strings.Builder
	b.WriteString(goBin)
	for _, a := range g.args() {
		b.WriteByte(' ')
		if strings.ContainsAny(a, "^$|() ") {
			b.WriteString("'" + a + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// groupRun is a group's outcome.
type groupRun struct {
	Group   group
	Results []result // one per benchmark line, in output order
	Skipped []string // "--- SKIP" lines (a missing redis-server)
	Took    time.Duration
	Err     error
}

// result is one benchmark line of `go test -bench` output.
type result struct {
	Name    string             // without "Benchmark" and the -GOMAXPROCS suffix: "Intake/sqlite/c=1"
	Procs   int                // the -N suffix (GOMAXPROCS)
	N       int64              // iterations
	Metrics map[string]float64 // unit -> value: "ns/op", "B/op", "allocs/op", custom units
}

func runGroup(ctx context.Context, goBin, root string, g group, progress io.Writer) groupRun {
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, g.args()...)
	cmd.Dir = root
	var out bytes.Buffer
	// Progress as it comes (a run can take minutes), and a copy to parse.
	cmd.Stdout = io.MultiWriter(&out, progress)
	cmd.Stderr = progress
	err := cmd.Run()
	gr := groupRun{Group: g, Took: time.Since(start)}
	gr.Results, gr.Skipped = parse(out.Bytes())
	if err != nil {
		gr.Err = err
	} else if len(gr.Results) == 0 && len(gr.Skipped) == 0 {
		gr.Err = errors.New("no benchmark results in the output")
	}
	return gr
}

var (
	benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)
	skipLine  = regexp.MustCompile(`^\s*--- SKIP: (\S+)`)
)

// parse reads `go test -bench` output: benchmark lines with their value
// and unit pairs, and skipped benchmarks.
func parse(out []byte) (res []result, skipped []string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := skipLine.FindStringSubmatch(line); m != nil {
			skipped = append(skipped, strings.TrimPrefix(m[1], "Benchmark"))
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			continue
		}
		r := result{Name: m[1], N: n, Metrics: map[string]float64{}}
		if m[2] != "" {
			r.Procs, _ = strconv.Atoi(m[2])
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r.Metrics[f[i+1]] = v
		}
		res = append(res, r)
	}
	return res, skipped
}

// stat is one benchmark's metrics over its runs.
type stat struct {
	Runs    int
	Samples map[string][]float64
}

// median of a metric over the runs; ok is false when no run reported it.
func (s stat) median(unit string) (float64, bool) {
	xs := s.Samples[unit]
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// reduce groups results by benchmark name.
func reduce(runs []groupRun) map[string]stat {
	out := map[string]stat{}
	for _, gr := range runs {
		for _, r := range gr.Results {
			s, ok := out[r.Name]
			if !ok {
				s = stat{Samples: map[string][]float64{}}
			}
			s.Runs++
			for u, v := range r.Metrics {
				s.Samples[u] = append(s.Samples[u], v)
			}
			out[r.Name] = s
		}
	}
	return out
}

// repoRoot walks up from the working directory to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		dir = parent
	}
}
