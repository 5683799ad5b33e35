// Command benchreport runs vitrine's benchmarks and writes BENCHMARKS.md
// (`make bench`): it runs `go test -run '^$' -bench ... -benchmem -count N`
// over the benchmark packages, parses the standard output (custom metrics
// included), takes the median of the runs of each benchmark and writes the
// figures with the machine they were taken on.
//
//	go run ./cmd/benchreport -out BENCHMARKS.md
//
// -quick runs every group once with short bench times (a smoke test of the
// pipeline, not figures to publish).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "BENCHMARKS.md", "the report to write")
	quick := fs.Bool("quick", false, "one short run per group (checks the pipeline; figures are not meaningful)")
	only := fs.String("only", "", "run only the groups whose name contains this (for development)")
	goBin := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 2
	}
	start := time.Now()
	m := machineInfo(ctx, *goBin)
	var runs []groupRun
	for _, g := range groups(*quick) {
		if *only != "" && !strings.Contains(g.Name, *only) {
			continue
		}
		fmt.Fprintf(stderr, "benchreport: %s: %s\n", g.Name, g.command(*goBin))
		gr := runGroup(ctx, *goBin, root, g, stderr)
		runs = append(runs, gr)
		if gr.Err != nil {
			fmt.Fprintf(stderr, "benchreport: %s failed after %s: %v\n", g.Name, gr.Took.Round(time.Second), gr.Err)
			return 1
		}
		fmt.Fprintf(stderr, "benchreport: %s done in %s\n", g.Name, gr.Took.Round(time.Second))
	}
	m.LoadEnd = loadAvg()
	m.Took = time.Since(start)
	m.Quick = *quick
	doc := render(m, runs)
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	fmt.Fprintf(stdout, "benchreport: wrote %s in %s\n", *out, m.Took.Round(time.Second))
	return 0
}
