// Package jira connects vitrine to Jira Cloud and Jira Data Center: a
// read-only Source (cursor polls over JQL search, re-verification of
// published issues, comments decoded with their JSM visibility), a mirror
// Target (one issue per published item, written in escaped wiki markup
// through /rest/api/2, statuses reached through the workflow), webhook
// parsing, and the online checks of `vitrine validate --online`.
//
// andygrunwald/go-jira v1.17.0 builds and sends the requests (its client
// runs on the httpapi client, so retries, rate limits and pacing follow the
// one HTTP policy); answers are decoded into this package's own types,
// because go-jira's types drop what matters here (jsdPublic and comment
// properties, nextPageToken, status categories, the raw time zone of
// dates). Its types never leave this package.
package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"vitrine/connectors"
	"vitrine/connectors/httpapi"
)

// Deployment is the kind of Jira a site runs.
type Deployment string

const (
	// Cloud: *.atlassian.net, email + API token, /rest/api/2/search/jql.
	Cloud Deployment = "cloud"
	// DataCenter: Jira Data Center or Server, personal access token,
	// /rest/api/2/search.
	DataCenter Deployment = "datacenter"
)

// Auth is how requests authenticate: Cloud takes an account's email and API
// token (basic auth), Data Center a personal access token (bearer). It never
// prints its secrets.
type Auth struct {
	Email string
	Token string // Cloud API token
	PAT   string // Data Center personal access token
}

func (a Auth) String() string   { return "jira.Auth{redacted}" }
func (a Auth) GoString() string { return a.String() }

func (a Auth) check(d Deployment) error {
	switch d {
	case Cloud:
		if a.Email == "" || a.Token == "" {
			return errors.New("Jira Cloud needs an account email and an API token (JIRA_EMAIL, JIRA_API_TOKEN)")
		}
	case DataCenter:
		if a.PAT == "" {
			return errors.New("Jira Data Center needs a personal access token (JIRA_PAT)")
		}
	default:
		return fmt.Errorf("unknown deployment %q (want cloud or datacenter)", d)
	}
	return nil
}

// conn is one authenticated connection to a site.
type conn struct {
	site    *url.URL // scheme://host[/context], no trailing slash
	dep     Deployment
	jc      *gojira.Client
	maxBody int64
}

func newConn(site string, dep Deployment, hc *httpapi.Client, auth Auth) (*conn, error) {
	if hc == nil {
		return nil, errors.New("an HTTP client (httpapi) is required")
	}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(site), "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("site URL %q is not an http(s) URL", site)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	if err := auth.check(dep); err != nil {
		return nil, err
	}
	var jc *gojira.Client
	switch dep {
	case Cloud:
		jc, err = gojira.NewClient(hc.HTTP(), u.String())
		if err == nil {
			jc.Authentication.SetBasicAuth(auth.Email, auth.Token)
		}
	case DataCenter:
		inner := hc.HTTP()
		bt := &gojira.BearerAuthTransport{Token: auth.PAT, Transport: inner.Transport}
		jc, err = gojira.NewClient(&http.Client{Transport: bt, Timeout: inner.Timeout, CheckRedirect: inner.CheckRedirect}, u.String())
	}
	if err != nil {
		return nil, err
	}
	return &conn{site: u, dep: dep, jc: jc, maxBody: httpapi.DefaultMaxBody}, nil
}

// apiError is a Jira answer outside 2xx, with Jira's own messages.
type apiError struct {
	Method   string
	Path     string
	Status   int
	Messages []string
}

func (e *apiError) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
}

// statusOf is the HTTP status of a Jira answer in err, or 0.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends one request and decodes a 2xx answer into out (when not nil).
// Errors name the method and path, never the query (it carries JQL) or
// credentials; rate limits come back as *connectors.RateLimited inside.
func (c *conn) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := strings.TrimPrefix(path, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := c.jc.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.jc.Do(req, nil)
	if resp == nil || resp.Response == nil {
		if err == nil {
			err = errors.New("no response")
		}
		var rl *connectors.RateLimited
		if errors.As(err, &rl) {
			return fmt.Errorf("%s %s: %w", method, path, rl)
		}
		return fmt.Errorf("%s %s: %w", method, path, redactURLError(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeAPIError(method, path, resp.Response, c.maxBody)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := httpapi.DecodeJSON(resp.Body, c.maxBody, out); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty 2xx (Jira answers 201 with no body for a new property)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// redactURLError drops the URL (its query carries JQL) from a transport error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeAPIError(method, path string, resp *http.Response, max int64) error {
	e := &apiError{Method: method, Path: path, Status: resp.StatusCode}
	b, _ := httpapi.ReadBody(resp.Body, min(max, 1<<20))
	var body struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Messages = append(e.Messages, body.ErrorMessages...)
		for _, k := range sortedKeys(body.Errors) {
			e.Messages = append(e.Messages, k+": "+body.Errors[k])
		}
		if body.Message != "" {
			e.Messages = append(e.Messages, body.Message)
		}
	}
	for i, m := range e.Messages {
		if len(m) > 300 {
			e.Messages[i] = m[:300] + "…"
		}
	}
	return e
}

// browseURL is the page on the site.
func (c *conn) browseURL(key string) string {
	return c.site.String() + "/browse/" + url.PathEscape(key)
}

// jiraTimeLayouts are the shapes Jira writes datetimes in: milliseconds
// and an offset without a colon, in the reading user's zone.
var jiraTimeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05-0700",
	time.RFC3339Nano,
}

// parseTime reads a Jira datetime; the result is in UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range jiraTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a Jira datetime: %q", s)
}

// timeOffset is the UTC offset (seconds) a Jira datetime was written with.
func timeOffset(s string) (int, bool) {
	for _, l := range jiraTimeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			_, off := t.Zone()
			return off, true
		}
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Subject names the Jira issue a write goes to, for the per-issue write
// limit of Jira Cloud (httpapi.Options.Subject): "issue:<id or key>" for
// every /rest/api/2/issue/{issueIdOrKey}/... write, "" for anything else (a
// create has no issue yet). The target always addresses issues by id, so
// one issue is one subject.
func Subject(req *http.Request) string {
	p := req.URL.Path
	i := strings.Index(p, "/rest/api/")
	if i < 0 {
		return ""
	}
	segs := strings.Split(strings.Trim(p[i:], "/"), "/")
	// rest api <version> issue <idOrKey> ...
	if len(segs) >= 5 && segs[3] == "issue" && segs[4] != "" {
		return "issue:" + segs[4]
	}
	return ""
}
