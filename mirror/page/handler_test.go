package page

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/mapping"
)

type handlerEnv struct {
	h       *Handler
	kv      *memKV
	views   *memViews
	tokens  *Tokens
	clk     *clock.Fake
	acme    string // acme's current token
	globex  string // globex's token (feed off)
	initech string // initech's token (no view yet)
	logs    *bytes.Buffer
}

// plainView renders without scrub: no inline or document content.
func plainView() mapping.View {
	p40, p100 := 40, 100
	return mapping.View{
		Customer: "acme",
		Name:     "ACME Corp",
		Timezone: "Europe/Berlin",
		Health:   mapping.AtRisk,
		Updates: []mapping.Update{
			{Key: "u2", Health: mapping.AtRisk, Author: "ACME team", Time: time.Date(2026, 3, 12, 13, 5, 0, 0, time.UTC)},
			{Key: "u1", Health: mapping.OnTrack, Author: "ACME team", Time: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)},
		},
		Milestones: []mapping.Milestone{
			{Key: "m1", Due: "2026-04-17", Progress: &p40},
			{Key: "m2", Due: "2026-06-01", Progress: &p100, Done: true},
		},
		Groups: []string{"In progress", "Done"},
		Items: []mapping.Item{
			{Key: "i1", Status: "In progress", Due: "2026-04-10", Progress: &p40, Milestone: "m1"},
			{Key: "i2", Status: "Done", Done: true, Milestone: "m2"},
		},
	}
}

func newHandlerEnv(t *testing.T) *handlerEnv {
	t.Helper()
	e := &handlerEnv{kv: newMemKV(), views: newMemViews(), clk: clock.NewFake(time.Unix(1.7e9, 0)), logs: &bytes.Buffer{}}
	e.tokens = newTestTokens(t, e.kv, e.clk, "acme", "globex", "initech")
	e.views.put(plainView(), time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC))
	g := plainView()
	g.Customer, g.Name = "globex", "Globex"
	e.views.put(g, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	h, err := NewHandler(HandlerConfig{
		Tokens:    e.tokens,
		Views:     e.views,
		IDKey:     testIDKey,
		PublicURL: "https://status.example.com/",
		Feed: func(c string) FeedMode {
			if c == "globex" {
				return FeedOff
			}
			return FeedFull
		},
		Log: zerolog.New(e.logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.acme = Token(testSecret, "acme", 1)
	e.globex = Token(testSecret, "globex", 1)
	e.initech = Token(testSecret, "initech", 1)
	return e
}

func (e *handlerEnv) do(method, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://status.example.com"+target, nil)
	r.RequestURI = target // as the server sees it, uncleaned
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func wantHeaders(ctype string) http.Header {
	sum := sha256.Sum256([]byte(css))
	h := http.Header{
		"Content-Security-Policy": {"default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		"Referrer-Policy":         {"no-referrer"},
		"X-Robots-Tag":            {"noindex, nofollow"},
		"Cache-Control":           {"no-store"},
		"X-Content-Type-Options":  {"nosniff"},
		"Content-Type":            {ctype},
	}
	return h
}

func checkHeaders(t *testing.T, what string, got http.Header, ctype string, bodyLen int) {
	t.Helper()
	want := wantHeaders(ctype)
	want.Set("Content-Length", fmt.Sprint(bodyLen))
	for k := range got {
		if _, ok := want[k]; !ok && k != "Date" {
			t.Errorf("%s: unexpected header %s: %q", what, k, got[k])
		}
	}
	for k, v := range want {
		if g := got.Values(k); len(g) != 1 || g[0] != v[0] {
			t.Errorf("%s: %s = %q, want %q", what, k, g, v[0])
		}
	}
}

func TestEveryRefusalIsTheSame404ByteForByte(t *testing.T) {
	e := newHandlerEnv(t)
	rotatedOld := e.acme
	newTok, err := e.tokens.Rotate(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	ref := e.do("GET", "/nope")
	if ref.Code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", ref.Code)
	}
	checkHeaders(t, "404", ref.Header(), ContentTypeHTML, ref.Body.Len())
	if !bytes.Equal(ref.Body.Bytes(), NotFoundBody()) {
		t.Fatal("404 body is not NotFoundBody()")
	}

	forged := []byte(newTok)
	forged[0] ^= 1
	cases := []struct{ method, target string }{
		{"GET", "/"},
		{"GET", "/p/"},
		{"GET", "/p"},
		{"GET", "/favicon.ico"},
		{"GET", "/p/" + rotatedOld + "/"},
		{"GET", "/p/" + rotatedOld + "/feed.atom"},
		{"GET", "/p/" + string(forged) + "/"},
		{"GET", "/p/" + newTok[:42] + "/"},
		{"GET", "/p/" + newTok + "x/"},
		{"GET", "/p/" + Token(testSecret, "ghost", 1) + "/"},
		{"GET", "/p/" + Token([]byte("another-secret-0123456789abcdef"), "acme", 2) + "/"},
		{"GET", "/p/acme/"},
		{"GET", "/p/" + newTok + "/../x"},
		{"GET", "/p/" + newTok + "/./"},
		{"GET", "/p/" + newTok + "//"},
		{"GET", "//p/" + newTok + "/"},
		{"GET", "/p//" + newTok + "/"},
		{"GET", "/p/" + newTok + "/feed.atom/"},
		{"GET", "/p/" + newTok + "/feed.atomx"},
		{"GET", "/p/" + newTok + "/index.html"},
		{"GET", "/p/" + newTok + "%2Ffeed.atom"},
		{"GET", "/p/" + newTok + "/feed%2Eatom"},
		{"GET", "/p/%" + fmt.Sprintf("%02X", newTok[0]) + newTok[1:] + "/"},
		{"GET", "/p/" + newTok + "/;x"},
		{"GET", "/P/" + newTok + "/"},
		{"GET", "/p/" + e.globex + "/feed.atom"},  // feed off
		{"GET", "/p/" + e.initech + "/feed.atom"}, // no view yet
		{"POST", "/p/" + newTok + "/"},
		{"PUT", "/p/" + newTok + "/"},
		{"DELETE", "/p/" + newTok + "/"},
		{"PATCH", "/p/" + newTok + "/feed.atom"},
		{"OPTIONS", "/p/" + newTok + "/"},
		{"OPTIONS", "*"},
		{"TRACE", "/p/" + newTok + "/"},
		{"POST", "/nope"},
	}
	for _, c := range cases {
		w := e.do(c.method, c.target)
		if w.Code != ref.Code || !equalHeaders(w.Header(), ref.Header()) || !bytes.Equal(w.Body.Bytes(), ref.Body.Bytes()) {
			t.Errorf("%s %s: %d %v differs from the reference 404", c.method, RedactToken(c.target), w.Code, w.Header())
		}
	}
	// The valid token still works, so the cases above failed for their own reason.
	if w := e.do("GET", "/p/"+newTok+"/"); w.Code != http.StatusOK {
		t.Fatalf("current token: %d", w.Code)
	}
	if w := e.do("GET", "/p/"+newTok+"/?utm_source=mail"); w.Code != http.StatusOK {
		t.Errorf("query string refused: %d", w.Code)
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// Through a real server and raw request lines: no client cleans the path,
// and the server's own behaviour is part of what the customer sees.
func TestRefusalsOverTheWireAreIdenticalButForDate(t *testing.T) {
	e := newHandlerEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	raw := func(method, target string) (int, http.Header, []byte) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: status.example.com\r\nConnection: close\r\n\r\n", method, target)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		return resp.StatusCode, resp.Header, body
	}
	refCode, refH, refBody := raw("GET", "/nope")
	for _, target := range []string{
		"/p/" + e.acme + "/../../x",
		"/p/" + e.acme + "/%2e%2e/x",
		"/p/" + e.acme + "%2F",
		"//p/" + e.acme + "/",
		"/p/" + e.acme + "/feed.atom/..",
		"http://status.example.com/p/" + e.acme[:40] + "/",
		"/p/" + Token(testSecret, "acme", 2) + "/",
	} {
		code, h, body := raw("GET", target)
		if code != refCode || !equalHeaders(h, refH) || !bytes.Equal(body, refBody) {
			t.Errorf("GET %s: %d %v differs from the reference 404", RedactToken(target), code, h)
		}
	}
	code, h, body := raw("HEAD", "/p/"+e.acme[:40]+"/")
	if code != refCode || !equalHeaders(h, refH) || len(body) != 0 {
		t.Errorf("HEAD 404: %d %v %q", code, h, body)
	}
}

func TestPageFeedAnd404CarryExactHeaders(t *testing.T) {
	e := newHandlerEnv(t)
	page := e.do("GET", "/p/"+e.acme+"/")
	if page.Code != http.StatusOK {
		t.Fatalf("page: %d %s", page.Code, page.Body)
	}
	checkHeaders(t, "page", page.Header(), "text/html; charset=utf-8", page.Body.Len())
	feed := e.do("GET", "/p/"+e.acme+"/feed.atom")
	if feed.Code != http.StatusOK {
		t.Fatalf("feed: %d", feed.Code)
	}
	checkHeaders(t, "feed", feed.Header(), "application/atom+xml; charset=utf-8", feed.Body.Len())
	nf := e.do("GET", "/p/x")
	checkHeaders(t, "404", nf.Header(), "text/html; charset=utf-8", nf.Body.Len())
	np := e.do("GET", "/p/"+e.initech+"/")
	checkHeaders(t, "not published", np.Header(), "text/html; charset=utf-8", np.Body.Len())

	// Headers() is the table the app tests use: it must be what is sent.
	for k, v := range Headers() {
		if page.Header().Get(k) != v[0] {
			t.Errorf("Headers()[%s] = %q but the page sends %q", k, v[0], page.Header().Get(k))
		}
	}
}

var styleRE = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// The CSP allows exactly the inline stylesheet the pages carry: computed
// from the served bytes, not from the constant.
func TestCSPHashMatchesTheInlineStyle(t *testing.T) {
	e := newHandlerEnv(t)
	for _, target := range []string{"/p/" + e.acme + "/", "/nope", "/p/" + e.initech + "/"} {
		w := e.do("GET", target)
		m := styleRE.FindAllSubmatch(w.Body.Bytes(), -1)
		if len(m) != 1 {
			t.Fatalf("%s: %d <style> elements, want 1", RedactToken(target), len(m))
		}
		sum := sha256.Sum256(m[0][1])
		src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "style-src "+src+";") {
			t.Errorf("%s: CSP %q does not allow the served style (%s)", RedactToken(target), w.Header().Get("Content-Security-Policy"), src)
		}
		if bytes.Contains(w.Body.Bytes(), []byte(" style=")) {
			t.Errorf("%s: style attribute present (CSP forbids it)", RedactToken(target))
		}
	}
}

func TestHeadAnswersLikeGetWithoutBody(t *testing.T) {
	e := newHandlerEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	for _, path := range []string{"/p/" + e.acme + "/", "/p/" + e.acme + "/feed.atom", "/nope"} {
		get, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		gb, _ := io.ReadAll(get.Body)
		get.Body.Close()
		head, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := io.ReadAll(head.Body)
		head.Body.Close()
		get.Header.Del("Date")
		head.Header.Del("Date")
		if head.StatusCode != get.StatusCode || !equalHeaders(head.Header, get.Header) || len(hb) != 0 {
			t.Errorf("HEAD %s: %d %v (%d body bytes), GET: %d %v", RedactToken(path), head.StatusCode, head.Header, len(hb), get.StatusCode, get.Header)
		}
		if head.Header.Get("Content-Length") != fmt.Sprint(len(gb)) {
			t.Errorf("HEAD %s: Content-Length %s, GET body %d", RedactToken(path), head.Header.Get("Content-Length"), len(gb))
		}
	}
}

func TestValidTokenWithoutViewShowsNotPublishedPage(t *testing.T) {
	e := newHandlerEnv(t)
	w := e.do("GET", "/p/"+e.initech+"/")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if !bytes.Equal(w.Body.Bytes(), NotPublished()) || !strings.Contains(w.Body.String(), "not been published yet") {
		t.Errorf("body is not the not-published page:\n%s", w.Body)
	}
	if strings.Contains(w.Body.String(), "initech") || strings.Contains(w.Body.String(), "feed.atom") {
		t.Error("not-published page names the customer or a feed")
	}
}

func TestLinkWithoutSlashRedirectsOnlyForAValidToken(t *testing.T) {
	e := newHandlerEnv(t)
	w := e.do("GET", "/p/"+e.acme)
	if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != e.acme+"/" {
		t.Errorf("valid: %d Location %q", w.Code, w.Header().Get("Location"))
	}
	if w.Header().Get("Referrer-Policy") != "no-referrer" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("redirect lacks the security headers: %v", w.Header())
	}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/p/" + e.acme)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/p/"+e.acme+"/" {
		t.Errorf("following the redirect: %d at %s", resp.StatusCode, RedactToken(resp.Request.URL.Path))
	}
	ref := e.do("GET", "/nope")
	bad := e.do("GET", "/p/"+Token(testSecret, "acme", 9))
	if bad.Code != ref.Code || !bytes.Equal(bad.Body.Bytes(), ref.Body.Bytes()) || !equalHeaders(bad.Header(), ref.Header()) {
		t.Errorf("invalid token without slash: %d, not the 404", bad.Code)
	}
}

func TestStoreFailureIs503WithoutTokenOrPathInLogs(t *testing.T) {
	e := newHandlerEnv(t)
	e.kv.setFail(errStoreDown)
	e.clk.Advance(DefaultRefresh)
	w := e.do("GET", "/p/"+e.acme+"/")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("token store down: %d", w.Code)
	}
	e.kv.setFail(nil)
	e.clk.Advance(DefaultRefresh)
	e.views.fail = errStoreDown
	w = e.do("GET", "/p/"+e.acme+"/")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("view store down: %d", w.Code)
	}
	if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("503 lacks security headers: %v", w.Header())
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "store down") {
		t.Errorf("store error not logged: %s", logs)
	}
	if strings.Contains(logs, e.acme) || strings.Contains(logs, "/p/") {
		t.Errorf("log carries the token or path: %s", logs)
	}
}

func TestRotationTakesEffectInServingHandlerWithinRefresh(t *testing.T) {
	e := newHandlerEnv(t)
	if w := e.do("GET", "/p/"+e.acme+"/"); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	other, err := NewTokens(testSecret, e.kv, []string{"acme"})
	if err != nil {
		t.Fatal(err)
	}
	newTok, err := other.Rotate(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(DefaultRefresh)
	if w := e.do("GET", "/p/"+e.acme+"/"); w.Code != http.StatusNotFound {
		t.Errorf("old token after rotation elsewhere: %d", w.Code)
	}
	if w := e.do("GET", "/p/"+newTok+"/"); w.Code != http.StatusOK {
		t.Errorf("new token: %d", w.Code)
	}
}

func TestNewHandlerValidates(t *testing.T) {
	tk := newTestTokens(t, newMemKV(), clock.Real{}, "a")
	for name, c := range map[string]HandlerConfig{
		"no tokens": {Views: newMemViews(), IDKey: testIDKey},
		"no views":  {Tokens: tk, IDKey: testIDKey},
		"no key":    {Tokens: tk, Views: newMemViews()},
		"bad url":   {Tokens: tk, Views: newMemViews(), IDKey: testIDKey, PublicURL: "status.example.com"},
	} {
		if _, err := NewHandler(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
