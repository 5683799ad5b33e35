// Package httpapi is vitrine's one HTTP client policy for tracker APIs.
//
// It retries only idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS;
// POST and PATCH only when the caller says so with WithRetry), only on
// transient failures (no connection, 502, 503, 504; 500 for GET), briefly
// (at most 2 retries with a small capped, jittered backoff). A create that
// was sent may have landed: it is never blindly re-sent, the caller looks for
// its key first. Rate-limit answers are never retried here: they become a
// *connectors.RateLimited error that the queue reschedules against the
// credential's pacer. Every other answer, error statuses included, reaches
// the caller with its body readable.
//
// With a Pacer in its Options the client is also the pacing transport: each
// write (and each retry of one) asks the pacer first, in the lane of the
// pass it belongs to, and a refused write is not sent but returned as
// pace.Paced, which the queue reschedules like any rate limit.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/pace"
	"vitrine/store"
)

// MaxRetries is the most retries the policy allows: retries are for blips,
// longer outages are the queue's business.
const MaxRetries = 2

// Options configures a Client. Credential and Target are labels for pacing,
// metrics and logs, never secrets.
type Options struct {
	// Credential names the identity the requests authenticate as
	// ("github:vitrine-bot"); rate-limit errors carry it for the pacer.
	Credential string
	// Target is the default metrics label of requests ("github:acme/acme-status");
	// WithTarget overrides it per request.
	Target string
	Clock  clock.Clock     // default clock.Real
	Logger *zerolog.Logger // nil: no logging
	// Registerer receives the request, retry and rate-limit counters; nil:
	// no metrics. Clients may share one registry.
	Registerer prometheus.Registerer
	// Transport sends the requests (authentication goes here or in the SDK);
	// default a pooled go-cleanhttp transport.
	Transport http.RoundTripper
	// Timeout bounds one call, retries and backoff included (default 30 s).
	Timeout time.Duration
	// RetryMax is the number of retries of a retryable request: 0 means
	// MaxRetries, negative means none, more than MaxRetries is refused.
	RetryMax int
	// BackoffMin and BackoffMax bound the wait before a retry (defaults
	// 250 ms and 2 s); the wait doubles per retry, with jitter.
	BackoffMin, BackoffMax time.Duration
	// Sleep waits before a retry (default Clock.Sleep): tests wait on a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a random duration in [0, d] (default math/rand/v2).
	Jitter func(d time.Duration) time.Duration
	// MaxBody caps every response body; past it a read fails with
	// ErrTooLarge (default DefaultMaxBody, negative: no cap).
	MaxBody int64

	// Pacer, when set, gates every write (POST, PUT, PATCH, DELETE) and
	// every retry of one: a refused write is not sent and comes back as
	// pace.Paced (a *connectors.RateLimited wrapping pace.ErrPaced).
	Pacer Pacer
	// PaceInfo reads the lane and queue key of the pass a request belongs
	// to (the app wires worker.PaceLaneKey). Without it, or when it finds
	// none, a write is paced in the update lane under its method and path.
	PaceInfo func(ctx context.Context) (lane store.Lane, key string, ok bool)
	// Subject names what a write is to for per-subject limits (a Jira
	// issue); nil or "" for none.
	Subject func(req *http.Request) string
}

// Pacer grants writes per credential; *pace.Pacer implements it.
type Pacer interface {
	TakeSubject(ctx context.Context, cred string, lane store.Lane, key, subject string) (ok bool, at time.Time, err error)
}

// Client sends requests under the policy. It is an http.RoundTripper, and
// HTTP gives the *http.Client to hand to go-github or go-jira.
type Client struct {
	cred, target string
	clk          clock.Clock
	log          zerolog.Logger
	m            *metrics
	rc           *retryablehttp.Client
	hc           *http.Client
	sleep        func(context.Context, time.Duration) error
	jitter       func(time.Duration) time.Duration
	bmin, bmax   time.Duration
	maxBody      int64
	pacer        Pacer
	paceInfo     func(context.Context) (store.Lane, string, bool)
	subject      func(*http.Request) string
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$`)

// tokenPrefixes are the shapes of GitHub and Atlassian tokens: a label that
// starts like one is a secret put in the wrong place.
var tokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "ATATT", "ATCTT", "Bearer", "token "}

func checkLabel(what, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !labelRE.MatchString(v) {
		return fmt.Errorf("httpapi: %s label must be 1-128 characters of letters, digits and ._:/@- (got %d characters)", what, len(v))
	}
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(v, p) {
			return fmt.Errorf("httpapi: %s label looks like a token; labels name a credential, never hold it", what)
		}
	}
	return nil
}

// New validates o and builds a Client (no I/O).
func New(o Options) (*Client, error) {
	if err := checkLabel("credential", o.Credential, true); err != nil {
		return nil, err
	}
	if err := checkLabel("target", o.Target, false); err != nil {
		return nil, err
	}
	if o.RetryMax > MaxRetries {
		return nil, fmt.Errorf("httpapi: retry_max %d exceeds %d", o.RetryMax, MaxRetries)
	}
	retries := o.RetryMax
	switch {
	case retries == 0:
		retries = MaxRetries
	case retries < 0:
		retries = 0
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Sleep == nil {
		o.Sleep = o.Clock.Sleep
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d + 1)
		}
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 250 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 2 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		return nil, fmt.Errorf("httpapi: backoff max %s below min %s", o.BackoffMax, o.BackoffMin)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Transport == nil {
		o.Transport = cleanhttp.DefaultPooledTransport()
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	log := zerolog.Nop()
	if o.Logger != nil {
		log = o.Logger.With().Str("credential", o.Credential).Logger()
	}
	c := &Client{
		cred:     o.Credential,
		target:   o.Target,
		clk:      o.Clock,
		log:      log,
		m:        m,
		sleep:    o.Sleep,
		jitter:   o.Jitter,
		bmin:     o.BackoffMin,
		bmax:     o.BackoffMax,
		maxBody:  o.MaxBody,
		pacer:    o.Pacer,
		paceInfo: o.PaceInfo,
		subject:  o.Subject,
	}
	var rlog any // nil interface: go-retryablehttp logs nothing
	if o.Logger != nil {
		rlog = leveled{log}
	}
	c.rc = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: attempts{c: c, base: o.Transport},
			// Redirects come back to the outer client, so each hop passes
			// through the policy (and Authorization is dropped off-host there).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:   rlog,
		RetryMax: retries,
		// go-retryablehttp waits on a real timer: it gets zero, and the
		// wait happens in PrepareRetry on our clock.
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		CheckRetry:   c.checkRetry,
		PrepareRetry: c.prepareRetry,
		// The caller gets the final response (and can read its body)
		// instead of a "giving up" error.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c.hc = &http.Client{Transport: c, Timeout: o.Timeout}
	return c, nil
}

// HTTP returns the *http.Client to hand to an SDK (go-github, go-jira).
// Rate-limit answers come back from it as errors wrapping
// *connectors.RateLimited (errors.As finds them).
func (c *Client) HTTP() *http.Client { return c.hc }

// Credential is the credential label the client was built for.
func (c *Client) Credential() string { return c.cred }

// Do sends req under the policy. Errors never carry the URL's query.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = redactedURL(u)
		} else {
			ue.URL = "[url]"
		}
	}
	return resp, err
}

type retryKey struct{}

// WithRetry overrides the policy's choice for requests made with ctx:
// true makes a POST or PATCH retryable (the caller knows it is safe to
// repeat), false forbids retrying any request.
func WithRetry(ctx context.Context, retry bool) context.Context {
	return context.WithValue(ctx, retryKey{}, retry)
}

type targetKey struct{}

// WithTarget labels requests made with ctx for metrics and logs.
func WithTarget(ctx context.Context, target string) context.Context {
	return context.WithValue(ctx, targetKey{}, target)
}

// Retryable reports whether the policy would retry a request with method
// made with ctx.
func Retryable(ctx context.Context, method string) bool {
	if v, ok := ctx.Value(retryKey{}).(bool); ok {
		return v
	}
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// call is one logical request across its attempts.
type call struct {
	method, target string
	retry          bool
	attempt        int // attempts sent so far
}

type callKey struct{}

func callFrom(ctx context.Context) *call {
	st, _ := ctx.Value(callKey{}).(*call)
	return st
}

// RoundTrip implements http.RoundTripper.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	target, _ := ctx.Value(targetKey{}).(string)
	if target == "" {
		target = c.target
	}
	st := &call{method: method, target: target, retry: Retryable(ctx, method)}
	if err := c.gate(ctx, req, st); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	rreq, err := retryablehttp.FromRequest(req.WithContext(context.WithValue(ctx, callKey{}, st)))
	if err != nil {
		return nil, err
	}
	resp, err := c.rc.Do(rreq)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		// The outer http.Client adds the URL again.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	if rl := CheckRateLimit(resp, c.cred, c.clk.Now()); rl != nil {
		drain(resp.Body)
		var r *connectors.RateLimited
		errors.As(rl, &r)
		kind := "primary"
		if r.Secondary {
			kind = "secondary"
		}
		c.m.rateLimited(c.cred, kind)
		c.log.Warn().Str("target", target).Str("method", method).Str("url", redactedURL(req.URL)).
			Int("status", resp.StatusCode).Bool("secondary", r.Secondary).Time("until", r.Until).
			Msg("rate limited")
		return nil, rl
	}
	if c.maxBody > 0 && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = &capped{rc: resp.Body, left: c.maxBody}
	}
	return resp, nil
}

func drain(b io.ReadCloser) {
	if b == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(b, peekLimit))
	b.Close()
}

// checkRetry is the whole retry policy (go-retryablehttp's CheckRetry).
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	st := callFrom(ctx)
	if st == nil || !st.retry {
		return false, nil
	}
	if err != nil {
		// The library's judgement of connection errors: not for TLS
		// verification, bad schemes, headers or redirect loops.
		retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err)
		return retry, nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	case http.StatusInternalServerError:
		// A 500 on a write may have half-applied; on a read it is a blip.
		return st.method == http.MethodGet, nil
	}
	return false, nil
}

// prepareRetry waits out the backoff on the client's clock before a retry.
func (c *Client) prepareRetry(req *http.Request) error {
	st := callFrom(req.Context())
	if st == nil {
		return errors.New("httpapi: retry without call state")
	}
	d := c.backoff(st.attempt)
	c.m.retry(st.target, st.method)
	c.log.Debug().Str("target", st.target).Str("method", st.method).Str("url", redactedURL(req.URL)).
		Int("retry", st.attempt).Dur("wait", d).Msg("retrying")
	if err := c.sleep(req.Context(), d); err != nil {
		return err
	}
	// A retried write is one more write on the credential.
	return c.gate(req.Context(), req, st)
}

// gate asks the pacer before a write is sent.
func (c *Client) gate(ctx context.Context, req *http.Request, st *call) error {
	if c.pacer == nil || !isWrite(st.method) {
		return nil
	}
	lane, key, ok := store.LaneUpdate, "", false
	if c.paceInfo != nil {
		lane, key, ok = c.paceInfo(ctx)
	}
	if !ok || key == "" {
		lane, key = store.LaneUpdate, "http:"+st.method+" "+req.URL.Path
	}
	subject := ""
	if c.subject != nil {
		subject = c.subject(req)
	}
	granted, at, err := c.pacer.TakeSubject(ctx, c.cred, lane, key, subject)
	if err != nil {
		return fmt.Errorf("httpapi %s: pacer: %w", c.cred, err)
	}
	if granted {
		return nil
	}
	c.m.rateLimited(c.cred, "paced")
	c.log.Debug().Str("target", st.target).Str("method", st.method).Str("url", redactedURL(req.URL)).
		Time("not_before", at).Msg("write paced")
	return pace.Paced(c.cred, at)
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// backoff is the wait before retry n (1-based): min·2^(n-1), capped at max,
// of which the upper half is jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.bmin
	for i := 1; i < n && d < c.bmax; i++ {
		d *= 2
	}
	d = min(d, c.bmax)
	return d/2 + min(c.jitter(d/2), d/2)
}

// attempts is the transport under go-retryablehttp: one call per attempt,
// counted and logged (method, endpoint, status; never headers or query).
type attempts struct {
	c    *Client
	base http.RoundTripper
}

func (a attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	st := callFrom(req.Context())
	target, method := a.c.target, req.Method
	if st != nil {
		st.attempt++
		target, method = st.target, st.method
	}
	resp, err := a.base.RoundTrip(req)
	class := "error"
	ev := a.c.log.Debug()
	if err == nil {
		class = strconv.Itoa(resp.StatusCode/100) + "xx"
		ev = ev.Int("status", resp.StatusCode)
	} else {
		ev = ev.Str("error", scrubErr(err))
	}
	a.c.m.request(target, method, class)
	ev.Str("target", target).Str("method", method).Str("url", redactedURL(req.URL)).Msg("http attempt")
	return resp, err
}
