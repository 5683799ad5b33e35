package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror/page"
)

// pageView curates a customer with 1,000 published items (of 2,000 in the
// source) under 20 milestones, every tenth item with a [client] comment
// and an internal one, and a status update: the view a 1,000-item
// customer's page shows.
func pageView(tb testing.TB) mapping.View {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "vitrine.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(rules, pageOnly)), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := mapping.Compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	snap := item.Snapshot{Source: srcKey}
	for m := 1; m <= 20; m++ {
		snap.Milestones = append(snap.Milestones, item.Milestone{ID: item.MakeID(srcKey, fmt.Sprintf("m%d", m)), Source: srcKey,
			Name: fmt.Sprintf("Release %d", m), Due: &item.Due{At: t0.AddDate(0, 0, 7*m)}, Updated: t0})
	}
	for i := 1; i <= 2000; i++ {
		it := item.Item{
			ID: item.MakeID(srcKey, fmt.Sprint(1_000_000+i)), Source: srcKey, Ref: fmt.Sprintf("%s#%d", srcRepo, i),
			Kind: item.KindIssue, Title: fmt.Sprintf("Item %d", i), Body: body(i, ""),
			Status: []string{"In Review", "QA", "Blocked", "Backlog"}[i%4], State: item.Open,
			Labels: []string{"status: In Review"}, Milestone: item.MakeID(srcKey, fmt.Sprintf("m%d", i%20+1)),
			Created: t0, Updated: t0, CommentsLoaded: true,
		}
		if i%5 == 0 {
			it.State, it.Status = item.Done, "Done"
		}
		if i%2 == 0 {
			it.Labels = append(it.Labels, "client-visible")
		}
		if i%20 == 0 {
			it.Comments = []item.Comment{
				{ID: "1", Author: "pm-anna", Created: t0, Updated: t0, Body: fmt.Sprintf("[client] Public note on item %d.", i)},
				{ID: "2", Author: "dev-bob", Created: t0, Updated: t0, Body: "Internal chatter."},
			}
			it.CommentCount = 2
		}
		if i == 2 {
			it.Comments = append(it.Comments, item.Comment{ID: "3", Author: "pm-anna", Created: t0, Updated: t0, Body: "/status on_track Launch on schedule."})
			it.CommentCount = len(it.Comments)
		}
		snap.Items = append(snap.Items, it)
	}
	res, err := set.Curate("acme", []item.Snapshot{snap}, t0)
	if err != nil {
		tb.Fatal(err)
	}
	if len(res.View.Items) != 1000 {
		tb.Fatalf("%d items in the view, want 1000", len(res.View.Items))
	}
	return res.View
}

func renderOptions() page.Options {
	return page.Options{IDKey: []byte(keySecret), Changed: t0, Feed: page.FeedFull, PageURL: "https://status.agency.example/p/token/"}
}

// BenchmarkPageRender1k renders the page of a customer with 1,000
// published items; page-bytes is the HTML's size.
func BenchmarkPageRender1k(b *testing.B) {
	v := pageView(b)
	o := renderOptions()
	html, err := page.Render(v, o)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := page.Render(v, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(html)), "page-bytes")
}

// TestPageRender1kShowsEveryItemAndNoInternals pins what the render
// benchmark renders: every published item, none of the internal text.
func TestPageRender1kShowsEveryItemAndNoInternals(t *testing.T) {
	start := time.Now()
	html, err := page.Render(pageView(t), renderOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, i := range []int{2, 500, 1000, 2000} {
		if !strings.Contains(s, fmt.Sprintf("Item %d as the customer sees it", i)) {
			t.Errorf("the page lacks item %d", i)
		}
	}
	for _, leak := range []string{"Item 1 as", "Margin notes", "4200", "Internal chatter", "Intro for the team"} {
		if strings.Contains(s, leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	t.Logf("%d bytes in %s", len(html), time.Since(start))
}
