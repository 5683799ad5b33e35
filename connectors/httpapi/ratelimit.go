package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vitrine/connectors"
)

// secondaryWait is how long to wait after a secondary limit that names no
// time: GitHub asks for at least a minute.
const secondaryWait = time.Minute

// peekLimit bounds how much of a 403 body is read to tell a rate limit from
// a permission error; the body stays readable for the caller.
const peekLimit = 64 << 10

// CheckRateLimit turns a rate-limit answer into a *connectors.RateLimited
// for cred; any other response gives nil and stays readable (a 403 body
// that was inspected is put back).
//
// A rate limit is a 429, or a 403 that says so: x-ratelimit-remaining 0
// (GitHub's primary limit), a Retry-After header, or a message about a
// secondary rate limit or abuse detection. It is Secondary unless
// x-ratelimit-remaining is 0. Until comes from Retry-After (seconds or an
// HTTP date); else, for a primary limit, from x-ratelimit-reset (Unix
// seconds, or Jira's ISO 8601 time); else a secondary limit waits at least
// a minute. GitHub's reset on a secondary answer is the primary window's and
// is not used.
func CheckRateLimit(resp *http.Response, cred string, now time.Time) error {
	if resp == nil {
		return nil
	}
	h := resp.Header
	primary := strings.TrimSpace(h.Get("X-Ratelimit-Remaining")) == "0"
	after, hasAfter := parseRetryAfter(h.Get("Retry-After"), now)
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
	case http.StatusForbidden:
		if !primary && !hasAfter && !bodySaysRateLimit(resp) {
			return nil
		}
	default:
		return nil
	}
	reset, resetISO, hasReset := parseReset(h.Get("X-Ratelimit-Reset"))
	var until time.Time
	switch {
	case hasAfter:
		until = after
	case primary && hasReset:
		until = reset
	case primary:
		until = now.Add(secondaryWait)
	default:
		until = now.Add(secondaryWait)
		if hasReset && resetISO && reset.After(until) {
			until = reset
		}
	}
	if !until.After(now) {
		// A stale reset or a zero Retry-After: never ask again at once.
		until = now.Add(time.Second)
	}
	kind := "secondary rate limit"
	if primary {
		kind = "rate limit exhausted"
	}
	if r := label(h.Get("Ratelimit-Reason")); r != "" {
		kind += " (" + r + ")"
	}
	return &connectors.RateLimited{
		Credential: cred,
		Until:      until,
		Secondary:  !primary,
		Err:        fmt.Errorf("HTTP %d: %s", resp.StatusCode, kind),
	}
}

func parseRetryAfter(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > int64(24*time.Hour/time.Second) {
			return time.Time{}, false
		}
		return now.Add(time.Duration(s) * time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// parseReset reads x-ratelimit-reset: Unix seconds (GitHub) or an ISO 8601
// time (Jira, "yyyy-MM-ddTHH:mmZ").
func parseReset(v string) (t time.Time, iso, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
		return time.Unix(s, 0), false, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true, true
		}
	}
	return time.Time{}, false, false
}

func bodySaysRateLimit(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	orig := resp.Body
	buf, err := io.ReadAll(io.LimitReader(orig, peekLimit))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), errReader{err}, orig), orig}
	msg := strings.ToLower(string(buf))
	return strings.Contains(msg, "secondary rate limit") ||
		strings.Contains(msg, "rate limit exceeded") ||
		strings.Contains(msg, "abuse")
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errReader replays a read error met while peeking, after the peeked bytes.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// label keeps a vendor's reason header safe to log: short, plain.
func label(v string) string {
	var b strings.Builder
	for _, r := range v {
		if b.Len() >= 48 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
