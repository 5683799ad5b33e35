package app_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/mirror/page"
)

// demoEnv is the environment `vitrine demo` runs under in these tests:
// ports chosen by the kernel, a fresh store, the demo's rules copied away.
func demoEnv(dir string, extra ...string) []string {
	env := []string{
		"VITRINE_CONFIG=" + filepath.Join(dir, "vitrine.yaml"),
		"VITRINE_STORE=sqlite://" + filepath.Join(dir, "v.db"),
		"VITRINE_LISTEN=127.0.0.1:0",
		"VITRINE_ADMIN_LISTEN=localhost:0",
		"HOME=" + dir,
	}
	return append(env, extra...)
}

// startDemo starts `vitrine demo` and waits for its page lines.
func startDemo(t *testing.T, dir string, extra ...string) (p *proc, links map[string]string, public, admin string) {
	t.Helper()
	p = startBin(t, demoEnv(dir, extra...), "demo")
	public, admin = p.addrs()
	p.waitFor(regexp.MustCompile(`(?m)^customer globex page: \S+\n`), p.stdout.String, 10*time.Second)
	return p, pageLinks(p.stdout.String()), public, admin
}

// wantHeaders checks the exact header set of a page-handler answer: the
// package's own Headers() plus Content-Type, Content-Length and Date, and
// the literal values the design names.
func wantHeaders(t *testing.T, what string, r response, ctype string) {
	t.Helper()
	want := page.Headers()
	want.Set("Content-Type", ctype)
	keys := []string{"Content-Length", "Date"}
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var got []string
	for k := range r.Header {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Errorf("%s: headers %v, want exactly %v", what, got, keys)
	}
	for k, v := range want {
		if g := r.Header.Values(k); strings.Join(g, "\n") != strings.Join(v, "\n") {
			t.Errorf("%s: %s = %q, want %q", what, k, g, v)
		}
	}
	if g := r.Header.Get("Content-Security-Policy"); g != page.CSP() {
		t.Errorf("%s: CSP %q, want page.CSP() %q", what, g, page.CSP())
	}
	if g := r.Header.Get("Referrer-Policy"); g != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q", what, g)
	}
	if g := r.Header.Get("X-Robots-Tag"); !strings.Contains(g, "noindex") {
		t.Errorf("%s: X-Robots-Tag %q lacks noindex", what, g)
	}
	if g := r.Header.Get("Cache-Control"); g != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, g)
	}
	checkCSPHasNoExternalSource(t, what, r.Header.Get("Content-Security-Policy"))
}

// checkCSPHasNoExternalSource: every source of every directive is a keyword
// or a hash; no scheme, host or wildcard.
func checkCSPHasNoExternalSource(t *testing.T, what, csp string) {
	t.Helper()
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: CSP %q lacks default-src 'none'", what, csp)
	}
	for _, dir := range strings.Split(csp, ";") {
		f := strings.Fields(dir)
		if len(f) == 0 {
			continue
		}
		for _, src := range f[1:] {
			ok := src == "'none'" || src == "'self'" || strings.HasPrefix(src, "'sha256-") || strings.HasPrefix(src, "'sha384-") || strings.HasPrefix(src, "'sha512-")
			if !ok {
				t.Errorf("%s: CSP directive %q allows %q", what, f[0], src)
			}
		}
	}
}

// The demo end to end: a real process on kernel-chosen ports, its printed
// links, strict headers, the one 404 for every wrong way in, a rotation by
// another process reaching the running server, the admin endpoints, and a
// clean exit on SIGTERM.
func TestDemoServesLinksAndAnswersEveryWrongWayWithTheSame404(t *testing.T) {
	t.Parallel()
	dir := copyDemo(t)
	p, links, public, admin := startDemo(t, dir, "VITRINE_PAGE_SECRET="+testPageSecret)
	if len(links) != 2 || links["acme"] == "" || links["globex"] == "" {
		t.Fatalf("demo printed %v, want one line for acme and one for globex\n%s", links, p.stdout)
	}
	if n := len(pageLineRE.FindAllString(p.stdout.String(), -1)); n != 2 {
		t.Errorf("%d page lines, want one per customer:\n%s", n, p.stdout)
	}
	base := "http://" + public
	for id, u := range links {
		if !strings.HasPrefix(u, base+"/p/") || !strings.HasSuffix(u, "/") {
			t.Errorf("customer %s: link %q is not under the bound address %s", id, u, base)
		}
		if strings.Contains(u, id) {
			t.Errorf("customer %s: the id is in the page URL %q", id, u)
		}
	}
	acme, globex := tokenOf(t, links["acme"]), tokenOf(t, links["globex"])

	pg := get(t, links["acme"])
	if pg.Status != http.StatusOK || !strings.Contains(string(pg.Body), "ACME Corp") {
		t.Fatalf("acme page: %d\n%s", pg.Status, pg.Body)
	}
	wantHeaders(t, "page", pg, page.ContentTypeHTML)
	if g := get(t, links["globex"]); g.Status != http.StatusOK || !strings.Contains(string(g.Body), "Globex") {
		t.Errorf("globex page: %d", g.Status)
	}
	feed := get(t, links["acme"]+"feed.atom")
	if feed.Status != http.StatusOK || !strings.Contains(string(feed.Body), "<feed") {
		t.Fatalf("acme feed: %d\n%s", feed.Status, feed.Body)
	}
	wantHeaders(t, "feed", feed, page.ContentTypeAtom)

	unknown := rawRequest(t, public, "GET", "/nothing-here")
	if unknown.Status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", unknown.Status)
	}
	wantHeaders(t, "404", unknown, page.ContentTypeHTML)
	if string(unknown.Body) != string(page.NotFoundBody()) {
		t.Errorf("404 body is not page.NotFoundBody()")
	}
	for _, s := range []string{"acme", "ACME", "globex", "Globex", acme, globex} {
		if strings.Contains(string(unknown.Body), s) {
			t.Errorf("404 body names %q", s)
		}
	}

	// The reference answer of each method to a path nobody serves (a HEAD
	// answer has no body).
	unknownBy := map[string]response{}
	same404 := func(t *testing.T, method, target string) {
		t.Helper()
		ref, ok := unknownBy[method]
		if !ok {
			ref = rawRequest(t, public, method, "/nothing-here")
			unknownBy[method] = ref
		}
		r := rawRequest(t, public, method, target)
		if r.comparable() != ref.comparable() {
			t.Errorf("%s %s answered\n%s\nwant the 404 of an unknown path\n%s", method, page.RedactToken(target), clip(r.comparable()), clip(ref.comparable()))
		}
	}
	mangled := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	t.Run("wrong tokens", func(t *testing.T) {
		other := []string{
			page.Token([]byte(testPageSecret), "initech", 1), // a customer not in the rules
			page.Token([]byte(testPageSecret), "acme", 2),    // a future epoch
			page.Token([]byte("another-secret-0123456789abcdef"), "acme", 1),
			mangled(acme, 0), mangled(acme, 21), mangled(acme, 42),
			acme[:42],
			acme + "A",
			acme[:21] + globex[21:],
			strings.ToUpper(acme),
		}
		for _, tok := range other {
			if tok == acme || tok == globex {
				continue
			}
			same404(t, "GET", "/p/"+tok+"/")
			same404(t, "GET", "/p/"+tok+"/feed.atom")
			same404(t, "GET", "/p/"+tok)
			same404(t, "HEAD", "/p/"+tok+"/")
		}
	})
	t.Run("path tricks", func(t *testing.T) {
		for _, target := range []string{
			"/p/" + acme + "/../x",
			"/p/" + acme + "/..",
			"/p/" + globex + "/../" + acme + "/",
			"/p/" + acme + "//",
			"//p/" + acme + "/",
			"/p//" + acme + "/",
			"/p/" + acme + "%2F",
			"/p/" + acme + "%2Ffeed.atom",
			"/p%2F" + acme + "/",
			"/p/" + acme + "/feed.atom/x",
			"/p/" + acme + "/feed.atom/",
			"/p/" + acme + "/index.html",
			"/p/" + acme + "/x",
			"/p/" + acme + "/./",
			"/p/" + acme + "/%66eed.atom",
			"/p/" + acme + "/FEED.ATOM",
			"/",
			"/p/",
			"/p",
			"/index.html",
			"/robots.txt",
			"/favicon.ico",
			"/healthz",
			"/metrics",
			"/webhooks",
		} {
			same404(t, "GET", target)
		}
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			same404(t, m, "/p/"+acme+"/")
			same404(t, m, "/p/"+acme+"/feed.atom")
		}
	})
	t.Run("unknown webhook path", func(t *testing.T) {
		// No vendor is configured in the demo: /webhooks/<anything> is an
		// unknown path of the public listener like any other.
		same404(t, "GET", "/webhooks/nope")
		same404(t, "POST", "/webhooks/github")
	})

	t.Run("rotation by another process reaches the running server", func(t *testing.T) {
		r := runBin(t, demoEnv(dir, "VITRINE_PAGE_SECRET="+testPageSecret), "links", "--rotate", "acme")
		if r.Code != 0 {
			t.Fatalf("links --rotate: %s", r)
		}
		newLink := pageLinks(r.Stdout)["acme"]
		if newLink == "" {
			t.Fatalf("links --rotate printed no new link:\n%s", r)
		}
		fresh := tokenOf(t, newLink)
		if fresh == acme {
			t.Fatal("rotation printed the old token")
		}
		deadline := time.Now().Add(8 * time.Second)
		for {
			old := rawRequest(t, public, "GET", "/p/"+acme+"/")
			now := get(t, base+"/p/"+fresh+"/")
			if old.comparable() == unknown.comparable() && now.Status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("8s after the rotation: old token %d, new token %d", old.Status, now.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		same404(t, "GET", "/p/"+acme+"/feed.atom")
		same404(t, "GET", "/p/"+acme)
		// The other customer's link is untouched.
		if g := get(t, links["globex"]); g.Status != http.StatusOK {
			t.Errorf("globex after acme's rotation: %d", g.Status)
		}
	})

	t.Run("admin endpoints", func(t *testing.T) {
		if admin == public {
			t.Fatalf("admin and public share %s", admin)
		}
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "vitrine_"} {
			r := get(t, "http://"+admin+path)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), want) {
				t.Errorf("admin %s: %d %q", path, r.Status, clip(string(r.Body)))
			}
		}
		// The public listener does not serve them.
		if r := rawRequest(t, public, "GET", "/metrics"); r.Status != http.StatusNotFound {
			t.Errorf("public /metrics: %d", r.Status)
		}
	})

	code, took := p.stop(15 * time.Second)
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("exit took %s", took)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(p.stderr.String(), bad) {
			t.Errorf("stderr has %q:\n%s", bad, p.stderr)
		}
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// The demo makes up its secrets for each run; the page's anchors must be
// keyed by them too. Equal anchors across two runs with different secrets
// mean they are keyed by a constant: then an anchor is an unkeyed hash of
// the internal item id, and anyone can test a guess of it.
func TestDemoAnchorsAreKeyedByTheRunsSecret(t *testing.T) {
	t.Parallel()
	var runs []map[string]string
	for i := 0; i < 2; i++ {
		dir := copyDemo(t)
		p, links, _, _ := startDemo(t, dir)
		r := get(t, links["acme"])
		p.stop(15 * time.Second)
		a := itemAnchors(string(r.Body))
		if len(a) == 0 {
			t.Fatalf("no item anchors on the demo page")
		}
		runs = append(runs, a)
	}
	same := 0
	for title, anchor := range runs[0] {
		if runs[1][title] == anchor {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of %d item anchors are the same in two demo runs with different secrets (e.g. %v): they are keyed by a constant", same, len(runs[0]), runs[0])
	}
}
