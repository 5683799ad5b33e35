package httpapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/rs/zerolog"
)

// leveled feeds go-retryablehttp's log lines to zerolog. Every value is
// scrubbed: the library puts whole URLs (query included) into its messages
// and errors, and a query may carry a secret. Headers are never logged.
type leveled struct{ l zerolog.Logger }

// Error is a failed attempt the policy may retry; the caller owns (and
// logs) the final error, so an attempt's failure is only a warning.
func (a leveled) Error(msg string, kv ...any) { a.emit(a.l.Warn(), msg, kv) }
func (a leveled) Warn(msg string, kv ...any)  { a.emit(a.l.Warn(), msg, kv) }
func (a leveled) Info(msg string, kv ...any)  { a.emit(a.l.Debug(), msg, kv) }
func (a leveled) Debug(msg string, kv ...any) { a.emit(a.l.Debug(), msg, kv) }

func (a leveled) emit(ev *zerolog.Event, msg string, kv []any) {
	if ev == nil {
		return
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		if k == "timeout" {
			// The library's own wait is always zero: the backoff happens on
			// the client's clock and is logged there.
			continue
		}
		ev = ev.Str(scrubText(k), scrubValue(kv[i+1]))
	}
	ev.Msg(scrubText(msg))
}

func scrubValue(v any) string {
	switch v := v.(type) {
	case error:
		return scrubErr(v)
	case string:
		return scrubText(v)
	default:
		return scrubText(fmt.Sprint(v))
	}
}

// scrubErr is err's text with every URL reduced to scheme, host and path.
func scrubErr(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %s", ue.Op, scrubURL(ue.URL), scrubErr(ue.Err))
	}
	return scrubText(err.Error())
}

var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s"'<>]+`)

func scrubText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(m string) string {
		// Punctuation after a URL in prose belongs to the prose.
		u := strings.TrimRight(m, ".,:;")
		return scrubURL(u) + m[len(u):]
	})
}

// scrubURL drops user info, query and fragment: what remains names the
// endpoint and nothing else.
func scrubURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[url]"
	}
	return redactedURL(u)
}

func redactedURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	s := r.String()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?[redacted]"
	}
	return s
}
