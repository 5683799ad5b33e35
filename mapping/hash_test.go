package mapping

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"vitrine/item"
)

const hashRules = `customers:
  - id: acme
    name: ACME Corp
    timezone: Europe/Berlin
    sources: [{file: {path: board.yaml}}]
    publish: {label: v, hide_label: h}
    show:
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      dates: true
      progress: true
      fields: [estimate]
    statuses:
      map: {"In Review": In progress, QA: In progress}
    dates: {buffer_days: 3}
`

const hashBoard = `milestones:
  - {id: m1, name: Launch, due: "2025-05-01", description: "Budget 40k"}
items:
  - id: A
    ref: ACME-1
    title: Checkout
    status: In Review
    labels: [v]
    milestone: m1
    due: "2025-04-01"
    start: "2025-03-01"
    reporter: pm-anna
    fields: {estimate: 5, cost: 12000}
    body: |
      ## Client summary

      Ships in two steps.<!-- margin 12% -->

      ## Internal

      Vendor late.
    comments:
      - {id: c1, author: pm-anna, created: "2025-03-01T09:00:00Z", body: "[client] Shipped to staging."}
      - {id: c2, author: dev-eli, created: "2025-03-02T09:00:00Z", body: "Internal chatter."}
      - {id: s1, author: pm-anna, created: "2025-03-03T09:00:00Z", body: "/status on_track Going well."}
  - {id: B, ref: ACME-2, title: Hidden child, parent: A, labels: [h], state: done}
  - {id: C, ref: ACME-3, title: Other published, labels: [v], milestone: m1}
  - {id: D, ref: ACME-4, title: Unpublished, milestone: m1, body: "## Client summary\n\nSecret."}
`

// hashes lists every hash of a view by object key.
func hashes(v View) map[string]string {
	out := map[string]string{"view": v.Hash}
	for _, it := range v.Items {
		out[it.Key] = it.Hash
		for _, c := range it.Comments {
			out[c.Key] = c.Hash
		}
	}
	for _, m := range v.Milestones {
		out["ms:"+m.Key] = m.Hash
	}
	for _, u := range v.Updates {
		out["update:"+u.Key] = u.Hash
	}
	return out
}

func curateHashBoard(t *testing.T, mutate func(*item.Snapshot)) View {
	t.Helper()
	set := mustRules(t, hashRules)
	snap := mustBoard(t, "file:board.yaml", hashBoard)
	if mutate != nil {
		mutate(&snap)
	}
	return mustCurate(t, set, "acme", snap).View
}

func itemOf(s *item.Snapshot, native string) *item.Item {
	for i := range s.Items {
		if _, n := item.SplitID(s.Items[i].ID); n == native {
			return &s.Items[i]
		}
	}
	panic("no item " + native)
}

func TestSameInputGivesSameHashes(t *testing.T) {
	set := mustRules(t, hashRules)
	a := mustCurate(t, set, "acme", mustBoard(t, "file:board.yaml", hashBoard)).View
	b, err := set.Curate("acme", []item.Snapshot{mustBoard(t, "file:board.yaml", hashBoard)}, testNow.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hashes(a), hashes(b.View)) {
		t.Errorf("hashes differ between two curations of the same input (and another now):\n%v\n%v", hashes(a), hashes(b.View))
	}
	for k, h := range hashes(a) {
		if len(h) != 32 {
			t.Errorf("%s: hash %q is not set", k, h)
		}
	}
	// Every object kind is present, so the other tests cover each.
	if len(a.Items) != 2 || len(a.Items[0].Comments) != 1 || len(a.Milestones) != 1 || len(a.Updates) != 1 {
		t.Fatalf("fixture view lacks an object kind: %d items, %d milestones, %d updates", len(a.Items), len(a.Milestones), len(a.Updates))
	}
}

func TestHiddenChangesChangeNoHash(t *testing.T) {
	base := hashes(curateHashBoard(t, nil))
	cases := map[string]func(*item.Snapshot){
		"hidden custom field": func(s *item.Snapshot) { itemOf(s, "A").Fields["cost"] = 99999 },
		"new custom field":    func(s *item.Snapshot) { itemOf(s, "A").Fields["margin"] = "12%" },
		"internal comment added": func(s *item.Snapshot) {
			a := itemOf(s, "A")
			a.Comments = append(a.Comments, item.Comment{ID: "c9", Body: "[client] secret", Internal: true, Created: testNow})
		},
		"restricted comment added": func(s *item.Snapshot) {
			a := itemOf(s, "A")
			a.Comments = append(a.Comments, item.Comment{ID: "c9", Body: "[client] secret", Restricted: true, Created: testNow})
		},
		"unmarked comment edited": func(s *item.Snapshot) { itemOf(s, "A").Comments[1].Body = "Changed chatter." },
		"comment updated time":    func(s *item.Snapshot) { itemOf(s, "A").Comments[0].Updated = testNow },
		"comment time zone": func(s *item.Snapshot) {
			c := &itemOf(s, "A").Comments[0]
			c.Created = c.Created.In(time.FixedZone("X", 5*3600))
		},
		"updated time":          func(s *item.Snapshot) { itemOf(s, "A").Updated = testNow },
		"reporter":              func(s *item.Snapshot) { itemOf(s, "A").Reporter = "someone" },
		"url":                   func(s *item.Snapshot) { itemOf(s, "A").URL = "https://tracker/x" },
		"ref (transfer)":        func(s *item.Snapshot) { itemOf(s, "A").Ref = "NEW-1" },
		"other label":           func(s *item.Snapshot) { a := itemOf(s, "A"); a.Labels = append(a.Labels, "team-x") },
		"status with same word": func(s *item.Snapshot) { itemOf(s, "A").Status = "QA" },
		"start date":            func(s *item.Snapshot) { itemOf(s, "A").Start = &item.Due{Date: "2020-01-01"} },
		"completed":             func(s *item.Snapshot) { now := testNow; itemOf(s, "A").Completed = &now },
		"internal body section": func(s *item.Snapshot) {
			a := itemOf(s, "A")
			a.Body = strings.Replace(a.Body, "Vendor late.", "Vendor very late.", 1)
		},
		"html comment in body": func(s *item.Snapshot) {
			a := itemOf(s, "A")
			a.Body = strings.Replace(a.Body, "margin 12%", "margin 3%", 1)
		},
		"hidden child title":     func(s *item.Snapshot) { itemOf(s, "B").Title = "Renamed hidden" },
		"unpublished item":       func(s *item.Snapshot) { itemOf(s, "D").Title = "Renamed unpublished" },
		"milestone description":  func(s *item.Snapshot) { s.Milestones[0].Description = "Budget 90k" },
		"milestone url":          func(s *item.Snapshot) { s.Milestones[0].URL = "https://tracker/m" },
		"security level allowed": func(s *item.Snapshot) { itemOf(s, "D").SecurityLevel = "Staff" },
		"comment count":          func(s *item.Snapshot) { itemOf(s, "A").CommentCount = 40 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if got := hashes(curateHashBoard(t, mutate)); !reflect.DeepEqual(got, base) {
				t.Errorf("a hidden change changed hashes:\nbase %v\ngot  %v", base, got)
			}
		})
	}
}

func TestShownChangesChangeTheirHashes(t *testing.T) {
	base := hashes(curateHashBoard(t, nil))
	a := "file:board.yaml/A"
	c1 := a + "/c/c1"
	cases := []struct {
		name    string
		mutate  func(*item.Snapshot)
		changed []string // keys whose hash must change (the view's always does)
	}{
		{"title", func(s *item.Snapshot) { itemOf(s, "A").Title = "Checkout v2" }, []string{a}},
		{"body section", func(s *item.Snapshot) {
			it := itemOf(s, "A")
			it.Body = strings.Replace(it.Body, "two steps", "three steps", 1)
		}, []string{a}},
		{"status word", func(s *item.Snapshot) { itemOf(s, "A").State = item.Done }, []string{a, "ms:file:board.yaml/m-m1"}}, // and the milestone's progress
		{"due", func(s *item.Snapshot) { itemOf(s, "A").Due = &item.Due{Date: "2025-04-02"} }, []string{a}},
		{"shown field", func(s *item.Snapshot) { itemOf(s, "A").Fields["estimate"] = 8 }, []string{a}},
		{"progress", func(s *item.Snapshot) { itemOf(s, "B").State = item.Open }, []string{a}},
		{"marked comment", func(s *item.Snapshot) { itemOf(s, "A").Comments[0].Body = "[client] Shipped to production." }, []string{a, c1}},
		{"milestone name", func(s *item.Snapshot) { s.Milestones[0].Name = "Go-live" }, []string{"ms:file:board.yaml/m-m1"}},
		{"milestone progress", func(s *item.Snapshot) { itemOf(s, "D").State = item.Done }, []string{"ms:file:board.yaml/m-m1"}},
		{"status update", func(s *item.Snapshot) {
			itemOf(s, "A").Comments[2].Body = "/status at_risk Vendor late."
		}, []string{"update:" + a + "/c/s1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := hashes(curateHashBoard(t, tc.mutate))
			want := map[string]bool{"view": true}
			for _, k := range tc.changed {
				want[k] = true
			}
			for k, h := range base {
				if changed := got[k] != h; changed != want[k] {
					t.Errorf("%s: hash changed = %v, want %v", k, changed, want[k])
				}
			}
		})
	}
}

func TestCurateDoesNotModifyItsInput(t *testing.T) {
	set := mustRules(t, hashRules)
	snap := mustBoard(t, "file:board.yaml", hashBoard)
	before, _ := json.Marshal(snap)
	mustCurate(t, set, "acme", snap)
	after, _ := json.Marshal(snap)
	if !bytes.Equal(before, after) {
		t.Error("Curate changed the snapshot it was given")
	}
}

func TestPausedCustomerCuratesTheSameView(t *testing.T) {
	paused := mustRules(t, strings.Replace(hashRules, "    name: ACME Corp\n", "    name: ACME Corp\n    paused: true\n", 1))
	c, _ := paused.Customer("acme")
	if !c.Paused() {
		t.Fatal("paused flag not kept")
	}
	got := mustCurate(t, paused, "acme", mustBoard(t, "file:board.yaml", hashBoard)).View
	if want := curateHashBoard(t, nil); got.Hash != want.Hash {
		t.Error("a paused customer's view differs: the engine, not mapping, decides what paused does")
	}
}

func TestNeedCommentsNamesSelectedItemsWithoutComments(t *testing.T) {
	set := mustRules(t, `customers:
  - id: acme
    sources: [{github: {repo: a/b}}]
    publish: {label: v, status_item: "a/b#3"}
    show: {comments: marked}
`)
	src := "github:a/b"
	snap := item.Snapshot{Source: src, Items: []item.Item{
		{ID: src + "/1", Source: src, Ref: "a/b#1", Labels: []string{"v"}, CommentCount: 2},
		{ID: src + "/2", Source: src, Ref: "a/b#2", CommentCount: 2},
		{ID: src + "/3", Source: src, Ref: "a/b#3", CommentCount: 1},
		{ID: src + "/4", Source: src, Ref: "a/b#4", Labels: []string{"v"}, CommentsLoaded: true},
	}}
	res := mustCurate(t, set, "acme", snap)
	if got := strings.Join(res.NeedComments, " "); got != src+"/1 "+src+"/3" {
		t.Errorf("NeedComments = %q, want the published item and the status item", got)
	}
}

func TestExplainGivesEachCustomersDecision(t *testing.T) {
	set := mustRules(t, sharedRules)
	shared := mustBoard(t, "file:shared.yaml", `items:
  - {id: A, ref: S-1, title: Acme only, labels: [acme-visible]}
  - {id: C, ref: S-3, title: Both, labels: [acme-visible, beta-visible]}
`)
	acme := mustBoard(t, "file:acme.yaml", `items:
  - {id: X, ref: A-1, title: Acme private, labels: [acme-visible]}
`)
	ex, err := set.Explain([]item.Snapshot{shared, acme}, "S-1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].Customer != "acme" || ex[1].Customer != "beta" {
		t.Fatalf("want one explanation per customer, got %+v", ex)
	}
	if d := ex[0].Decision; d == nil || !d.Selected || d.Rule != "label acme-visible" || ex[0].Item == nil {
		t.Errorf("acme: %+v", ex[0])
	} else if strings.Join(d.Fields, ",") != "title,status" {
		t.Errorf("acme fields that leave: %v", d.Fields)
	}
	if d := ex[1].Decision; d == nil || d.Selected || d.Rule != "excluded: no label beta-visible" {
		t.Errorf("beta: %+v", ex[1])
	}

	ex, err = set.Explain([]item.Snapshot{shared, acme}, "A-1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if ex[1].Decision != nil {
		t.Errorf("beta does not read acme.yaml, yet explains A-1: %+v", ex[1].Decision)
	}
	ex, _ = set.Explain([]item.Snapshot{shared, acme}, "S-3", testNow)
	for _, e := range ex {
		if e.Decision == nil || e.Decision.Selected || !strings.HasPrefix(e.Decision.Rule, "withheld: conflict with customer ") {
			t.Errorf("%s: S-3 should be withheld as a conflict: %+v", e.Customer, e.Decision)
		}
	}
}
