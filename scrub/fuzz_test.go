package scrub

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDoc asserts what every Doc from Body holds: clean text, links only
// to allowed hosts in canonical form, no empty nodes, valid kinds and levels.
func checkDoc(d Doc, ok hrefCheck) error {
	var err error
	var inlines func([]Inline, bool)
	inlines = func(in []Inline, inLink bool) {
		for _, x := range in {
			if x.Text != clean(x.Text) || !utf8.ValidString(x.Text) {
				err = fmt.Errorf("unclean text %q", x.Text)
			}
			switch x.Kind {
			case Text, Code, Mention, XRef:
				if x.Text == "" {
					err = fmt.Errorf("empty %s", x.Kind)
				}
			case Link:
				if inLink {
					err = fmt.Errorf("nested link %q", x.Href)
				}
				if c, _, safe := safeHref(x.Href); !safe || c != x.Href || !ok(x.Href) {
					err = fmt.Errorf("link to %q", x.Href)
				}
				fallthrough
			case Emph, Strong, Strike:
				if len(x.Children) == 0 {
					err = fmt.Errorf("empty %s", x.Kind)
				}
			case Break, Omitted:
			default:
				err = fmt.Errorf("unknown inline kind %q", x.Kind)
			}
			inlines(x.Children, inLink || x.Kind == Link)
		}
	}
	var blocks func([]Block)
	blocks = func(bs []Block) {
		for _, b := range bs {
			switch b.Kind {
			case Paragraph, Heading:
				if len(b.Inlines) == 0 {
					err = fmt.Errorf("empty %s", b.Kind)
				}
				if b.Kind == Heading && (b.Level < 1 || b.Level > 6) {
					err = fmt.Errorf("heading level %d", b.Level)
				}
			case CodeBlock:
				if b.Lang != lang(b.Lang) || b.Text != clean(b.Text) {
					err = fmt.Errorf("code block lang %q or text %q", b.Lang, b.Text)
				}
			case Quote:
				if len(b.Children) == 0 {
					err = fmt.Errorf("empty quote")
				}
			case List:
				if len(b.Items) == 0 {
					err = fmt.Errorf("empty list")
				}
				for _, it := range b.Items {
					if len(it) == 0 {
						err = fmt.Errorf("empty list item")
					}
				}
			case Rule:
			default:
				err = fmt.Errorf("unknown block kind %q", b.Kind)
			}
			inlines(b.Inlines, false)
			blocks(b.Children)
			for _, it := range b.Items {
				blocks(it)
			}
		}
	}
	blocks(d.Blocks)
	return err
}

func addGoldenSeeds(f *testing.F, add func(src string)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.md"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(string(b))
	}
	add(leakDoc)
}

func FuzzBody(f *testing.F) {
	addGoldenSeeds(f, func(src string) {
		f.Add(src, "acme.example", "Client summary", "Internal", false)
		f.Add(src, "acme.example", "", "", true)
	})
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		f.Add(randomMarkdown(r), "acme.example", "Client summary", "internal", i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, src, domain, section, marker string, comment bool) {
		o := Options{LinkDomains: []string{domain}, Section: section, InternalMarker: marker, Comment: comment}
		ok := domainCheck(o.LinkDomains)
		d := Body(src, o)
		if err := checkDoc(d, ok); err != nil {
			t.Fatalf("doc: %v\n%s", err, docJSON(t, d))
		}
		j1, _ := json.Marshal(d)
		j2, _ := json.Marshal(Body(src, o))
		if string(j1) != string(j2) {
			t.Fatalf("Body is not deterministic")
		}
		if err := checkAll(d, ok, true); err != nil {
			t.Fatalf("%v\ndoc: %s\nmarkdown:\n%s\nwiki:\n%s", err, j1, d.Markdown(), d.Wiki())
		}
		if d.Markdown() != d.Markdown() || d.Wiki() != d.Wiki() || d.HTML() != d.HTML() || d.PlainText() != d.PlainText() {
			t.Fatalf("renderers are not deterministic")
		}
		if fl := FirstLine(d); len(fl) > 0 {
			if err := checkTitle(InlineText(fl, TitleGitHub)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzTitle(f *testing.F) {
	for _, s := range []string{
		"Fix @anna's bug #12 (ABC-3, org/repo#4)", "see https://evil.example and www.x.example",
		"mailto:a@b.example javascript:x", "\u2060@\u2060a", "  tabs\tand\nnewlines\r\n ", "\xff\x00@a",
		"ABC-", "@", "#", "-1 A-1 a-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := Title(s)
		if err := checkDoc(doc(para(in...)), domainCheck(nil)); len(in) > 0 && err != nil {
			t.Fatal(err)
		}
		plainTitle := InlineText(in, TitlePlain)
		want := strings.TrimSpace(strings.NewReplacer("\n", " ", "\t", " ").Replace(clean(s)))
		if plainTitle != want {
			t.Fatalf("plain title %q, want %q", plainTitle, want)
		}
		for _, style := range []TitleStyle{TitleGitHub, TitleJira} {
			got := InlineText(in, style)
			if err := checkTitle(got); err != nil {
				t.Fatal(err)
			}
			// Joiners are all a styled title adds.
			if strings.ReplaceAll(got, wj, "") != strings.ReplaceAll(plainTitle, wj, "") {
				t.Fatalf("style %d changed the text: %q vs %q", style, got, plainTitle)
			}
		}
		if err := checkHTML(rawInlineHTML(in), domainCheck(nil)); err != nil {
			t.Fatal(err)
		}
		if a, b := docJSON(t, doc(para(Title(s)...))), docJSON(t, doc(para(in...))); a != b {
			t.Fatal("Title is not deterministic")
		}
	})
}

// fuzzDoc builds a Doc of any shape from the fuzzer's bytes: shape picks
// the nodes, text feeds their strings. It makes Docs Body never would (text
// with "@" split from a name, links to anywhere, unknown kinds) to show the
// renderers hold on their own.
type fuzzDoc struct {
	shape []byte
	text  string
}

func (g *fuzzDoc) op() byte {
	if len(g.shape) == 0 {
		return 0
	}
	b := g.shape[0]
	g.shape = g.shape[1:]
	return b
}

func (g *fuzzDoc) str() string {
	n := int(g.op() % 24)
	if n > len(g.text) {
		n = len(g.text)
	}
	s := g.text[:n]
	g.text = g.text[n:]
	return s
}

var fuzzHrefs = []string{
	"https://acme.example/x", "https://evil.example/", "javascript:alert(1)", "mailto:a@acme.example",
	"https://acme.example/a?b=1&c=<2>|]", "//x", "", "https://u:p@acme.example/",
}

func (g *fuzzDoc) inlines(depth int) []Inline {
	var out []Inline
	for n := g.op() % 6; n > 0 && len(g.shape) > 0; n-- {
		switch k := g.op() % 11; {
		case k < 2:
			out = append(out, Inline{Kind: Text, Text: g.str()})
		case k == 2:
			out = append(out, Inline{Kind: Code, Text: g.str()})
		case k <= 5 && depth > 0:
			kind := []InlineKind{Emph, Strong, Strike}[k-3]
			out = append(out, Inline{Kind: kind, Children: g.inlines(depth - 1)})
		case k == 6 && depth > 0:
			href := fuzzHrefs[int(g.op())%len(fuzzHrefs)]
			if href == "" {
				href = g.str()
			}
			out = append(out, Inline{Kind: Link, Href: href, Children: g.inlines(depth - 1)})
		case k == 7:
			out = append(out, Inline{Kind: Mention, Text: g.str()})
		case k == 8:
			out = append(out, Inline{Kind: XRef, Text: g.str()})
		case k == 9:
			out = append(out, Inline{Kind: Break})
		default:
			out = append(out, Inline{Kind: Omitted})
		}
	}
	return out
}

func (g *fuzzDoc) blocks(depth int) []Block {
	var out []Block
	for n := g.op()%5 + 1; n > 0 && len(g.shape) > 0; n-- {
		switch k := g.op() % 8; {
		case k == 0 || k == 6:
			out = append(out, Block{Kind: Paragraph, Inlines: g.inlines(3)})
		case k == 1:
			out = append(out, Block{Kind: Heading, Level: int(g.op()%9) - 1, Inlines: g.inlines(2)})
		case k == 2 && depth > 0:
			b := Block{Kind: List, Ordered: g.op()%2 == 0, Start: int(g.op()) * 3}
			for m := g.op() % 4; m > 0; m-- {
				b.Items = append(b.Items, g.blocks(depth-1))
			}
			out = append(out, b)
		case k == 3:
			out = append(out, Block{Kind: CodeBlock, Text: g.str(), Lang: g.str()})
		case k == 4 && depth > 0:
			out = append(out, Block{Kind: Quote, Children: g.blocks(depth - 1)})
		case k == 5:
			out = append(out, Block{Kind: Rule})
		default:
			out = append(out, Block{Kind: "unknown", Text: g.str()})
		}
	}
	return out
}

func FuzzRenderers(f *testing.F) {
	f.Add("@anna#12ABC-3https://evil.example", []byte{3, 0, 4, 0, 1, 7, 0, 8, 0, 1, 3, 6, 0})
	f.Add("`{noformat}`\n\n1. x\\*[!", []byte{2, 3, 0, 2, 0, 3, 2, 2, 1, 0, 1, 0, 5, 4, 1, 0})
	f.Add("ABC12-x:y", []byte{1, 0, 3, 1, 5, 1, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, text string, shape []byte) {
		g := &fuzzDoc{shape: shape, text: text}
		d := Doc{Blocks: g.blocks(3)}
		before := docJSON(t, d)
		if err := checkAll(d, setCheck(d), false); err != nil {
			t.Fatalf("%v\ndoc: %s\nmarkdown:\n%s\nwiki:\n%s", err, before, d.Markdown(), d.Wiki())
		}
		_ = d.PlainText()
		if err := checkTitle(InlineText(FirstLine(d), TitleGitHub)); err != nil {
			t.Fatal(err)
		}
		if docJSON(t, d) != before {
			t.Fatal("a renderer modified the Doc")
		}
		if d.Markdown() != d.Markdown() || d.Wiki() != d.Wiki() || d.HTML() != d.HTML() {
			t.Fatal("renderers are not deterministic")
		}
	})
}
