package page

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"vitrine/clock"
)

func newTestTokens(t *testing.T, kv EpochStore, c clock.Clock, customers ...string) *Tokens {
	t.Helper()
	tk, err := NewTokens(testSecret, kv, customers, WithClock(c))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenIsStableUnpaddedBase64URLAndDiffersPerCustomerAndEpoch(t *testing.T) {
	a1 := Token(testSecret, "acme", 1)
	if a1 != Token(testSecret, "acme", 1) {
		t.Fatal("token not stable")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(a1) {
		t.Fatalf("token %q is not 43 unpadded base64url characters", a1)
	}
	seen := map[string]string{}
	for _, c := range []struct {
		customer string
		epoch    uint64
	}{{"acme", 1}, {"acme", 2}, {"globex", 1}, {"globex", 2}, {"acme1", 1}, {"acm", 1}} {
		tok := Token(testSecret, c.customer, c.epoch)
		if prev, dup := seen[tok]; dup {
			t.Errorf("%s/%d and %s share a token", c.customer, c.epoch, prev)
		}
		seen[tok] = c.customer
	}
	if Token([]byte("another-secret-0123456789abcdef"), "acme", 1) == a1 {
		t.Error("token does not depend on the secret")
	}
	// The encoding is pinned: an independent computation agrees.
	h := hmac.New(sha256.New, testSecret)
	h.Write([]byte{0, 0, 0, 18})
	h.Write([]byte("vitrine/page-token"))
	h.Write([]byte{0, 0, 0, 4})
	h.Write([]byte("acme"))
	h.Write([]byte{0, 0, 0, 8})
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	if want := base64.RawURLEncoding.EncodeToString(h.Sum(nil)); a1 != want {
		t.Errorf("token = %s, want %s", a1, want)
	}
}

func TestMissingEpochIsOneAndRotateBumpsIt(t *testing.T) {
	ctx := context.Background()
	kv := newMemKV()
	tk := newTestTokens(t, kv, clock.NewFake(time.Unix(1e9, 0)), "acme", "globex")
	tok, err := tk.Token(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if tok != Token(testSecret, "acme", 1) {
		t.Fatal("missing epoch is not 1")
	}
	if c, ok, err := tk.Lookup(ctx, tok); err != nil || !ok || c != "acme" {
		t.Fatalf("Lookup(current) = %q, %v, %v", c, ok, err)
	}
	newTok, err := tk.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if newTok != Token(testSecret, "acme", 2) {
		t.Error("rotate did not move to epoch 2")
	}
	if v, _, _ := kv.GetKV(ctx, EpochNamespace, "acme"); string(v) != "2" {
		t.Errorf("stored epoch %q, want decimal 2", v)
	}
	if _, ok, _ := tk.Lookup(ctx, tok); ok {
		t.Error("old token still accepted after rotation in the same process")
	}
	if c, ok, _ := tk.Lookup(ctx, newTok); !ok || c != "acme" {
		t.Error("new token not accepted")
	}
	if c, ok, _ := tk.Lookup(ctx, Token(testSecret, "globex", 1)); !ok || c != "globex" {
		t.Error("another customer's token affected by the rotation")
	}
	if _, err := tk.Rotate(ctx, "nobody"); err == nil {
		t.Error("rotating an unconfigured customer succeeded")
	}
}

// `vitrine links --rotate` runs in its own process while `serve` keeps its
// cache: the rotation shows within the refresh interval, not later.
func TestRotationByAnotherProcessTakesEffectWithinRefresh(t *testing.T) {
	ctx := context.Background()
	kv := newMemKV()
	clk := clock.NewFake(time.Unix(1e9, 0))
	serve := newTestTokens(t, kv, clk, "acme")
	links := newTestTokens(t, kv, clk, "acme")
	old := Token(testSecret, "acme", 1)
	if _, ok, _ := serve.Lookup(ctx, old); !ok {
		t.Fatal("current token refused")
	}
	newTok, err := links.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultRefresh - time.Millisecond)
	lists := kv.lists
	if _, ok, _ := serve.Lookup(ctx, old); !ok {
		t.Fatal("cache not used within the refresh interval")
	}
	if kv.lists != lists {
		t.Errorf("store read %d times within the refresh interval", kv.lists-lists)
	}
	clk.Advance(time.Millisecond)
	if _, ok, _ := serve.Lookup(ctx, old); ok {
		t.Error("rotated token still accepted after the refresh interval")
	}
	if _, ok, _ := serve.Lookup(ctx, newTok); !ok {
		t.Error("new token not accepted after the refresh interval")
	}
}

func TestForgedTruncatedAndForeignTokensAreRefused(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokens(t, newMemKV(), clock.NewFake(time.Unix(1e9, 0)), "acme")
	good := Token(testSecret, "acme", 1)
	flip := []byte(good)
	if flip[10] == 'A' {
		flip[10] = 'B'
	} else {
		flip[10] = 'A'
	}
	padded := base64.URLEncoding.EncodeToString(mustDecode(t, good))
	for name, tok := range map[string]string{
		"empty":          "",
		"truncated":      good[:42],
		"extended":       good + "A",
		"one char":       string(flip),
		"padded":         padded,
		"std alphabet":   base64.StdEncoding.EncodeToString(mustDecode(t, good)),
		"other secret":   Token([]byte("another-secret-0123456789abcdef"), "acme", 1),
		"future epoch":   Token(testSecret, "acme", 2),
		"unconfigured":   Token(testSecret, "ghost", 1),
		"epoch zero":     Token(testSecret, "acme", 0),
		"upper-cased":    strings.ToUpper(good),
		"customer id":    "acme",
		"raw mac in hex": "deadbeef",
	} {
		if tok == good {
			continue
		}
		if c, ok, err := tk.Lookup(ctx, tok); ok || err != nil {
			t.Errorf("%s: Lookup = %q, %v, %v; want refused", name, c, ok, err)
		}
	}
}

func mustDecode(t *testing.T, tok string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every configured customer's token is compared, through the constant-time
// compare, whatever the request and wherever the match is.
func TestLookupComparesEveryCustomerInConstantTime(t *testing.T) {
	ctx := context.Background()
	customers := []string{"a", "b", "c", "d"}
	tk := newTestTokens(t, newMemKV(), clock.NewFake(time.Unix(1e9, 0)), customers...)
	calls := 0
	orig := equal
	equal = func(x, y []byte) int { calls++; return orig(x, y) }
	defer func() { equal = orig }()
	for _, tok := range []string{Token(testSecret, "a", 1), Token(testSecret, "d", 1), "nope"} {
		calls = 0
		_, _, _ = tk.Lookup(ctx, tok)
		if calls != len(customers) {
			t.Errorf("lookup of %.6s…: %d constant-time compares, want %d", tok, calls, len(customers))
		}
	}
}

func TestCorruptEpochDisablesOnlyThatCustomer(t *testing.T) {
	ctx := context.Background()
	kv := newMemKV()
	_ = kv.PutKV(ctx, EpochNamespace, "acme", []byte("two"))
	tk := newTestTokens(t, kv, clock.NewFake(time.Unix(1e9, 0)), "acme", "globex")
	for _, e := range []uint64{0, 1, 2} {
		if _, ok, _ := tk.Lookup(ctx, Token(testSecret, "acme", e)); ok {
			t.Errorf("epoch %d token accepted with an unreadable epoch", e)
		}
	}
	if _, ok, err := tk.Lookup(ctx, Token(testSecret, "globex", 1)); !ok || err != nil {
		t.Errorf("other customer refused: %v %v", ok, err)
	}
	if _, err := tk.Token(ctx, "acme"); err == nil {
		t.Error("Token with an unreadable epoch succeeded")
	}
}

func TestStoreErrorFailsClosedAfterRefresh(t *testing.T) {
	ctx := context.Background()
	kv := newMemKV()
	clk := clock.NewFake(time.Unix(1e9, 0))
	tk := newTestTokens(t, kv, clk, "acme")
	tok := Token(testSecret, "acme", 1)
	if _, ok, _ := tk.Lookup(ctx, tok); !ok {
		t.Fatal("refused")
	}
	kv.setFail(errStoreDown)
	clk.Advance(DefaultRefresh)
	if _, ok, err := tk.Lookup(ctx, tok); ok || err == nil {
		t.Errorf("store down: Lookup = %v, %v; want an error", ok, err)
	}
}

func TestNewTokensRejectsWeakSecretAndDuplicateCustomers(t *testing.T) {
	if _, err := NewTokens([]byte("short"), newMemKV(), []string{"a"}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewTokens(testSecret, newMemKV(), []string{"a", "a"}); err == nil {
		t.Error("duplicate customer accepted")
	}
}

func TestRedactTokenRemovesTokensFromPathsAndURLs(t *testing.T) {
	tok := Token(testSecret, "acme", 7)
	for _, s := range []string{
		"/p/" + tok + "/",
		"/p/" + tok + "/feed.atom",
		"/p/" + tok,
		"/p/" + tok[:20] + "/", // a mistyped or truncated token
		"https://status.example.com/p/" + tok + "/#u-12",
		"GET /p/" + tok + "x/../feed.atom HTTP/1.1",
		"/P/" + tok + "/",
		"referer=https://x.example/?t=" + tok,
		"/p/%41" + tok[1:] + "/",
		tok,
	} {
		got := RedactToken(s)
		if strings.Contains(got, tok[:20]) || strings.Contains(got, tok[len(tok)-20:]) || strings.Contains(got, tok[1:21]) {
			t.Errorf("RedactToken(%q) = %q still carries the token", s, got)
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("RedactToken(%q) = %q: no marker", s, got)
		}
	}
	if got := RedactToken("/p/" + tok + "/feed.atom"); got != "/p/"+Redacted+"/feed.atom" {
		t.Errorf("page path redacted as %q", got)
	}
	for _, s := range []string{"/healthz", "/webhooks/github", "/metrics?x=1"} {
		if got := RedactToken(s); got != s {
			t.Errorf("RedactToken(%q) = %q changed a token-free path", s, got)
		}
	}
}
