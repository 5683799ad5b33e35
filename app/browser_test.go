package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"vitrine/config"
	"vitrine/internal/cdp"
)

// demoBoard is the part of the file board format the expectations need,
// read with yaml.v3 directly (not with the connector under test).
type demoBoard struct {
	Milestones []struct {
		ID     string `yaml:"id"`
		Name   string `yaml:"name"`
		Due    string `yaml:"due"`
		Closed bool   `yaml:"closed"`
	} `yaml:"milestones"`
	Items []struct {
		ID        string   `yaml:"id"`
		Ref       string   `yaml:"ref"`
		Type      string   `yaml:"type"`
		Title     string   `yaml:"title"`
		Status    string   `yaml:"status"`
		State     string   `yaml:"state"`
		Labels    []string `yaml:"labels"`
		Parent    string   `yaml:"parent"`
		Milestone string   `yaml:"milestone"`
		Comments  []struct {
			Author     string `yaml:"author"`
			Created    string `yaml:"created"`
			Body       string `yaml:"body"`
			Internal   bool   `yaml:"internal"`
			Restricted bool   `yaml:"restricted"`
		} `yaml:"comments"`
	} `yaml:"items"`
}

type wantMilestone struct {
	Name     string
	Due      string // buffered, 2006-01-02
	Progress int
}

type demoExpect struct {
	Health     string // the page's words
	Latest     string // the start of the latest update's text
	Milestones []wantMilestone
	Groups     []string
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// expectDemoACME works out from the demo's board and rules what ACME's page
// must show: the selection table, buffered dates in the customer's zone,
// progress over all of a milestone's items, groups in rules order.
func expectDemoACME(t *testing.T, dir string) demoExpect {
	t.Helper()
	rules, err := config.Load(filepath.Join(dir, "vitrine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c *config.Customer
	for i := range rules.Customers {
		if rules.Customers[i].ID == "acme" {
			c = &rules.Customers[i]
		}
	}
	if c == nil || len(c.Sources) != 1 || c.Sources[0].File == nil {
		t.Fatal("the demo has no acme customer with one file source")
	}
	// The expectations below implement exactly these rules; a demo edit
	// must revisit them.
	if c.Publish.When != `item.Type != "bug"` || c.Publish.Inherit || c.Statuses.Cancelled != "retract" {
		t.Fatalf("demo acme rules changed (when %q, inherit %v, cancelled %q): update the test", c.Publish.When, c.Publish.Inherit, c.Statuses.Cancelled)
	}
	var b demoBoard
	if err := yaml.Unmarshal([]byte(readFile(t, c.Sources[0].File.Resolved)), &b); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, it := range b.Items {
		byID[it.ID] = i
	}
	hidden := func(id string) bool {
		for id != "" {
			it := b.Items[byID[id]]
			if has(it.Labels, c.Publish.HideLabel) {
				return true
			}
			id = it.Parent
		}
		return false
	}
	published := map[string]bool{}
	for _, it := range b.Items {
		if has(it.Labels, c.Publish.Label) && !hidden(it.ID) && it.Type != "bug" && it.State != "cancelled" {
			published[it.ID] = true
		}
	}

	var e demoExpect
	buffered := func(due string) string {
		if d, err := time.Parse("2006-01-02", due); err == nil {
			return d.AddDate(0, 0, c.Dates.BufferDays).Format("2006-01-02")
		}
		at, err := time.Parse(time.RFC3339, due)
		if err != nil {
			t.Fatalf("due %q", due)
		}
		y, m, d := at.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, c.Dates.BufferDays).Format("2006-01-02")
	}
	for _, m := range b.Milestones {
		shown, all, done := false, 0, 0
		for _, it := range b.Items {
			if it.Milestone != m.ID {
				continue
			}
			shown = shown || published[it.ID]
			switch it.State {
			case "cancelled":
				continue
			case "done":
				done++
			}
			all++
		}
		if !shown {
			continue
		}
		e.Milestones = append(e.Milestones, wantMilestone{Name: m.Name, Due: buffered(m.Due), Progress: done * 100 / all})
	}
	sort.SliceStable(e.Milestones, func(i, j int) bool {
		if e.Milestones[i].Due != e.Milestones[j].Due {
			return e.Milestones[i].Due < e.Milestones[j].Due
		}
		return e.Milestones[i].Name < e.Milestones[j].Name
	})

	word := func(status, state string) string {
		switch state {
		case "done":
			return c.Statuses.Done
		}
		if w, ok := c.Statuses.Map.Get(status); ok {
			return w
		}
		return c.Statuses.Default
	}
	used := map[string]bool{}
	for _, it := range b.Items {
		if published[it.ID] {
			used[word(it.Status, it.State)] = true
		}
	}
	var order []string
	for _, k := range c.Statuses.Map.Keys {
		w, _ := c.Statuses.Map.Get(k)
		order = append(order, w)
	}
	order = append(order, c.Statuses.Default, c.Statuses.Done)
	for _, w := range order {
		if used[w] && !has(e.Groups, w) {
			e.Groups = append(e.Groups, w)
		}
	}

	var newest time.Time
	for _, it := range b.Items {
		if !published[it.ID] && it.Ref != c.Publish.StatusItem {
			continue
		}
		for _, cm := range it.Comments {
			f := strings.Fields(cm.Body)
			if len(f) < 3 || f[0] != "/status" || cm.Internal || cm.Restricted || !has(c.Publish.StatusAuthors, cm.Author) {
				continue
			}
			words := map[string]string{"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}
			if words[f[1]] == "" {
				continue
			}
			at, err := time.Parse(time.RFC3339, cm.Created)
			if err != nil {
				t.Fatal(err)
			}
			if at.After(newest) {
				newest = at
				e.Health = words[f[1]]
				e.Latest = strings.Join(f[2:min(len(f), 8)], " ")
			}
		}
	}
	if e.Health == "" || len(e.Milestones) == 0 || len(e.Groups) == 0 {
		t.Fatalf("the demo board gives nothing to check: %+v", e)
	}
	return e
}

// The demo's ACME page in a real browser, as a customer opens it on a
// phone with JavaScript off.
func TestDemoACMEPageInHeadlessChromiumAt375WithoutJavaScript(t *testing.T) {
	if !cdp.Available("") {
		t.Skip("no browser at " + cdp.DefaultPath)
	}
	t.Parallel()
	dir := copyDemo(t)
	want := expectDemoACME(t, dir)
	p, links, public, _ := startDemo(t, dir)
	defer p.stop(15 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := cdp.Launch(ctx, cdp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pg, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for _, step := range []func(context.Context) error{
		func(ctx context.Context) error { return pg.Emulate(ctx, 375, 812) },
		pg.DisableScripts,
		pg.RecordRequests,
		func(ctx context.Context) error { return pg.Navigate(ctx, links["acme"]) },
	} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	type milestone struct {
		Name     string  `json:"name"`
		Due      string  `json:"due"`
		Progress float64 `json:"progress"`
		Pct      string  `json:"pct"`
	}
	var got struct {
		Title       string      `json:"title"`
		Health      string      `json:"health"`
		Latest      string      `json:"latest"`
		Milestones  []milestone `json:"milestones"`
		Groups      []string    `json:"groups"`
		ScrollWidth int         `json:"scrollWidth"`
		Overflow    []string    `json:"overflow"`
		Scripts     int         `json:"scripts"`
		MaxWidth    string      `json:"maxWidth"`
	}
	err = pg.Evaluate(ctx, `(() => {
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
					progress: bar ? bar.value : -1,
					pct: t(m.querySelector(".bar span")),
				};
			}),
			groups: q("#items .group > h3").map(t),
			scrollWidth: document.documentElement.scrollWidth,
			overflow: q("body *").filter(e => e.getBoundingClientRect().right > 375.5).map(e => e.tagName + "." + e.className).slice(0, 8),
			scripts: document.scripts.length,
			maxWidth: getComputedStyle(document.querySelector(".wrap")).maxWidth,
		};
	})()`, &got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Project status" {
		t.Errorf("title %q: a generic title names neither customer nor project", got.Title)
	}
	if got.Health != want.Health {
		t.Errorf("health %q, want %q", got.Health, want.Health)
	}
	if !strings.Contains(got.Latest, want.Latest) {
		t.Errorf("latest update %q, want it to start %q", got.Latest, want.Latest)
	}
	var gotMs, wantMs []string
	for _, m := range got.Milestones {
		gotMs = append(gotMs, fmt.Sprintf("%s due %s %v%% (%s)", m.Name, m.Due, m.Progress, m.Pct))
	}
	for _, m := range want.Milestones {
		wantMs = append(wantMs, fmt.Sprintf("%s due %s %d%% (%d%% complete)", m.Name, m.Due, m.Progress, m.Progress))
	}
	if strings.Join(gotMs, "\n") != strings.Join(wantMs, "\n") {
		t.Errorf("roadmap:\n%s\nwant:\n%s", strings.Join(gotMs, "\n"), strings.Join(wantMs, "\n"))
	}
	if strings.Join(got.Groups, "|") != strings.Join(want.Groups, "|") {
		t.Errorf("status groups %q, want %q", got.Groups, want.Groups)
	}
	if got.ScrollWidth > 375 {
		t.Errorf("scrollWidth %d > 375: horizontal scroll; overflowing: %v", got.ScrollWidth, got.Overflow)
	}
	if got.Scripts != 0 {
		t.Errorf("%d scripts", got.Scripts)
	}
	if got.MaxWidth == "none" {
		t.Errorf("the inline stylesheet did not apply (CSP?)")
	}
	reqs := pg.Requests()
	if len(reqs) == 0 {
		t.Error("no request recorded")
	}
	for _, u := range reqs {
		if !strings.HasPrefix(u, "http://"+public+"/") {
			t.Errorf("request to another origin: %s", u)
		}
	}
	shot := filepath.Join(repoRoot(t), "test-artifacts", "demo-acme-375x812.png")
	if err := pg.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}
