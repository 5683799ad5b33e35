package app_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mapping"
)

// shopBoard is the board of the retraction tests: a stable item, a parent
// with an inherited child, and a leaf, each with a public comment; the
// parent and the leaf carry a status update each.
type shopBoard struct {
	leafLabels   string // "[pub]"
	leafPresent  bool
	parentLabels string
	when         string
	shop         bool // the customer is in the rules
	paused       bool
}

func defaultShop() shopBoard {
	return shopBoard{leafLabels: "[pub]", leafPresent: true, parentLabels: "[pub]", when: `item.Type != "bug"`, shop: true}
}

func (b shopBoard) write(t *testing.T, dir string) {
	t.Helper()
	var s strings.Builder
	s.WriteString(`items:
  - id: s1
    title: StableItem
    type: feature
    labels: [pub]
    body: "## Client summary\n\nStableBody"
  - id: t1
    title: ParentItem
    type: task
    labels: ` + b.parentLabels + `
    body: "## Client summary\n\nParentBody"
    comments:
      - {id: c1, created: "2030-01-01T10:00:00Z", body: "[client] ParentComment"}
      - {id: c2, created: "2030-01-02T10:00:00Z", author: pm, body: "/status at_risk ParentStatus"}
  - id: k1
    title: ChildItem
    type: task
    parent: t1
    body: "## Client summary\n\nChildBody"
    comments:
      - {id: c1, created: "2030-01-03T10:00:00Z", body: "[client] ChildComment"}
`)
	if b.leafPresent {
		s.WriteString(`  - id: l1
    title: LeafItem
    type: story
    labels: ` + b.leafLabels + `
    body: "## Client summary\n\nLeafBody"
    comments:
      - {id: c1, created: "2030-01-04T10:00:00Z", body: "[client] LeafComment"}
      - {id: c2, created: "2030-01-05T10:00:00Z", author: pm, body: "/status on_track LeafStatus"}
`)
	}
	writeFile(t, filepath.Join(dir, "board.yaml"), s.String())
	writeFile(t, filepath.Join(dir, "other.yaml"), "items:\n  - {id: o1, title: OtherItem, labels: [pub]}\n")
	rules := "customers:\n"
	if b.shop {
		rules += `  - id: shop
    name: Shop Inc
    paused: ` + fmt.Sprint(b.paused) + `
    sources:
      - file: {path: board.yaml}
    publish:
      label: pub
      hide_label: hide
      inherit: true
      when: '` + b.when + `'
    show:
      body: section
      body_section: Client summary
      comments: marked
    targets:
      - page: {feed: full}
`
	}
	rules += `  - id: other
    name: Other Ltd
    sources:
      - file: {path: other.yaml}
    publish: {label: pub}
    targets:
      - page: {}
`
	writeFile(t, filepath.Join(dir, "vitrine.yaml"), rules)
}

// shopKey is the item key (source id) of a board item, as audit names it.
func shopKey(id string) string { return item.MakeID(shopSource(), id) }

// shopSource is the source key of the shop's board.
func shopSource() string {
	return mapping.SourceKey(config.Source{File: &config.FileSource{Path: "board.yaml"}})
}

var shopMarkers = map[string][]string{
	"s1": {"StableItem", "StableBody"},
	"t1": {"ParentItem", "ParentBody", "ParentComment", "ParentStatus"},
	"k1": {"ChildItem", "ChildBody", "ChildComment"},
	"l1": {"LeafItem", "LeafBody", "LeafComment", "LeafStatus"},
}

// statusOf names the item whose status update a marker is.
var shopFeed = map[string]string{"t1": "ParentStatus", "l1": "LeafStatus"}

// shopPage is the export of the shop customer: its token folder's files.
func shopPage(t *testing.T, env []string) (token, index, feed string, ok bool) {
	t.Helper()
	pages := exportPages(t, env)
	for tok, files := range pages {
		if strings.Contains(files["index.html"], "Shop Inc") {
			return tok, files["index.html"], files["feed.atom"], true
		}
	}
	return "", "", "", false
}

// Each way an item stops being published, through the real commands on a
// file board: the item, its comments, its children and its status updates
// leave the page, feed and export; each is audited as retracted exactly
// once; undoing the change republishes under the same link and anchor.
func TestEveryUnpublishCauseRetractsOnceAndRepublishesUnderTheSameLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*shopBoard)
		gone   []string // board ids retracted
	}{
		{"label removed", func(b *shopBoard) { b.leafLabels = "[]" }, []string{"l1"}},
		{"item deleted", func(b *shopBoard) { b.leafPresent = false }, []string{"l1"}},
		{"hide label added", func(b *shopBoard) { b.parentLabels = "[pub, hide]" }, []string{"t1", "k1"}},
		{"when changed", func(b *shopBoard) { b.when = `item.Type != "bug" && item.Type != "story"` }, []string{"l1"}},
		{"customer removed", func(b *shopBoard) { b.shop = false }, []string{"s1", "t1", "k1", "l1"}},
		{"parent unpublished", func(b *shopBoard) { b.parentLabels = "[]" }, []string{"t1", "k1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := envFor(dir)
			b := defaultShop()
			b.write(t, dir)
			mustRun(t, env, "sync")
			token, index, feed, ok := shopPage(t, env)
			if !ok {
				t.Fatal("no shop page in the export")
			}
			if lt := tokens(t, env)["shop"]; lt != token {
				t.Fatalf("links token %q, export folder %q", lt, token)
			}
			for id, ms := range shopMarkers {
				for _, m := range ms {
					if !strings.Contains(index, m) {
						t.Fatalf("before: %s (%s) not on the page", m, id)
					}
				}
			}
			for _, m := range shopFeed {
				if !strings.Contains(feed, m) {
					t.Fatalf("before: %s not in the feed", m)
				}
			}
			anchors := itemAnchors(index)

			changed := b
			tc.change(&changed)
			changed.write(t, dir)
			r := mustRun(t, env, "sync")
			if strings.Contains(r.Stdout, "PAUSED") {
				t.Fatalf("sync paused: %s", r)
			}
			gone := map[string]bool{}
			for _, id := range tc.gone {
				gone[id] = true
			}
			tok2, index2, feed2, ok2 := shopPage(t, env)
			if !changed.shop {
				if ok2 {
					t.Errorf("the removed customer still has an exported page")
				}
				if _, listed := tokens(t, env)["shop"]; listed {
					t.Errorf("links still lists the removed customer")
				}
			} else if !ok2 || tok2 != token {
				t.Fatalf("after the change: page ok=%v token changed=%v", ok2, tok2 != token)
			}
			for id, ms := range shopMarkers {
				for _, m := range ms {
					on := strings.Contains(index2, m) || strings.Contains(feed2, m)
					switch {
					case gone[id] && on:
						t.Errorf("%s of retracted %s is still on the page or feed", m, id)
					case !gone[id] && !strings.Contains(index2, m):
						t.Errorf("%s of %s left the page though it is still published", m, id)
					}
				}
			}
			checkRetracts := func(when string) {
				t.Helper()
				es := audits(t, env, "shop")
				for id := range shopMarkers {
					n := countAudit(es, "retract", shopKey(id))
					want := 0
					if gone[id] {
						want = 1
					}
					if n != want {
						t.Errorf("%s: %d audited retracts of %s, want %d", when, n, id, want)
					}
				}
			}
			checkRetracts("after the change")
			mustRun(t, env, "sync")
			checkRetracts("after a second sync")

			b.write(t, dir)
			mustRun(t, env, "sync")
			tok3, index3, feed3, ok3 := shopPage(t, env)
			if !ok3 || tok3 != token {
				t.Fatalf("republished: page ok=%v, same token=%v", ok3, tok3 == token)
			}
			if lt := tokens(t, env)["shop"]; lt != token {
				t.Errorf("links after republishing: a new token")
			}
			for id, ms := range shopMarkers {
				for _, m := range ms {
					if !strings.Contains(index3, m) {
						t.Errorf("republished: %s (%s) missing", m, id)
					}
				}
			}
			for _, m := range shopFeed {
				if !strings.Contains(feed3, m) {
					t.Errorf("republished: %s missing from the feed", m)
				}
			}
			if got := itemAnchors(index3); fmt.Sprint(got) != fmt.Sprint(anchors) {
				t.Errorf("anchors changed on republishing:\n%v\nwant\n%v", got, anchors)
			}
			es := audits(t, env, "shop")
			for _, id := range tc.gone {
				if p, rt := countAudit(es, "publish", shopKey(id)), countAudit(es, "retract", shopKey(id)); p != rt+1 {
					t.Errorf("%s: %d publishes after %d retracts: want one republish", id, p, rt)
				}
			}
		})
	}
}
