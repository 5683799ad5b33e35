package github

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/scrub"
)

// GitHub's limits on what a mirror may hold.
const (
	maxTitle      = 256   // issue and milestone titles
	maxBody       = 65536 // issue and comment bodies, in characters
	maxLabel      = 50    // label names
	retractTitle  = "Retracted"
	retractedNote = "This item is no longer shared."
)

// The hidden marker carries a mirror object's opaque key. Scrubbed text
// never contains "<!--" (the Markdown renderer writes '<' as an entity), so
// only vitrine can have written one.
var markerRE = regexp.MustCompile(`<!-- vitrine:(v1[a-z2-7]{8,80})( retracted)? -->`)

func marker(key string, retracted bool) string {
	if retracted {
		return "<!-- vitrine:" + key + " retracted -->"
	}
	return "<!-- vitrine:" + key + " -->"
}

// parseMarker finds the last marker in a body.
func parseMarker(body string) (key string, retracted, ok bool) {
	ms := markerRE.FindAllStringSubmatch(body, -1)
	if len(ms) == 0 {
		return "", false, false
	}
	m := ms[len(ms)-1]
	return m[1], m[2] != "", true
}

// truncRunes cuts s to at most n characters.
func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fitBody keeps md plus the marker under GitHub's body limit, cutting at a
// line end.
func fitBody(md, tail string) string {
	limit := maxBody - utf8.RuneCountInString(tail) - 64
	if utf8.RuneCountInString(md) > limit {
		r := []rune(md)[:limit]
		s := string(r)
		if i := strings.LastIndexByte(s, '\n'); i > 0 {
			s = s[:i]
		}
		md = s + "\n\n…\n"
	}
	if md != "" && !strings.HasSuffix(md, "\n") {
		md += "\n"
	}
	if md != "" {
		md += "\n"
	}
	return md + tail
}

func textPara(lines ...string) scrub.Block {
	var in []scrub.Inline
	for i, l := range lines {
		if i > 0 {
			in = append(in, scrub.Inline{Kind: scrub.Break})
		}
		in = append(in, scrub.Inline{Kind: scrub.Text, Text: l})
	}
	return scrub.Block{Kind: scrub.Paragraph, Inlines: in}
}

// issueTitle is the escaped title of a mirror issue.
func issueTitle(it mapping.Item) string {
	t := scrub.InlineText(it.Title, scrub.TitleGitHub)
	if strings.TrimSpace(t) == "" {
		t = "Untitled"
	}
	return truncRunes(t, maxTitle)
}

// issueBody is the mirror issue's body: the scrubbed body, the shown
// details, and the marker, all in escaped Markdown.
func issueBody(w mirror.Issue) string {
	it := w.Item
	blocks := append([]scrub.Block(nil), it.Body.Blocks...)
	var meta []string
	if it.Due != "" {
		meta = append(meta, "Due: "+it.Due)
	}
	if it.Progress != nil {
		meta = append(meta, fmt.Sprintf("Progress: %d%%", *it.Progress))
	}
	if len(it.Assignees) > 0 {
		meta = append(meta, "Assignees: "+strings.Join(it.Assignees, ", "))
	}
	for _, f := range it.Fields {
		meta = append(meta, f.Name+": "+f.Value)
	}
	if len(meta) > 0 {
		if len(blocks) > 0 {
			blocks = append(blocks, scrub.Block{Kind: scrub.Rule})
		}
		blocks = append(blocks, textPara(meta...))
	}
	return fitBody(scrub.Doc{Blocks: blocks}.Markdown(), marker(w.Key, false))
}

// retractedBody replaces a neutralised mirror's body; the marker stays so a
// republish (or a rebuild from an empty store) reuses the issue.
func retractedBody(key string) string {
	b := retractedNote + "\n"
	if key != "" {
		b += "\n" + marker(key, true)
	}
	return b
}

// statusLabel is the managed label for a customer status word.
func statusLabel(prefix, status string) string {
	if strings.TrimSpace(status) == "" {
		return ""
	}
	return truncRunes(prefix+status, maxLabel)
}

// commentBody is a mirror comment: who and when, the scrubbed body, the
// marker.
func commentBody(w mirror.Comment) string {
	c := w.Comment
	head := []scrub.Inline{
		{Kind: scrub.Strong, Children: []scrub.Inline{{Kind: scrub.Text, Text: c.Author}}},
		{Kind: scrub.Text, Text: " · " + c.Time.UTC().Format("2006-01-02 15:04") + " UTC"},
	}
	blocks := append([]scrub.Block{{Kind: scrub.Paragraph, Inlines: head}}, c.Body.Blocks...)
	return fitBody(scrub.Doc{Blocks: blocks}.Markdown(), marker(w.Key, false))
}

// milestoneTitle is a mirrored milestone's title.
func milestoneTitle(m mapping.Milestone) string {
	t := scrub.InlineText(m.Name, scrub.TitleGitHub)
	if strings.TrimSpace(t) == "" {
		t = "Milestone"
	}
	return truncRunes(t, maxTitle-8)
}

func milestoneDescription(key string, m mapping.Milestone) string {
	return fitBody(m.Description.Markdown(), marker(key, false))
}

// dueOn writes a buffered date as GitHub's due_on. GitHub keeps only the
// date, read in US Pacific time: noon UTC is the same date there and here.
func dueOn(date string) (any, error) {
	if date == "" {
		return nil, nil
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return nil, fmt.Errorf("due date %q: %w", date, err)
	}
	return d.Add(12 * time.Hour).UTC().Format(time.RFC3339), nil
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
