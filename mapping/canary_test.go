package mapping

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/config"
	"vitrine/item"
)

// Canary policies: where a field's value may show up in a View.
type policy int

const (
	never    policy = iota // must never leave
	always                 // leaves with every published item (its title, its milestone's name)
	key                    // identity: only in key positions, which renderers never print
	optional               // leaves only when the named show option is on
	nocanary               // cannot hold a distinctive value (bool)
	nested                 // a list of structs walked with their own policies
)

type fieldPolicy struct {
	p   policy
	opt string // show option, for optional
}

// Every field of the canonical structs must be listed: a new field without
// a policy fails TestCanariesNeverLeakUnlessShown until someone decides
// where its value may appear.
var (
	itemPolicy = map[string]fieldPolicy{
		"ID": {p: key}, "Source": {p: key}, "Ref": {p: never}, "URL": {p: never},
		"Kind": {p: never}, "Type": {p: never}, "Title": {p: always}, "Body": {optional, "body"},
		"Status": {p: never}, "State": {p: never}, "Resolution": {p: never},
		"Labels": {p: never}, "Parent": {p: key}, "Milestone": {p: key},
		"Assignees": {optional, "assignees"}, "Reporter": {p: never},
		"Created": {p: never}, "Updated": {p: never}, "Start": {p: never},
		"Due": {optional, "dates"}, "Completed": {p: never},
		"Fields": {optional, "fields"}, "SecurityLevel": {p: never},
		"Comments": {p: nested}, "CommentCount": {p: never}, "CommentsLoaded": {p: nocanary},
	}
	commentPolicy = map[string]fieldPolicy{
		"ID": {p: key}, "Author": {optional, "comment_author"}, "Created": {optional, "comments"},
		"Updated": {p: never}, "Body": {optional, "comments"},
		"Internal": {p: nocanary}, "Restricted": {p: nocanary},
	}
	milestonePolicy = map[string]fieldPolicy{
		"ID": {p: key}, "Source": {p: key}, "Name": {p: always},
		"Description": {optional, "milestone_description"}, "Due": {optional, "dates"},
		"Closed": {p: nocanary}, "URL": {p: never}, "Updated": {p: never},
	}
)

// What each show option turns on, besides the option itself.
var optionImplies = map[string][]string{
	"comment_author": {"comments"},
}

type canary struct {
	field string // "Item.Title"
	value string
	fieldPolicy
}

const canarySource = "file:cnrysrc.yaml"

// canaryGen makes distinctive values: strings with a character that JSON,
// HTML and URL encodings all change, and dates in distinct years.
type canaryGen struct {
	n    int
	year int
	list []canary
}

func (g *canaryGen) str(field string, fp fieldPolicy) string {
	g.n++
	v := fmt.Sprintf("cnry%02d&%s", g.n, strings.ToLower(strings.ReplaceAll(field, ".", "")))
	g.list = append(g.list, canary{field, v, fp})
	return v
}

func (g *canaryGen) date(field string, fp fieldPolicy) time.Time {
	g.year++
	t := time.Date(1960+g.year, time.Month(g.year%12+1), g.year%27+1, 4, 5, 6, 0, time.UTC)
	g.list = append(g.list, canary{field, t.Format("2006-01-02"), fp})
	return t
}

func (g *canaryGen) record(field, v string, fp fieldPolicy) string {
	g.list = append(g.list, canary{field, v, fp})
	return v
}

// fill walks a struct type and sets a canary in every field.
func (g *canaryGen) fill(t *testing.T, v reflect.Value, typeName string, pols map[string]fieldPolicy) {
	t.Helper()
	rt := v.Type()
	seen := map[string]bool{}
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name := typeName + "." + f.Name
		seen[f.Name] = true
		fp, ok := pols[f.Name]
		if !ok {
			t.Errorf("%s has no canary policy: decide whether and when it may leave, and add it", name)
			continue
		}
		fv := v.Field(i)
		switch {
		case fp.p == key:
			g.fillKey(t, fv, typeName, f.Name, fp)
		case fp.p == nested:
			if f.Type != reflect.TypeOf([]item.Comment(nil)) {
				t.Fatalf("%s: nested policy for unexpected type %s", name, f.Type)
			}
			var c item.Comment
			g.fill(t, reflect.ValueOf(&c).Elem(), "Comment", commentPolicy)
			fv.Set(reflect.ValueOf([]item.Comment{c}))
		case f.Type.Kind() == reflect.Bool:
			if fp.p != nocanary {
				t.Errorf("%s is a bool: its policy must be nocanary", name)
			}
		case fp.p == nocanary:
			t.Errorf("%s can hold a canary (%s): give it a real policy", name, f.Type)
		case f.Type.Kind() == reflect.String:
			fv.SetString(g.str(name, fp))
		case f.Type == reflect.TypeOf([]string(nil)):
			fv.Set(reflect.ValueOf([]string{g.str(name, fp)}))
		case f.Type == reflect.TypeOf(time.Time{}):
			fv.Set(reflect.ValueOf(g.date(name, fp)))
		case f.Type == reflect.TypeOf(&time.Time{}):
			d := g.date(name, fp)
			fv.Set(reflect.ValueOf(&d))
		case f.Type == reflect.TypeOf(&item.Due{}):
			fv.Set(reflect.ValueOf(&item.Due{Date: g.date(name, fp).Format("2006-01-02")}))
		case f.Type == reflect.TypeOf(map[string]any{}):
			k := g.str(name+"Key", fp)
			fv.Set(reflect.ValueOf(map[string]any{k: g.str(name+"Value", fp)}))
		case f.Type.Kind() == reflect.Int:
			g.n++
			n := 987650000 + g.n
			fv.SetInt(int64(n))
			g.record(name, fmt.Sprint(n), fp)
		default:
			t.Errorf("%s: no canary generator for %s: extend the test", name, f.Type)
		}
	}
	for f := range pols {
		if !seen[f] {
			t.Errorf("%s.%s has a policy but no longer exists", typeName, f)
		}
	}
}

// fillKey sets identities that must agree with each other: IDs derive
// from the source key, the parent and milestone exist.
func (g *canaryGen) fillKey(t *testing.T, fv reflect.Value, typeName, field string, fp fieldPolicy) {
	name := typeName + "." + field
	var v string
	switch name {
	case "Item.ID":
		v = item.MakeID(canarySource, g.record(name, "cnryitemid", fp))
	case "Item.Source", "Milestone.Source":
		v = g.record(name, canarySource, fp)
	case "Item.Parent":
		v = item.MakeID(canarySource, g.record(name, "cnryparentid", fp))
	case "Item.Milestone", "Milestone.ID":
		v = item.MakeID(canarySource, "m-"+g.record(name, "cnrymsid", fp))
	case "Comment.ID":
		v = g.record(name, "cnrycommentid", fp)
	default:
		t.Fatalf("%s: key policy without a key generator", name)
	}
	fv.SetString(v)
}

// canaryBoard is one published item whose every field holds a canary, its
// published parent and its milestone, plus every hidden place.
func canaryBoard(t *testing.T) (item.Snapshot, []canary, string, string) {
	g := &canaryGen{}
	var it item.Item
	g.fill(t, reflect.ValueOf(&it).Elem(), "Item", itemPolicy)
	var ms item.Milestone
	g.fill(t, reflect.ValueOf(&ms).Elem(), "Milestone", milestonePolicy)
	if t.Failed() {
		t.FailNow()
	}
	var fieldKey string
	for k := range it.Fields {
		fieldKey = k
	}
	secLevel := it.SecurityLevel

	// Make the canary item selectable and its parts reachable.
	it.Labels = append(it.Labels, "v")
	it.CommentsLoaded = true
	it.Comments[0].Body = "[client] " + it.Comments[0].Body
	ms.ID = it.Milestone
	ms.Description = "## Client summary\n\n" + ms.Description

	hidden := func(v string) string { return g.record("hidden", v, fieldPolicy{p: never}) }
	it.Body += "\n\n<!-- " + hidden("cnryhtmlcomment&x") + " -->\n\n" +
		"![" + hidden("cnryalt&x") + "](https://x.example/" + hidden("cnryimage") + ".png)\n\n" +
		"[ref]: https://x.example/" + hidden("cnryrefdef") + "\n\n" +
		"Text <!-- internal -->" + hidden("cnryinline&x") + "<!-- /internal --> more.\n\n" +
		"## Internal\n\n" + hidden("cnryinternalsection&x") + "\n"
	it.Comments = append(it.Comments,
		item.Comment{ID: "h1", Created: testNow, Internal: true, Body: "[client] " + hidden("cnryinternalcomment&x")},
		item.Comment{ID: "h2", Created: testNow, Restricted: true, Body: "[client] " + hidden("cnryrestricted&x")},
		item.Comment{ID: "h3", Created: testNow, Body: hidden("cnryunmarked&x")},
		item.Comment{ID: "h4", Created: testNow, Body: "[client] Public.\n\n> " + hidden("cnryquote&x")},
		item.Comment{ID: "h5", Created: testNow, Internal: true, Body: "/status off_track " + hidden("cnryinternalstatus&x")},
	)
	parent := item.Item{ID: it.Parent, Source: canarySource, Ref: "P-1", Title: "Parent", Labels: []string{"v"}, CommentsLoaded: true}
	unpublished := item.Item{ID: item.MakeID(canarySource, "u"), Source: canarySource, Title: hidden("cnryunpublished&x"),
		Body: hidden("cnryunpublishedbody&x"), Milestone: it.Milestone, CommentsLoaded: true}
	hiddenChild := item.Item{ID: item.MakeID(canarySource, "hc"), Source: canarySource, Parent: it.ID,
		Title: hidden("cnryhiddenchild&x"), Labels: []string{"v", "h"}, CommentsLoaded: true}
	other := item.Milestone{ID: item.MakeID(canarySource, "m-other"), Source: canarySource, Name: hidden("cnryunusedmilestone&x")}
	snap := item.Snapshot{
		Source:     canarySource,
		Items:      []item.Item{it, parent, unpublished, hiddenChild},
		Milestones: []item.Milestone{ms, other},
	}
	return snap, g.list, fieldKey, secLevel
}

func canaryRules(opt, fieldKey, secLevel string) *config.Rules {
	c := config.Customer{
		ID: "acme", Name: "ACME",
		Sources: []config.Source{{File: &config.FileSource{Path: "cnrysrc.yaml"}}},
		Publish: config.Publish{Label: "v", HideLabel: "h", AllowSecurityLevels: []string{secLevel}},
		Show:    config.Show{InternalMarker: "Internal", BodySection: "Client summary"},
	}
	sh := &c.Show
	switch opt {
	case "body":
		sh.Body = "all"
	case "comments":
		sh.Comments = "marked"
	case "comment_author":
		sh.Comments, sh.CommentAuthor = "marked", "name"
	case "dates":
		sh.Dates = true
	case "progress":
		sh.Progress = true
	case "assignees":
		sh.Assignees = true
	case "fields":
		sh.Fields = []string{fieldKey}
	case "milestone_description":
		sh.MilestoneDescription = "section"
	}
	return &config.Rules{Customers: []config.Customer{c}}
}

// forms are the ways a value can appear in output.
func forms(v string) []string {
	j, _ := json.Marshal(v)
	return []string{v, html.EscapeString(v), url.QueryEscape(v), url.PathEscape(v), string(j[1 : len(j)-1])}
}

func appears(out, v string) bool {
	for _, f := range forms(v) {
		if strings.Contains(out, f) {
			return true
		}
	}
	return false
}

// withoutKeys blanks the key positions and hashes of a view: what is left
// is what renderers may print.
func withoutKeys(v View) View {
	v.Hash = ""
	v.Items = append([]Item(nil), v.Items...)
	for i := range v.Items {
		it := &v.Items[i]
		it.Key, it.Parent, it.Milestone, it.Hash = "", "", "", ""
		it.Comments = append([]Comment(nil), it.Comments...)
		for j := range it.Comments {
			it.Comments[j].Key, it.Comments[j].Hash = "", ""
		}
	}
	v.Milestones = append([]Milestone(nil), v.Milestones...)
	for i := range v.Milestones {
		v.Milestones[i].Key, v.Milestones[i].Hash = "", ""
	}
	v.Updates = append([]Update(nil), v.Updates...)
	for i := range v.Updates {
		v.Updates[i].Key, v.Updates[i].Item, v.Updates[i].Hash = "", "", ""
	}
	return v
}

func TestCanariesNeverLeakUnlessShown(t *testing.T) {
	snap, canaries, fieldKey, secLevel := canaryBoard(t)
	opts := []string{"", "body", "comments", "comment_author", "dates", "progress", "assignees", "fields", "milestone_description"}
	for _, opt := range opts {
		name := opt
		if name == "" {
			name = "nothing optional"
		}
		t.Run(name, func(t *testing.T) {
			set, err := Compile(canaryRules(opt, fieldKey, secLevel))
			if err != nil {
				t.Fatal(err)
			}
			res := mustCurate(t, set, "acme", snap)
			if len(res.View.Items) != 2 {
				t.Fatalf("want the canary item and its parent published, got %d items", len(res.View.Items))
			}
			full, err := json.Marshal(res.View)
			if err != nil {
				t.Fatal(err)
			}
			printed, err := json.Marshal(withoutKeys(res.View))
			if err != nil {
				t.Fatal(err)
			}
			on := map[string]bool{opt: true}
			for _, o := range optionImplies[opt] {
				on[o] = true
			}
			var leaked, missing []string
			for _, c := range canaries {
				switch {
				case c.p == key:
					if appears(string(printed), c.value) {
						leaked = append(leaked, c.field+" outside a key position")
					}
					shown := !strings.HasPrefix(c.field, "Comment.") || on["comments"]
					if shown && !appears(string(full), c.value) {
						missing = append(missing, c.field+" (as a key)")
					}
				case c.p == always || c.p == optional && on[c.opt]:
					if !appears(string(printed), c.value) {
						missing = append(missing, c.field)
					}
				default:
					if appears(string(full), c.value) {
						leaked = append(leaked, c.field)
					}
				}
			}
			sort.Strings(leaked)
			sort.Strings(missing)
			if len(leaked) > 0 {
				t.Errorf("leaked: %s\nview: %s", strings.Join(leaked, ", "), full)
			}
			if len(missing) > 0 {
				t.Errorf("shown fields missing (the canary test would not notice a leak there): %s\nview: %s", strings.Join(missing, ", "), full)
			}
		})
	}
}
