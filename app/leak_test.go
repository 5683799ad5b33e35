package app_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"vitrine/connectors/file"
	"vitrine/item"
	"vitrine/mapping"
)

// Leak policies of the canonical fields, for the rules the leak hunt uses
// (show: title source, body section, comments marked with author team,
// dates, progress, no assignees, no milestone description, one custom
// field). Every field of item.Item, item.Comment and item.Milestone must be
// listed: a new field fails the hunt until someone decides whether and how
// it may leave, and gives it a canary.
type leakPolicy int

const (
	lpNever   leakPolicy = iota // a canary through the file board: must never leave
	lpShown                     // set by the test to a published marker that must appear
	lpKey                       // an identity (canary-valued): only in preview JSON key positions
	lpFixed                     // cannot hold a distinctive value (enum, bool, count)
	lpDerived                   // the file board cannot set it
	lpNested                    // comments: walked with their own rules
)

type fieldRule struct {
	p   leakPolicy
	why string
}

var (
	leakItemRules = map[string]fieldRule{
		"ID": {lpKey, ""}, "Source": {lpKey, "the board's file name"}, "Ref": {lpNever, ""},
		"URL":  {lpDerived, "the file board has no URL"},
		"Kind": {lpFixed, "issue|subtask|epic"}, "Type": {lpNever, ""},
		"Title": {lpShown, ""}, "Body": {lpShown, "the client section; hidden places carry canaries"},
		"Status": {lpNever, "unmapped: the default word shows"}, "State": {lpFixed, "open|done|cancelled"},
		"Resolution": {lpNever, ""}, "Labels": {lpNever, "besides the publish label"},
		"Parent": {lpKey, ""}, "Milestone": {lpKey, ""}, "Assignees": {lpNever, "assignees: false"},
		"Reporter": {lpNever, ""}, "Created": {lpNever, ""}, "Updated": {lpNever, ""},
		"Start": {lpNever, ""}, "Due": {lpShown, "buffered; the raw date is a canary"},
		"Completed": {lpNever, ""}, "Fields": {lpNever, "besides visible_field"},
		"SecurityLevel": {lpNever, "allowed by allow_security_levels, never shown"},
		"Comments":      {lpNested, ""}, "CommentCount": {lpFixed, "the board counts its comments"},
		"CommentsLoaded": {lpFixed, "bool"},
	}
	leakCommentRules = map[string]fieldRule{
		"ID": {lpKey, ""}, "Author": {lpNever, "comment_author: team"}, "Created": {lpShown, ""},
		"Updated": {lpNever, ""}, "Body": {lpShown, "after the marker; hidden places carry canaries"},
		"Internal": {lpFixed, "bool: internal comments are hidden places"}, "Restricted": {lpFixed, "bool: as Internal"},
	}
	leakMilestoneRules = map[string]fieldRule{
		"ID": {lpKey, ""}, "Source": {lpKey, "the board's file name"}, "Name": {lpShown, ""},
		"Description": {lpNever, "milestone_description: none"}, "Due": {lpShown, "buffered; the raw date is a canary"},
		"Closed": {lpFixed, "bool"}, "URL": {lpDerived, "the file board has no URL"}, "Updated": {lpNever, ""},
	}
)

type leakCanary struct {
	field string
	value string
	date  bool
}

type leakGen struct {
	n, year int
	list    []leakCanary
}

// text is a canary with a character JSON, HTML and URL encodings change.
func (g *leakGen) text(field string) string {
	g.n++
	v := fmt.Sprintf("cnry%02d&%s", g.n, strings.ToLower(strings.NewReplacer(".", "", "(", "", ")", "").Replace(field)))
	g.list = append(g.list, leakCanary{field: field, value: v})
	return v
}

// word is a canary usable where '&' is not (URLs, ids).
func (g *leakGen) word(field string) string {
	g.n++
	v := fmt.Sprintf("cnry%02d-%s", g.n, strings.ToLower(strings.ReplaceAll(field, ".", "")))
	g.list = append(g.list, leakCanary{field: field, value: v})
	return v
}

// date is a date canary in a year nothing else uses.
func (g *leakGen) date(field string) time.Time {
	g.year++
	d := time.Date(1960+g.year, time.Month(g.year%12+1), g.year%27+1, 4, 5, 6, 0, time.UTC)
	g.list = append(g.list, leakCanary{field: field, value: d.Format("2006-01-02"), date: true})
	return d
}

func (g *leakGen) key(field, v string) string {
	g.list = append(g.list, leakCanary{field: field, value: v})
	return v
}

// fill walks the canonical type and gives every lpNever field a canary in
// the board value of the same name. It also checks that every board field
// maps to a canonical one, so a new board key cannot dodge the hunt.
func (g *leakGen) fill(t *testing.T, canon reflect.Type, board reflect.Value, rules map[string]fieldRule) {
	t.Helper()
	name := canon.Name()
	seen := map[string]bool{}
	for i := 0; i < canon.NumField(); i++ {
		f := canon.Field(i)
		seen[f.Name] = true
		r, ok := rules[f.Name]
		if !ok {
			t.Errorf("%s.%s has no leak rule: decide whether it may leave under these rules and give it a canary", name, f.Name)
			continue
		}
		if r.p != lpNever {
			continue
		}
		bf := board.FieldByName(f.Name)
		if !bf.IsValid() {
			t.Errorf("%s.%s must never leave, but the file board cannot carry a canary for it: extend connectors/file or this test", name, f.Name)
			continue
		}
		field := name + "." + f.Name
		switch f.Type {
		case reflect.TypeOf(""):
			bf.SetString(g.text(field))
		case reflect.TypeOf(item.State("")):
			bf.SetString(g.text(field))
		case reflect.TypeOf([]string(nil)):
			bf.Set(reflect.Append(bf, reflect.ValueOf(g.text(field))))
		case reflect.TypeOf(time.Time{}), reflect.TypeOf(&time.Time{}):
			bf.SetString(g.date(field).Format(time.RFC3339))
		case reflect.TypeOf(&item.Due{}):
			bf.SetString(g.date(field).Format("2006-01-02"))
		case reflect.TypeOf(map[string]any{}):
			if bf.IsNil() {
				bf.Set(reflect.MakeMap(bf.Type()))
			}
			bf.SetMapIndex(reflect.ValueOf(g.text(field+"Key")), reflect.ValueOf(any(g.text(field+"Value"))))
		default:
			t.Errorf("%s: no canary generator for %s: extend the test", field, f.Type)
		}
	}
	for f := range rules {
		if !seen[f] {
			t.Errorf("%s.%s has a leak rule but no longer exists", name, f)
		}
	}
	bt := board.Type()
	for i := 0; i < bt.NumField(); i++ {
		if f := bt.Field(i); f.IsExported() {
			if _, ok := canon.FieldByName(f.Name); !ok {
				t.Errorf("board field %s.%s has no canonical field: the hunt cannot place it", bt.Name(), f.Name)
			}
		}
	}
}

// leakFixture is a board and rules with every hidden place, and what must
// and must not show for each customer.
type leakFixture struct {
	dir      string
	canaries []leakCanary
	// shown must appear in every output of customer A that carries that
	// kind of text; otherMarker/ownMarker tell the customers apart.
	pageShown, feedShown, previewShown []string
}

const (
	leakA         = "cnry-acme"
	leakB         = "cnry-second"
	leakBoardName = "cnry-src-board.yaml"
)

func newLeakFixture(t *testing.T) *leakFixture {
	g := &leakGen{}
	hidden := func(what string) string { return g.text("hidden." + what) }
	hiddenWord := func(what string) string { return g.word("hidden." + what) }

	// The published canary item: shown fields carry pubok markers, every
	// field that must not leave a canary, the body every hidden place.
	it := file.Item{
		ID: g.key("Item.ID", "cnry-item-id"), Kind: "issue", Title: "pubokTitleMain", State: "open",
		Labels: []string{"pub"}, Parent: g.key("Item.Parent", "cnry-parent-id"),
		Milestone: g.key("Item.Milestone", "cnry-ms-id"), Due: "2031-05-10",
		Fields: map[string]any{"visible_field": "pubokFieldValue"},
	}
	g.list = append(g.list, leakCanary{field: "Item.Due (raw, unbuffered)", value: "2031-05-10", date: true})
	it.Body = hidden("preamble") + " outside the section\n\n" +
		"## Client summary\n\n" +
		"pubokBodyOne [pubokGoodLink](https://ok.example/pubokhref) and [pubokBadLinkText](https://bad.example/" + hiddenWord("badurl") + ") and [pubokRefText][r1].\n\n" +
		"<!-- " + hidden("htmlcomment") + " -->\n\n" +
		"![" + hidden("imagealt") + "](https://img.example/" + hiddenWord("imageurl") + ".png)\n\n" +
		"Inline <!-- internal -->" + hidden("inlineinternal") + "<!-- /internal --> pubokAfterInline.\n\n" +
		"<details><summary>" + hidden("rawhtml") + "</summary>" + hidden("rawhtmlbody") + "</details>\n\n" +
		"Raw <span title=\"" + hidden("rawattr") + "\">pubokSpanText</span> inline.\n\n" +
		"[r1]: https://bad.example/" + hiddenWord("refdefurl") + "\n" +
		"[unused]: https://ok.example/" + hiddenWord("unusedrefdef") + "\n\n" +
		"### Internal\n\n" + hidden("internalsection") + "\n\n" +
		"### Next steps\n\n" +
		"pubokBodyTwo\n\n" +
		"<!-- internal -->\n" + hidden("blockinternal") + "\n<!-- /internal -->\n\n" +
		"## Appendix\n\n" + hidden("aftersection") + "\n"
	c1 := file.Comment{
		ID: g.key("Comment.ID", "cnry-c1"), Created: "2030-01-15T10:00:00Z",
		Body: "[client] pubokCommentOne\n\n> " + hidden("quote") + "\n\npubokCommentTwo [pubokCommentLinkText](https://bad.example/" + hiddenWord("commentlinkurl") + ") <!-- " + hidden("commenthtml") + " -->",
	}
	g.fill(t, reflect.TypeOf(item.Comment{}), reflect.ValueOf(&c1).Elem(), leakCommentRules)
	statusAuthor := g.key("status author", "cnry-status-author")
	it.Comments = []file.Comment{
		c1,
		{ID: "c2", Created: "2030-01-16T10:00:00Z", Internal: true, Body: "[client] " + hidden("internalcomment")},
		{ID: "c3", Created: "2030-01-17T10:00:00Z", Restricted: true, Body: "[client] " + hidden("restrictedcomment")},
		{ID: "c4", Created: "2030-01-18T10:00:00Z", Body: hidden("unmarkedcomment")},
		{ID: "c5", Created: "2030-02-01T10:00:00Z", Author: statusAuthor, Body: "/status at_risk pubokStatusText"},
		{ID: "c6", Created: "2030-03-01T10:00:00Z", Author: statusAuthor, Internal: true, Body: "/status off_track " + hidden("internalstatus")},
		{ID: "c7", Created: "2030-03-02T10:00:00Z", Author: "someone-else", Body: "/status on_track " + hidden("unauthorisedstatus")},
		{ID: "c8", Created: "2030-03-03T10:00:00Z", Author: statusAuthor, Restricted: true, Body: "/status on_track " + hidden("restrictedstatus")},
		{ID: "c9", Created: "2030-03-04T10:00:00Z", Author: statusAuthor, Body: "/status bogus " + hidden("badhealthstatus")},
		{ID: "c10", Created: "2030-03-05T10:00:00Z", Author: statusAuthor, Body: "[client] /status off_track " + hidden("markedinternalstatus") + "\n\n> " + hidden("statusquote")},
	}
	// c10 is a valid update (marker allowed before /status): its text
	// shows, its quote never. Make its visible part a marker.
	it.Comments[9].Body = "[client] /status off_track pubokStatusTwo\n\n> " + hidden("statusquote")
	g.fill(t, reflect.TypeOf(item.Item{}), reflect.ValueOf(&it).Elem(), leakItemRules)

	ms := file.Milestone{ID: "cnry-ms-id", Name: "pubokMilestoneName", Due: "2031-06-01"}
	g.list = append(g.list, leakCanary{field: "Milestone.Due (raw, unbuffered)", value: "2031-06-01", date: true})
	g.key("Milestone.ID", "cnry-ms-id")
	g.fill(t, reflect.TypeOf(item.Milestone{}), reflect.ValueOf(&ms).Elem(), leakMilestoneRules)
	ms.Description = "## Client summary\n\n" + ms.Description
	unusedMs := file.Milestone{ID: "cnry-ms-unused", Name: hidden("unusedmilestone"), Due: "2031-07-01"}
	g.key("Milestone.Source", "cnry-src-board")
	g.key("Item.Source", "file:"+leakBoardName)
	g.key("customer id A", leakA)
	g.key("customer id B", leakB)
	if t.Failed() {
		t.FailNow()
	}

	board := file.Board{
		Milestones: []file.Milestone{ms, unusedMs},
		Items: []file.Item{
			{ID: "cnry-parent-id", Title: "pubokParentTitle", Labels: []string{"pub"}, Type: "feature", Milestone: "cnry-ms-id",
				Body: "## Client summary\n\npubokParentBody\n"},
			it,
			{ID: "cnry-unpub", Title: hidden("unpublishedtitle"), Body: "## Client summary\n\n" + hidden("unpublishedbody"), Milestone: "cnry-ms-id", State: "done",
				Comments: []file.Comment{{ID: "u1", Created: "2030-04-01T10:00:00Z", Author: statusAuthor, Body: "/status off_track " + hidden("statusonunpublished")}}},
			{ID: "cnry-hidden", Title: hidden("hiddenlabeltitle"), Labels: []string{"pub", "hide"}, Body: "## Client summary\n\n" + hidden("hiddenlabelbody")},
			{ID: "cnry-hidden-child", Parent: "cnry-item-id", Title: hidden("hiddenchildtitle"), Labels: []string{"pub", "hide"}},
			{ID: "cnry-child", Parent: "cnry-item-id", Title: hidden("uninheritedchildtitle")},
			{ID: "cnry-bug", Type: "bug", Title: hidden("whenfailstitle"), Labels: []string{"pub"}, Body: "## Client summary\n\n" + hidden("whenfailsbody")},
			{ID: "cnry-cancelled", State: "cancelled", Resolution: "duplicate", Title: hidden("cancelledtitle"), Labels: []string{"pub"}},
			{ID: "cnry-both", Title: hidden("conflicttitle"), Labels: []string{"pub", "pub-b"}},
			{ID: "cnry-unpub2", Title: hidden("unpub2title"), Milestone: "cnry-ms-unused"},
			{ID: "cnry-b-item", Title: "otherpubTitle", Labels: []string{"pub-b"}, Body: "## Client summary\n\n" + hidden("secondcustomerbody"),
				Comments: []file.Comment{{ID: "b1", Created: "2030-01-20T10:00:00Z", Body: "[client] " + hidden("secondcustomercomment")}}},
		},
	}
	data, err := yaml.Marshal(board)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, leakBoardName), string(data))
	secLevel, _ := json.Marshal(it.SecurityLevel)
	writeFile(t, filepath.Join(dir, "vitrine.yaml"), `customers:
  - id: `+leakA+`
    name: Zenith Works
    timezone: Asia/Tokyo
    sources:
      - file: {path: `+leakBoardName+`}
    publish:
      label: pub
      hide_label: hide
      when: 'item.Type != "bug"'
      status_authors: [`+statusAuthor+`]
      allow_security_levels: [`+string(secLevel)+`]
    show:
      title: source
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      comment_marker: "[client]"
      comment_author: team
      dates: true
      progress: true
      assignees: false
      milestone_description: none
      link_domains: [ok.example]
      fields: [visible_field]
    statuses:
      map: {Doing: Underway}
      default: In progress
      done: Done
      cancelled: retract
    dates: {buffer_days: 7}
    targets:
      - page: {feed: full}
  - id: `+leakB+`
    name: Otherpub Corp
    sources:
      - file: {path: `+leakBoardName+`}
    publish: {label: pub-b, hide_label: hide}
    targets:
      - page: {feed: full}
`)
	text := []string{"pubokTitleMain", "pubokParentTitle", "pubokBodyOne", "pubokGoodLink", "pubokBadLinkText",
		"pubokRefText", "pubokAfterInline", "pubokSpanText", "pubokBodyTwo", "pubokCommentOne", "pubokCommentTwo",
		"pubokCommentLinkText", "pubokStatusText", "pubokStatusTwo", "pubokMilestoneName", "pubokParentBody"}
	return &leakFixture{
		dir:          dir,
		canaries:     g.list,
		pageShown:    append(append([]string(nil), text...), "Zenith Works", "https://ok.example/pubokhref", "2031-05-17", "2031-06-08", "pubokFieldValue"),
		feedShown:    []string{"Zenith Works", "pubokStatusText", "pubokStatusTwo"},
		previewShown: append(append([]string(nil), text...), "Zenith Works", "2031-05-17", "2031-06-08"),
	}
}

// forms are the ways a value can be written in output.
func forms(v string) []string {
	j, _ := json.Marshal(v)
	return []string{v, html.EscapeString(v), url.QueryEscape(v), url.PathEscape(v), string(j[1 : len(j)-1]),
		strings.NewReplacer("&", "&amp;").Replace(v), strings.NewReplacer("&", `\u0026`).Replace(v)}
}

func dateForms(iso string) []string {
	d, err := time.Parse("2006-01-02", iso)
	if err != nil {
		return []string{iso}
	}
	return []string{iso, d.Format("2 Jan 2006"), d.Format("Jan 2, 2006"), d.Format("2 January 2006"), d.Format("January 2, 2006"), d.Format("02.01.2006"), d.Format("01/02/2006")}
}

// output is one thing a customer can read, by where it came from.
type output struct {
	name string
	text string
}

// hunt checks one customer's outputs: no canary in any form, no "cnry" at
// all, nothing of the other customer, and everything published present.
func hunt(t *testing.T, f *leakFixture, outs []output, other string, shown map[string][]string) {
	t.Helper()
	for _, o := range outs {
		low := strings.ToLower(o.text)
		for _, c := range f.canaries {
			fs := forms(c.value)
			if c.date {
				fs = dateForms(c.value)
			}
			for _, form := range fs {
				if i := strings.Index(o.text, form); i >= 0 {
					t.Errorf("%s: canary of %s leaked as %q: …%s…", o.name, c.field, form, around(o.text, i))
					break
				}
			}
		}
		if i := strings.Index(low, "cnry"); i >= 0 {
			t.Errorf("%s: a canary (or an id) leaked: …%s…", o.name, around(o.text, i))
		}
		if i := strings.Index(low, strings.ToLower(other)); i >= 0 {
			t.Errorf("%s: the other customer's %q shows: …%s…", o.name, other, around(o.text, i))
		}
		for _, s := range shown[o.name] {
			if !strings.Contains(o.text, s) {
				t.Errorf("%s: published %q is missing", o.name, s)
			}
		}
	}
}

func around(s string, i int) string {
	lo, hi := max(i-60, 0), min(i+80, len(s))
	return strings.ReplaceAll(s[lo:hi], "\n", `\n`)
}

// withoutKeys blanks the key positions of a preview JSON view (identities
// renderers never print); what is left is what the customer reads.
func withoutKeys(t *testing.T, js string) string {
	t.Helper()
	var v mapping.View
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("preview json: %v\n%s", err, js)
	}
	v.Customer, v.Hash = "", ""
	for i := range v.Items {
		it := &v.Items[i]
		it.Key, it.Parent, it.Milestone, it.Hash = "", "", "", ""
		for j := range it.Comments {
			it.Comments[j].Key, it.Comments[j].Hash = "", ""
		}
	}
	for i := range v.Milestones {
		v.Milestones[i].Key, v.Milestones[i].Hash = "", ""
	}
	for i := range v.Updates {
		v.Updates[i].Key, v.Updates[i].Item, v.Updates[i].Hash = "", "", ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Anything the View type does not know is still searched.
	var extra map[string]any
	_ = json.Unmarshal([]byte(js), &extra)
	known := map[string]bool{"customer": true, "name": true, "timezone": true, "health": true, "updates": true, "milestones": true, "groups": true, "items": true, "hash": true}
	keys := make([]string, 0)
	for k := range extra {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		e, _ := json.Marshal(extra[k])
		b = append(b, e...)
	}
	return string(b)
}

// Canaries in every field the rules do not allow and in every hidden
// place, searched in every output a customer can read: preview (text and
// json), the page and feed over HTTP with their headers, and the export.
func TestCanariesNeverLeakIntoAnyCustomerOutput(t *testing.T) {
	t.Parallel()
	f := newLeakFixture(t)
	env := envFor(f.dir)
	mustRun(t, env, "validate")
	if r := mustRun(t, env, "sync"); strings.Contains(r.Stdout, "ERROR") || strings.Contains(r.Stdout, "PAUSED") || strings.Contains(r.Stdout, "parked") {
		t.Fatalf("sync did not converge:\n%s", r)
	}

	outs := map[string][]output{}
	add := func(customer, name, text string) {
		outs[customer] = append(outs[customer], output{name: customer + " " + name, text: text})
	}
	for _, c := range []string{leakA, leakB} {
		add(c, "preview text", mustRun(t, env, "preview", c).Stdout)
		add(c, "preview json", withoutKeys(t, mustRun(t, env, "preview", c, "--format", "json").Stdout))
	}

	toks := tokens(t, env)
	if toks[leakA] == "" || toks[leakB] == "" {
		t.Fatalf("links: %v", toks)
	}
	byToken := map[string]string{toks[leakA]: leakA, toks[leakB]: leakB}
	for tok, files := range exportPages(t, env) {
		c, ok := byToken[tok]
		if !ok {
			t.Fatalf("export folder %q is no customer's current token", tok)
		}
		for name, body := range files {
			add(c, "export "+name, body)
		}
	}

	srv := startBin(t, envFor(f.dir, "VITRINE_LISTEN=127.0.0.1:0", "VITRINE_ADMIN_LISTEN=localhost:0", "VITRINE_LOG_LEVEL=info"), "serve")
	public, _ := srv.addrs()
	for c, tok := range map[string]string{leakA: toks[leakA], leakB: toks[leakB]} {
		for name, path := range map[string]string{"page": "/p/" + tok + "/", "feed": "/p/" + tok + "/feed.atom"} {
			r := get(t, "http://"+public+path)
			if r.Status != http.StatusOK {
				t.Fatalf("%s %s: %d", c, name, r.Status)
			}
			add(c, "http "+name, string(r.Body))
			add(c, "http "+name+" headers", r.headerText())
		}
	}
	if code, _ := srv.stop(15 * time.Second); code != 0 {
		t.Errorf("serve exit %d", code)
	}

	shownA := map[string][]string{}
	for _, o := range outs[leakA] {
		switch {
		case strings.HasSuffix(o.name, "headers"):
		case strings.HasSuffix(o.name, "feed") || strings.HasSuffix(o.name, "feed.atom"):
			shownA[o.name] = f.feedShown
		case strings.Contains(o.name, "preview text"):
			// The text form prints the latest update only (see
			// TestPreviewTextShowsWhatThePageShows).
			var s []string
			for _, x := range f.previewShown {
				if x != "pubokStatusText" {
					s = append(s, x)
				}
			}
			shownA[o.name] = s
		case strings.Contains(o.name, "preview json"):
			shownA[o.name] = append(append([]string(nil), f.previewShown...), "pubokFieldValue")
		default:
			shownA[o.name] = f.pageShown
		}
	}
	shownB := map[string][]string{}
	for _, o := range outs[leakB] {
		if !strings.HasSuffix(o.name, "headers") && !strings.Contains(o.name, "feed") {
			shownB[o.name] = []string{"Otherpub Corp", "otherpubTitle"}
		}
	}
	if len(outs[leakA]) != 8 || len(outs[leakB]) != 8 {
		t.Errorf("collected %d and %d outputs, want 8 each (2 previews, 2 export files, page, feed and their headers)", len(outs[leakA]), len(outs[leakB]))
	}
	hunt(t, f, outs[leakA], "otherpub", shownA)
	hunt(t, f, outs[leakB], "pubok", shownB)

	// The health is the newest valid update: not the newer internal,
	// restricted, unauthorised or malformed ones.
	for _, o := range outs[leakA] {
		if strings.HasSuffix(o.name, "http page") && !strings.Contains(o.text, "Overall health: <strong>Off track</strong>") {
			t.Errorf("%s: health is not that of the newest valid update (off_track)", o.name)
		}
	}
}
