// Package github is vitrine's GitHub connector: a Source reading the
// agency's private repository (read-only credential), a Target writing the
// curated mirror into a customer-facing repository (write credential), and
// a webhook Parser for /webhooks/github.
//
// go-github v62 types stay inside this package. Every request goes through
// one connectors/httpapi client: it retries only idempotent requests,
// turns GitHub's primary and secondary rate-limit answers (403 and 429)
// into *connectors.RateLimited, and, for a target, asks the credential's
// pacer before every write. go-github's own rate-limit bookkeeping (which
// runs on the wall clock and would refuse requests without sending them)
// is kept blind; its errors are converted when they happen anyway.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/worker"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com"

// perPage is GitHub's largest page.
const perPage = 100

// api is one repository as seen through one credential.
type api struct {
	c           *gh.Client
	owner, name string
	repo        string // owner/name as configured (display and errors)
	cred        string
	clk         clock.Clock
	graphqlURL  string
}

// Blocker tells whether a credential is blocked after a vendor's
// rate-limit answer; *pace.Pacer implements it. The pacing gate holds
// writes back; with a Blocker, reads wait out the block too, so nothing
// at all is sent on the credential before GitHub allows it again.
type Blocker interface {
	Stats(ctx context.Context, cred string) (pace.Stats, error)
}

// Spread staggers the keys a pacer refuses at one instant. The pacer
// answers every refused key of a lane with the same "not before" time, so
// N waiting keys would all be claimed again at that time, one would write
// and N-1 would be refused again: N passes per write. Spread hands out
// consecutive slots (one MinGap apart) instead, per credential and lane.
// Share one Spread between all sources and targets of an app.
type Spread struct {
	Gap time.Duration // default 1 s, GitHub's gap between mutating requests
	// Max bounds how far past the pacer's time a key is pushed (default 2 min).
	Max time.Duration

	mu   sync.Mutex
	last map[spreadKey]time.Time
}

type spreadKey struct {
	cred string
	lane store.Lane
}

// NewSpread returns a Spread with the defaults.
func NewSpread() *Spread { return &Spread{} }

func spreadOr(s *Spread) *Spread {
	if s == nil {
		return NewSpread()
	}
	return s
}

func (s *Spread) slot(cred string, lane store.Lane, at time.Time) time.Time {
	gap, most := s.Gap, s.Max
	if gap <= 0 {
		gap = time.Second
	}
	if most <= 0 {
		most = 2 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[spreadKey]time.Time{}
	}
	k := spreadKey{cred, lane}
	next := at
	if l, ok := s.last[k]; ok && !l.Add(gap).Before(at) {
		next = l.Add(gap)
	}
	if next.After(at.Add(most)) {
		next = at.Add(most)
	}
	s.last[k] = next
	return next
}

// shield is the transport under go-github: the read gate, the httpapi
// policy, then the rate-limit headers removed from the answer. httpapi has
// already turned every rate-limit answer into an error by then; go-github
// would otherwise remember "remaining 0" and refuse later requests on the
// wall clock without sending them.
type shield struct {
	next    http.RoundTripper
	blocker Blocker
	spread  *Spread
	cred    string
	clk     clock.Clock
}

func (s shield) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.blocker != nil {
		st, err := s.blocker.Stats(req.Context(), s.cred)
		if err != nil {
			return nil, fmt.Errorf("github: pacer: %w", err)
		}
		if st.BlockedUntil.After(s.clk.Now()) {
			if req.Body != nil {
				req.Body.Close()
			}
			// The pacer's own refusal: the key is rescheduled, the block
			// is not extended.
			return nil, s.paced(req, st.BlockedUntil)
		}
	}
	resp, err := s.next.RoundTrip(req)
	var rl *connectors.RateLimited
	if err != nil && errors.Is(err, pace.ErrPaced) && errors.As(err, &rl) {
		return nil, s.paced(req, rl.Until)
	}
	if resp != nil {
		resp.Header.Del("X-Ratelimit-Remaining")
		resp.Header.Del("X-Ratelimit-Reset")
	}
	return resp, err
}

// paced is the pacer's refusal of req, in its spread slot.
func (s shield) paced(req *http.Request, at time.Time) error {
	if s.spread != nil {
		lane := store.LaneUpdate
		if pi, ok := worker.PaceInfoFrom(req.Context()); ok {
			lane = pi.Lane
		}
		at = s.spread.slot(s.cred, lane, at)
	}
	return pace.Paced(s.cred, at)
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newAPI builds the go-github client over hc (an httpapi client). Redirects
// are not followed: a 301 on an issue is a transfer and must be seen as one.
func newAPI(hc *httpapi.Client, apiURL, token, repo string, clk clock.Clock, blocker Blocker, spread *Spread) (*api, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(repo), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("github: repository %q is not owner/name", repo)
	}
	if hc == nil {
		return nil, fmt.Errorf("github %s: an HTTP client is required", repo)
	}
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	base, err := url.Parse(strings.TrimRight(apiURL, "/") + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github %s: api url is not an http(s) URL", repo)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	client := &http.Client{Transport: shield{next: hc, blocker: blocker, spread: spread, cred: hc.Credential(), clk: clk},
		CheckRedirect: noRedirect, Timeout: hc.HTTP().Timeout}
	c := gh.NewClient(client)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	c.BaseURL = base
	up := *base
	c.UploadURL = &up
	gq := *base
	if p, ok := strings.CutSuffix(base.Path, "/api/v3/"); ok {
		gq.Path = p + "/api/graphql" // GitHub Enterprise Server
	} else {
		gq.Path = base.Path + "graphql"
	}
	return &api{c: c, owner: owner, name: name, repo: owner + "/" + name,
		cred: hc.Credential(), clk: clk, graphqlURL: gq.String()}, nil
}

// path joins the repository's API path with more segments (escaped).
func (a *api) path(parts ...string) string {
	var b strings.Builder
	b.WriteString("repos/")
	b.WriteString(url.PathEscape(a.owner))
	b.WriteByte('/')
	b.WriteString(url.PathEscape(a.name))
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// answer is the outcome of one call: the status and validators of the
// response, when one came back.
type answer struct {
	Status int
	ETag   string
	Next   bool // the Link header names a next page
	NotMod bool // 304
}

// call sends one request. A 2xx decodes into v (when non-nil); a 304 is
// answer.NotMod with a nil error; any other status comes back as a
// *statusError. Rate limits are *connectors.RateLimited (wrapped).
func (a *api) call(ctx context.Context, method, path string, query url.Values, body any, etag string, v any) (answer, error) {
	u := path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := a.c.NewRequest(method, u, body)
	if err != nil {
		return answer{}, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := a.c.Do(ctx, req, v)
	var ans answer
	if resp != nil && resp.Response != nil {
		ans = answer{Status: resp.StatusCode, ETag: resp.Header.Get("Etag"), Next: resp.NextPage != 0}
	}
	if err == nil {
		return ans, nil
	}
	if rl := a.rateLimit(err); rl != nil {
		return ans, rl
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if er.Response.StatusCode == http.StatusNotModified {
			ans.NotMod = true
			return ans, nil
		}
		return ans, &statusError{Status: er.Response.StatusCode, Method: method, Path: redactPath(path), Message: er.Message, Errors: er.Errors}
	}
	var ae *gh.AcceptedError
	if errors.As(err, &ae) {
		return ans, &statusError{Status: http.StatusAccepted, Method: method, Path: redactPath(path), Message: "accepted, not done"}
	}
	return ans, err
}

// rateLimit converts every shape a rate limit can take here into a
// *connectors.RateLimited: httpapi's own (passed through), and go-github's
// pre-request refusals, which should not happen with the shield in place.
// A secondary limit without Retry-After waits a minute: go-github fills
// RetryAfter from x-ratelimit-reset, which belongs to the primary window.
func (a *api) rateLimit(err error) error {
	var rl *connectors.RateLimited
	if errors.As(err, &rl) {
		return err
	}
	now := a.clk.Now()
	var pe *gh.RateLimitError
	if errors.As(err, &pe) {
		until := pe.Rate.Reset.Time
		if !until.After(now) {
			until = now.Add(time.Minute)
		}
		return &connectors.RateLimited{Credential: a.cred, Until: until, Err: fmt.Errorf("github: %s", pe.Message)}
	}
	var se *gh.AbuseRateLimitError
	if errors.As(err, &se) {
		until := now.Add(time.Minute)
		if se.Response != nil {
			if s, perr := strconv.Atoi(strings.TrimSpace(se.Response.Header.Get("Retry-After"))); perr == nil && s > 0 {
				until = now.Add(time.Duration(s) * time.Second)
			}
		}
		return &connectors.RateLimited{Credential: a.cred, Until: until, Secondary: true, Err: fmt.Errorf("github: %s", se.Message)}
	}
	return nil
}

// statusError is a non-2xx answer other than 304.
type statusError struct {
	Status  int
	Method  string
	Path    string
	Message string
	Errors  []gh.Error
}

func (e *statusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, clip(msg, 200))
	for _, x := range e.Errors {
		s += fmt.Sprintf(" [%s %s %s]", x.Resource, x.Field, x.Code)
	}
	return s
}

// statusOf is the HTTP status of a failed call, 0 when none came back.
func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// hasCode reports a 422 naming code (already_exists, invalid, ...).
func hasCode(err error, code string) bool {
	var se *statusError
	if !errors.As(err, &se) || se.Status != http.StatusUnprocessableEntity {
		return false
	}
	for _, x := range se.Errors {
		if x.Code == code {
			return true
		}
	}
	return strings.Contains(strings.ToLower(se.Message), strings.ReplaceAll(code, "_", " "))
}

// redactPath keeps paths loggable: they hold repository names and numbers,
// never tokens; only the length is bounded.
func redactPath(p string) string { return clip(p, 160) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// graphql sends one GraphQL request through the same client and policy.
func (a *api) graphql(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := a.c.NewRequest(http.MethodPost, a.graphqlURL, json.RawMessage(body))
	if err != nil {
		return err
	}
	var raw json.RawMessage
	resp, err := a.c.Do(ctx, req, &raw)
	if err != nil {
		if rl := a.rateLimit(err); rl != nil {
			return rl
		}
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil {
			return &statusError{Status: er.Response.StatusCode, Method: "POST", Path: "graphql", Message: er.Message}
		}
		return err
	}
	_ = resp
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("graphql: decode: %w", err)
	}
	if len(env.Errors) > 0 {
		return &gqlErrors{env.Errors}
	}
	if out != nil && len(env.Data) > 0 {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

type gqlError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type gqlErrors struct{ errs []gqlError }

func (e *gqlErrors) Error() string {
	var parts []string
	for _, x := range e.errs {
		parts = append(parts, strings.TrimSpace(x.Type+" "+clip(x.Message, 200)))
	}
	return "graphql: " + strings.Join(parts, "; ")
}

func (e *gqlErrors) has(typ string) bool {
	for _, x := range e.errs {
		if x.Type == typ {
			return true
		}
	}
	return false
}
