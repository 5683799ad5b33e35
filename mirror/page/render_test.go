package page

import (
	"bytes"
	"encoding/xml"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vitrine/mapping"
	"vitrine/scrub"
)

// Canaries: every internal identity of the rich view. None may reach any
// output, in any encoding.
const (
	canaryCustomer = "cust-CANARY-slug"
	canaryPrefix   = "src:CANARY/"
)

var canaries = []string{
	canaryCustomer,
	"CANARY",
	canaryPrefix + "item-1&x=1",
	canaryPrefix + "item-2",
	canaryPrefix + "ms-1",
	canaryPrefix + "upd-1",
}

func txt(s string) scrub.Inline { return scrub.Inline{Kind: scrub.Text, Text: s} }

func para(in ...scrub.Inline) scrub.Block { return scrub.Block{Kind: scrub.Paragraph, Inlines: in} }

func doc(b ...scrub.Block) scrub.Doc { return scrub.Doc{Blocks: b} }

func ip(n int) *int { return &n }

var richChanged = time.Date(2026, 3, 12, 16, 30, 0, 0, time.UTC)

// richView has every kind of content the page shows, keys made of
// canaries, and text that would overflow a phone if it did not wrap.
func richView() mapping.View {
	k := func(s string) string { return canaryPrefix + s }
	longURL := "https://acme.example/a/very/long/path/that/does/not/fit/on/a/phone/screen/at/all/" + strings.Repeat("segment-", 8) + "end"
	return mapping.View{
		Customer: canaryCustomer,
		Name:     "ACME Corp",
		Timezone: "Europe/Berlin",
		Health:   mapping.AtRisk,
		Updates: []mapping.Update{
			{
				Key: k("upd-3"), Item: k("item-1&x=1"), Health: mapping.AtRisk, Author: "Anna (Agency team)",
				Time: time.Date(2026, 3, 12, 15, 45, 0, 0, time.UTC),
				Body: doc(
					para(txt("Payment provider sandbox is late; we moved the checkout work behind the search release.")),
					para(txt("Ask "), scrub.Inline{Kind: scrub.Mention, Text: "bob"}, txt(" about "), scrub.Inline{Kind: scrub.XRef, Text: "#12"}, txt(" if unsure.")),
				),
			},
			{
				Key: k("upd-2"), Health: mapping.OnTrack, Author: "Agency team",
				Time: time.Date(2026, 2, 27, 23, 30, 0, 0, time.UTC), // 28 Feb in Berlin
				Body: doc(para(txt("Design sign-off done. Details: "), scrub.Inline{Kind: scrub.Link, Href: longURL, Children: []scrub.Inline{txt(longURL)}})),
			},
			{
				Key: k("upd-1"), Health: mapping.OnTrack, Author: "Agency team",
				Time: time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC),
				Body: doc(para(txt("Kick-off held."))),
			},
		},
		Milestones: []mapping.Milestone{
			{Key: k("ms-1"), Name: []scrub.Inline{txt("Search release")}, Due: "2026-04-17", Progress: ip(40),
				Description: doc(para(txt("Faceted search and the new results page.")))},
			{Key: k("ms-2"), Name: []scrub.Inline{txt("Checkout "), {Kind: scrub.Emph, Children: []scrub.Inline{txt("v2")}}}, Due: "2026-06-05", Progress: ip(5)},
			{Key: k("ms-3"), Name: []scrub.Inline{txt("Discovery")}, Due: "2026-01-30", Progress: ip(100), Done: true},
		},
		Groups: []string{"In progress", "On hold", "Done"},
		Items: []mapping.Item{
			{
				Key: k("item-1&x=1"), Title: []scrub.Inline{txt("Faceted search "), {Kind: scrub.Code, Text: "filters"}},
				Status: "In progress", Due: "2026-04-10", Progress: ip(60), Milestone: k("ms-1"),
				Assignees: []string{"Dana"},
				Fields:    []mapping.Field{{Name: "Priority", Value: "High"}},
				Body: doc(
					scrub.Block{Kind: scrub.Heading, Level: 2, Inlines: []scrub.Inline{txt("Client summary")}},
					para(txt("Filters by brand, price and "), scrub.Inline{Kind: scrub.Strong, Children: []scrub.Inline{txt("availability")}}, txt("."), scrub.Inline{Kind: scrub.Omitted}),
					scrub.Block{Kind: scrub.List, Items: [][]scrub.Block{{para(txt("Brand"))}, {para(txt("Price range"))}}},
					scrub.Block{Kind: scrub.CodeBlock, Lang: "json", Text: `{"query":"` + strings.Repeat("averyveryverylongunbrokenword", 6) + `"}`},
					para(txt(strings.Repeat("Supercalifragilisticexpialidocious", 4))),
				),
				Comments: []mapping.Comment{
					{Key: k("item-1&x=1") + "/c/1", Author: "ACME team", Time: time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC),
						Body: doc(para(txt("Staging is ready for your review.")))},
					{Key: k("item-1&x=1") + "/c/2", Author: "ACME team", Time: time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), // summer time from 29 Mar
						Body: doc(scrub.Block{Kind: scrub.Quote, Children: []scrub.Block{para(txt("quoted"))}}, para(txt("Feedback applied.")))},
				},
			},
			{
				Key: k("item-3"), Parent: k("item-1&x=1"), Title: []scrub.Inline{txt("Search results page")},
				Status: "In progress", Due: "2026-04-14", Milestone: k("ms-1"),
			},
			{
				Key: k("item-2"), Title: []scrub.Inline{txt("Checkout with the new payment provider")},
				Status: "On hold", Due: "2026-05-29", Progress: ip(0), Milestone: k("ms-2"),
				Body: doc(para(txt("Waiting for the provider's sandbox."))),
			},
			{
				Key: k("item-4"), Title: []scrub.Inline{txt("Discovery workshop")},
				Status: "Done", Done: true, Milestone: k("ms-3"),
			},
		},
		Hash: "CANARY-hash",
	}
}

func richOptions() Options {
	return Options{IDKey: testIDKey, Changed: richChanged, Feed: FeedFull, PageURL: "https://status.example.com/p/" + Token(testSecret, canaryCustomer, 1) + "/"}
}

func assertNoCanary(t *testing.T, what string, out []byte) {
	t.Helper()
	low := bytes.ToLower(out)
	for _, c := range canaries {
		for _, form := range []string{c, html.EscapeString(c), url.QueryEscape(c), url.PathEscape(c), strings.ReplaceAll(html.EscapeString(c), "&#39;", "&#x27;")} {
			if bytes.Contains(low, []byte(strings.ToLower(form))) {
				t.Errorf("%s carries %q (as %q)", what, c, form)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mirror/page -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./mirror/page -update to accept):\n%s", name, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

func TestRenderMatchesGolden(t *testing.T) {
	out, err := Render(richView(), richOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "page.golden.html", out)
	again, _ := Render(richView(), richOptions())
	if !bytes.Equal(out, again) {
		t.Error("rendering is not deterministic")
	}
}

func TestFeedMatchesGolden(t *testing.T) {
	out, err := RenderFeed(richView(), FeedFull, richOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "feed.golden.atom", out)
}

func TestOutputsNeverCarryKeysOrCustomerID(t *testing.T) {
	v := richView()
	page, err := Render(v, richOptions())
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "page", page)
	for _, mode := range []FeedMode{FeedFull, FeedTitles} {
		o := richOptions()
		o.PageURL = ""
		feed, err := RenderFeed(v, mode, o)
		if err != nil {
			t.Fatal(err)
		}
		assertNoCanary(t, "feed "+string(mode), feed)
	}
	// The same through the handler, headers included.
	e := newHandlerEnv(t)
	v.Customer = "acme"
	e.views.put(v, richChanged)
	for _, p := range []string{"/p/" + e.acme + "/", "/p/" + e.acme + "/feed.atom"} {
		w := e.do("GET", p)
		if w.Code != 200 {
			t.Fatalf("%d", w.Code)
		}
		assertNoCanary(t, "served "+p[len(p)-5:], w.Body.Bytes())
		var hdr bytes.Buffer
		_ = w.Header().Write(&hdr)
		assertNoCanary(t, "headers", hdr.Bytes())
	}
}

func TestPageShowsTheCustomersContent(t *testing.T) {
	out, err := Render(richView(), richOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"<title>Project status</title>",
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		"<h1>ACME Corp</h1>",
		"Overall health: <strong>At risk</strong>",
		"Last updated <time", "12 Mar 2026, 17:30 CET", // richChanged in Berlin
		"Payment provider sandbox is late",
		"28 Feb 2026, 00:30 CET", // an update's date in the customer's timezone
		"29 Mar 2026, 09:00 CEST",
		"Search release", "17 Apr 2026", `<progress max="100" value="40">40%</progress><span>40% complete</span>`,
		"Faceted search", "Staging is ready for your review.", "Priority", "Assigned to Dana",
		"Part of <a href=\"#i-",
		"Kick-off held.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Groups in v.Groups order.
	re := regexp.MustCompile(`<section class="group">\n<h3>([^<]*)</h3>`)
	var groups []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		groups = append(groups, m[1])
	}
	if strings.Join(groups, "|") != "In progress|On hold|Done" {
		t.Errorf("groups %v", groups)
	}
	for _, banned := range []string{"<script", "og:", "twitter:", `name="description"`, "http://", " style=", "<img", "<iframe", "<form", "@import", "url("} {
		if strings.Contains(s, banned) {
			t.Errorf("page contains %q", banned)
		}
	}
	// External links only as scrub kept them (allowed domains), nothing loaded.
	if n := strings.Count(s, "https://"); n != strings.Count(s, "https://acme.example/") {
		t.Errorf("%d https references, not all to the allowed domain", n)
	}
}

type atomCheck struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Author  string `xml:"author>name"`
		Link    struct {
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Summary *struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"summary"`
		Content *struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func parseFeed(t *testing.T, b []byte) atomCheck {
	t.Helper()
	var f atomCheck
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&f); err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, b)
	}
	return f
}

func TestFeedIsValidAtomWithStableOpaqueIDs(t *testing.T) {
	o := richOptions()
	full, err := RenderFeed(richView(), FeedFull, o)
	if err != nil {
		t.Fatal(err)
	}
	f := parseFeed(t, full)
	if f.Title != "ACME Corp: project status" {
		t.Errorf("title %q", f.Title)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Updated, err)
	}
	self := ""
	for _, l := range f.Links {
		if l.Rel == "self" {
			self = l.Href
		}
	}
	if self != o.PageURL+"feed.atom" {
		t.Errorf("self link %q, want the public URL with the token", self)
	}
	if len(f.Entries) != 3 {
		t.Fatalf("%d entries", len(f.Entries))
	}
	urn := regexp.MustCompile(`^urn:vitrine:[0-9a-f]{32}$`)
	seen := map[string]bool{f.ID: true}
	if !urn.MatchString(f.ID) {
		t.Errorf("feed id %q", f.ID)
	}
	for _, e := range f.Entries {
		if !urn.MatchString(e.ID) || seen[e.ID] {
			t.Errorf("entry id %q not an opaque unique urn", e.ID)
		}
		seen[e.ID] = true
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			t.Errorf("entry updated %q", e.Updated)
		}
		if e.Author == "" || !strings.HasPrefix(e.Link.Href, o.PageURL+"#u-") {
			t.Errorf("entry author %q link %q", e.Author, e.Link.Href)
		}
		if e.Content == nil || e.Content.Type != "html" || e.Summary == nil || e.Summary.Body == "" {
			t.Errorf("full entry without text: %+v", e)
		}
	}
	if f.Entries[0].Title != "At risk · 12 Mar 2026" || !strings.Contains(f.Entries[0].Summary.Body, "Payment provider sandbox is late") {
		t.Errorf("first entry %q / %+v", f.Entries[0].Title, f.Entries[0].Summary)
	}
	// The entry's link lands on the update's anchor in the page.
	page, _ := Render(richView(), o)
	anchor := f.Entries[1].Link.Href[len(o.PageURL)+1:]
	if !bytes.Contains(page, []byte(`id="`+anchor+`"`)) {
		t.Errorf("page has no anchor %s", anchor)
	}

	// Stable across renders and unaffected by other updates; the customer
	// changes them (the same source item in two customers gets two ids).
	v2 := richView()
	v2.Updates = v2.Updates[1:]
	f2 := parseFeed(t, must(RenderFeed(v2, FeedFull, o)))
	if f2.Entries[0].ID != f.Entries[1].ID || f2.ID != f.ID {
		t.Error("entry ids not stable")
	}
	v3 := richView()
	v3.Customer = "other"
	if f3 := parseFeed(t, must(RenderFeed(v3, FeedFull, o))); f3.Entries[0].ID == f.Entries[0].ID {
		t.Error("entry id does not depend on the customer")
	}

	titles := parseFeed(t, must(RenderFeed(richView(), FeedTitles, o)))
	for _, e := range titles.Entries {
		if e.Content != nil || e.Summary != nil {
			t.Errorf("titles feed carries text: %+v", e)
		}
	}
	if titles.Entries[1].Title != "On track · 28 Feb 2026" {
		t.Errorf("titles entry %q: want health and the date in the customer's timezone", titles.Entries[1].Title)
	}
	if bytes.Contains(must(RenderFeed(richView(), FeedTitles, o)), []byte("Payment")) {
		t.Error("titles feed leaks update text")
	}
	if _, err := RenderFeed(richView(), FeedOff, o); err != ErrFeedOff {
		t.Errorf("feed off: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
