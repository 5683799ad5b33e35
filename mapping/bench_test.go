package mapping

import (
	"fmt"
	"testing"
	"time"

	"vitrine/item"
)

// benchBoard is 10,000 items in one source, every tenth published (1,000), in
// trees of ten under 50 milestones, with bodies and comments to scrub.
func benchBoard() item.Snapshot {
	const src = "github:agency/big"
	s := item.Snapshot{Source: src}
	for m := 0; m < 50; m++ {
		s.Milestones = append(s.Milestones, item.Milestone{
			ID: item.MakeID(src, fmt.Sprintf("m%d", m)), Source: src,
			Name: fmt.Sprintf("Release %d", m), Due: &item.Due{Date: "2025-06-01"},
		})
	}
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10000; i++ {
		it := item.Item{
			ID: item.MakeID(src, fmt.Sprint(i)), Source: src, Ref: fmt.Sprintf("agency/big#%d", i),
			Kind: item.KindIssue, Type: "story", Title: fmt.Sprintf("Item %d for @dev and #%d", i, i+1),
			Body:      "Intro.\n\n## Client summary\n\nWhat the customer sees, with [a link](https://acme.example/x).\n\n## Internal\n\nMargin notes.\n",
			Status:    []string{"In Review", "QA", "Backlog"}[i%3],
			State:     []item.State{item.Open, item.Open, item.Done, item.Cancelled}[i%4],
			Milestone: item.MakeID(src, fmt.Sprintf("m%d", i%50)),
			Due:       &item.Due{At: created.Add(time.Duration(i) * time.Hour)},
			Fields:    map[string]any{"estimate": i % 8, "cost": i * 100},
			Created:   created, Updated: created, CommentsLoaded: true,
		}
		if i%10 == 0 {
			it.Labels = []string{"client-visible"}
		} else {
			it.Parent = item.MakeID(src, fmt.Sprint(i-i%10))
		}
		if i%70 == 3 {
			it.Labels = append(it.Labels, "client-hidden") // hidden children still count in progress
		}
		for c := 0; c < 3; c++ {
			it.Comments = append(it.Comments, item.Comment{
				ID: fmt.Sprint(c), Author: "pm", Created: created.Add(time.Duration(c) * time.Minute),
				Body: []string{"[client] Public note.", "Internal chatter.", "/status on_track Fine."}[c],
			})
		}
		s.Items = append(s.Items, it)
	}
	return s
}

const benchRules = `customers:
  - id: acme
    name: ACME Corp
    timezone: Europe/Berlin
    sources: [{github: {repo: agency/big}}]
    publish: {label: client-visible, hide_label: client-hidden, when: 'item.Type != "bug"'}
    show:
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      dates: true
      progress: true
      fields: [estimate]
      link_domains: [acme.example]
    statuses:
      map: {"In Review": In progress, QA: Testing}
      cancelled: Dropped
    dates: {buffer_days: 5}
`

func BenchmarkCurate10k(b *testing.B) {
	set := mustRules(b, benchRules)
	snaps := []item.Snapshot{benchBoard()}
	res := mustCurate(b, set, "acme", snaps...)
	published := 0
	for _, d := range res.Decisions {
		if d.Selected {
			published++
		}
	}
	if len(res.Decisions) != 10000 || published != 1000 {
		b.Fatalf("bench board: %d decisions, %d published", len(res.Decisions), published)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := set.Curate("acme", snaps, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
