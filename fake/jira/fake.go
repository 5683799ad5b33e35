// Package jira is a stateful fake of Jira Cloud (and, with Flavor
// DataCenter, Jira Data Center) served by an httptest.Server, for the tests
// of the Jira connector and everything above it.
//
// It plays the parts of the REST API that vitrine uses: /rest/api/2 issues,
// comments (with JSM's jsdPublic and the sd.public.comment property,
// role/group visibility), transitions over a real two-hop workflow, issue
// properties, search (Cloud: /search/jql with nextPageToken and
// reconcileIssues over an eventually consistent index; Data Center:
// /search with startAt/total), /myself with the user's time zone (JQL dates
// are read in it), the Cloud workflow reads (POST /rest/api/{2,3}/workflows
// and .../workflows/preview) and the per-issue write limit of Jira Cloud.
// Unknown routes fail the test; on Cloud every request is checked against
// Atlassian's OpenAPI description (fake/openapi) and every 2xx answer of the
// fake is checked too.
//
// A test sets up a fake like this:
//
//	f := jira.New(t, jira.Options{Flavor: jira.Cloud})
//	f.AddProject("AGY", "Agency internal")
//	f.AddProject("ACMEP", "ACME portal")
//	f.AddCredential(jira.Credential{Name: "reader", Email: "r@agency.example", Token: "tok-r"})
//	f.AddCredential(jira.Credential{Name: "writer", Email: "w@agency.example", Token: "tok-w"})
//	f.Grant("reader", "AGY", jira.PermRead)
//	f.Grant("writer", "ACMEP", jira.PermAll)
//	key := f.CreateIssue("AGY", jira.Fields{Summary: "Launch", Labels: []string{"client-visible"}})
//
// NewStandard does exactly that (with Data Center PATs when the flavor says
// so).
//
// Everything the agency does (create, edit, move, delete issues, comment,
// take access away, move the clock) goes through Go methods, never HTTP, so
// the HTTP call log holds only what the code under test did.
package jira

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/clock"
	"vitrine/fake/openapi"
)

// DefaultNow is where the fake's clock starts when Options.Clock is nil.
var DefaultNow = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// DefaultTimeZone is the Jira user time zone of a credential that names
// none. It is deliberately not UTC: Jira reads JQL dates in the user's zone,
// and a connector that forgets that must fail against the fake.
const DefaultTimeZone = "America/Los_Angeles"

// Flavor picks the Jira deployment the fake plays.
type Flavor string

const (
	Cloud      Flavor = "cloud"
	DataCenter Flavor = "datacenter"
)

// Perm is a set of project permissions of one credential.
type Perm uint

const (
	PermBrowse Perm = 1 << iota
	PermCreate
	PermEdit
	PermComment
	PermTransition
	PermDelete
	// PermAdminProject is "Administer projects": the workflow preview,
	// notifyUsers=false, editing and deleting other people's comments.
	PermAdminProject
	// PermViewWorkflow is Cloud's "View (read-only) workflow" (the
	// workflow preview).
	PermViewWorkflow
)

const (
	PermRead  = PermBrowse
	PermWrite = PermBrowse | PermCreate | PermEdit | PermComment | PermTransition
	PermAll   = PermWrite | PermDelete | PermAdminProject | PermViewWorkflow
)

// Role and group names the fake knows for comment visibility.
const (
	RoleDevelopers     = "Developers"
	RoleAdministrators = "Administrators"
	RoleServiceDesk    = "Service Desk Team"
	GroupStaff         = "agency-staff"
	GroupUsers         = "jira-software-users"
)

// Credential is one account the code under test signs in with. Cloud uses
// Email and Token (basic auth), Data Center uses PAT (bearer).
type Credential struct {
	Name        string // label in the call log; also the Jira user name
	Email       string
	Token       string
	PAT         string
	DisplayName string
	// TimeZone is the Jira user's zone (IANA); JQL dates are read in it and
	// dates are rendered in it. Default: Options.TimeZone.
	TimeZone string
	// Groups and Roles decide which restricted comments the credential sees
	// and may post.
	Groups []string
	Roles  []string
	// SiteAdmin is the "Administer Jira" global permission (needed to
	// bulk-read the company-managed workflow).
	SiteAdmin bool
	// HiddenSecurityLevels are issue security levels this credential is not
	// a member of: issues under them answer 404 and leave searches.
	HiddenSecurityLevels []string
}

// WriteWindow is one per-issue write limit: at most Limit writes to one
// issue within Per.
type WriteWindow struct {
	Limit int
	Per   time.Duration
}

// CloudWriteLimits are Jira Cloud's per-issue write limits as documented in
// "Rate limiting" (developer.atlassian.com/cloud/jira/platform/rate-limiting,
// section "Per-issue write limits"): a short window of 20 writes per 2
// seconds and a long window of 100 writes per 30 seconds, answered with 429
// and `RateLimit-Reason: jira-per-issue-on-write`.
var CloudWriteLimits = []WriteWindow{{Limit: 20, Per: 2 * time.Second}, {Limit: 100, Per: 30 * time.Second}}

// RequestChecker checks one request (with its body already read) against an
// API description; a non-nil error is a request the real API would reject.
type RequestChecker interface {
	Check(r *http.Request, body []byte) error
}

// CheckFunc adapts a function to RequestChecker.
type CheckFunc func(r *http.Request, body []byte) error

func (f CheckFunc) Check(r *http.Request, body []byte) error { return f(r, body) }

// Options configure a fake.
type Options struct {
	Flavor Flavor // default Cloud
	// Clock drives created/updated, the index lag and the write limits.
	// Default: a clock.Fake at DefaultNow (reach it with Server.Clock).
	Clock clock.Clock
	// TimeZone is the default user time zone (DefaultTimeZone if empty); it
	// also renders webhook payloads.
	TimeZone string
	// IndexLag is how long search takes to see a change (Cloud search is
	// eventually consistent); direct reads are always current.
	IndexLag time.Duration
	// Checker checks every request before it is served. Nil: the OpenAPI
	// check of fake/openapi for Cloud (see defaultChecker), none for Data
	// Center (whose shapes this package checks itself).
	Checker RequestChecker
	// NoCheck turns request checking off altogether.
	NoCheck bool
	// WriteLimits replaces the per-issue write limits (default:
	// CloudWriteLimits on Cloud, none on Data Center). NoWriteLimits turns
	// them off.
	WriteLimits   []WriteWindow
	NoWriteLimits bool
	// WebhookSecret signs webhook deliveries (X-Hub-Signature); empty sends
	// them unsigned, as Jira does for a webhook without a secret.
	WebhookSecret string
	// MirrorKeyProperty is the issue property that carries the opaque mirror
	// key: a create carrying it in `properties` is tracked by its value for
	// in-flight overlap detection. Default "vitrine".
	MirrorKeyProperty string
	// Fault is consulted on every request (see SetFault).
	Fault func(*Request) Fault
	// NoResponseCheck skips validating the fake's own 2xx answers against
	// the description (Cloud with the default checker validates them).
	NoResponseCheck bool
	// OverlapReads also reports two concurrent reads of the same issue (by
	// default only overlaps involving a write are).
	OverlapReads bool
	// FixturesDir is the shared fixtures folder (default: found by walking
	// up from the working directory to go.mod, then ../shared/fixtures).
	FixturesDir string
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	t       testing.TB
	opts    Options
	clk     clock.Clock
	srv     *httptest.Server
	routes  []*route
	checker RequestChecker
	defTZ   *time.Location

	mu              sync.Mutex
	creds           map[string]*credState
	users           map[string]*user
	projects        map[string]*project // by key
	projectOrder    []string
	issues          map[int64]*issue // live issues
	tombstones      map[int64]*issue // deleted issues, as they were
	keys            map[string]int64 // every key an issue ever had
	index           map[int64][]snapshot
	issueOrder      []int64
	nextIssueID     int64
	nextCommentID   int64
	nextChangeID    int64
	nextVersionID   int64
	nextDelivery    int
	lag             time.Duration
	writeLog        map[int64][]time.Time
	limits          []WriteWindow
	calls           []Call
	routeSeq        map[string]int
	inflight        map[string]*flight
	overlaps        []string
	fault           func(*Request) Fault
	spec            *openapi.Checker
	closing         chan struct{}
	closeOnce       sync.Once
	securityLevels  map[string]string
	deletedBy       map[int64]string
	deletedComments []deletedComment
}

type credState struct {
	Credential
	perms   map[string]Perm
	lost    map[string]int // project key → 403 or 404
	revoked bool
	loc     *time.Location
}

// New starts a fake and closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Flavor == "" {
		opts.Flavor = Cloud
	}
	if opts.Flavor != Cloud && opts.Flavor != DataCenter {
		t.Fatalf("fake/jira: unknown flavor %q", opts.Flavor)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = DefaultTimeZone
	}
	loc, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		t.Fatalf("fake/jira: time zone %q: %v", opts.TimeZone, err)
	}
	if opts.MirrorKeyProperty == "" {
		opts.MirrorKeyProperty = "vitrine"
	}
	s := &Server{
		t:              t,
		opts:           opts,
		clk:            opts.Clock,
		defTZ:          loc,
		creds:          map[string]*credState{},
		users:          map[string]*user{},
		projects:       map[string]*project{},
		issues:         map[int64]*issue{},
		tombstones:     map[int64]*issue{},
		keys:           map[string]int64{},
		index:          map[int64][]snapshot{},
		nextIssueID:    10000,
		nextCommentID:  10000,
		nextChangeID:   10000,
		nextVersionID:  10100,
		lag:            opts.IndexLag,
		writeLog:       map[int64][]time.Time{},
		routeSeq:       map[string]int{},
		inflight:       map[string]*flight{},
		securityLevels: map[string]string{},
		deletedBy:      map[int64]string{},
		fault:          opts.Fault,
		closing:        make(chan struct{}),
	}
	if s.clk == nil {
		s.clk = clock.NewFake(DefaultNow)
	}
	switch {
	case opts.NoWriteLimits:
	case opts.WriteLimits != nil:
		s.limits = slices.Clone(opts.WriteLimits)
	case opts.Flavor == Cloud:
		s.limits = slices.Clone(CloudWriteLimits)
	}
	if !opts.NoCheck {
		s.checker = opts.Checker
		if s.checker == nil && opts.Flavor == Cloud {
			s.spec = defaultChecker(t)
			s.checker = s.spec
		}
	}
	s.routes = s.buildRoutes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// Standard names used by NewStandard.
const (
	SourceProject = "AGY"   // the agency's private project
	TargetProject = "ACMEP" // the customer-facing mirror project
	ReaderCred    = "reader"
	WriterCred    = "writer"
)

// NewStandard is New plus a source project (AGY) readable by the "reader"
// credential and a target project (ACMEP) fully writable by the "writer"
// credential. Cloud: basic auth reader@agency.example / reader-token and
// writer@agency.example / writer-token; Data Center: PATs reader-pat and
// writer-pat. The reader is in every role and group (so it sees restricted
// comments); the writer is a Developer in agency-staff.
func NewStandard(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	s.AddProject(SourceProject, "Agency internal")
	s.AddProject(TargetProject, "ACME portal")
	s.AddCredential(Credential{
		Name: ReaderCred, Email: "reader@agency.example", Token: "reader-token", PAT: "reader-pat",
		DisplayName: "Vitrine Reader",
		Groups:      []string{GroupStaff, GroupUsers}, Roles: []string{RoleDevelopers, RoleAdministrators, RoleServiceDesk},
	})
	s.AddCredential(Credential{
		Name: WriterCred, Email: "writer@agency.example", Token: "writer-token", PAT: "writer-pat",
		DisplayName: "Vitrine Writer",
		Groups:      []string{GroupStaff}, Roles: []string{RoleDevelopers},
	})
	s.Grant(ReaderCred, SourceProject, PermRead)
	s.Grant(WriterCred, TargetProject, PermAll)
	return s
}

// URL is the base URL (no trailing slash), e.g. JIRA_URL.
func (s *Server) URL() string { return s.srv.URL }

// HTTPClient is a client for the fake's server.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// Flavor is the deployment the fake plays.
func (s *Server) Flavor() Flavor { return s.opts.Flavor }

// Clock is the fake's clock.
func (s *Server) Clock() clock.Clock { return s.clk }

// Advance moves the fake's clock (which must be a *clock.Fake).
func (s *Server) Advance(d time.Duration) {
	f, ok := s.clk.(*clock.Fake)
	if !ok {
		s.t.Fatalf("fake/jira: Advance needs a *clock.Fake, have %T", s.clk)
	}
	f.Advance(d)
}

func (s *Server) now() time.Time { return s.clk.Now() }

// AuthHeader is the Authorization header value for a credential, for tests
// that build requests by hand.
func (s *Server) AuthHeader(cred string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCred(cred)
	if s.opts.Flavor == DataCenter {
		return "Bearer " + c.PAT
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Email+":"+c.Token))
}

// AddCredential registers an account (with no permissions yet).
func (s *Server) AddCredential(c Credential) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Name == "" {
		s.t.Fatalf("fake/jira: credential without a name")
	}
	if _, dup := s.creds[c.Name]; dup {
		s.t.Fatalf("fake/jira: credential %q added twice", c.Name)
	}
	if c.TimeZone == "" {
		c.TimeZone = s.opts.TimeZone
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		s.t.Fatalf("fake/jira: credential %q: time zone: %v", c.Name, err)
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	s.creds[c.Name] = &credState{Credential: c, perms: map[string]Perm{}, lost: map[string]int{}, loc: loc}
	u := s.userLocked(c.Name)
	u.displayName = c.DisplayName
	u.email = c.Email
	u.tz = c.TimeZone
}

// Grant sets a credential's permissions on a project (replacing earlier ones).
func (s *Server) Grant(cred, project string, p Perm) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCred(cred)
	s.mustProject(project)
	c.perms[project] = p
}

// LoseAccess takes a credential's access away the way Jira shows it:
// status 404 hides the project (404 on its issues, "does not exist" in JQL),
// 403 answers its project-scoped requests with 403, 401 revokes the
// credential everywhere (the project is ignored).
func (s *Server) LoseAccess(cred, project string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCred(cred)
	switch status {
	case http.StatusUnauthorized:
		c.revoked = true
	case http.StatusForbidden, http.StatusNotFound:
		s.mustProject(project)
		c.lost[project] = status
	default:
		s.t.Fatalf("fake/jira: LoseAccess: status %d is not 401, 403 or 404", status)
	}
}

// RestoreAccess undoes LoseAccess for a project (and un-revokes the credential).
func (s *Server) RestoreAccess(cred, project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCred(cred)
	c.revoked = false
	delete(c.lost, project)
}

// SetTimeZone changes a credential's Jira user time zone.
func (s *Server) SetTimeZone(cred, tz string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCred(cred)
	loc, err := time.LoadLocation(tz)
	if err != nil {
		s.t.Fatalf("fake/jira: SetTimeZone %q: %v", tz, err)
	}
	c.TimeZone, c.loc = tz, loc
	s.userLocked(cred).tz = tz
}

// SetIndexLag changes how long search takes to see a change.
func (s *Server) SetIndexLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = d
}

// SetWriteLimits replaces the per-issue write limits (nil: none).
func (s *Server) SetWriteLimits(w []WriteWindow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = slices.Clone(w)
}

func (s *Server) mustCred(name string) *credState {
	c, ok := s.creds[name]
	if !ok {
		s.t.Fatalf("fake/jira: no credential %q", name)
	}
	return c
}

// has reports whether c holds p on a project and still has access to it.
func (c *credState) has(project string, p Perm) bool {
	if c == nil { // the agency itself (webhooks, Dump)
		return true
	}
	if _, lost := c.lost[project]; lost {
		return false
	}
	return c.perms[project]&p == p
}

func (c *credState) inRole(role string) bool {
	return c == nil || slices.ContainsFunc(c.Roles, func(r string) bool { return strings.EqualFold(r, role) })
}

func (c *credState) inGroup(g string) bool {
	return c == nil || slices.ContainsFunc(c.Groups, func(x string) bool { return strings.EqualFold(x, g) })
}

// Call is one request the fake answered.
type Call struct {
	Cred   string // credential name; "" when authentication failed
	Method string
	Route  string // the route template, e.g. /rest/api/2/issue/{issueIdOrKey}
	Path   string
	Status int // 0: no answer was sent (a drop or hang fault, or the client gave up)
	Write  bool
	Issue  string // the issue id the request addressed, if any
	Seq    int    // 1 for the first call of this method+route, 2 for the next…
}

// Calls is the call log so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls empties the call log (and the per-route sequence numbers).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.routeSeq = map[string]int{}
}

// Count counts logged calls; empty cred, method or route match anything,
// status 0 matches any status.
func (s *Server) Count(cred, method, route string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if (cred == "" || c.Cred == cred) && (method == "" || c.Method == method) &&
			(route == "" || c.Route == route) && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

// Reads and Writes count a credential's calls by kind.
func (s *Server) Reads(cred string) int  { return s.countKind(cred, false) }
func (s *Server) Writes(cred string) int { return s.countKind(cred, true) }

func (s *Server) countKind(cred string, write bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Cred == cred && c.Write == write {
			n++
		}
	}
	return n
}

// CallSummary is the call log as sorted "cred METHOD route status ×n" lines,
// for asserting call counts in one comparison.
func (s *Server) CallSummary() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, c := range s.calls {
		m[fmt.Sprintf("%s %s %s %d", c.Cred, c.Method, c.Route, c.Status)]++
	}
	out := make([]string, 0, len(m))
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(out)
	return out
}

// Overlaps lists the in-flight overlaps seen so far (each also failed the
// test): two requests on the same mirror issue at once, one of them a write.
func (s *Server) Overlaps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.overlaps)
}

// FaultKind says what a Fault does (the same kinds as fake/github's).
type FaultKind int

const (
	// NoFault serves the request (after Wait, if set).
	NoFault FaultKind = iota
	// Answer answers Status/Header/Body without applying the request.
	Answer
	// DropBeforeApply closes the connection without applying the request.
	DropBeforeApply
	// ApplyThenDrop applies the request, then closes the connection without
	// an answer (the create happened; the client never heard).
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
	Body   string // default for Answer: Jira's errorMessages shape
	// Wait, when set, holds the request (already counted as in flight for
	// overlap detection) until it is closed or the client gives up.
	Wait <-chan struct{}
}

// Status answers code (e.g. 502, 503) with Jira's error shape.
func Status(code int) Fault { return Fault{Kind: Answer, Status: code} }

// RetryLater answers code with a Retry-After in whole seconds (rounded up).
func RetryLater(code int, after time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	return Fault{Kind: Answer, Status: code, Header: h}
}

// Request is what the fault hook sees of a call.
type Request struct {
	Call        // Status is not known yet
	Body []byte // the request body (HTTP.Body is already read)
	HTTP *http.Request
}

// SetFault replaces the fault hook (nil for none).
func (s *Server) SetFault(f func(*Request) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

type flight struct {
	reads, writes int
	what          []string
}

// Close stops the server, releasing requests held by Wait or hang faults.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// serveHTTP is the pipeline every request goes through: route, read body,
// authenticate, check, in-flight tracking, fault hook, per-issue write
// limit, apply, self-check of the answer, log.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, methodOK := s.match(r.Method, r.URL.Path)
	if rt == nil {
		if methodOK {
			s.t.Errorf("fake/jira: method %s not allowed on %s", r.Method, r.URL.Path)
			writeJSON(w, http.StatusMethodNotAllowed, nil, errBody("fake/jira: method not allowed"))
			s.log(Call{Method: r.Method, Route: "(no route)", Path: r.URL.Path, Status: http.StatusMethodNotAllowed})
			return
		}
		s.t.Errorf("fake/jira: unknown route %s %s (flavor %s)", r.Method, r.URL.RequestURI(), s.opts.Flavor)
		writeJSON(w, http.StatusNotFound, nil, errBody("fake/jira: no route for "+r.Method+" "+r.URL.Path))
		s.log(Call{Method: r.Method, Route: "(no route)", Path: r.URL.Path, Status: http.StatusNotFound})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	call := Call{Method: r.Method, Route: rt.pattern, Path: r.URL.Path, Write: rt.write}

	if rt.removed != "" {
		s.t.Errorf("fake/jira: %s %s was removed from Jira %s: %s", r.Method, r.URL.Path, s.opts.Flavor, rt.removed)
		call.Status = http.StatusGone
		s.log(call)
		writeJSON(w, http.StatusGone, nil, errBody(rt.removed))
		return
	}

	cred, status, msg := s.authenticate(r)
	if cred != nil {
		call.Cred = cred.Name
	}
	if status != 0 {
		call.Status = status
		s.log(call)
		writeJSON(w, status, nil, errBody(msg))
		return
	}
	if err := s.check(rt, r, body); err != nil {
		s.t.Errorf("fake/jira: request check failed for %s %s: %v", r.Method, r.URL.RequestURI(), err)
		call.Status = http.StatusBadRequest
		s.log(call)
		writeJSON(w, http.StatusBadRequest, nil, errBody("fake/jira: request check: "+err.Error()))
		return
	}

	req := &request{s: s, r: r, body: body, cred: cred, params: params, route: rt}
	flightKey := s.flightKey(req)
	s.mu.Lock()
	s.routeSeq[r.Method+" "+rt.pattern]++
	call.Seq = s.routeSeq[r.Method+" "+rt.pattern]
	if id, ok := s.lookupIDLocked(params["issueIdOrKey"]); ok {
		call.Issue = strconv.FormatInt(id, 10)
	}
	faultFn := s.fault
	s.mu.Unlock()

	// A hang or drop outlives the call's effect: tracking stops once the
	// request is applied, so a client's retry after its timeout is not
	// reported as an overlap.
	leave := s.enterFlight(flightKey, call)
	left := false
	leaveOnce := func() {
		if !left {
			left = true
			leave()
		}
	}
	defer leaveOnce()

	var f Fault
	if faultFn != nil {
		f = faultFn(&Request{Call: call, Body: body, HTTP: r})
	}
	if f.Wait != nil {
		select {
		case <-f.Wait:
		case <-r.Context().Done():
			s.log(call)
			return
		case <-s.closing:
			s.log(call)
			return
		}
	}
	switch f.Kind {
	case Answer:
		st := f.Status
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		call.Status = st
		s.log(call)
		if f.Body == "" {
			writeJSON(w, st, f.Header, errBody(http.StatusText(st)))
			return
		}
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(st)
		io.WriteString(w, f.Body)
		return
	case DropBeforeApply:
		s.log(call)
		drop(w)
		return
	}

	resp := s.limitWrite(req)
	if resp == nil {
		resp = rt.h(req)
	}
	s.selfCheck(r, rt, resp)
	switch f.Kind {
	case ApplyThenDrop:
		leaveOnce()
		s.log(call)
		drop(w)
		return
	case ApplyThenHang:
		leaveOnce()
		s.log(call)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		drop(w)
		return
	}
	call.Status = resp.status
	s.log(call)
	writeJSON(w, resp.status, resp.header, resp.body)
}

// jiraQuirks are where real Jira's answers differ from its own description
// and the fake copies Jira: datetimes like 2026-11-20T01:00:00.000-0800 (no
// colon in the offset, so not RFC 3339), null for empty fields the
// description does not mark nullable, an empty 201 for a new issue
// property, and the changelog's allOf that fails only on those dates.
var jiraQuirks = regexp.MustCompile(`doesn't match the format "date-time"|Value is not nullable \(got <nil>\)|header Content-Type has unexpected value: ""|at /changelog: doesn't match all schemas from "allOf"`)

// selfCheck validates the fake's own 2xx answers against the description
// (Cloud, default checker), so its shapes stay Jira's.
func (s *Server) selfCheck(r *http.Request, rt *route, resp *response) {
	if s.spec == nil || s.opts.NoResponseCheck || !rt.specChecked || resp.status/100 != 2 {
		return
	}
	route, err := s.spec.Find(r.Method, r.URL.EscapedPath())
	if err != nil {
		return
	}
	var body []byte
	if resp.body != nil {
		body, _ = json.Marshal(resp.body)
	}
	h := resp.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if body != nil {
		h.Set("Content-Type", "application/json;charset=UTF-8")
	}
	err = s.spec.CheckResponse(r, route, resp.status, h, body)
	var oe *openapi.Error
	if !errors.As(err, &oe) {
		if err != nil {
			s.t.Errorf("fake/jira: response check: %v", err)
		}
		return
	}
	for i, p := range oe.Problems {
		if i > 0 && !jiraQuirks.MatchString(p) { // [0] names the status
			s.t.Errorf("fake/jira: the fake's own answer to %s %s does not match the description: %s", r.Method, r.URL.Path, p)
		}
	}
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func (s *Server) log(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// flightKey names the mirror issue a request works on: the issue id for
// issue-scoped routes, the mirror key for a create that carries one.
func (s *Server) flightKey(req *request) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := req.params["issueIdOrKey"]; k != "" {
		if id, ok := s.lookupIDLocked(k); ok {
			return fmt.Sprintf("issue:%d", id)
		}
		return "issue:" + k
	}
	if req.route.pattern == "/rest/api/2/issue" && req.r.Method == http.MethodPost {
		var b struct {
			Properties []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		}
		if json.Unmarshal(req.body, &b) == nil {
			for _, p := range b.Properties {
				if p.Key == s.opts.MirrorKeyProperty {
					return "mirror:" + canonical(p.Value)
				}
			}
		}
	}
	return ""
}

func (s *Server) enterFlight(key string, c Call) func() {
	if key == "" {
		return func() {}
	}
	what := fmt.Sprintf("%s %s %s", c.Cred, c.Method, c.Path)
	s.mu.Lock()
	f := s.inflight[key]
	if f == nil {
		f = &flight{}
		s.inflight[key] = f
	}
	if f.writes > 0 || (c.Write && f.reads > 0) || (s.opts.OverlapReads && f.reads > 0) {
		msg := fmt.Sprintf("%s: %s overlaps %v", key, what, f.what)
		s.overlaps = append(s.overlaps, msg)
		s.t.Errorf("fake/jira: in-flight overlap on %s", msg)
	}
	if c.Write {
		f.writes++
	} else {
		f.reads++
	}
	f.what = append(f.what, what)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.Write {
			f.writes--
		} else {
			f.reads--
		}
		if i := slices.Index(f.what, what); i >= 0 {
			f.what = slices.Delete(f.what, i, i+1)
		}
		if f.reads == 0 && f.writes == 0 {
			delete(s.inflight, key)
		}
	}
}

// limitWrite answers 429 when a write to an existing issue would break a
// per-issue write window; otherwise it books the write and returns nil.
// Rejected writes are not booked.
func (s *Server) limitWrite(req *request) *response {
	if !req.route.write {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.lookupIDLocked(req.params["issueIdOrKey"])
	if !ok || len(s.limits) == 0 {
		return nil
	}
	now := s.now()
	log := s.writeLog[id]
	var longest time.Duration
	for _, w := range s.limits {
		longest = max(longest, w.Per)
	}
	kept := log[:0]
	for _, at := range log {
		if now.Sub(at) < longest {
			kept = append(kept, at)
		}
	}
	log = kept
	var wait time.Duration
	for _, w := range s.limits {
		var in []time.Time
		for _, at := range log {
			if now.Sub(at) < w.Per {
				in = append(in, at)
			}
		}
		if len(in) >= w.Limit {
			// the oldest write that must leave the window before one more fits
			free := in[len(in)-w.Limit].Add(w.Per).Sub(now)
			wait = max(wait, free)
		}
	}
	if wait > 0 {
		s.writeLog[id] = log
		secs := int((wait + time.Second - 1) / time.Second)
		h := http.Header{}
		h.Set("Retry-After", fmt.Sprint(secs))
		h.Set("RateLimit-Reason", "jira-per-issue-on-write")
		h.Set("X-RateLimit-Reset", now.Add(time.Duration(secs)*time.Second).UTC().Format("2006-01-02T15:04Z"))
		return &response{status: http.StatusTooManyRequests, header: h, body: errBody("Rate limit exceeded.")}
	}
	s.writeLog[id] = append(log, now)
	return nil
}

// authenticate maps the Authorization header to a credential: basic
// email:token on Cloud, bearer PAT on Data Center.
func (s *Server) authenticate(r *http.Request) (*credState, int, string) {
	h := r.Header.Get("Authorization")
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *credState
	switch s.opts.Flavor {
	case Cloud:
		email, token, ok := r.BasicAuth()
		if !ok {
			return nil, http.StatusUnauthorized, "Client must be authenticated to access this resource."
		}
		for _, c := range s.creds {
			if c.Email == email && c.Token == token && c.Token != "" {
				found = c
			}
		}
	case DataCenter:
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation."
		}
		for _, c := range s.creds {
			if c.PAT == tok && c.PAT != "" {
				found = c
			}
		}
	}
	if found == nil {
		return nil, http.StatusUnauthorized, "Client must be authenticated to access this resource."
	}
	if found.revoked {
		return found, http.StatusUnauthorized, "Client must be authenticated to access this resource."
	}
	return found, 0, ""
}

func (s *Server) check(rt *route, r *http.Request, body []byte) error {
	if s.opts.NoCheck {
		return nil
	}
	if err := s.shapeCheck(rt, r, body); err != nil {
		return err
	}
	if s.checker != nil && rt.specChecked {
		return s.checker.Check(r, stripReadOnly(rt, body))
	}
	return nil
}

// commentReadOnly are the Comment properties the description marks
// read-only. Jira ignores them in a request, and go-jira's Comment always
// sends "author": {} and "updateAuthor": {}, so they are dropped before the
// description check (which would refuse them) rather than failing a request
// the real Jira accepts.
var commentReadOnly = []string{"author", "updateAuthor", "created", "updated", "id", "self", "jsdPublic", "jsdAuthorCanSeeRequest", "renderedBody"}

func stripReadOnly(rt *route, body []byte) []byte {
	if !strings.HasSuffix(rt.pattern, "/comment") && !strings.HasSuffix(rt.pattern, "/comment/{id}") {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	n := len(m)
	for _, k := range commentReadOnly {
		delete(m, k)
	}
	if len(m) == n {
		return body
	}
	b, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return b
}

// request is one request being served.
type request struct {
	s      *Server
	r      *http.Request
	body   []byte
	cred   *credState
	params map[string]string
	route  *route
}

func (q *request) query(name string) string { return q.r.URL.Query().Get(name) }

// list reads a query parameter that Jira takes both repeated and
// comma-separated.
func (q *request) list(name string) []string {
	var out []string
	for _, v := range q.r.URL.Query()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

type response struct {
	status int
	header http.Header
	body   any
}

func ok(status int, body any) *response { return &response{status: status, body: body} }

// errBody is Jira's error shape.
func errBody(msgs ...string) map[string]any {
	if msgs == nil {
		msgs = []string{}
	}
	return map[string]any{"errorMessages": msgs, "errors": map[string]string{}}
}

func fail(status int, msgs ...string) *response { return ok(status, errBody(msgs...)) }

func fieldErrs(errs map[string]string) *response {
	return ok(http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, body any) {
	for k, v := range h {
		w.Header()[k] = v
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}
