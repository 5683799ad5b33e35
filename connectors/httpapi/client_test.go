package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
)

var t0 = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

// server answers the n-th request (1-based) with reply(n, w, r).
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(int(s.hits.Add(1)), w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprintf(w, "attempt %d", n)
	}
}

// sleeps records backoff waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newClient(t *testing.T, mod ...func(*Options)) (*Client, *sleeps, *clock.Fake) {
	t.Helper()
	sl := &sleeps{}
	clk := clock.NewFake(t0)
	o := Options{
		Credential: "github:vitrine-bot",
		Target:     "github:acme/acme-status",
		Clock:      clk,
		Sleep:      sl.sleep,
		Jitter:     func(d time.Duration) time.Duration { return d }, // the longest wait
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl, clk
}

func send(t *testing.T, c *Client, ctx context.Context, method, url, body string) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if resp != nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPostIsNotRetriedOn502(t *testing.T) {
	srv := newServer(t, status(http.StatusBadGateway))
	c, sl, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/repos/acme/acme-status/issues", `{"title":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d POSTs, want exactly 1", n)
	}
	if len(sl.all()) != 0 {
		t.Fatalf("backoff waits %v for a request never retried", sl.all())
	}
}

func TestGetIsRetriedTwiceThenTheFinalResponseReturned(t *testing.T) {
	srv := newServer(t, status(http.StatusBadGateway))
	c, sl, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/repos/acme/acme-status/issues/1", "")
	if err != nil {
		t.Fatalf("final 502 swallowed into an error: %v", err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("server saw %d GETs, want 3 (1 + 2 retries)", n)
	}
	if body := readAll(t, resp); body != "attempt 3" {
		t.Fatalf("body %q, want the final answer %q", body, "attempt 3")
	}
	// min 250 ms doubling, longest jitter: 250 ms then 500 ms.
	if got := fmt.Sprint(sl.all()); got != "[250ms 500ms]" {
		t.Fatalf("backoff waits %s, want [250ms 500ms]", got)
	}
}

func TestBackoffStaysWithinItsBounds(t *testing.T) {
	for _, jit := range []func(time.Duration) time.Duration{
		func(time.Duration) time.Duration { return 0 },
		func(d time.Duration) time.Duration { return d },
		func(d time.Duration) time.Duration { return 10 * d }, // a broken source cannot stretch it
	} {
		c, _, _ := newClient(t, func(o *Options) { o.Jitter = jit })
		for n := 1; n <= 6; n++ {
			base := min(250*time.Millisecond<<(n-1), 2*time.Second)
			if d := c.backoff(n); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, base/2, base)
			}
		}
	}
}

func TestRetryDependsOnMethodAndStatus(t *testing.T) {
	for _, tc := range []struct {
		method string
		code   int
		hits   int64
	}{
		{http.MethodGet, 502, 3}, {http.MethodGet, 503, 3}, {http.MethodGet, 504, 3}, {http.MethodGet, 500, 3},
		{http.MethodHead, 502, 3}, {http.MethodPut, 503, 3}, {http.MethodDelete, 504, 3}, {http.MethodOptions, 502, 3},
		{http.MethodPut, 500, 1}, {http.MethodDelete, 500, 1}, {http.MethodHead, 500, 1},
		{http.MethodPost, 502, 1}, {http.MethodPost, 503, 1}, {http.MethodPatch, 504, 1}, {http.MethodPatch, 500, 1},
		{http.MethodGet, 404, 1}, {http.MethodGet, 501, 1}, {http.MethodGet, 422, 1}, {http.MethodGet, 409, 1},
	} {
		t.Run(fmt.Sprintf("%s_%d", tc.method, tc.code), func(t *testing.T) {
			srv := newServer(t, status(tc.code))
			c, _, _ := newClient(t)
			resp, err := send(t, c, context.Background(), tc.method, srv.URL+"/x", "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if n := srv.hits.Load(); n != tc.hits {
				t.Fatalf("server saw %d requests, want %d", n, tc.hits)
			}
		})
	}
}

func TestGetRecoversOnRetry(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	c, _, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/x", "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v, %v; want 200", resp, err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
}

func TestWithRetryTrueMakesPostRetryable(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	})
	c, _, _ := newClient(t)
	ctx := WithRetry(context.Background(), true)
	resp, err := send(t, c, ctx, http.MethodPost, srv.URL+"/rest/api/2/issue/ACMEP-1/comment", `{"body":"hi"}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 502 || srv.hits.Load() != 3 {
		t.Fatalf("status %d after %d POSTs, want 502 after 3", resp.StatusCode, srv.hits.Load())
	}
	for i, b := range bodies {
		if b != `{"body":"hi"}` {
			t.Fatalf("attempt %d sent body %q, want the full body again", i+1, b)
		}
	}
}

func TestWithRetryFalseForbidsRetry(t *testing.T) {
	srv := newServer(t, status(http.StatusServiceUnavailable))
	c, _, _ := newClient(t)
	resp, err := send(t, c, WithRetry(context.Background(), false), http.MethodGet, srv.URL+"/x", "")
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v, %v; want the 503", resp, err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d GETs, want 1", n)
	}
}

func TestRetryMaxOptionLimitsRetries(t *testing.T) {
	for _, tc := range []struct {
		max  int
		hits int64
	}{{-1, 1}, {1, 2}, {0, 3}} {
		srv := newServer(t, status(http.StatusBadGateway))
		c, _, _ := newClient(t, func(o *Options) { o.RetryMax = tc.max })
		if _, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/x", ""); err != nil {
			t.Fatal(err)
		}
		if n := srv.hits.Load(); n != tc.hits {
			t.Fatalf("RetryMax %d: %d requests, want %d", tc.max, n, tc.hits)
		}
	}
	if _, err := New(Options{Credential: "c", RetryMax: 3}); err == nil {
		t.Fatal("New accepted RetryMax 3")
	}
}

// hangUp accepts connections and closes them without answering.
func hangUp(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_, _ = conn.Read(make([]byte, 4096))
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), accepted
}

func TestConnectionErrorsAreRetriedForIdempotentRequestsOnly(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   int64
	}{{http.MethodGet, 3}, {http.MethodPut, 3}, {http.MethodPost, 1}} {
		addr, accepted := hangUp(t)
		c, _, _ := newClient(t, func(o *Options) {
			// No connection reuse: each attempt is one accepted connection.
			o.Transport = &http.Transport{DisableKeepAlives: true}
		})
		_, err := send(t, c, context.Background(), tc.method, "http://"+addr+"/x", "")
		if err == nil {
			t.Fatalf("%s: no error from a server that hangs up", tc.method)
		}
		if n := accepted.Load(); n != tc.want {
			t.Fatalf("%s: %d connections, want %d", tc.method, n, tc.want)
		}
	}
}

func TestBackoffWaitsOnTheClientClock(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
		fmt.Fprint(w, "ok")
	})
	clk := clock.NewFake(t0)
	c, err := New(Options{Credential: "github:vitrine-bot", Clock: clk, Jitter: func(d time.Duration) time.Duration { return d }})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
		resp, err := c.Do(req)
		if err != nil {
			done <- result{0, err}
			return
		}
		resp.Body.Close()
		done <- result{resp.StatusCode, nil}
	}()
	for i, wait := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond} {
		waitSleepers(t, clk)
		if n := srv.hits.Load(); n != int64(i+1) {
			t.Fatalf("%d requests before advancing the clock, want %d", n, i+1)
		}
		clk.Advance(wait - time.Millisecond)
		if clk.Sleepers() != 1 {
			t.Fatalf("retry %d went before its %s wait", i+1, wait)
		}
		clk.Advance(time.Millisecond)
	}
	r := <-done
	if r.err != nil || r.code != 200 {
		t.Fatalf("got %d, %v; want 200", r.code, r.err)
	}
}

// waitSleepers yields until the code under test sleeps on clk. The real
// deadline only guards against a hang; no timing depends on it.
func waitSleepers(t *testing.T, clk *clock.Fake) {
	t.Helper()
	guard := time.Now().Add(10 * time.Second)
	for clk.Sleepers() == 0 {
		if time.Now().After(guard) {
			t.Fatal("the client never slept on the clock")
		}
		runtime.Gosched()
	}
}

func TestCancelDuringBackoffStopsRetrying(t *testing.T) {
	srv := newServer(t, status(http.StatusBadGateway))
	ctx, cancel := context.WithCancel(context.Background())
	c, _, _ := newClient(t, func(o *Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	_, err := send(t, c, ctx, http.MethodGet, srv.URL+"/x", "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d requests after cancel, want 1", n)
	}
}

func rateLimited(t *testing.T, err error) *connectors.RateLimited {
	t.Helper()
	var rl *connectors.RateLimited
	if !errors.As(err, &rl) {
		t.Fatalf("error %v, want a *connectors.RateLimited", err)
	}
	return rl
}

func TestTooManyRequestsWithRetryAfterSecondsIsRateLimited(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c, _, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/x", "")
	if resp != nil {
		t.Fatalf("response %d returned with a rate limit", resp.StatusCode)
	}
	rl := rateLimited(t, err)
	if !rl.Until.Equal(t0.Add(30*time.Second)) || rl.Credential != "github:vitrine-bot" || !rl.Secondary {
		t.Fatalf("got %+v, want until +30s on github:vitrine-bot, secondary", rl)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("a rate-limited GET was sent %d times, want 1", n)
	}
}

func TestTooManyRequestsWithRetryAfterDate(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", t0.Add(2*time.Minute).Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c, _, _ := newClient(t)
	_, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/x", "{}")
	if rl := rateLimited(t, err); !rl.Until.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("until %s, want +2m0s", rl.Until.Sub(t0))
	}
}

func TestForbiddenSecondaryLimitWaitsAtLeastAMinute(t *testing.T) {
	for _, msg := range []string{
		"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		"You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
	} {
		srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Ratelimit-Remaining", "4321")
			// The primary window's reset, 50 minutes away: not this limit's end.
			w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(t0.Add(50*time.Minute).Unix(), 10))
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":%q,"documentation_url":"https://docs.github.com/rest"}`, msg)
		})
		c, _, _ := newClient(t)
		_, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/repos/acme/acme-status/issues", "{}")
		rl := rateLimited(t, err)
		if !rl.Secondary || !rl.Until.Equal(t0.Add(time.Minute)) {
			t.Fatalf("%q: got secondary=%v until +%s, want secondary until +1m0s", msg, rl.Secondary, rl.Until.Sub(t0))
		}
	}
}

func TestForbiddenSecondaryLimitHonoursRetryAfter(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit."}`)
	})
	c, _, _ := newClient(t)
	_, err := send(t, c, context.Background(), http.MethodPatch, srv.URL+"/x", "{}")
	if rl := rateLimited(t, err); !rl.Secondary || !rl.Until.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("got %+v, want secondary until +2m0s", rl)
	}
}

func TestForbiddenPrimaryLimitWaitsForReset(t *testing.T) {
	reset := t0.Add(1234 * time.Second)
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"API rate limit exceeded for user ID 1."}`)
	})
	c, _, _ := newClient(t)
	_, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/x", "")
	rl := rateLimited(t, err)
	if rl.Secondary || !rl.Until.Equal(reset) {
		t.Fatalf("got secondary=%v until +%s, want primary until +20m34s", rl.Secondary, rl.Until.Sub(t0))
	}
}

func TestPlainForbiddenIsNotARateLimitAndKeepsItsBody(t *testing.T) {
	// Longer than the peek, so the body must be stitched back together.
	msg := `{"message":"Resource not accessible by integration","pad":"` + strings.Repeat("x", peekLimit+100) + `"}`
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Ratelimit-Remaining", "4999")
		w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(t0.Add(time.Hour).Unix(), 10))
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, msg)
	})
	c, _, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/x", "{}")
	if err != nil {
		t.Fatalf("a permission error became %v", err)
	}
	if resp.StatusCode != 403 {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	if body := readAll(t, resp); body != msg {
		t.Fatalf("body of %d bytes, want the original %d", len(body), len(msg))
	}
}

func TestJiraTooManyRequests(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		reset      string
		want       time.Time
	}{
		{"retry-after", "5", t0.Add(5 * time.Second).Format("2006-01-02T15:04Z"), t0.Add(5 * time.Second)},
		// No Retry-After: Jira's ISO reset names the end, but never under a minute.
		{"iso reset", "", t0.Add(3 * time.Minute).Format("2006-01-02T15:04Z"), t0.Add(3 * time.Minute)},
		{"near iso reset", "", t0.Add(20 * time.Second).Format("2006-01-02T15:04Z"), t0.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.Header().Set("X-RateLimit-Reset", tc.reset)
				w.Header().Set("RateLimit-Reason", "jira-per-issue-on-write")
				w.WriteHeader(http.StatusTooManyRequests)
			})
			c, _, _ := newClient(t, func(o *Options) { o.Credential = "jira:acme.atlassian.net/vitrine" })
			_, err := send(t, c, context.Background(), http.MethodPut, srv.URL+"/rest/api/2/issue/ACMEP-1", "{}")
			rl := rateLimited(t, err)
			if !rl.Until.Equal(tc.want) || !rl.Secondary || rl.Credential != "jira:acme.atlassian.net/vitrine" {
				t.Fatalf("got %+v, want secondary until +%s", rl, tc.want.Sub(t0))
			}
			if !strings.Contains(rl.Error(), "jira-per-issue-on-write") {
				t.Fatalf("error %q does not name Jira's reason", rl.Error())
			}
		})
	}
}

func TestCheckRateLimitEdgeCases(t *testing.T) {
	resp := func(code int, h map[string]string) *http.Response {
		r := &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name      string
		r         *http.Response
		limited   bool
		until     time.Time
		secondary bool
	}{
		{"ok", resp(200, map[string]string{"X-Ratelimit-Remaining": "0"}), false, time.Time{}, false},
		{"404", resp(404, nil), false, time.Time{}, false},
		{"429 bare", resp(429, nil), true, t0.Add(time.Minute), true},
		{"429 primary without reset", resp(429, map[string]string{"X-Ratelimit-Remaining": "0"}), true, t0.Add(time.Minute), false},
		{"403 stale reset", resp(403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(t0.Add(-time.Hour).Unix(), 10)}), true, t0.Add(time.Second), false},
		{"429 zero retry-after", resp(429, map[string]string{"Retry-After": "0"}), true, t0.Add(time.Second), true},
		{"429 garbage retry-after", resp(429, map[string]string{"Retry-After": "soon"}), true, t0.Add(time.Minute), true},
		{"403 retry-after", resp(403, map[string]string{"Retry-After": "7"}), true, t0.Add(7 * time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRateLimit(tc.r, "cred", t0)
			if !tc.limited {
				if err != nil {
					t.Fatalf("got %v, want no rate limit", err)
				}
				return
			}
			rl := rateLimited(t, err)
			if !rl.Until.Equal(tc.until) || rl.Secondary != tc.secondary {
				t.Fatalf("got until +%s secondary=%v, want +%s secondary=%v", rl.Until.Sub(t0), rl.Secondary, tc.until.Sub(t0), tc.secondary)
			}
		})
	}
	if CheckRateLimit(nil, "cred", t0) != nil {
		t.Fatal("nil response is a rate limit")
	}
}

func TestTokenCanaryNeverLogged(t *testing.T) {
	const canary = "ghp_CANARY7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := zerolog.New(syncWriter{&logs, &mu}).Level(zerolog.TraceLevel)
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			w.WriteHeader(http.StatusBadGateway)
		case "/limited":
			w.Header().Set("Retry-After", "10")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	dead, _ := hangUp(t)
	c, _, _ := newClient(t, func(o *Options) { o.Logger = &logger })
	var errs []string
	for _, u := range []string{
		srv.URL + "/flaky?access_token=" + canary + "&page=2",
		srv.URL + "/limited?access_token=" + canary,
		srv.URL + "/broken?access_token=" + canary,
		"http://" + dead + "/gone?access_token=" + canary,
		"http://user:" + canary + "@" + dead + "/auth",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(m, u, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+canary)
			req.Header.Set("X-Api-Token", canary)
			resp, err := c.Do(req)
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				resp.Body.Close()
			}
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, want := range []string{"http attempt", "retrying", "rate limited", "request failed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("logs lack %q, so the test proves nothing:\n%s", want, out)
		}
	}
	if strings.Contains(out, canary) || strings.Contains(out, "CANARY") {
		t.Fatalf("token canary in logs:\n%s", out)
	}
	if len(errs) == 0 {
		t.Fatal("no errors returned, so the test proves nothing about them")
	}
	for _, e := range errs {
		if strings.Contains(e, "CANARY") {
			t.Fatalf("token canary in a returned error: %s", e)
		}
	}
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestNewRefusesATokenAsCredentialLabel(t *testing.T) {
	const tok = "ghp_0123456789abcdefABCDEF0123456789abcd"
	for _, cred := range []string{tok, "Bearer " + tok, "", "has space"} {
		_, err := New(Options{Credential: cred})
		if err == nil {
			t.Fatalf("New accepted credential label %q", cred)
		}
		if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Fatalf("error repeats the token: %v", err)
		}
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestMetricsCountAttemptsRetriesAndRateLimits(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	reg := prometheus.NewRegistry()
	c, _, _ := newClient(t, func(o *Options) { o.Registerer = reg })
	// A second client on the same registry shares the counters.
	c2, _, _ := newClient(t, func(o *Options) { o.Registerer = reg; o.Credential = "jira:site/bot"; o.Target = "jira:ACMEP" })
	if _, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/flaky", ""); err != nil {
		t.Fatal(err)
	}
	ctx := WithTarget(context.Background(), "github:acme/other")
	_, _ = send(t, c, ctx, http.MethodPost, srv.URL+"/limited", "{}")
	_, _ = send(t, c2, context.Background(), http.MethodPost, srv.URL+"/limited", "{}")
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vitrine_http_requests_total", map[string]string{"target": "github:acme/acme-status", "method": "GET", "class": "5xx"}, 3},
		{"vitrine_http_retries_total", map[string]string{"target": "github:acme/acme-status", "method": "GET"}, 2},
		{"vitrine_http_requests_total", map[string]string{"target": "github:acme/other", "method": "POST", "class": "4xx"}, 1},
		{"vitrine_http_requests_total", map[string]string{"target": "jira:ACMEP", "method": "POST", "class": "4xx"}, 1},
		{"vitrine_http_rate_limited_total", map[string]string{"credential": "github:vitrine-bot", "kind": "secondary"}, 1},
		{"vitrine_http_rate_limited_total", map[string]string{"credential": "jira:site/bot", "kind": "secondary"}, 1},
	} {
		if got := counter(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestResponseBodiesAreCapped(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		fmt.Fprint(w, strings.Repeat("a", n))
	})
	c, _, _ := newClient(t, func(o *Options) { o.MaxBody = 100 })
	resp, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/x?n=100", "")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 100 {
		t.Fatalf("read %d bytes, %v; want all 100", len(b), err)
	}
	resp, err = send(t, c, context.Background(), http.MethodGet, srv.URL+"/x?n=5000", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("read of a 5000-byte body under a 100-byte cap: %v, want ErrTooLarge", err)
	}
}

func TestDecodeJSONRefusesOversizedAnswers(t *testing.T) {
	var v struct{ Title string }
	if err := DecodeJSON(strings.NewReader(`{"title":"ok"}`), 100, &v); err != nil || v.Title != "ok" {
		t.Fatalf("got %q, %v", v.Title, err)
	}
	big := `{"title":"` + strings.Repeat("x", 200) + `"}`
	if err := DecodeJSON(strings.NewReader(big), 100, &v); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("200-byte value under a 100-byte cap: %v, want ErrTooLarge", err)
	}
	if err := DecodeJSON(strings.NewReader(`{"title":`), 100, &v); err == nil || errors.Is(err, ErrTooLarge) {
		t.Fatalf("truncated JSON: %v, want a decode error", err)
	}
	if b, err := ReadBody(strings.NewReader(big), 50); !errors.Is(err, ErrTooLarge) || len(b) != 50 {
		t.Fatalf("ReadBody: %d bytes, %v; want 50 and ErrTooLarge", len(b), err)
	}
}

func TestRedirectsPassThroughThePolicy(t *testing.T) {
	var final atomic.Int64
	srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		if final.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, "moved")
	})
	c, _, _ := newClient(t)
	resp, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/old", "")
	if err != nil || resp.StatusCode != 200 || readAll(t, resp) != "moved" {
		t.Fatalf("got %v, %v; want 200 moved", resp, err)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("server saw %d requests, want 3 (redirect, 502, retry)", n)
	}
}
