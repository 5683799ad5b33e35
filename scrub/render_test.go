package scrub

import (
	"strings"
	"testing"
)

func doc(bs ...Block) Doc { return Doc{Blocks: bs} }

func TestMarkdownBreaksMentionsReferencesAndURLs(t *testing.T) {
	d := doc(para(Inline{Kind: Mention, Text: "anna"}, txt(" "), Inline{Kind: XRef, Text: "#12"}, txt(" "),
		Inline{Kind: XRef, Text: "org/repo#4"}, txt(" "), Inline{Kind: XRef, Text: "ABC-12"},
		txt(" https://evil.example www.evil.example a@b.example")))
	want := `@&#8203;anna \#&#8203;12 org/repo\#&#8203;4 ABC\-&#8203;12 https&#8203;://evil.example www&#8203;.evil.example a@&#8203;b.example` + "\n"
	if got := d.Markdown(); got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}
}

func TestMarkdownEscapesEveryMetacharacter(t *testing.T) {
	d := doc(para(txt("*a* _b_ `c` [d](e) ![f](g) <h> &i; #j |k| ~l~ \\m $n$")))
	want := `\*a\* \_b\_ &#96;c&#96; \[d\]\(e\) \!\[f\]\(g\) &lt;h\> &amp;i; \#j \|k\| \~l\~ \\m \$n\$` + "\n"
	if got := d.Markdown(); got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}
}

func TestMarkdownTextCannotStartABlock(t *testing.T) {
	d := doc(para(txt("1. one\n    # two\n- three\n> four\n===\n12) five\n```")))
	md := d.Markdown()
	if err := checkMarkdown(md, domainCheck(nil), &mdCounts{}); err != nil {
		t.Errorf("%v\n%s", err, md)
	}
	if want := "1\\. one\n\\# two\n\\- three\n\\> four\n\\=\\=\\=\n12\\) five\n&#96;&#96;&#96;\n"; md != want {
		t.Errorf("Markdown = %q, want %q", md, want)
	}
}

func TestMarkdownCodeIsFencedLongerThanItsBackticks(t *testing.T) {
	d := doc(para(Inline{Kind: Code, Text: "a `` b"}, txt(" "), Inline{Kind: Code, Text: "`x`"}),
		Block{Kind: CodeBlock, Text: "````\ninside\n````", Lang: "go"})
	want := "```a `` b``` `` `x` ``\n\n`````go\n````\ninside\n````\n`````\n"
	if got := d.Markdown(); got != want {
		t.Errorf("Markdown =\n%q\nwant\n%q", got, want)
	}
}

func TestMarkdownLinksArePointyAndDropUnsafeHrefs(t *testing.T) {
	d := doc(para(
		Inline{Kind: Link, Href: "https://acme.example/a?x=1&y=<2>", Children: []Inline{txt("ok")}},
		txt(" "),
		Inline{Kind: Link, Href: "javascript:alert(1)", Children: []Inline{txt("js")}},
		txt(" "),
		Inline{Kind: Link, Href: "https://acme.example/a b", Children: []Inline{txt("space")}},
	))
	want := "[ok](<https://acme.example/a?x=1&amp;y=%3C2%3E>) js [space](<https://acme.example/a%20b>)\n"
	if got := d.Markdown(); got != want {
		t.Errorf("Markdown = %q, want %q", got, want)
	}
}

// Found by FuzzRenderers: "- [X](<u>)" is a GFM task-list item, which ate
// the link text and showed a checked box.
func TestMarkdownLinkNamedXInAListIsNotATask(t *testing.T) {
	for _, name := range []string{"X", "x", " x "} {
		link := Inline{Kind: Link, Href: "https://acme.example/x", Children: []Inline{txt(name)}}
		for _, ordered := range []bool{false, true} {
			d := doc(Block{Kind: List, Ordered: ordered, Start: 144, Items: [][]Block{{para(link)}}})
			if err := checkAll(d, setCheck(d), false); err != nil {
				t.Errorf("link %q, ordered %v: %v\n%s", name, ordered, err, d.Markdown())
			}
		}
	}
}

func TestMarkdownAdjacentListsStayApart(t *testing.T) {
	l := Block{Kind: List, Items: [][]Block{{para(txt("a"))}}}
	o := Block{Kind: List, Ordered: true, Start: 1, Items: [][]Block{{para(txt("b"))}}}
	got := doc(l, l, o, o).Markdown()
	if want := "- a\n\n* a\n\n1. b\n\n1) b\n"; got != want {
		t.Errorf("Markdown = %q, want %q", got, want)
	}
	if n := strings.Count(got, "\n\n") + 1; n != 4 {
		t.Errorf("want 4 blocks, got %d", n)
	}
	if err := checkMarkdown(got, domainCheck(nil), nil); err != nil {
		t.Error(err)
	}
}

// Renderers must not trust the Doc to be normal: "@" and "anna" in two Text
// nodes, or an empty emphasis between them, still form a mention once
// written out.
func TestRenderersBreakPatternsSplitAcrossInlines(t *testing.T) {
	docs := []Doc{
		doc(para(txt("@"), txt("anna"))),
		doc(para(txt("@"), Inline{Kind: Emph}, txt("anna"))),
		doc(para(txt("ABC-"), Inline{Kind: Strong, Children: []Inline{txt("12")}})),
		doc(para(txt("ABC"), Inline{Kind: Strike, Children: []Inline{txt("12")}})),
		doc(para(Inline{Kind: Strike, Children: []Inline{txt("ABC")}}, txt("12"))),
		doc(para(txt("https"), Inline{Kind: Emph, Children: []Inline{txt("://evil.example")}})),
		doc(para(Inline{Kind: XRef, Text: "#"}, txt("12"))),
		doc(para(Inline{Kind: Mention, Text: "-x"})),
	}
	for _, d := range docs {
		if err := checkAll(d, domainCheck(nil), false); err != nil {
			t.Errorf("%s: %v", docJSON(t, d), err)
		}
	}
}

func TestWikiEscapesJiraMarkup(t *testing.T) {
	d := doc(para(txt("*b* _i_ -s- +u+ ^p^ ~b~ ??c?? {code} [~admin] !img.png! |t| #n \\\\ h1. (y) :)")))
	want := `\*b\* \_i\_ \-s\- \+u\+ \^p\^ \~b\~ \?\?c\?\? \{code\} \[\~admin\] \!img.png\! \|t\| \#n \` + zwsp + `\` + zwsp +
		` h1. (` + zwsp + `y) :` + zwsp + `)` + "\n"
	if got := d.Wiki(); got != want {
		t.Errorf("Wiki =\n%q\nwant\n%q", got, want)
	}
}

func TestWikiBreaksBlockWordsAtLineStart(t *testing.T) {
	d := doc(para(txt("h1. heading\nbq. quote\nH3. upper")))
	want := "h1" + zwsp + ". heading\nbq" + zwsp + ". quote\nH3" + zwsp + ". upper\n"
	if got := d.Wiki(); got != want {
		t.Errorf("Wiki = %q, want %q", got, want)
	}
}

func TestWikiNoformatCannotBeClosedFromInside(t *testing.T) {
	d := doc(Block{Kind: CodeBlock, Text: "a\n{noformat}\n{NoFormat:x}\n{ noformat}\nb"})
	w := d.Wiki()
	if strings.Count(w, "{noformat}") != 2 || !strings.HasPrefix(w, "{noformat}\n") || !strings.HasSuffix(w, "\n{noformat}\n") {
		t.Errorf("Wiki = %q", w)
	}
	if err := checkWiki(w, domainCheck(nil)); err != nil {
		t.Error(err)
	}
}

func TestWikiLinkLabelCannotEndTheLinkEarly(t *testing.T) {
	d := doc(para(Inline{Kind: Link, Href: "https://acme.example/x|y]z", Children: []Inline{txt("a|b]c[d")}}))
	want := "[a\uff5cb\uff3dc\uff3bd|https://acme.example/x%7Cy%5Dz]\n"
	if got := d.Wiki(); got != want {
		t.Errorf("Wiki = %q, want %q", got, want)
	}
}

func TestWikiListsAndQuotes(t *testing.T) {
	d := doc(
		Block{Kind: List, Items: [][]Block{
			{para(txt("a")), para(txt("a2")), {Kind: List, Ordered: true, Items: [][]Block{{para(txt("b"))}}}},
			{para(txt("c"), Inline{Kind: Break}, txt("d"))},
		}},
		Block{Kind: Quote, Children: []Block{para(txt("q")), {Kind: Quote, Children: []Block{para(txt("inner"))}}}},
	)
	want := "* a \\\\ a2\n*# b\n* c \\\\ d\n\n{quote}\nq\n\ninner\n{quote}\n"
	if got := d.Wiki(); got != want {
		t.Errorf("Wiki = %q, want %q", got, want)
	}
}

func TestHTMLShiftsHeadingsAndMarksLinks(t *testing.T) {
	d := doc(heading(1, txt("T")), heading(5, txt("F")),
		para(Inline{Kind: Link, Href: "https://acme.example/?a=1&b=\"2\"", Children: []Inline{txt("<x>")}}))
	want := `<h3>T</h3>` + "\n" + `<h6>F</h6>` + "\n" +
		`<p><a href="https://acme.example/?a=1&amp;b=%222%22" rel="nofollow noopener noreferrer">&lt;x&gt;</a></p>` + "\n"
	if got := d.HTML(); got != want {
		t.Errorf("HTML =\n%s\nwant\n%s", got, want)
	}
}

func TestHTMLPolicyRemovesWhatTheWriterNeverEmits(t *testing.T) {
	in := `<p onclick="x">a<img src="x"><a href="javascript:y">b</a><span class="evil">c</span><script>d</script></p>`
	if got := policy.Sanitize(in); got != "<p>ab<span>c</span></p>" {
		t.Errorf("Sanitize = %q", got)
	}
}

func TestInlineTextStyles(t *testing.T) {
	in := Title("Fix @anna's #12 for ABC-3 via org/repo#4 on https://x.example www.y.example")
	if got, want := InlineText(in, TitlePlain), "Fix @anna's #12 for ABC-3 via org/repo#4 on https://x.example www.y.example"; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	want := "Fix @" + wj + "anna's #" + wj + "12 for ABC-" + wj + "3 via org/repo#" + wj + "4 on https" + wj + "://x.example www" + wj + ".y.example"
	for _, style := range []TitleStyle{TitleGitHub, TitleJira} {
		if got := InlineText(in, style); got != want {
			t.Errorf("style %d = %q, want %q", style, got, want)
		}
	}
}

func TestInlineHTMLEscapesAndMarksSpans(t *testing.T) {
	got := InlineHTML(Title(`<b>"Q" & @anna #1`))
	want := `&lt;b&gt;&#34;Q&#34; &amp; <span class="mention">@anna</span> <span class="ref">#1</span>`
	if got != want {
		t.Errorf("InlineHTML = %q, want %q", got, want)
	}
}

func TestPlainTextKeepsTextAsWritten(t *testing.T) {
	d := Body("# T\n\n*a* @b [c](https://acme.example) ![i](x)\n\n1. x\n   - y\n\n> q\n\n```\nc\n```\n\n---", Options{LinkDomains: acme})
	want := "T\n\na @b c [image omitted]\n\n1. x\n   - y\n\n> q\n\nc\n\n---\n"
	if got := d.PlainText(); got != want {
		t.Errorf("PlainText = %q, want %q", got, want)
	}
}

func TestRenderersDoNotModifyTheDoc(t *testing.T) {
	d := doc(para(txt("  a  "), txt("b"), Inline{Kind: Emph, Children: []Inline{{Kind: Break}, txt("c")}}))
	before := docJSON(t, d)
	_, _, _, _ = d.Markdown(), d.Wiki(), d.HTML(), d.PlainText()
	_ = FirstLine(d)
	if after := docJSON(t, d); after != before {
		t.Errorf("Doc changed: %s -> %s", before, after)
	}
}

func TestBreaksAtSpanEdgesAreDropped(t *testing.T) {
	d := doc(para(txt("x "), Inline{Kind: Strong, Children: []Inline{txt(" "), {Kind: Break}, txt("a"), {Kind: Break}, txt(" ")}}, txt(" y")))
	if got, want := d.Markdown(), "x **a** y\n"; got != want {
		t.Errorf("Markdown = %q, want %q", got, want)
	}
	if got, want := d.Wiki(), "x *a* y\n"; got != want {
		t.Errorf("Wiki = %q, want %q", got, want)
	}
}
