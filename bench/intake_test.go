package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors/github"
	fake "vitrine/fake/github"
	"vitrine/store/redis"
	"vitrine/store/redis/redistest"
	"vitrine/store/sqlite"
	"vitrine/webhooks"
)

// deliveries are real signed "issues edited" deliveries for 100 different
// issues of the source repository, built by the fake from GitHub's own
// example payloads.
func deliveries(tb testing.TB) []fake.Delivery {
	tb.Helper()
	fc := clock.NewFake(t0)
	gh := newFake(tb, fc, fake.Limits{})
	out := make([]fake.Delivery, 0, 100)
	for i := 1; i <= 100; i++ {
		gh.CreateIssue(srcRepo, fake.NewIssue{Title: fmt.Sprintf("Item %d", i), Body: body(i, ""), Labels: []string{"client-visible"}})
		d, err := gh.Delivery(hookSecret, fake.Event{Name: "issues", Action: "edited", Repo: srcRepo, Issue: i,
			Changes: map[string]any{"body": map[string]any{"from": "old"}}})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// intakeHandler is the real intake (webhooks.Handler with the GitHub
// parser) over st, as `vitrine serve` mounts it on /webhooks/github.
func intakeHandler(tb testing.TB, st webhooks.Intake) http.Handler {
	tb.Helper()
	parser, err := github.NewWebhookParser(github.WebhookOptions{Secret: hookSecret,
		Sources: map[string]string{srcRepo: srcKey}, BotLogin: []string{bot}})
	if err != nil {
		tb.Fatal(err)
	}
	return webhooks.New(map[string]webhooks.Parser{"github": parser}, st, nil, zerolog.Nop(), nil)
}

var deliverySeq atomic.Int64

// latencies is what a load run measured.
type latencies struct {
	sorted  []time.Duration
	elapsed time.Duration
}

func (l latencies) pct(p float64) time.Duration {
	if len(l.sorted) == 0 {
		return 0
	}
	i := int(float64(len(l.sorted)-1) * p)
	return l.sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// postAll sends n deliveries to url from conc concurrent senders over
// keep-alive connections and measures each request's time to its 2xx.
func postAll(tb testing.TB, url string, ds []fake.Delivery, n, conc int) latencies {
	tb.Helper()
	tr := httpDefaultTransport().(*http.Transport)
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/conc+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				d := ds[i%len(ds)]
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
				if err != nil {
					failed.Store(err.Error())
					return
				}
				req.Header = d.Header.Clone()
				// The signature covers the body only: a fresh delivery id
				// makes each request a new delivery, not a redelivery.
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", deliverySeq.Add(1)))
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat := time.Since(t)
				if resp.StatusCode != http.StatusAccepted {
					failed.Store(fmt.Sprintf("delivery answered %d", resp.StatusCode))
					return
				}
				mine = append(mine, lat)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f != nil {
		tb.Fatalf("intake: %v", f)
	}
	slices.Sort(all)
	return latencies{sorted: all, elapsed: elapsed}
}

// BenchmarkIntake measures webhook intake: signed GitHub deliveries POSTed
// over loopback to the real intake handler, answered 202 only once queued
// durably. SQLite: a file on the real disk, WAL with synchronous=FULL.
// Redis: a private redis-server with appendonly yes and appendfsync always
// (the store's default requirement). c is the number of concurrent senders.
// One op is one delivery.
func BenchmarkIntake(b *testing.B) {
	ds := deliveries(b)
	for _, mode := range []string{"sqlite", "redis"} {
		for _, conc := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/c=%d", mode, conc), func(b *testing.B) {
				var st webhooks.Intake
				switch mode {
				case "sqlite":
					s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "vitrine.db"))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					st = s
				case "redis":
					srv := redistest.StartServer(b, b.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always"})
					s, err := redis.Open(context.Background(), redis.Options{Addr: srv.Addr()})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					st = s
				}
				srv := httptest.NewServer(intakeHandler(b, st))
				defer srv.Close()
				url := srv.URL + "/webhooks/github"
				postAll(b, url, ds, 2*conc, conc) // warm the connections
				b.ResetTimer()
				l := postAll(b, url, ds, b.N, conc)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/l.elapsed.Seconds(), "events/s")
				b.ReportMetric(ms(l.pct(0.50)), "p50-ms")
				b.ReportMetric(ms(l.pct(0.99)), "p99-ms")
			})
		}
	}
}

// TestIntakeAnswersEveryDeliveryOnce pins what the intake benchmark
// relies on: each request with a fresh delivery id is queued (202), and
// a repeated id is a duplicate (200) that queues nothing.
func TestIntakeAnswersEveryDeliveryOnce(t *testing.T) {
	ds := deliveries(t)
	st, err := sqlite.Open(bg, filepath.Join(t.TempDir(), "vitrine.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(intakeHandler(t, st))
	defer srv.Close()
	l := postAll(t, srv.URL+"/webhooks/github", ds, 20, 4)
	if len(l.sorted) != 20 {
		t.Fatalf("%d answers, want 20", len(l.sorted))
	}
	for i, want := range []int{http.StatusAccepted, http.StatusOK} {
		resp, err := http.DefaultClient.Do(ds[0].Request(srv.URL + "/webhooks/github"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("delivery %s sent %d times: answered %d, want %d", ds[0].ID, i+1, resp.StatusCode, want)
		}
	}
	stats, err := st.Stats(bg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 21 deliveries over 20 distinct issues of 100: one item key each.
	if stats.Ready != 20 {
		t.Errorf("%d keys queued, want 20 (one per distinct issue)", stats.Ready)
	}
}
