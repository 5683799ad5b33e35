package httpapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vitrine/clock"
	"vitrine/pace"
	"vitrine/store"
)

// passKey stands in for the worker's pass information in the context.
type passKey struct{}

type pass struct {
	lane store.Lane
	key  string
}

func withPass(ctx context.Context, lane store.Lane, key string) context.Context {
	return context.WithValue(ctx, passKey{}, pass{lane, key})
}

func passFrom(ctx context.Context) (store.Lane, string, bool) {
	p, ok := ctx.Value(passKey{}).(pass)
	return p.lane, p.key, ok
}

func pacedClient(t *testing.T, l pace.Limits, mod ...func(*Options)) (*Client, *clock.Fake) {
	t.Helper()
	c, _, clk := newClient(t, append([]func(*Options){func(o *Options) {
		p, err := pace.New(pace.Options{Clock: o.Clock, Default: l})
		if err != nil {
			t.Fatal(err)
		}
		o.Pacer = p
		o.PaceInfo = passFrom
	}}, mod...)...)
	return c, clk
}

func TestPacerGatesWritesButNotReads(t *testing.T) {
	srv := newServer(t, status(http.StatusCreated))
	reg := prometheus.NewRegistry()
	c, _ := pacedClient(t, pace.Limits{PerMinute: 1, PerHour: 60}, func(o *Options) { o.Registerer = reg })
	if _, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/issues", "{}"); err != nil {
		t.Fatal(err)
	}
	_, err := send(t, c, context.Background(), http.MethodPost, srv.URL+"/issues", "{}")
	rl := rateLimited(t, err)
	if !errors.Is(err, pace.ErrPaced) || !rl.Until.Equal(t0.Add(time.Minute)) || rl.Credential != "github:vitrine-bot" {
		t.Fatalf("second write: %v; want paced until +1m0s on github:vitrine-bot", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("server saw %d writes, want 1: a paced write must not be sent", n)
	}
	if _, err := send(t, c, context.Background(), http.MethodGet, srv.URL+"/issues/1", ""); err != nil {
		t.Fatalf("a read was held by the write budget: %v", err)
	}
	if got := counter(t, reg, "vitrine_http_rate_limited_total", map[string]string{"kind": "paced"}); got != 1 {
		t.Fatalf("paced counter %v, want 1", got)
	}
}

func TestPacedWritesFollowTheirPassLane(t *testing.T) {
	srv := newServer(t, status(http.StatusOK))
	c, clk := pacedClient(t, pace.Limits{PerMinute: 1, PerHour: 60})
	ctx := context.Background()
	create := withPass(ctx, store.LaneUpdate, "op:acme|github:acme/acme-status|item-1")
	retract := withPass(ctx, store.LaneRetract, "op:acme|github:acme/acme-status|item-2")
	if _, err := send(t, c, create, http.MethodPost, srv.URL+"/issues", "{}"); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, create, http.MethodPost, srv.URL+"/issues", "{}"); !errors.Is(err, pace.ErrPaced) {
		t.Fatalf("second create: %v, want paced", err)
	}
	if _, err := send(t, c, retract, http.MethodPatch, srv.URL+"/issues/2", "{}"); !errors.Is(err, pace.ErrPaced) {
		t.Fatalf("retraction over budget: %v, want paced", err)
	}
	clk.Advance(time.Minute)
	if _, err := send(t, c, create, http.MethodPost, srv.URL+"/issues", "{}"); !errors.Is(err, pace.ErrPaced) {
		t.Fatalf("create ahead of a waiting retraction: %v, want paced", err)
	}
	if _, err := send(t, c, retract, http.MethodPatch, srv.URL+"/issues/2", "{}"); err != nil {
		t.Fatalf("retraction: %v, want sent", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d writes, want 2", n)
	}
}

func TestRetriedWriteIsPacedAgain(t *testing.T) {
	srv := newServer(t, status(http.StatusBadGateway))
	c, _ := pacedClient(t, pace.Limits{PerMinute: 2, PerHour: 60})
	_, err := send(t, c, context.Background(), http.MethodPut, srv.URL+"/issues/1/labels", "[]")
	if !errors.Is(err, pace.ErrPaced) {
		t.Fatalf("third attempt of a PUT over a budget of two: %v, want paced", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server saw %d attempts, want 2", n)
	}
}

func TestSubjectLimitHoldsOneIssue(t *testing.T) {
	srv := newServer(t, status(http.StatusNoContent))
	c, _ := pacedClient(t, pace.Limits{PerMinute: 100, PerHour: 1000, PerSubject: 1, SubjectWindow: 10 * time.Second},
		func(o *Options) { o.Subject = func(r *http.Request) string { return r.URL.Path } })
	ctx := context.Background()
	if _, err := send(t, c, ctx, http.MethodPut, srv.URL+"/rest/api/2/issue/ACMEP-1", "{}"); err != nil {
		t.Fatal(err)
	}
	_, err := send(t, c, ctx, http.MethodPut, srv.URL+"/rest/api/2/issue/ACMEP-1", "{}")
	if rl := rateLimited(t, err); !errors.Is(err, pace.ErrPaced) || !rl.Until.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("second write to ACMEP-1: %v, want paced until +10s", err)
	}
	if _, err := send(t, c, ctx, http.MethodPut, srv.URL+"/rest/api/2/issue/ACMEP-2", "{}"); err != nil {
		t.Fatalf("write to ACMEP-2: %v, want sent", err)
	}
}
