package scrub

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// soup are the pieces random Markdown is made of: every construct the
// scrubber must drop, neutralise or escape, and the characters that open
// markup in one target or another.
var soup = []string{
	"@anna", "@org/team", "#12", "ABC-1", "GH-7", "org/repo#3", "a@b.example", "word", "  ", " ", "1", ".", ")",
	"*", "**", "_", "~~", "~", "`", "``", "```", "~~~", "\n", "\n\n", "- ", "* ", "+ ", "1. ", "2) ", "> ", "# ", "## ", "===", "---",
	"[", "]", "(", ")", "<", ">", "!", "![", "](", "|", "\\", "&", "&amp;", "&#64;", "&#35;", "&lt;", "$", "^", "{", "}", "?",
	"https://evil.example/p", "https://acme.example/x", "<https://acme.example/a>", "www.", "www.evil.example", "javascript:", "mailto:",
	"[l](https://acme.example/l)", "[e](https://evil.example)", "![i](https://acme.example/i.png)", "[r][d]", "\n[d]: https://evil.example/def\n",
	"<!-- internal -->", "<!-- /internal -->", "<!--", "-->", "<!-- c -->", "<img src=x>", "<div>", "</div>", "<span>", "\n<details>\n",
	"\n## Internal\n", "\n# Client summary\n", "\n### client SUMMARY\n", "| a | b |\n|---|---|\n| c | d |\n", "- [ ] ", "- [x] ",
	"`a@b.example<img src=x>`", "e^", "x`", "`<!-- c -->`", "a.b-c", "3", "GH", "-", "user@", ".example", "ftp://", "//",
	"h1. ", "bq. ", "{noformat}", "{quote}", "[~admin]", "(y)", ":)", "é", "\u200b", "\u2060", "\t", "    ", "\r\n", "\x00",
}

func randomMarkdown(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(40); n >= 0; n-- {
		b.WriteString(soup[r.IntN(len(soup))])
	}
	return b.String()
}

func TestRandomMarkdownPassesEscapingChecks(t *testing.T) {
	const seed = 20240501
	r := rand.New(rand.NewPCG(seed, seed))
	opts := []Options{
		{LinkDomains: acme},
		{LinkDomains: acme, Section: "Client summary", InternalMarker: "Internal"},
		{LinkDomains: acme, Comment: true, InternalMarker: "internal"},
	}
	n := 2000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		src := randomMarkdown(r)
		o := opts[i%len(opts)]
		ok := domainCheck(o.LinkDomains)
		d := Body(src, o)
		if err := checkDoc(d, ok); err != nil {
			t.Fatalf("seed %d case %d: doc: %v\nsrc: %q", seed, i, err, src)
		}
		if err := checkAll(d, ok, true); err != nil {
			t.Fatalf("seed %d case %d: %v\nsrc: %q\ndoc: %s\nmarkdown:\n%s\nwiki:\n%s", seed, i, err, src, docJSON(t, d), d.Markdown(), d.Wiki())
		}
	}
}

// Hand-built Docs of random shape, their text made of the same soup: the
// renderers hold on their own, whatever Body would or would not produce.
func TestRandomDocsPassEscapingChecks(t *testing.T) {
	const seed = 20240502
	r := rand.New(rand.NewPCG(seed, seed))
	n := 1500
	if testing.Short() {
		n = 150
	}
	for i := 0; i < n; i++ {
		shape := make([]byte, 20+r.IntN(60))
		for j := range shape {
			shape[j] = byte(r.IntN(256))
		}
		var text strings.Builder
		for text.Len() < 400 {
			text.WriteString(soup[r.IntN(len(soup))])
		}
		g := &fuzzDoc{shape: shape, text: text.String()}
		d := Doc{Blocks: g.blocks(3)}
		if err := checkAll(d, setCheck(d), false); err != nil {
			t.Fatalf("seed %d case %d: %v\ndoc: %s\nmarkdown:\n%s\nwiki:\n%s", seed, i, err, docJSON(t, d), d.Markdown(), d.Wiki())
		}
		if err := checkTitle(InlineText(FirstLine(d), TitleGitHub)); err != nil {
			t.Fatalf("seed %d case %d: %v", seed, i, err)
		}
	}
}
