package jira_test

import (
	"strings"
	"testing"

	"vitrine/connectors/jira"
	"vitrine/scrub"
)

func TestWikiToMarkdown(t *testing.T) {
	for _, tc := range []struct{ name, wiki, md string }{
		{"heading and effects", "h2. Client summary\nWe launch on *Monday*, _maybe_ -not- {{soon_ish}}.",
			"## Client summary\n\nWe launch on **Monday**, *maybe* ~~not~~ `soon_ish`."},
		{"lines of a paragraph are line breaks", "one\ntwo", "one\\\ntwo"},
		{"forced break", `one\\two`, "one\\\ntwo"},
		{"marker and status command stay as written", "[client] /status on_track all good",
			"[client] /status on_track all good"},
		{"links", "[docs|https://acme.example/docs] and [https://acme.example]",
			"[docs](https://acme.example/docs) and [https://acme.example](https://acme.example)"},
		{"mentions never carry account ids", "[~accountid:5c5f8806] and [~jsmith]", "@user and @jsmith"},
		{"images and attachments", "!shot.png|thumbnail! and [^report.pdf]", "![](shot.png) and ![](report.pdf)"},
		{"raw HTML stays text", "<b>x</b> & <script>", `\<b>x\</b> \& \<script>`},
		{"literal markdown stays text", "5 * 3 = 15, [a](b), `x`, ~y~ 1_000 _z",
			"5 \\* 3 = 15, [a\\](b), \\`x\\`, y 1_000 \\_z"},
		{"block starts stay text", "1. not a list\n# real list\n#hashtag\n+ plus", "1\\. not a list\n\n1. real list\n\n#hashtag\\\n\\+ plus"},
		{"nested lists", "* one\n** two\n*# three\n# four", "- one\n  - two\n  1. three\n1. four"},
		{"code keeps its text", "{code:java}\nint a = `b`; *x*\n{code}\nafter", "```java\nint a = `b`; *x*\n```\n\nafter"},
		{"noformat on one line", "{noformat}no *format*{noformat} trailing", "```\nno *format*\n```\n\ntrailing"},
		{"quote", "{quote}\nquoted *text*\n{quote}", "> quoted **text**"},
		{"bq", "bq. said so", "> said so"},
		{"table", "||h1||h2||\n|a|[x|http://x.example]|", "| h1 | h2 |\n| --- | --- |\n| a | [x](http://x.example) |"},
		{"panel and colour lose their markup", "{panel:title=Notes}\ninside\n{panel}\n{color:red}red{color} text",
			"**Notes**\n\ninside\n\nred text"},
		{"internal markers pass through", "a <!-- internal -->b<!-- /internal --> c", "a <!-- internal -->b<!-- /internal --> c"},
		{"rule", "a\n----\nb", "a\n\n---\n\nb"},
		{"unclosed code runs to the end", "{code}\nx", "```\nx\n```"},
		{"a fence the code cannot close", "{code}\n```\n{code}", "````\n```\n````"},
	} {
		if got := jira.WikiToMarkdown(tc.wiki); got != tc.md {
			t.Errorf("%s:\n wiki %q\n got  %q\n want %q", tc.name, tc.wiki, got, tc.md)
		}
	}
}

// TestWikiCutsLikeMarkdown: what the mapping cuts from Markdown bodies it
// cuts from converted Jira text too.
func TestWikiCutsLikeMarkdown(t *testing.T) {
	src := "h1. Client summary\nShip *Monday*.\nh2. Internal\nCANARY margin\nh1. Notes\nx <!-- internal -->CANARY inline<!-- /internal --> y\n{code}\n<!-- internal -->\n{code}"
	doc := scrub.Body(jira.WikiToMarkdown(src), scrub.Options{InternalMarker: "Internal"})
	md := doc.Markdown()
	if strings.Contains(md, "CANARY") {
		t.Errorf("internal parts survived:\n%s", md)
	}
	for _, want := range []string{"Ship **Monday**.", "x  y", "<!-- internal -->"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	sec := scrub.Body(jira.WikiToMarkdown(src), scrub.Options{Section: "Client summary", InternalMarker: "Internal"})
	if got := strings.TrimSpace(sec.Markdown()); got != "Ship **Monday**." {
		t.Errorf("section: %q", got)
	}
}

// FuzzWikiToMarkdown: any text converts, deterministically, without
// turning Jira text into raw HTML.
func FuzzWikiToMarkdown(f *testing.F) {
	for _, s := range []string{
		"h1. x\n* a\n** b\n||a||b||\n|c|d|", "{code}x{code}{quote}y{quote}", "[a|http://x][~u][^f]!i.png!",
		"*_-+^~??x??~^+-_*", "{{`}}", "<!--", "[", "!", "{panel:title=a|b=c}x", "\\\\\\", "{quote}{quote}{quote}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := jira.WikiToMarkdown(s)
		if b := jira.WikiToMarkdown(s); a != b {
			t.Fatalf("not deterministic for %q", s)
		}
		html := scrub.Body(a, scrub.Options{}).HTML()
		if strings.Contains(strings.ToLower(html), "<script") {
			t.Fatalf("%q became %q", s, html)
		}
	})
}
