package page

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"vitrine/mapping"
	"vitrine/store"
)

// ViewSource gives the handler a customer's current view and when it last
// changed; ok is false while none has been computed yet.
type ViewSource interface {
	GetView(ctx context.Context, customer string) (v mapping.View, changed time.Time, ok bool, err error)
}

// TokenLookup recognises a request's token (Tokens does).
type TokenLookup interface {
	Lookup(ctx context.Context, token string) (customer string, ok bool, err error)
}

// StoreViews adapts store.Views (JSON records) to a ViewSource.
type StoreViews struct {
	Views store.Views
	// Cache keeps decoded views between requests (nil: decode each time).
	Cache *mapping.ViewCache
}

// GetView decodes the customer's stored view.
func (s StoreViews) GetView(ctx context.Context, customer string) (mapping.View, time.Time, bool, error) {
	rec, ok, err := s.Views.GetView(ctx, customer)
	if err != nil || !ok {
		return mapping.View{}, time.Time{}, false, err
	}
	v, err := s.Cache.Decode(customer, rec.Hash, rec.Data)
	if err != nil {
		return mapping.View{}, time.Time{}, false, fmt.Errorf("customer %s: decode view: %w", customer, err)
	}
	return v, rec.Changed, true, nil
}

// HandlerConfig wires a Handler.
type HandlerConfig struct {
	Tokens TokenLookup
	Views  ViewSource
	// IDKey: see Options.IDKey.
	IDKey []byte
	// PublicURL is VITRINE_PUBLIC_URL ("https://status.example.com", any
	// path prefix included); the feed's links are absolute under it. "":
	// the feed links relatively.
	PublicURL string
	// Feed gives a customer's feed setting; nil: full for everyone.
	Feed func(customer string) FeedMode
	// Log receives store and render errors, with the customer id, never
	// the token or the request path.
	Log zerolog.Logger
}

// Handler serves /p/<token>/ and /p/<token>/feed.atom. Anything else, and
// every request it cannot answer for a valid token, gets the one 404.
//
// Mount it as the fallback of the public listener, not under an
// http.ServeMux pattern: ServeMux answers unclean paths ("..", "//") with its
// own redirect before the handler sees them.
type Handler struct {
	c HandlerConfig

	// rendered keeps the last page and feed of each customer by view hash:
	// a page is read far more often than its view changes.
	mu       sync.Mutex
	rendered map[renderKey]renderedPage
}

type renderKey struct {
	customer, rest, pageURL string
	mode                    FeedMode
}

type renderedPage struct {
	hash    string
	changed time.Time
	body    []byte
}

// NewHandler checks c (no I/O).
func NewHandler(c HandlerConfig) (*Handler, error) {
	if c.Tokens == nil {
		return nil, errors.New("page handler: no tokens")
	}
	if c.Views == nil {
		return nil, errors.New("page handler: no views")
	}
	if len(c.IDKey) == 0 {
		return nil, errors.New("page handler: no IDKey")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
		return nil, fmt.Errorf("page handler: public URL %q is not http(s)", c.PublicURL)
	}
	return &Handler{c: c, rendered: map[renderKey]renderedPage{}}, nil
}

// pathRE matches the raw request target, byte for byte: a token has only
// unreserved characters, so any percent-encoding, dot segment, doubled
// slash or trailing junk falls through to the 404. The query is ignored
// (mail trackers append one).
var pathRE = regexp.MustCompile(`^/p/([A-Za-z0-9_-]{43})(/|/feed\.atom)?$`)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		NotFound(w, r)
		return
	}
	raw := r.RequestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	m := pathRE.FindStringSubmatch(raw)
	if m == nil {
		NotFound(w, r)
		return
	}
	tok, rest := m[1], m[2]
	ctx := r.Context()
	customer, ok, err := h.c.Tokens.Lookup(ctx, tok)
	if err != nil {
		h.c.Log.Error().Err(err).Msg("page: token lookup")
		unavailable(w, r)
		return
	}
	if !ok {
		NotFound(w, r)
		return
	}
	if rest == "" {
		// A link pasted without its slash: only a valid token is
		// redirected, so this says nothing /p/<token>/ would not. Relative,
		// so a path prefix of a reverse proxy survives.
		setHeaders(w, "")
		w.Header().Set("Location", tok+"/")
		w.WriteHeader(http.StatusPermanentRedirect)
		return
	}
	v, changed, ok, err := h.c.Views.GetView(ctx, customer)
	if err != nil {
		h.c.Log.Error().Err(err).Str("customer", customer).Msg("page: read view")
		unavailable(w, r)
		return
	}
	mode := FeedFull
	if h.c.Feed != nil {
		mode = h.c.Feed(customer)
	}
	o := Options{IDKey: h.c.IDKey, Changed: changed, Feed: mode}
	if h.c.PublicURL != "" {
		o.PageURL = h.c.PublicURL + "/p/" + tok + "/"
	}

	var body []byte
	ctype := ContentTypeHTML
	key := renderKey{customer: customer, rest: rest, pageURL: o.PageURL, mode: mode}
	switch {
	case rest == "/" && !ok:
		body = notPublished
	case rest != "/" && (mode == FeedOff || !ok):
		// No feed before the first view either: an empty feed would be a
		// promise of updates that may never come under this URL.
		NotFound(w, r)
		return
	default:
		if rest != "/" {
			ctype = ContentTypeAtom
		}
		h.mu.Lock()
		c, hit := h.rendered[key]
		h.mu.Unlock()
		if hit && c.hash == v.Hash && c.changed.Equal(changed) {
			body = c.body
			break
		}
		if rest == "/" {
			body, err = Render(v, o)
		} else {
			body, err = RenderFeed(v, mode, o)
		}
		if err == nil {
			h.mu.Lock()
			h.rendered[key] = renderedPage{hash: v.Hash, changed: changed, body: body}
			h.mu.Unlock()
		}
	}
	if err != nil {
		h.c.Log.Error().Err(err).Str("customer", customer).Msg("page: render")
		unavailable(w, r)
		return
	}
	write(w, http.StatusOK, ctype, body)
}

func write(w http.ResponseWriter, status int, ctype string, body []byte) {
	setHeaders(w, ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// net/http drops the body of a HEAD itself, keeping Content-Length.
	_, _ = w.Write(body)
}

// NotFound writes the one 404 of the public listener: the same status,
// headers and bytes for an unknown path, a wrong, rotated or forged token,
// another method, or a feed that is off. Use it for every unmatched route of
// the public listener too.
func NotFound(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusNotFound, ContentTypeHTML, notFound)
}

var unavailableBody = []byte("Temporarily unavailable.\n")

// unavailable answers a store or render failure. It comes before or after
// the token check depending on where the store failed, so only an outage
// could tell a valid token from a wrong one, and a guess is still 2^256.
func unavailable(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Retry-After", "30")
	write(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", unavailableBody)
}
