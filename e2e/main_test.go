// Package e2e runs the real vitrine binary (`vitrine serve`) against the
// stateful fake GitHub and a real store (a SQLite file, a real redis-server)
// and pins what the durable worker promises end to end: a SIGKILL at any
// point loses and duplicates nothing, replicas sharing one Redis never touch
// one mirror object at once, a Redis crash loses no answered webhook, and
// SIGTERM leaves no lease or intake entry behind.
//
// Seeds are printed (t.Logf, and in every failure); -seed reproduces a run.
// -update rewrites the golden target states in testdata/ from a crash-free
// run.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"vitrine/internal/testbin"
)

var (
	update   = flag.Bool("update", false, "rewrite the golden target states in testdata/ from a crash-free run")
	seedFlag = flag.Int64("seed", 0, "seed for the random crash points and storms (0: derived from the time and printed)")
)

// started is when the package began, for the CI budget line.
var started = time.Now()

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait: on serve's write pacing (a second between two
	// writes of one credential), on restarts, on Redis. Run them side by
	// side unless -parallel says otherwise.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	code := m.Run()
	testbin.Cleanup()
	// The package's own run time, for the CI budget (go test prints the
	// total too; this one excludes compiling the test binary).
	fmt.Fprintf(os.Stderr, "e2e: package ran in %s\n", time.Since(started).Round(100*time.Millisecond))
	os.Exit(code)
}

// vitrineBin builds cmd/vitrine once and returns its path.
func vitrineBin(t testing.TB) string { return testbin.Vitrine(t) }

// seed returns the -seed value, or a fresh one; either way it is logged.
func seed(t testing.TB) int64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (reproduce with: go test ./e2e -run '^%s$' -seed %d)", s, t.Name(), s)
	return s
}
