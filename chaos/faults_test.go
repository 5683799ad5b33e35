package chaos

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"vitrine/clock"
	fake "vitrine/fake/github"
)

// Fault kinds injected into requests to the fake GitHub (sources and
// targets, reads and writes).
const (
	fk429          = "429 secondary limit with Retry-After"
	fk403Secondary = "403 secondary limit with Retry-After"
	fk403NoRetry   = "403 secondary limit without Retry-After"
	fk403Primary   = "403 primary limit (x-ratelimit-reset)"
	fk502          = "502"
	fk503          = "503"
	fkDrop         = "connection dropped before apply"
	fkSlow         = "slow answer"
	fkApplyDrop    = "write applied, connection dropped"
	fkApplyHang    = "create applied, answer never comes (client timeout)"
)

type weighted struct {
	kind   string
	weight int
}

// Every request may get these; writes also apply-then-drop, and creates
// (issues, comments, milestones) mostly get applied-then-lost answers.
var (
	menuAll = []weighted{
		{fk429, 2}, {fk403Secondary, 2}, {fk403NoRetry, 1}, {fk403Primary, 1},
		{fk502, 2}, {fk503, 2}, {fkDrop, 2}, {fkSlow, 2},
	}
	menuWrite  = append(append([]weighted(nil), menuAll...), weighted{fkApplyDrop, 3})
	menuCreate = append(append([]weighted(nil), menuWrite...), weighted{fkApplyHang, 14})
)

func pick(rng *rand.Rand, menu []weighted) string {
	total := 0
	for _, m := range menu {
		total += m.weight
	}
	n := rng.IntN(total)
	for _, m := range menu {
		if n < m.weight {
			return m.kind
		}
		n -= m.weight
	}
	return menu[len(menu)-1].kind
}

func inMenu(menu []weighted, kind string) bool {
	for _, m := range menu {
		if m.kind == kind {
			return true
		}
	}
	return false
}

// createPath: the routes that create an issue, a comment or a milestone.
var createPath = regexp.MustCompile(`^/repos/[^/]+/[^/]+/(issues|issues/[0-9]+/comments|milestones)$`)

// fate is what happens to one attempt.
type fate struct {
	kind       string // "" for none
	retryAfter time.Duration
	slow       time.Duration
}

// injector decides, attempt by attempt, whether and how a request fails.
// The decision is made in the client's transport (attempts): a dropped
// connection is dropped there, before the request reaches the fake; the
// other kinds travel with the request (attemptHeader) to the fake's Fault
// hook.
type injector struct {
	mu   sync.Mutex
	seed uint64
	seen map[string]uint64 // request (method and path) -> how often it was sent
	rate float64
	on   bool
	fc   *clock.Fake
	gh   *fake.Server

	nextID  int
	flights map[string]*flight // attempts in flight, by attemptHeader

	requests, faulted int
	byKind            map[string]int
	createsLost       map[string]int // route → creates applied whose answer was lost
}

type flight struct {
	fate   fate
	cancel context.CancelFunc
}

func newInjector(seed uint64, rate float64) *injector {
	return &injector{seed: seed, seen: map[string]uint64{}, rate: rate, on: true,
		byKind: map[string]int{}, createsLost: map[string]int{}, flights: map[string]*flight{}}
}

// attemptHeader names an attempt for the fault hook.
const attemptHeader = "X-Chaos-Attempt"

func (in *injector) setOn(on bool) {
	in.mu.Lock()
	in.on = on
	in.mu.Unlock()
}

// decide draws the fate of an attempt. It depends on the seed, the request
// and how often it was sent before, not on what else ran in between: the
// engine's own order of work (map iteration, jittered backoff) varies from
// run to run, and the same requests should still meet the same faults.
func (in *injector) decide(req *http.Request) fate {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.on {
		return fate{}
	}
	in.requests++
	key := req.Method + " " + req.URL.Path
	in.seen[key]++
	h := fnv.New64a()
	h.Write([]byte(key))
	rng := rand.New(rand.NewPCG(in.seed^h.Sum64(), in.seen[key]))
	if rng.Float64() >= in.rate {
		return fate{}
	}
	menu := menuAll
	switch {
	case req.Method == http.MethodPost && createPath.MatchString(req.URL.Path):
		menu = menuCreate
	case req.Method != http.MethodGet:
		menu = menuWrite
	}
	f := fate{kind: pick(rng, menu), retryAfter: time.Duration(1+rng.IntN(60)) * time.Second,
		slow: time.Duration(1+rng.IntN(20)) * time.Second}
	if *onlyFault != "" {
		// Triage: one kind only, where it applies.
		f.kind = *onlyFault
		if !inMenu(menu, f.kind) {
			f.kind = fk502
		}
	}
	in.faulted++
	in.byKind[f.kind]++
	return f
}

// start registers an attempt; end forgets it.
func (in *injector) start(f fate, cancel context.CancelFunc) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nextID++
	id := strconv.Itoa(in.nextID)
	in.flights[id] = &flight{fate: f, cancel: cancel}
	return id
}

func (in *injector) end(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.flights, id)
}

// fault is the fake's Fault hook: it carries out the fate the transport
// drew for the attempt.
func (in *injector) fault(r *fake.Request) fake.Fault {
	in.mu.Lock()
	fl := in.flights[r.HTTP.Header.Get(attemptHeader)]
	in.mu.Unlock()
	if fl == nil {
		return fake.Fault{}
	}
	switch f := fl.fate; f.kind {
	case fk429:
		return fake.SecondaryLimit(http.StatusTooManyRequests, f.retryAfter)
	case fk403Secondary:
		return fake.SecondaryLimit(http.StatusForbidden, f.retryAfter)
	case fk403NoRetry:
		return fake.SecondaryLimit(http.StatusForbidden, 0)
	case fk403Primary:
		return fake.PrimaryLimit(http.StatusForbidden, in.fc.Now().Add(f.retryAfter))
	case fk502:
		return fake.Status(http.StatusBadGateway)
	case fk503:
		return fake.Status(http.StatusServiceUnavailable)
	case fkSlow:
		// Slow on the virtual clock (seconds pass while the request is
		// held), and briefly held for real too.
		in.fc.Advance(f.slow)
		release := make(chan struct{})
		time.AfterFunc(2*time.Millisecond, func() { close(release) })
		return fake.Fault{Wait: release}
	case fkApplyDrop:
		if r.Write && createPath.MatchString(r.Path) {
			in.count(r.Route)
		}
		return fake.Fault{Kind: fake.ApplyThenDrop}
	case fkApplyHang:
		in.count(r.Route)
		in.hang(r, fl.cancel)
		return fake.Fault{Kind: fake.ApplyThenHang}
	}
	return fake.Fault{}
}

func (in *injector) count(route string) {
	in.mu.Lock()
	in.createsLost[route]++
	in.mu.Unlock()
}

// hang ends the client's attempt once the fake has applied the request and
// gone quiet (it accounts the call as unanswered just before it hangs): the
// client gives up as on a timeout, right after the create landed. A real
// timeout would cost real time, and httpapi's Options.Timeout cannot be
// put on the virtual clock.
func (in *injector) hang(r *fake.Request, cancel context.CancelFunc) {
	gh := in.gh
	want := gh.Calls().Count(r.Token, r.Method, r.Route, fake.NoAnswer) + 1
	go func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if gh.Calls().Count(r.Token, r.Method, r.Route, fake.NoAnswer) >= want {
				break
			}
		}
		cancel()
	}()
}

// errDropped is what a client sees of a connection dropped before the
// request was read.
var errDropped = fmt.Errorf("chaos: connection reset by peer: %w", io.ErrUnexpectedEOF)

// attempts is the transport under each httpapi client. It draws each
// attempt's fate, drops the connection itself when that is the fate (the
// fake's own DropBeforeApply leaves the request marked in flight until
// after the client has seen the drop, so an immediate retry is reported as
// an overlap: BUG in fake/github, see the report), and names the attempt
// for the fake's hook. Every attempt gets a real-time deadline as a safety
// net; a hung create is ended by the injector, not by it.
type attempts struct {
	base     http.RoundTripper
	timeout  time.Duration
	injector *injector // nil: no faults
}

func (a *attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), a.timeout)
	req = req.Clone(ctx)
	if a.injector != nil {
		f := a.injector.decide(req)
		if f.kind == fkDrop {
			cancel()
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, errDropped
		}
		id := a.injector.start(f, cancel)
		defer a.injector.end(id)
		req.Header.Set(attemptHeader, id)
	}
	resp, err := a.base.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (in *injector) String() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var kinds []string
	for k, n := range in.byKind {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(kinds)
	var lost []string
	for k, n := range in.createsLost {
		lost = append(lost, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(lost)
	return fmt.Sprintf("%d of %d requests faulted (%.1f%%)\n  %s\n  creates applied with the answer lost: %s",
		in.faulted, in.requests, 100*float64(in.faulted)/float64(max(in.requests, 1)),
		strings.Join(kinds, "\n  "), strings.Join(lost, ", "))
}
