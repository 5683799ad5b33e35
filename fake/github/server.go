// Package github is a stateful fake of GitHub's REST API (the issue, label,
// milestone, comment and sub-issue routes vitrine uses, plus GraphQL
// deleteIssue) on an httptest.Server. Every request is checked against
// GitHub's own OpenAPI description; an unknown route, an unimplemented
// operation or a request the description rejects fails the test.
//
// A test builds the world through the agency-side API (AddRepo, AddToken,
// SetAccess, CreateIssue, AddComment, ...), points a client at URL(), and
// asserts on Dump(), Calls(), Violations() and Overlaps():
//
//	clk := clock.NewFake(t0)
//	gh := github.New(t, github.Options{Clock: clk,
//		Limits: github.Limits{Mode: github.WindowsDocumented}})
//	gh.AddRepo("agency/acme-internal")                // source
//	gh.AddRepo("acme/acme-status")                    // target
//	gh.AddToken("src-token", "vitrine-reader")
//	gh.AddToken("dst-token", "vitrine-bot")
//	gh.SetAccess("src-token", "agency/acme-internal", github.AccessRead)
//	gh.SetAccess("dst-token", "acme/acme-status", github.AccessPush)
//	gh.CreateIssue("agency/acme-internal", github.NewIssue{Title: "Checkout", Labels: []string{"client-visible"}})
//	// env: VITRINE_GITHUB_API_URL=gh.URL(), GITHUB_TOKEN=src-token, ...
//
// Deviations from GitHub, on purpose: a transferred issue keeps its ID and
// node ID; add/set labels also accept a bare JSON array (GitHub does, its
// description does not say so); GraphQL knows only deleteIssue.
package github

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/clock"
	"vitrine/fake/openapi"
)

// Options configure a fake.
type Options struct {
	// Clock drives timestamps and the rate-limit windows; default a
	// clock.Fake at 2026-01-05T09:00:00Z.
	Clock clock.Clock
	// Spec is the OpenAPI description checked against; default the GitHub
	// subset in shared/fixtures (openapi.GitHubSubset).
	Spec string
	// Limits enforces content-write windows per token (off by default).
	Limits Limits
	// PrimaryLimit is the hourly request budget per token (default 5000).
	PrimaryLimit int
	// Fault is consulted on every request (see SetFault).
	Fault func(*Request) Fault
	// NoResponseCheck skips validating the fake's own 2xx answers against
	// the description (they are validated by default).
	NoResponseCheck bool
	// OverlapReads also reports two concurrent reads of the same object
	// (by default only overlaps involving a write are).
	OverlapReads bool
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	tb      testing.TB
	srv     *httptest.Server
	checker *openapi.Checker
	clock   clock.Clock
	opts    Options

	mu        sync.Mutex
	repos     map[string]*repo // by lower-case owner/name
	repoOrder []string
	byID      map[int64]*Issue
	comments  map[int64]*Issue // comment ID → issue
	users     map[string]int64
	tokens    map[string]string // token → login
	access    map[accessKey]Access
	nextID    int64

	fault func(*Request) Fault

	calls      map[CallKey]int
	primary    map[string]*primaryWindow
	writes     map[string][]time.Time // token → accepted write times
	violations []Violation
	inflight   map[string][]*flight
	overlaps   []Overlap
	closing    chan struct{}
	deliveries int

	// What deleted comments, labels and milestones looked like, so a
	// webhook for the deletion can describe them.
	deadComments   map[int64]Comment
	deadLabels     map[string]Label
	deadMilestones map[string]Milestone
}

type accessKey struct{ token, repo string }

// New starts a fake GitHub; it is closed when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	}
	if opts.PrimaryLimit == 0 {
		opts.PrimaryLimit = 5000
	}
	spec := opts.Spec
	if spec == "" {
		p, err := openapi.Fixture(openapi.GitHubSubset...)
		if err != nil {
			tb.Fatalf("fake/github: %v", err)
		}
		spec = p
	}
	c, err := openapi.New(spec, openapi.Options{})
	if err != nil {
		tb.Fatalf("fake/github: %v", err)
	}
	s := &Server{
		tb: tb, checker: c, clock: opts.Clock, opts: opts.withDefaults(),
		repos: map[string]*repo{}, byID: map[int64]*Issue{}, comments: map[int64]*Issue{},
		users: map[string]int64{}, tokens: map[string]string{}, access: map[accessKey]Access{},
		fault: opts.Fault, calls: map[CallKey]int{}, primary: map[string]*primaryWindow{},
		writes: map[string][]time.Time{}, inflight: map[string][]*flight{}, closing: make(chan struct{}),
		deadComments: map[int64]Comment{}, deadLabels: map[string]Label{}, deadMilestones: map[string]Milestone{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.withDefaults()
	return o
}

// URL is the API base URL (no trailing slash); go-github wants URL()+"/".
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, releasing requests held by hang faults.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetFault replaces the fault hook (nil for none).
func (s *Server) SetFault(f func(*Request) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *Server) now() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }

// Request is what the fault hook sees of a call.
type Request struct {
	Method      string
	Path        string // as received
	Route       string // path template, "/graphql" for GraphQL
	OperationID string // "graphql" for GraphQL
	Token       string
	Login       string
	Repo        string // owner/name when the route names one
	Issue       int    // issue number when the route names one
	Body        []byte // the request body (HTTP.Body is already read)
	Write       bool   // POST/PATCH/PUT/DELETE or a GraphQL mutation
	HTTP        *http.Request

	leave         *func()
	graphqlObject string
}

// FaultKind says what a Fault does.
type FaultKind int

const (
	// NoFault serves the request (after Wait, if set).
	NoFault FaultKind = iota
	// Answer answers Status/Header/Body without applying the request.
	Answer
	// DropBeforeApply closes the connection without applying the request.
	DropBeforeApply
	// ApplyThenDrop applies the request, then closes the connection
	// without an answer.
	ApplyThenDrop
	// ApplyThenHang applies the request, then holds the connection without
	// an answer until the client gives up (or the fake closes).
	ApplyThenHang
)

// Fault is an injected failure.
type Fault struct {
	Kind   FaultKind
	Status int
	Header http.Header
	Body   string
	// Wait, when set, holds the request before anything else happens until
	// it is closed or the client gives up: a slow answer on a fake clock.
	Wait <-chan struct{}
}

// Status answers code (e.g. 502, 503) with a GitHub-like error body.
func Status(code int) Fault {
	return Fault{Kind: Answer, Status: code, Body: fmt.Sprintf(`{"message":%q}`, http.StatusText(code))}
}

// SecondaryLimit answers like GitHub's secondary rate limit: 403 (or 429)
// with Retry-After when retryAfter > 0.
func SecondaryLimit(status int, retryAfter time.Duration) Fault {
	h := http.Header{}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	return Fault{Kind: Answer, Status: status, Header: h, Body: secondaryBody}
}

// PrimaryLimit answers like an exhausted primary rate limit: 403 (or 429),
// x-ratelimit-remaining 0 and x-ratelimit-reset at reset.
func PrimaryLimit(status int, reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-Ratelimit-Remaining", "0")
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return Fault{Kind: Answer, Status: status, Header: h, Body: primaryBody}
}

const (
	secondaryBody = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}`
	primaryBody   = `{"message":"API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits","status":"403"}`
)

// WindowMode selects how content-write windows are enforced.
type WindowMode int

const (
	// WindowsOff enforces no write windows.
	WindowsOff WindowMode = iota
	// WindowsDocumented enforces GitHub's documented limits (default 80 a
	// minute, 500 an hour per token) and answers an excess write like
	// GitHub's secondary limit, with Retry-After.
	WindowsDocumented
	// WindowsUnannounced enforces a lower limit nobody was told about
	// (default 30 a minute, 500 an hour) and answers secondary-limit 403s
	// without Retry-After, as GitHub does when it throttles content creation.
	WindowsUnannounced
)

// Limits are content-write windows per token, on the fake's clock. Every
// POST, PATCH, PUT and DELETE (and GraphQL mutation) counts; a write over a
// window is answered, not applied, and counted as a Violation.
type Limits struct {
	Mode      WindowMode
	PerMinute int
	PerHour   int
	Status    int // 403 (default) or 429
}

func (l Limits) withDefaults() Limits {
	if l.Mode == WindowsOff {
		return l
	}
	if l.PerMinute == 0 {
		l.PerMinute = map[WindowMode]int{WindowsDocumented: 80, WindowsUnannounced: 30}[l.Mode]
	}
	if l.PerHour == 0 {
		l.PerHour = 500
	}
	if l.Status == 0 {
		l.Status = http.StatusForbidden
	}
	return l
}

// Violation is a write the windows refused.
type Violation struct {
	Token  string
	Method string
	Route  string
	At     time.Time
	Window string // "minute" or "hour"
}

// CallKey identifies a kind of call for accounting.
type CallKey struct {
	Token  string
	Method string
	Route  string // path template; "/graphql" with Method "QUERY" or "MUTATION" folded into POST
	Status int    // NoAnswer when the connection was dropped or held without an answer
}

// NoAnswer is the CallKey.Status of a call whose connection was dropped or
// held until the client gave up.
const NoAnswer = -1

// Calls is a snapshot of the accounting.
type Calls struct {
	ByKey map[CallKey]int
	// Reads are GETs answered in full (not 304); Conditional are 304 hits;
	// Writes are POST/PATCH/PUT/DELETE and GraphQL mutations (any status).
	Reads, Conditional, Writes int
}

// Count sums the calls matching token, method and route ("" matches any)
// and status (0 matches any; NoAnswer counts dropped and held calls).
func (c Calls) Count(token, method, route string, status int) int {
	n := 0
	for k, v := range c.ByKey {
		if (token == "" || k.Token == token) && (method == "" || k.Method == method) &&
			(route == "" || k.Route == route) && (status == 0 || k.Status == status) {
			n += v
		}
	}
	return n
}

// String lists the calls, sorted, one a line (for failure messages).
func (c Calls) String() string {
	var lines []string
	for k, v := range c.ByKey {
		lines = append(lines, fmt.Sprintf("%s %s %s %d: %d", k.Token, k.Method, k.Route, k.Status, v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Calls returns a snapshot of the accounting.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Calls{ByKey: map[CallKey]int{}}
	for k, v := range s.calls {
		c.ByKey[k] = v
		switch {
		case isWriteMethod(k.Method):
			c.Writes += v
		case k.Status == http.StatusNotModified:
			c.Conditional += v
		default:
			c.Reads += v
		}
	}
	return c
}

// ResetCalls clears the accounting (not the rate-limit state).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[CallKey]int{}
}

// Violations returns the writes the windows refused.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Overlap is two requests in flight at once on the same mirror object.
type Overlap struct {
	Object string // e.g. "acme/acme-status#12" or "acme/acme-status milestone 3"
	First  string // "METHOD path" of the request already in flight
	Second string
}

// Overlaps returns the overlaps seen (each also failed the test).
func (s *Server) Overlaps() []Overlap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.overlaps)
}

func isWriteMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, "MUTATION":
		return true
	}
	return false
}

// response is what a handler produces; serve writes it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, v any) *response {
	// GitHub does not escape <, > and & in its JSON; neither does the fake,
	// so bodies compare byte for byte with what a client sent.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return &response{status: status, header: http.Header{}, body: bytes.TrimRight(buf.Bytes(), "\n")}
}

func errorResponse(status int, msg, doc string) *response {
	m := map[string]any{"message": msg, "status": strconv.Itoa(status)}
	if doc != "" {
		m["documentation_url"] = doc
	}
	return jsonResponse(status, m)
}

var (
	repositoriesAlias = regexp.MustCompile(`^/repositories/(\d+)(/.*)?$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	path := r.URL.EscapedPath()
	// GitHub Enterprise Server puts the API under /api/v3 and GraphQL at
	// /api/graphql: accept both layouts.
	if p, ok := strings.CutPrefix(path, "/api/v3/"); ok {
		path = "/" + p
	} else if path == "/api/graphql" {
		path = "/graphql"
	}
	// A 301 after a transfer points at /repositories/{id}/...; serve it as
	// the named repository's route.
	if m := repositoriesAlias.FindStringSubmatch(path); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		s.mu.Lock()
		for _, rp := range s.repos {
			if rp.id == id {
				path = "/repos/" + rp.owner + "/" + rp.name + m[2]
			}
		}
		s.mu.Unlock()
	}
	call := &Request{Method: r.Method, Path: r.URL.Path, Body: body, HTTP: r, Write: isWriteMethod(r.Method)}

	var route *openapi.Route
	if path == "/graphql" && r.Method == http.MethodPost {
		call.Route, call.OperationID = "/graphql", "graphql"
		gq, perr := parseGraphQL(body)
		if perr != nil {
			s.tb.Errorf("fake/github: POST /graphql: %v", perr)
			s.finish(w, call, "POST", errorResponse(http.StatusBadRequest, "fake/github: "+perr.Error(), ""))
			return
		}
		call.Write = gq.mutation
		s.mu.Lock()
		call.graphqlObject = s.graphqlObjectLocked(gq)
		s.mu.Unlock()
		s.handle(w, r, call, nil, func(login, token string) *response { return s.graphql(token, login, gq) })
		return
	}

	if path == "/user" && r.Method == http.MethodGet {
		// The authenticated user (users/get-authenticated): outside the
		// subset description the fake checks against, so answered here
		// from the token table, with the fields clients read.
		call.Route, call.OperationID = "/user", "users/get-authenticated"
		s.handle(w, r, call, nil, func(login, token string) *response {
			return jsonResponse(http.StatusOK, map[string]any{"login": login, "type": "User", "id": 1000 + len(login)})
		})
		return
	}

	cr := r.Clone(r.Context())
	cr.URL.Path, cr.URL.RawPath = path, ""
	if p, err := url.PathUnescape(path); err == nil {
		cr.URL.Path = p
		if cr.URL.EscapedPath() != path {
			cr.URL.RawPath = path
		}
	}
	route, err = s.checker.Find(r.Method, path)
	if err == nil {
		call.Route, call.OperationID = route.Template, route.OperationID
		err = s.checker.Check(cr, normalizeBody(route.OperationID, body))
	}
	if err != nil {
		s.tb.Errorf("fake/github: request rejected: %v", err)
		status := http.StatusBadRequest
		if errors.Is(err, openapi.ErrNoRoute) || errors.Is(err, openapi.ErrMethodNotAllowed) {
			status = http.StatusNotFound
		}
		if call.Route == "" {
			call.Route = "(unknown) " + path
		}
		s.finish(w, call, r.Method, errorResponse(status, err.Error(), ""))
		return
	}
	call.Repo = route.Params["owner"] + "/" + route.Params["repo"]
	if route.Params["owner"] == "" {
		call.Repo = ""
	}
	if n, err := strconv.Atoi(route.Params["issue_number"]); err == nil {
		call.Issue = n
	}
	h := s.handlerFor(route)
	if h == nil {
		s.tb.Errorf("fake/github: %s %s (%s) is in the description but not implemented by the fake", r.Method, path, route.OperationID)
		s.finish(w, call, r.Method, errorResponse(http.StatusNotImplemented, "fake/github: not implemented: "+route.OperationID, ""))
		return
	}
	s.handle(w, cr, call, route, func(login, token string) *response {
		return h(&ctx{s: s, r: cr, route: route, token: token, login: login, body: body})
	})
}

// normalizeBody adapts the one request shape GitHub accepts but its
// description omits: a bare JSON array of label names for add/set labels
// (go-github sends that), checked as {"labels": [...]}.
func normalizeBody(op string, body []byte) []byte {
	if op != "issues/add-labels" && op != "issues/set-labels" {
		return body
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		return append(append([]byte(`{"labels":`), t...), '}')
	}
	return body
}

// handle runs the common pipeline around a handler: auth, faults, primary
// limit, write windows, in-flight tracking, ETag, headers and accounting.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, call *Request, route *openapi.Route, h func(login, token string) *response) {
	method := r.Method
	if call.Route == "/graphql" {
		method = "QUERY"
		if call.Write {
			method = "MUTATION"
		}
	}
	token := bearer(r.Header.Get("Authorization"))
	s.mu.Lock()
	login, known := s.tokens[token]
	fault := s.fault
	s.mu.Unlock()
	call.Token, call.Login = token, login
	if token == "" {
		s.finish(w, call, method, errorResponse(http.StatusUnauthorized, "Requires authentication", "https://docs.github.com/rest"))
		return
	}
	if !known {
		s.finish(w, call, method, errorResponse(http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest"))
		return
	}

	obj := s.objectOf(call, route)
	if obj != "" {
		// A hang or drop outlives the call's effect: tracking stops once the
		// write is applied, so a client's retry after its timeout is not
		// reported as an overlap.
		leave := s.enter(obj, call)
		defer leave()
		call.leave = &leave
	}

	var f Fault
	if fault != nil {
		f = fault(call)
	}
	if f.Wait != nil {
		select {
		case <-f.Wait:
		case <-r.Context().Done():
			s.account(call, method, NoAnswer)
			return
		case <-s.closing:
			s.account(call, method, NoAnswer)
			return
		}
	}
	switch f.Kind {
	case Answer:
		resp := &response{status: f.Status, header: f.Header.Clone(), body: []byte(f.Body)}
		if resp.header == nil {
			resp.header = http.Header{}
		}
		s.finish(w, call, method, resp)
		return
	case DropBeforeApply:
		// Out of flight before the client sees the drop: its retry is not
		// an overlap.
		if call.leave != nil {
			(*call.leave)()
		}
		s.account(call, method, NoAnswer)
		drop(w)
		return
	}

	s.mu.Lock()
	pw := s.primaryLocked(token)
	if pw.used >= s.opts.PrimaryLimit {
		s.mu.Unlock()
		resp := errorResponse(http.StatusForbidden, "API rate limit exceeded for user ID 1.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits")
		s.finish(w, call, method, resp)
		return
	}
	if call.Write {
		if v := s.windowLocked(token, method, call.Route); v != nil {
			s.violations = append(s.violations, *v)
			s.mu.Unlock()
			resp := &response{status: s.opts.Limits.Status, header: http.Header{}, body: []byte(secondaryBody)}
			if s.opts.Limits.Mode == WindowsDocumented {
				resp.header.Set("Retry-After", strconv.Itoa(s.retryAfter(token)))
			}
			s.finish(w, call, method, resp)
			return
		}
	}
	s.mu.Unlock()

	s.mu.Lock()
	resp := h(login, token)
	s.mu.Unlock()
	if resp.header == nil {
		resp.header = http.Header{}
	}

	if r.Method == http.MethodGet && resp.status == http.StatusOK {
		sum := sha256.Sum256(append(append([]byte(resp.header.Get("Link")), 0), resp.body...))
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		resp.header.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
			resp = &response{status: http.StatusNotModified, header: http.Header{"Etag": {etag}}}
		}
	}
	if route != nil && !s.opts.NoResponseCheck && resp.status/100 == 2 {
		if err := s.checker.CheckResponse(r, route, resp.status, jsonHeader(resp.header), resp.body); err != nil {
			s.tb.Errorf("fake/github: the fake's own answer does not match the description: %v", err)
		}
	}

	switch f.Kind {
	case ApplyThenDrop:
		if call.leave != nil {
			(*call.leave)()
		}
		s.account(call, method, NoAnswer)
		drop(w)
		return
	case ApplyThenHang:
		if call.leave != nil {
			(*call.leave)()
		}
		s.account(call, method, NoAnswer)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		drop(w)
		return
	}
	s.finish(w, call, method, resp)
}

func jsonHeader(h http.Header) http.Header {
	h = h.Clone()
	h.Set("Content-Type", "application/json; charset=utf-8")
	return h
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

func bearer(h string) string {
	for _, p := range []string{"token ", "Token ", "bearer ", "Bearer "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// finish writes resp with GitHub's rate-limit headers and accounts it. A
// 304 costs nothing, as on GitHub.
func (s *Server) finish(w http.ResponseWriter, call *Request, method string, resp *response) {
	s.mu.Lock()
	if call.Token != "" && s.tokens[call.Token] != "" {
		pw := s.primaryLocked(call.Token)
		if resp.status != http.StatusNotModified && resp.status != http.StatusUnauthorized {
			if pw.used < s.opts.PrimaryLimit {
				pw.used++
			}
		}
		h := w.Header()
		h.Set("X-Ratelimit-Limit", strconv.Itoa(s.opts.PrimaryLimit))
		h.Set("X-Ratelimit-Remaining", strconv.Itoa(s.opts.PrimaryLimit-pw.used))
		h.Set("X-Ratelimit-Used", strconv.Itoa(pw.used))
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(pw.start.Add(time.Hour).Unix(), 10))
		resource := "core"
		if call.Route == "/graphql" {
			resource = "graphql"
		}
		h.Set("X-Ratelimit-Resource", resource)
	}
	s.mu.Unlock()
	s.account(call, method, resp.status)
	// Out of flight before the first byte: a client that decodes the
	// answer and sends its next request on the object right away
	// (go-github does not read a body to EOF) could otherwise beat a
	// deferred leave to the mutex and look like an overlap.
	if call.leave != nil {
		(*call.leave)()
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if resp.status != http.StatusNotModified && resp.status != http.StatusNoContent {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("X-Github-Media-Type", "github.v3; format=json")
	h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	w.WriteHeader(resp.status)
	if resp.status != http.StatusNotModified && resp.status != http.StatusNoContent {
		_, _ = w.Write(resp.body)
	}
}

func (s *Server) account(call *Request, method string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[CallKey{Token: call.Token, Method: method, Route: call.Route, Status: status}]++
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fake/github: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

type primaryWindow struct {
	start time.Time
	used  int
}

func (s *Server) primaryLocked(token string) *primaryWindow {
	now := s.now()
	pw := s.primary[token]
	if pw == nil || !now.Before(pw.start.Add(time.Hour)) {
		pw = &primaryWindow{start: now}
		s.primary[token] = pw
	}
	return pw
}

// windowLocked records an accepted write, or returns the violation.
func (s *Server) windowLocked(token, method, route string) *Violation {
	l := s.opts.Limits
	if l.Mode == WindowsOff {
		return nil
	}
	now := s.clock.Now()
	ts := s.writes[token]
	ts = slices.DeleteFunc(ts, func(t time.Time) bool { return !t.After(now.Add(-time.Hour)) })
	s.writes[token] = ts
	inMinute := 0
	for _, t := range ts {
		if t.After(now.Add(-time.Minute)) {
			inMinute++
		}
	}
	switch {
	case l.PerMinute > 0 && inMinute >= l.PerMinute:
		return &Violation{Token: token, Method: method, Route: route, At: now, Window: "minute"}
	case l.PerHour > 0 && len(ts) >= l.PerHour:
		return &Violation{Token: token, Method: method, Route: route, At: now, Window: "hour"}
	}
	s.writes[token] = append(ts, now)
	return nil
}

// retryAfter is the whole seconds until the token's next write would pass.
func (s *Server) retryAfter(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.opts.Limits
	now := s.clock.Now()
	ts := s.writes[token]
	var wait time.Duration
	var inMinute []time.Time
	for _, t := range ts {
		if t.After(now.Add(-time.Minute)) {
			inMinute = append(inMinute, t)
		}
	}
	if l.PerMinute > 0 && len(inMinute) >= l.PerMinute {
		wait = max(wait, inMinute[len(inMinute)-l.PerMinute].Add(time.Minute).Sub(now))
	}
	if l.PerHour > 0 && len(ts) >= l.PerHour {
		wait = max(wait, ts[len(ts)-l.PerHour].Add(time.Hour).Sub(now))
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return max(secs, 1)
}

type flight struct {
	desc  string
	write bool
}

// objectOf names the mirror object a call touches: an issue (with its
// comments and labels) or a milestone.
func (s *Server) objectOf(call *Request, route *openapi.Route) string {
	if route == nil || call.Repo == "" {
		if call.Route == "/graphql" && call.Write {
			return call.graphqlObject
		}
		return ""
	}
	repo := strings.ToLower(call.Repo)
	if call.Issue != 0 {
		return fmt.Sprintf("%s#%d", repo, call.Issue)
	}
	if id, err := strconv.ParseInt(route.Params["comment_id"], 10, 64); err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if is := s.comments[id]; is != nil {
			return fmt.Sprintf("%s#%d", strings.ToLower(is.Repo), is.Number)
		}
		return ""
	}
	if n := route.Params["milestone_number"]; n != "" {
		return fmt.Sprintf("%s milestone %s", repo, n)
	}
	return ""
}

// enter records call in flight on obj and reports an overlap with any
// request already there; the returned func (idempotent) leaves.
func (s *Server) enter(obj string, call *Request) func() {
	f := &flight{desc: call.Method + " " + call.Path, write: call.Write}
	s.mu.Lock()
	for _, other := range s.inflight[obj] {
		if f.write || other.write || s.opts.OverlapReads {
			o := Overlap{Object: obj, First: other.desc, Second: f.desc}
			s.overlaps = append(s.overlaps, o)
			s.tb.Errorf("fake/github: concurrent requests on %s: %s while %s was in flight", obj, o.Second, o.First)
		}
	}
	s.inflight[obj] = append(s.inflight[obj], f)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.inflight[obj] = slices.DeleteFunc(s.inflight[obj], func(x *flight) bool { return x == f })
		})
	}
}
