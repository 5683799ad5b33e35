package scrub

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func docJSON(t *testing.T, d Doc) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func txt(s string) Inline               { return Inline{Kind: Text, Text: s} }
func para(in ...Inline) Block           { return Block{Kind: Paragraph, Inlines: in} }
func heading(l int, in ...Inline) Block { return Block{Kind: Heading, Level: l, Inlines: in} }

func TestEmptyInputGivesEmptyDoc(t *testing.T) {
	for _, src := range []string{"", "   \n\n", "<!-- only a comment -->", "[ref]: https://x.example"} {
		d := Body(src, Options{})
		if !d.IsEmpty() {
			t.Errorf("Body(%q) = %s, want empty", src, docJSON(t, d))
		}
		if got := docJSON(t, d); got != "{}" {
			t.Errorf("Body(%q) JSON = %s, want {}", src, got)
		}
		if d.Markdown() != "" || d.Wiki() != "" || d.HTML() != "" || d.PlainText() != "" {
			t.Errorf("Body(%q): renderers of an empty Doc write something", src)
		}
	}
}

func TestMentionsAndReferencesBecomeTheirOwnInlines(t *testing.T) {
	d := Body("Ping @anna about #12, ABC-3 and org/repo#4.", Options{})
	want := []Inline{txt("Ping "), {Kind: Mention, Text: "anna"}, txt(" about "), {Kind: XRef, Text: "#12"},
		txt(", "), {Kind: XRef, Text: "ABC-3"}, txt(" and "), {Kind: XRef, Text: "org/repo#4"}, txt(".")}
	if got := d.Blocks[0].Inlines; !reflect.DeepEqual(got, want) {
		t.Errorf("inlines = %+v\nwant %+v", got, want)
	}
}

func TestMentionsInsideCodeStayCode(t *testing.T) {
	d := Body("`@anna #12`\n\n```\n@bob ABC-1\n```", Options{})
	if got := docJSON(t, d); strings.Contains(got, `"mention"`) || strings.Contains(got, `"xref"`) {
		t.Errorf("code was tokenised: %s", got)
	}
}

func TestEntitiesAndEscapesAreDecodedBeforeTokenising(t *testing.T) {
	d := Body(`&#64;anna \#12 &amp;copy; &lt;b&gt;`, Options{})
	want := []Inline{{Kind: Mention, Text: "anna"}, txt(" "), {Kind: XRef, Text: "#12"}, txt(" &copy; <b>")}
	if got := d.Blocks[0].Inlines; !reflect.DeepEqual(got, want) {
		t.Errorf("inlines = %+v\nwant %+v", got, want)
	}
}

func TestRawHTMLIsDroppedButTextBetweenInlineTagsStays(t *testing.T) {
	d := Body("a <b onclick=\"x()\">bold</b> c\n\n<div>\nblock secret\n</div>\n", Options{})
	if got := d.PlainText(); got != "a bold c\n" {
		t.Errorf("PlainText = %q", got)
	}
}

func TestImagesBecomeOmittedAndNeverShowAltOrURL(t *testing.T) {
	src := "![alt secret](https://acme.example/a.png \"title secret\") " +
		"![ref alt][i] <img alt=\"html alt\" src=\"x.png\">\n\n[i]: https://acme.example/i.png"
	d := Body(src, Options{LinkDomains: acme})
	want := []Inline{{Kind: Omitted}, txt(" "), {Kind: Omitted}, txt(" "), {Kind: Omitted}}
	if got := d.Blocks[0].Inlines; !reflect.DeepEqual(got, want) {
		t.Errorf("inlines = %+v\nwant %+v", got, want)
	}
	for _, out := range []string{d.Markdown(), d.Wiki(), d.HTML(), d.PlainText()} {
		if strings.Contains(out, "secret") || strings.Contains(out, "alt") || strings.Contains(out, ".png") {
			t.Errorf("image detail leaked: %q", out)
		}
		if !strings.Contains(strings.ReplaceAll(out, `\`, ""), "image omitted") {
			t.Errorf("no omitted marker in %q", out)
		}
	}
}

func TestLinksOutsideLinkDomainsBecomeTheirText(t *testing.T) {
	d := Body("[in](https://docs.acme.example/x) [out](https://acme.example.evil.com/x) https://evil.example/bare", Options{LinkDomains: acme})
	want := []Inline{
		{Kind: Link, Href: "https://docs.acme.example/x", Children: []Inline{txt("in")}},
		txt(" out https://evil.example/bare"),
	}
	if got := d.Blocks[0].Inlines; !reflect.DeepEqual(got, want) {
		t.Errorf("inlines = %+v\nwant %+v", got, want)
	}
}

func TestBareURLTextIsNotTokenised(t *testing.T) {
	d := Body("https://evil.example/@anna/issues#12", Options{})
	if got := d.Blocks[0].Inlines; !reflect.DeepEqual(got, []Inline{txt("https://evil.example/@anna/issues#12")}) {
		t.Errorf("inlines = %+v", got)
	}
}

func TestLinkReferenceDefinitionsAreNeverRendered(t *testing.T) {
	d := Body("[used][r] text\n\n[r]: https://evil.example/secret-def\n[unused]: https://acme.example/unused", Options{LinkDomains: acme})
	if got := d.PlainText(); got != "used text\n" {
		t.Errorf("PlainText = %q", got)
	}
	if j := docJSON(t, d); strings.Contains(j, "secret-def") || strings.Contains(j, "unused") {
		t.Errorf("definition leaked into the Doc: %s", j)
	}
}

func TestTablesBecomeOneParagraphPerRowHeaderInBold(t *testing.T) {
	d := Body("| A | B |\n|---|---|\n| 1 | @x |\n|  |  |\n", Options{})
	want := []Block{
		para(Inline{Kind: Strong, Children: []Inline{txt("A")}}, txt(" | "), Inline{Kind: Strong, Children: []Inline{txt("B")}}),
		para(txt("1 | "), Inline{Kind: Mention, Text: "x"}),
	}
	if !reflect.DeepEqual(d.Blocks, want) {
		t.Errorf("blocks = %s", docJSON(t, d))
	}
}

func TestTaskListCheckboxesBecomeText(t *testing.T) {
	d := Body("- [x] done\n- [ ] open", Options{})
	if got := d.PlainText(); got != "- [x] done\n- [ ] open\n" {
		t.Errorf("PlainText = %q", got)
	}
}

func TestCommentOptionDropsBlockQuotes(t *testing.T) {
	src := "ok\n\n> quoted\n\n- item\n  > nested quote"
	if got := Body(src, Options{Comment: true}).PlainText(); got != "ok\n\n- item\n" {
		t.Errorf("comment PlainText = %q", got)
	}
	if got := Body(src, Options{}).PlainText(); !strings.Contains(got, "> quoted") {
		t.Errorf("body PlainText lost its quote: %q", got)
	}
}

func TestInternalCommentCutsInlineAcrossBlocksAndUnclosed(t *testing.T) {
	cases := map[string]string{
		"a <!-- internal -->x<!-- /internal --> b":              "a  b\n",
		"a <!-- internal -->\n\nx\n\ny <!-- /internal --> b":    "a\n\nb\n",
		"a\n\n<!-- internal -->\n\nx\n\n- y\n\n# z":             "a\n",
		"a <!-- Internal -->x<!--/INTERNAL--> b":                "a  b\n",
		"- a <!-- internal --> x\n- y\n\n<!-- /internal -->\nb": "- a\n\nb\n",
		"a <!-- internal -->x\n\n> q <!-- /internal --> shown":  "a\n\n> shown\n",
	}
	for src, want := range cases {
		if got := Body(src, Options{}).PlainText(); got != want {
			t.Errorf("Body(%q) = %q, want %q", src, got, want)
		}
	}
}

func TestInternalHeadingCutsToNextHeadingOfItsLevelOrHigher(t *testing.T) {
	src := "# A\na\n## internal\nx\n### deeper\nx\n## B\nb\n# Internal\nx\n## C\nx"
	got := Body(src, Options{InternalMarker: "Internal"}).PlainText()
	if want := "A\n\na\n\nB\n\nb\n"; got != want {
		t.Errorf("PlainText = %q, want %q", got, want)
	}
}

func TestSectionKeepsSubHeadingsUntilSameOrHigherLevel(t *testing.T) {
	src := "# Top\nt\n## Client  Summary\ns\n### Sub\nsub\n## Next\nn"
	got := Body(src, Options{Section: "client summary"}).PlainText()
	if want := "s\n\nSub\n\nsub\n"; got != want {
		t.Errorf("PlainText = %q, want %q", got, want)
	}
}

func TestSectionMissingGivesEmptyDoc(t *testing.T) {
	if d := Body("# Other\ntext", Options{Section: "Client summary"}); !d.IsEmpty() {
		t.Errorf("Doc = %s, want empty", docJSON(t, d))
	}
}

// Cut order: <!-- internal --> first (document order), then internal
// headings, then the section.
func TestInternalPartInsideSectionIsCut(t *testing.T) {
	src := "## Client summary\nshown <!-- internal -->hidden<!-- /internal -->\n### Internal\nhidden\n### Scope\nscope"
	got := Body(src, Options{Section: "Client summary", InternalMarker: "Internal"}).PlainText()
	if want := "shown\n\nScope\n\nscope\n"; got != want {
		t.Errorf("PlainText = %q, want %q", got, want)
	}
}

func TestInternalMarkerBeforeSectionStillCutsIt(t *testing.T) {
	src := "# Plan\n<!-- internal -->\n## Client summary\nsecret"
	if d := Body(src, Options{Section: "Client summary"}); !d.IsEmpty() {
		t.Errorf("Doc = %s, want empty", docJSON(t, d))
	}
	src = "# Plan\n<!-- internal -->x<!-- /internal -->\n## Client summary\nshown"
	if got := Body(src, Options{Section: "Client summary"}).PlainText(); got != "shown\n" {
		t.Errorf("closed marker before the section: %q", got)
	}
}

func TestSectionUnderInternalHeadingIsNotFound(t *testing.T) {
	src := "# Internal\n## Client summary\nsecret"
	if d := Body(src, Options{Section: "Client summary", InternalMarker: "Internal"}); !d.IsEmpty() {
		t.Errorf("Doc = %s, want empty", docJSON(t, d))
	}
}

func TestCodeBlockLanguageIsAPlainWordOrNothing(t *testing.T) {
	for info, want := range map[string]string{"Go": "go", "c++ extra": "c++", "js{.x}": "", "a\"b": "", "": ""} {
		d := Body("```"+info+"\nx\n```", Options{})
		if got := d.Blocks[0].Lang; got != want {
			t.Errorf("info %q: lang %q, want %q", info, got, want)
		}
	}
}

func TestControlCharactersAndInvalidUTF8AreCleaned(t *testing.T) {
	d := Body("a\x00b\x01c\r\nd \xff e &#0; f", Options{})
	got := d.Blocks[0].Inlines[0].Text
	if want := "a\ufffdbc\nd \ufffd e \ufffd f"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}

func TestFirstLineStopsAtBreakOrNewline(t *testing.T) {
	cases := map[string][]Inline{
		"Launch **the site**\nsecond line":         {txt("Launch "), {Kind: Strong, Children: []Inline{txt("the site")}}},
		"*Launch  \nnext*":                         {{Kind: Emph, Children: []Inline{txt("Launch")}}},
		"## Title @anna\n\nbody":                   {txt("Title "), {Kind: Mention, Text: "anna"}},
		"```\ncode\n```\n\n- first item\n- second": {txt("first item")},
		"> quoted first\n\npara":                   {txt("quoted first")},
		"```\nonly code\n```":                      nil,
	}
	for src, want := range cases {
		if got := FirstLine(Body(src, Options{})); !reflect.DeepEqual(got, want) {
			t.Errorf("FirstLine(%q) = %+v, want %+v", src, got, want)
		}
	}
}

func TestBodyDoesNotShareStateBetweenCalls(t *testing.T) {
	a := Body("<!-- internal -->\nsecret", Options{})
	b := Body("shown", Options{})
	if !a.IsEmpty() || b.PlainText() != "shown\n" {
		t.Errorf("a=%s b=%s", docJSON(t, a), docJSON(t, b))
	}
}

func TestDeepNestingIsFlattenedButKept(t *testing.T) {
	src := strings.Repeat("> - ", 500) + "*a **b** ~~c~~* " + strings.Repeat("*", 200) + "deep" + strings.Repeat("*", 200)
	d := Body(src, Options{})
	var depth func([]Block) int
	depth = func(bs []Block) int {
		m := 0
		for _, b := range bs {
			n := depth(b.Children)
			for _, it := range b.Items {
				n = max(n, depth(it))
			}
			if b.Kind == Quote || b.Kind == List {
				n++
			}
			m = max(m, n)
		}
		return m
	}
	if got := depth(d.Blocks); got > maxNesting {
		t.Errorf("nesting depth %d, want at most %d", got, maxNesting)
	}
	if got := d.PlainText(); !strings.Contains(got, "a b c") || !strings.Contains(got, "deep") {
		t.Errorf("deep content lost: %q", got)
	}
}
