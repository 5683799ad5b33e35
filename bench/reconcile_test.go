package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	fake "vitrine/fake/github"
)

// childEnv carries a reconcile child's job (JSON of childJob).
const childEnv = "VITRINE_BENCH_RECONCILE_CHILD"

type childJob struct {
	Dir   string    `json:"dir"`
	API   string    `json:"api"`
	Start time.Time `json:"start"`
}

// childResult is what a reconcile child measured of itself.
type childResult struct {
	Wall     float64   `json:"wall_s"`     // the reconcile, from enqueue to idle
	APIWait  float64   `json:"api_wait_s"` // of which waiting for API answers
	CPU      float64   `json:"cpu_s"`      // user+sys of the whole process
	VmHWM    float64   `json:"vmhwm_mb"`   // peak resident set of the process
	HeapPeak float64   `json:"heap_mb"`    // peak Go heap in use, sampled every 10 ms
	Requests int64     `json:"requests"`
	End      time.Time `json:"end"` // the child's virtual clock at the end
	Err      string    `json:"err,omitempty"`
}

// apiTimer adds up the time the process waits for API answers (the
// engine runs one pass at a time, so the waits do not overlap).
type apiTimer struct {
	base http.RoundTripper
	wait *atomic.Int64
	n    *atomic.Int64
}

func (a apiTimer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := a.base.RoundTrip(req)
	if err == nil {
		// Count the body too: the client reads it before the pass goes on.
		if body, rerr := readAll(resp); rerr == nil {
			resp.Body = body
		}
	}
	a.wait.Add(int64(time.Since(start)))
	a.n.Add(1)
	return resp, err
}

// TestReconcileChild is not a test: it is the child process of
// BenchmarkReconcile10k (one `vitrine sync`-like run: a fresh process, one
// full reconcile against the parent's fake GitHub, then exit), so that the
// peak memory it reports is vitrine's alone.
func TestReconcileChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("the child process of BenchmarkReconcile10k")
	}
	res := runChild(raw)
	out, _ := json.Marshal(res)
	fmt.Printf("\nBENCHCHILD %s\n", out)
	if res.Err != "" {
		t.Fatal(res.Err)
	}
}

func runChild(raw string) (res childResult) {
	var job childJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		res.Err = err.Error()
		return res
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var wait, n atomic.Int64
	wrap := func(rt http.RoundTripper) http.RoundTripper { return apiTimer{base: rt, wait: &wait, n: &n} }
	fc := clock.NewFake(job.Start)
	r, err := buildRig(bg, rigOptions{Dir: job.Dir, APIURL: job.API, Clock: fc, Mirror: true, Unpaced: true,
		Transport: wrap, SourceTransport: wrap, Log: zerolog.Nop()})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer r.close()
	start := time.Now()
	if err := r.reconcile(bg); err != nil {
		res.Err = err.Error()
	}
	res.Wall = time.Since(start).Seconds()
	close(stop)
	sampler.Wait()
	res.APIWait = time.Duration(wait.Load()).Seconds()
	res.Requests = n.Load()
	res.HeapPeak = float64(peak.Load()) / (1 << 20)
	res.End = fc.Now()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	res.VmHWM = vmHWM()
	return res
}

// vmHWM reads the process's peak resident set from /proc/self/status (MB).
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// runReconcileChild runs one child against gh with its store in dir.
func runReconcileChild(tb testing.TB, dir, api string, start time.Time) childResult {
	tb.Helper()
	job, _ := json.Marshal(childJob{Dir: dir, API: api, Start: start})
	cmd := exec.Command(os.Args[0], "-test.run=^TestReconcileChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(job))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "BENCHCHILD "); ok {
			var res childResult
			if jerr := json.Unmarshal([]byte(j), &res); jerr != nil {
				tb.Fatalf("child: %v", jerr)
			}
			if res.Err != "" {
				tb.Fatalf("child: %s", res.Err)
			}
			return res
		}
	}
	tb.Fatalf("child gave no result (%v):\n%s", err, out.String())
	return childResult{}
}

// BenchmarkReconcile10k measures one full reconcile of a 10,000-item
// repository (1,000 published, 100 with comments) mirrored to a page and
// a GitHub repository, each in a fresh child process as `vitrine sync`
// runs: cold (empty store and target: everything listed, curated and
// created) and then with nothing changed. The SQLite file is on the real
// disk; pacing is off (its waits would dominate: 1,101 writes need more
// than two hours under GitHub's 500 an hour). Peak memory is the child's
// VmHWM; the fake GitHub runs in this process.
func BenchmarkReconcile10k(b *testing.B) {
	fc := clock.NewFake(t0)
	gh := newFake(b, fc, fake.Limits{})
	populate(gh, fc, boardOf(10000))
	fc.Advance(10 * time.Minute)
	dir := b.TempDir()
	report := func(b *testing.B, r childResult, runs int) {
		b.ReportMetric(float64(runs), "runs")
		b.ReportMetric(r.Wall, "wall-s")
		b.ReportMetric(r.Wall-r.APIWait, "own-s")
		b.ReportMetric(r.APIWait, "api-wait-s")
		b.ReportMetric(r.CPU, "cpu-s")
		b.ReportMetric(r.VmHWM, "vmhwm-MB")
		b.ReportMetric(r.HeapPeak, "heap-MB")
		b.ReportMetric(float64(r.Requests), "requests")
	}
	var cold *childResult
	b.Run("cold", func(b *testing.B) {
		if cold == nil {
			r := runReconcileChild(b, dir, gh.URL(), fc.Now())
			cold = &r
			fc.Set(r.End)
		}
		report(b, *cold, 1)
	})
	if cold == nil {
		return
	}
	if n := len(gh.Issues(dstRepo)); n != 1000 {
		b.Fatalf("cold reconcile made %d mirrors, want 1000", n)
	}
	// Every run after the cold one finds nothing changed: each op is one
	// more child; the metrics are the medians of all runs so far.
	var warm []childResult
	b.Run("no-change", func(b *testing.B) {
		for range b.N {
			fc.Advance(10 * time.Minute)
			r := runReconcileChild(b, dir, gh.URL(), fc.Now())
			fc.Set(r.End)
			warm = append(warm, r)
		}
		report(b, medianResult(warm), len(warm))
	})
}

// medianResult is the per-field median of rs.
func medianResult(rs []childResult) childResult {
	med := func(f func(childResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		slices.Sort(xs)
		n := len(xs)
		if n%2 == 1 {
			return xs[n/2]
		}
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return childResult{
		Wall:     med(func(r childResult) float64 { return r.Wall }),
		APIWait:  med(func(r childResult) float64 { return r.APIWait }),
		CPU:      med(func(r childResult) float64 { return r.CPU }),
		VmHWM:    med(func(r childResult) float64 { return r.VmHWM }),
		HeapPeak: med(func(r childResult) float64 { return r.HeapPeak }),
		Requests: int64(med(func(r childResult) float64 { return float64(r.Requests) })),
	}
}

// readAll reads an answer's body so its transfer counts as waiting.
func readAll(resp *http.Response) (io.ReadCloser, error) {
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return io.NopCloser(bytes.NewReader(b)), err
}
