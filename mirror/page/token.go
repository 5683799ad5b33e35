package page

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"vitrine/clock"
)

// EpochNamespace is the KV namespace of page epochs: key customer id, value
// the epoch in decimal. A missing epoch is 1.
const EpochNamespace = "epoch"

// DefaultRefresh bounds how long a rotation made by another process (`vitrine
// links --rotate` while `serve` runs) takes to reach this one: the cached
// epochs are re-read from the store at most this long after they were read.
const DefaultRefresh = 2 * time.Second

// TokenLen is the length of a page token: 32 HMAC-SHA256 bytes, unpadded
// base64url.
const TokenLen = 43

// EpochStore is the part of store.KV that tokens need.
type EpochStore interface {
	GetKV(ctx context.Context, ns, key string) ([]byte, bool, error)
	PutKV(ctx context.Context, ns, key string, val []byte) error
	ListKV(ctx context.Context, ns string) (map[string][]byte, error)
}

// Token computes the page token of customer at epoch:
// base64url(HMAC-SHA256(secret, lp("vitrine/page-token") ‖ lp(customer) ‖ lp(be64(epoch)))),
// unpadded, where lp is a 4-byte big-endian length followed by the bytes and
// be64 the 8-byte big-endian epoch: no two
// (customer, epoch) pairs share a message, and the label keeps these MACs
// apart from any other use of the same secret.
func Token(secret []byte, customer string, epoch uint64) string {
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	return base64.RawURLEncoding.EncodeToString(mac(secret, "vitrine/page-token", customer, string(e[:])))
}

// mac is HMAC-SHA256 over length-prefixed parts.
func mac(key []byte, parts ...string) []byte {
	h := hmac.New(sha256.New, key)
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

// equal compares a request token with a customer's token. A variable so a
// test can prove every lookup goes through a constant-time compare.
var equal = subtle.ConstantTimeCompare

// Tokens issues, rotates and recognises page tokens. Only epochs are stored;
// tokens are derived from the secret, so a leaked store does not leak links.
type Tokens struct {
	secret    []byte
	kv        EpochStore
	customers []string
	clock     clock.Clock
	refresh   time.Duration

	mu      sync.Mutex
	loaded  time.Time // when epochs were last read; zero: never
	entries []tokenEntry
}

type tokenEntry struct {
	customer string
	epoch    uint64
	token    []byte // nil: no valid token (unreadable epoch)
}

// TokenOption adjusts NewTokens.
type TokenOption func(*Tokens)

// WithClock sets the clock that times the epoch cache (tests: clock.Fake).
func WithClock(c clock.Clock) TokenOption { return func(t *Tokens) { t.clock = c } }

// NewTokens returns the tokens of the configured customers. Only these
// customers have a page; an epoch stored for anyone else is ignored.
func NewTokens(secret []byte, kv EpochStore, customers []string, opts ...TokenOption) (*Tokens, error) {
	if len(secret) < 16 {
		return nil, errors.New("page tokens: VITRINE_PAGE_SECRET must be at least 16 bytes")
	}
	if kv == nil {
		return nil, errors.New("page tokens: no epoch store")
	}
	seen := make(map[string]bool, len(customers))
	for _, c := range customers {
		if c == "" {
			return nil, errors.New("page tokens: empty customer id")
		}
		if seen[c] {
			return nil, fmt.Errorf("page tokens: customer %s listed twice", c)
		}
		seen[c] = true
	}
	t := &Tokens{
		secret:    append([]byte(nil), secret...),
		kv:        kv,
		customers: append([]string(nil), customers...),
		clock:     clock.Real{},
		refresh:   DefaultRefresh,
	}
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

func (t *Tokens) configured(customer string) bool {
	for _, c := range t.customers {
		if c == customer {
			return true
		}
	}
	return false
}

func parseEpoch(customer string, b []byte) (uint64, error) {
	e, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || e < 1 {
		return 0, fmt.Errorf("customer %s: page epoch %q is not a positive decimal", customer, b)
	}
	return e, nil
}

// Epoch reads customer's current epoch from the store (1 when none is stored).
func (t *Tokens) Epoch(ctx context.Context, customer string) (uint64, error) {
	b, ok, err := t.kv.GetKV(ctx, EpochNamespace, customer)
	if err != nil {
		return 0, fmt.Errorf("customer %s: read page epoch: %w", customer, err)
	}
	if !ok {
		return 1, nil
	}
	return parseEpoch(customer, b)
}

// Token returns customer's current token, read fresh from the store (for
// `vitrine links` and export).
func (t *Tokens) Token(ctx context.Context, customer string) (string, error) {
	if !t.configured(customer) {
		return "", fmt.Errorf("customer %s: not configured", customer)
	}
	e, err := t.Epoch(ctx, customer)
	if err != nil {
		return "", err
	}
	return Token(t.secret, customer, e), nil
}

// Rotate revokes customer's current link and returns the new token. This
// process stops accepting the old token at once; other processes within
// their refresh interval. The store has no compare-and-swap, so two
// rotations of one customer at the same instant may both land on the same
// new epoch: the old link is revoked either way.
func (t *Tokens) Rotate(ctx context.Context, customer string) (string, error) {
	if !t.configured(customer) {
		return "", fmt.Errorf("customer %s: not configured", customer)
	}
	e, err := t.Epoch(ctx, customer)
	if err != nil {
		return "", err
	}
	e++
	if err := t.kv.PutKV(ctx, EpochNamespace, customer, []byte(strconv.FormatUint(e, 10))); err != nil {
		return "", fmt.Errorf("customer %s: rotate page token: %w", customer, err)
	}
	tok := Token(t.secret, customer, e)
	t.mu.Lock()
	for i := range t.entries {
		if t.entries[i].customer == customer {
			t.entries[i].epoch = e
			t.entries[i].token = []byte(tok)
		}
	}
	t.mu.Unlock()
	return tok, nil
}

// Lookup finds the customer whose current token is tok. Every configured
// customer's token is compared in constant time, with no early exit, so
// neither the answer nor the position of a match shows in the timing.
// A store error fails closed: no token is accepted on stale epochs beyond
// the refresh interval.
func (t *Tokens) Lookup(ctx context.Context, tok string) (customer string, ok bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(ctx); err != nil {
		return "", false, err
	}
	b := []byte(tok)
	found := -1
	for i := range t.entries {
		e := &t.entries[i]
		ref := e.token
		if ref == nil {
			// An unreadable epoch has no valid token; compare anyway so the
			// work stays the same.
			ref = make([]byte, TokenLen)
		}
		if equal(ref, b) == 1 && e.token != nil {
			found = i
		}
	}
	if found < 0 {
		return "", false, nil
	}
	return t.entries[found].customer, true, nil
}

// load refreshes the cached epochs when they are older than the refresh
// interval. One ListKV per interval, whatever the request rate; a token is
// re-derived only when its epoch changed. Called with t.mu held.
func (t *Tokens) load(ctx context.Context) error {
	now := t.clock.Now()
	if !t.loaded.IsZero() && now.Sub(t.loaded) < t.refresh && !now.Before(t.loaded) {
		return nil
	}
	stored, err := t.kv.ListKV(ctx, EpochNamespace)
	if err != nil {
		return fmt.Errorf("page tokens: read epochs: %w", err)
	}
	old := make(map[string]tokenEntry, len(t.entries))
	for _, e := range t.entries {
		old[e.customer] = e
	}
	entries := make([]tokenEntry, 0, len(t.customers))
	for _, c := range t.customers {
		epoch := uint64(1)
		if b, ok := stored[c]; ok {
			epoch, err = parseEpoch(c, b)
			if err != nil {
				// Its page is unreachable until the epoch is fixed (or the
				// link rotated); the other customers are unaffected.
				entries = append(entries, tokenEntry{customer: c})
				continue
			}
		}
		if o, ok := old[c]; ok && o.epoch == epoch && o.token != nil {
			entries = append(entries, o)
			continue
		}
		entries = append(entries, tokenEntry{customer: c, epoch: epoch, token: []byte(Token(t.secret, c, epoch))})
	}
	t.entries = entries
	t.loaded = now
	return nil
}

var (
	// A segment after /p/ is redacted whatever its shape: a mistyped token
	// is still most of a token.
	pagePathRE = regexp.MustCompile(`/p/[^/?#\s"'<>]+`)
	// Any long run of the token alphabet elsewhere (a token in a query, a
	// Referer, a bare token).
	tokenRunRE = regexp.MustCompile(`[A-Za-z0-9_-]{24,}`)
)

// Redacted replaces tokens in logged strings.
const Redacted = "REDACTED"

// RedactToken replaces every token-looking part of a path or URL s so a log
// line never carries a page link: the segment after "/p/" and any run of 24
// or more base64url characters.
func RedactToken(s string) string {
	s = pagePathRE.ReplaceAllString(s, "/p/"+Redacted)
	return tokenRunRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == Redacted {
			return m
		}
		return Redacted
	})
}
