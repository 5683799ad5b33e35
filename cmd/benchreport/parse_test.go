package main

import (
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
goarch: amd64
pkg: vitrine/bench
cpu: AMD EPYC
BenchmarkIntake/sqlite/c=1-2         	    3614	    668144 ns/op	      1497 events/s	         0.4725 p50-ms	         4.642 p99-ms	   21000 B/op	     210 allocs/op
BenchmarkIntake/sqlite/c=1-2         	    3000	    700000 ns/op	      1400 events/s	         0.5000 p50-ms	         5.000 p99-ms	   21000 B/op	     210 allocs/op
BenchmarkIntake/sqlite/c=1-2         	    3100	    690000 ns/op	      1450 events/s	         0.4000 p50-ms	         9.000 p99-ms	   21000 B/op	     210 allocs/op
--- SKIP: BenchmarkIntake/redis/c=1
    redistest.go:77: no redis-server installed
BenchmarkReconcile10k/cold-2         	       1	66911110998 ns/op	        53.51 api-wait-s	        1.178e+01 cpu-s
BenchmarkCurate10k   	      28	  36778493 ns/op
PASS
ok  	vitrine/bench	11.524s
`

func TestParseReadsCustomMetricsAndSkips(t *testing.T) {
	res, skipped := parse([]byte(sample))
	if len(res) != 5 {
		t.Fatalf("%d results, want 5: %+v", len(res), res)
	}
	r := res[0]
	if r.Name != "Intake/sqlite/c=1" || r.Procs != 2 || r.N != 3614 {
		t.Errorf("first result %+v", r)
	}
	for unit, want := range map[string]float64{"ns/op": 668144, "events/s": 1497, "p50-ms": 0.4725, "p99-ms": 4.642, "B/op": 21000, "allocs/op": 210} {
		if got := r.Metrics[unit]; got != want {
			t.Errorf("%s = %v, want %v", unit, got, want)
		}
	}
	if got := res[3].Metrics["cpu-s"]; got != 11.78 {
		t.Errorf("exponent form parsed as %v, want 11.78", got)
	}
	if res[4].Name != "Curate10k" || res[4].Procs != 0 {
		t.Errorf("a line without the -N suffix: %+v", res[4])
	}
	if len(skipped) != 1 || skipped[0] != "Intake/redis/c=1" {
		t.Errorf("skipped %v", skipped)
	}
}

func TestReduceTakesTheMedianOfRuns(t *testing.T) {
	res, _ := parse([]byte(sample))
	st := reduce([]groupRun{{Results: res}})
	s := st["Intake/sqlite/c=1"]
	if s.Runs != 3 {
		t.Fatalf("%d runs, want 3", s.Runs)
	}
	if v, _ := s.median("p99-ms"); v != 5 {
		t.Errorf("median p99 %v, want 5 (not the 9 outlier)", v)
	}
	if v, _ := s.median("events/s"); v != 1450 {
		t.Errorf("median events/s %v, want 1450", v)
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("median of an even count is the mean of the middle two")
	}
	if _, ok := s.median("nope"); ok {
		t.Error("a missing metric has no median")
	}
}

func TestRenderShowsFiguresRatiosAndSkips(t *testing.T) {
	out := `BenchmarkAPICalls/backfill-2 	1	1 ns/op	1541 reads	203 min-reads	100 cond	0 min-cond	1101 writes	1101 min-writes
BenchmarkAPICalls/no-change-2 	1	1 ns/op	1001 reads	0 min-reads	1101 cond	2102 min-cond	0 writes	0 min-writes
BenchmarkIntake/sqlite/c=1-2 	100	1 ns/op	1497 events/s	0.47 p50-ms	4.6 p99-ms
--- SKIP: BenchmarkIntake/redis/c=1
`
	res, skipped := parse([]byte(out))
	doc := render(machine{CPU: "Test CPU", Cores: 2, Go: "go1.26.8 linux/amd64", Date: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Took: 90 * time.Second,
		LoadStart: "0.50 0.40 0.30", LoadEnd: "3.10 1.00 0.50"},
		[]groupRun{{Group: groups(false)[0], Results: res, Skipped: skipped}})
	for _, want := range []string{
		"Test CPU, 2 logical CPUs", "go1.26.8 linux/amd64", "2026-01-05 09:00 UTC", "1 min 30 s",
		"| SQLite | 1 | 1,497 | 0.47 ms | 4.60 ms | 1 |",
		"| Redis | 1 | skipped |",
		"The load average exceeded the 2 CPUs",
		"| Backfill, 1,000 of 10,000 | 1,541 / 203 | 7.59 | n/a / n/a | 100 / 0 | 1,101 / 1,101 | 1.00 |",
		"| No-change reconcile | 1,001 / 0 | +1,001 | n/a / n/a | 1,101 / 2,102 | 0 / 0 | 1.00 |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
