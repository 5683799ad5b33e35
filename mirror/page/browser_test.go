package page

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/internal/cdp"
)

// The real page, through the real handler, in a real browser on a phone
// viewport with JavaScript off.
func TestPageInHeadlessChromiumAt375WithoutJavaScript(t *testing.T) {
	if !cdp.Available("") {
		t.Skip("no browser at " + cdp.DefaultPath + ": install the chromium package to run the page's browser test")
	}
	e := newHandlerEnv(t)
	v := richView()
	v.Customer = "acme"
	e.views.put(v, richChanged)
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := cdp.Launch(ctx, cdp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, step := range []func(context.Context) error{
		func(ctx context.Context) error { return p.Emulate(ctx, 375, 812) },
		p.DisableScripts,
		p.RecordRequests,
		func(ctx context.Context) error { return p.Navigate(ctx, srv.URL+"/p/"+e.acme+"/") },
	} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}

	type milestone struct {
		Name     string  `json:"name"`
		Due      string  `json:"due"`
		DueText  string  `json:"dueText"`
		Progress float64 `json:"progress"`
		Pct      string  `json:"pct"`
		BarWidth float64 `json:"barWidth"`
	}
	var got struct {
		Title       string      `json:"title"`
		Health      string      `json:"health"`
		Latest      string      `json:"latest"`
		Milestones  []milestone `json:"milestones"`
		Groups      []string    `json:"groups"`
		ScrollWidth int         `json:"scrollWidth"`
		Overflow    []string    `json:"overflow"`
		MaxWidth    string      `json:"maxWidth"`
		Scripts     int         `json:"scripts"`
		Updated     string      `json:"updated"`
	}
	err = p.Evaluate(ctx, `(() => {
		const q = (s, r) => Array.from((r || document).querySelectorAll(s));
		const t = e => e ? e.textContent.trim().replace(/\s+/g, " ") : "";
		return {
			title: document.title,
			health: t(document.querySelector("#health strong")),
			latest: t(document.querySelector("#latest .doc")),
			milestones: q("#roadmap .milestone").map(m => {
				const time = m.querySelector(".meta time"), bar = m.querySelector("progress");
				return {
					name: t(m.querySelector("h3")),
					due: time ? time.getAttribute("datetime") : "",
					dueText: t(time),
					progress: bar ? bar.value : -1,
					pct: t(m.querySelector(".bar span")),
					barWidth: bar ? bar.getBoundingClientRect().width : 0,
				};
			}),
			groups: q("#items .group > h3").map(t),
			scrollWidth: document.documentElement.scrollWidth,
			overflow: q("body *").filter(e => e.getBoundingClientRect().right > 375.5).map(e => e.tagName + "." + e.className).slice(0, 8),
			maxWidth: getComputedStyle(document.querySelector(".wrap")).maxWidth,
			scripts: document.scripts.length,
			updated: t(document.querySelector("#updated")),
		};
	})()`, &got)
	if err != nil {
		t.Fatal(err)
	}

	if got.Title != "Project status" {
		t.Errorf("title %q", got.Title)
	}
	if got.Health != "At risk" {
		t.Errorf("health %q, want the words At risk", got.Health)
	}
	if !strings.Contains(got.Latest, "Payment provider sandbox is late") {
		t.Errorf("latest update %q", got.Latest)
	}
	if got.Updated != "Last updated 12 Mar 2026, 17:30 CET" {
		t.Errorf("last updated %q", got.Updated)
	}
	if len(got.Milestones) != len(v.Milestones) {
		t.Fatalf("%d milestones shown, want %d", len(got.Milestones), len(v.Milestones))
	}
	for i, m := range v.Milestones {
		g := got.Milestones[i]
		due, _ := time.Parse("2006-01-02", m.Due)
		if g.Due != m.Due || g.DueText != due.Format("2 Jan 2006") {
			t.Errorf("milestone %d due %q (%q), want the buffered date %s", i, g.Due, g.DueText, m.Due)
		}
		if int(g.Progress) != *m.Progress || g.Pct != itoa(*m.Progress)+"% complete" {
			t.Errorf("milestone %d progress %v %q, want %d", i, g.Progress, g.Pct, *m.Progress)
		}
		if g.BarWidth < 100 {
			t.Errorf("milestone %d progress bar %.0fpx wide: stylesheet not applied?", i, g.BarWidth)
		}
	}
	if strings.Join(got.Groups, "|") != strings.Join(v.Groups, "|") {
		t.Errorf("groups %q, want %q", got.Groups, v.Groups)
	}
	if got.ScrollWidth > 375 {
		t.Errorf("scrollWidth %d > 375: horizontal scroll; overflowing: %v", got.ScrollWidth, got.Overflow)
	}
	// The inline stylesheet ran under the CSP hash (a blocked one leaves
	// max-width at none).
	if got.MaxWidth != "736px" {
		t.Errorf(".wrap max-width %q: inline style blocked by the CSP?", got.MaxWidth)
	}
	if got.Scripts != 0 {
		t.Errorf("%d scripts in the page", got.Scripts)
	}
	reqs := p.Requests()
	if len(reqs) == 0 {
		t.Error("no request recorded")
	}
	for _, u := range reqs {
		if !strings.HasPrefix(u, srv.URL+"/") {
			t.Errorf("request outside the server's origin: %s", RedactToken(u))
		}
	}

	shot := filepath.Join(repoRoot(t), "test-artifacts", "page-375x812.png")
	if err := p.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
