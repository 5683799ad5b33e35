package scrub

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// gfm parses CommonMark with the GitHub extensions trackers' text uses. No
// attribute syntax, no typographer: the parse must not invent text.
var gfm = goldmark.New(goldmark.WithExtensions(
	extension.Table,
	extension.Strikethrough,
	extension.Linkify,
	extension.TaskList,
)).Parser()

func parse(src []byte) ast.Node {
	return gfm.Parse(text.NewReader(src))
}

// rawTokens finds, in raw HTML, the comments (an unclosed one runs to the
// end) and the tags that embed media. Comments are checked for internal
// markers; media become "[image omitted]" (GitHub's uploads are <img> tags).
var rawTokens = regexp.MustCompile(`(?is)<!--.*?(?:-->|\z)|<(?:img|video|audio|svg|iframe|object|embed)\b`)

// internalMarker matches <!-- internal --> and <!-- /internal --> (any
// case and spacing).
var internalMarker = regexp.MustCompile(`(?i)^<!--\s*(/?)\s*internal\s*-->$`)

// Body parses CommonMark src (GFM tables, strikethrough, autolinks, task
// lists) and keeps what o allows:
//
//   - raw HTML is dropped: blocks with their content, inline tags with the
//     tag only (text between tags stays), comments; Markdown inside an HTML
//     element that spans blocks (<details> with blank lines) is that
//     element's content and goes too; an element never closed cuts to the
//     end. An <img> (or video, svg, iframe...) in raw HTML becomes Omitted
//     like a Markdown image;
//   - images become Omitted; their alt text, title and URL never show;
//   - link reference definitions are never shown; links using them are
//     checked like any other; link titles are dropped;
//   - a table becomes one paragraph per row, header row first with its
//     cells in bold, cells joined by " | ";
//   - task list checkboxes become the text "[x] " or "[ ] ";
//   - entities and backslash escapes are decoded into text; @mentions and
//     references are found in text outside code and outside bare URLs;
//   - quotes, lists and emphasis nested deeper than maxNesting are
//     flattened into their parent.
//
// Order of cuts: <!-- internal --> comments cut while the tree is walked in
// document order (so a marker anywhere before the section, even outside it,
// still cuts into it); then headings named o.InternalMarker are cut at every
// nesting level; then o.Section is selected among the top-level blocks. A
// section heading that was itself cut (it sat in an internal part) is not
// found, and the result is empty.
func Body(src string, o Options) Doc {
	source := []byte(clean(src))
	c := &converter{src: source, opt: o, dom: newDomains(o.LinkDomains)}
	blocks := c.blocks(parse(source))
	if m := normName(o.InternalMarker); m != "" {
		blocks = cutHeadings(blocks, m)
	}
	if s := normName(o.Section); s != "" {
		blocks = selectSection(blocks, s)
	}
	return Doc{Blocks: prune(blocks)}
}

// converter rebuilds a goldmark tree as Doc blocks. cut counts the
// <!-- internal --> markers open at the current point of the walk; while it
// is above zero nothing is kept, but the walk goes on so that a closing
// marker anywhere (another block, inside a paragraph) is seen.
type converter struct {
	src    []byte
	opt    Options
	dom    domains
	cut    int
	html   int // container elements (<details>, <div>...) opened by raw HTML and not yet closed
	inLink bool
	depth  int // containers (quotes, lists, spans) around the current node
}

// maxNesting bounds how deep quotes, lists and spans nest in a Doc. Deeper
// ones are flattened into their parent: no one writes that deep, but an
// adversarial body could, and every renderer is quadratic in the depth.
const maxNesting = 16

func (c *converter) cutting() bool { return c.cut > 0 || c.html > 0 }

// htmlContainer matches the opening and closing tags of elements whose
// content may run over several Markdown blocks (a <details> with blank lines
// inside). Everything inside such an element is raw HTML's content and is
// dropped with it, Markdown or not: agencies hide internal notes in
// <details>. An element never closed cuts to the end.
var htmlContainer = regexp.MustCompile(`(?i)<(/?)(details|div|table|section|aside|article|blockquote|pre|ul|ol|dl|figure|center|summary|font|span|p)\b[^>]*?(/?)>`)

func (c *converter) trackContainers(raw []byte) {
	for _, m := range htmlContainer.FindAllSubmatch(raw, -1) {
		switch {
		case len(m[3]) > 0: // <div/>: self-closed
		case len(m[1]) > 0:
			if c.html > 0 {
				c.html--
			}
		default:
			c.html++
		}
	}
}

// raw reads raw HTML, which is never kept: internal markers in it move the
// cut, and each embedded medium outside a cut is returned as Omitted.
func (c *converter) raw(raw []byte) []Inline {
	var out []Inline
	for _, loc := range rawTokens.FindAllIndex(raw, -1) {
		tok := raw[loc[0]:loc[1]]
		if tok[1] != '!' {
			if !c.cutting() {
				out = append(out, Inline{Kind: Omitted})
			}
			continue
		}
		m := internalMarker.FindSubmatchIndex(tok)
		switch {
		case m == nil:
		case m[3] > m[2]: // "/internal"
			if c.cut > 0 {
				c.cut--
			}
		default:
			c.cut++
		}
	}
	return out
}

func (c *converter) blocks(parent ast.Node) []Block {
	var out []Block
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		out = append(out, c.block(n)...)
	}
	return out
}

func (c *converter) block(n ast.Node) []Block {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		if in := c.inlines(n, true); len(in) > 0 {
			return []Block{{Kind: Paragraph, Inlines: in}}
		}
	case *ast.Heading:
		visible := !c.cutting()
		in := c.inlines(n, true)
		// An empty heading is kept for now: it still ends sections.
		if visible || len(in) > 0 {
			return []Block{{Kind: Heading, Level: clampLevel(n.Level), Inlines: in}}
		}
	case *ast.ThematicBreak:
		if !c.cutting() {
			return []Block{{Kind: Rule}}
		}
	case *ast.CodeBlock:
		if !c.cutting() {
			return []Block{{Kind: CodeBlock, Text: c.lines(n)}}
		}
	case *ast.FencedCodeBlock:
		if !c.cutting() {
			return []Block{{Kind: CodeBlock, Text: c.lines(n), Lang: lang(string(n.Language(c.src)))}}
		}
	case *ast.Blockquote:
		c.depth++
		children := c.blocks(n) // walked even when dropped: it may hold markers
		c.depth--
		if c.opt.Comment || len(children) == 0 {
			return nil
		}
		if c.depth >= maxNesting {
			return children
		}
		return []Block{{Kind: Quote, Children: children}}
	case *ast.List:
		var items [][]Block
		c.depth++
		for it := n.FirstChild(); it != nil; it = it.NextSibling() {
			if bs := c.blocks(it); len(bs) > 0 {
				items = append(items, bs)
			}
		}
		c.depth--
		if c.depth >= maxNesting {
			var flat []Block
			for _, it := range items {
				flat = append(flat, it...)
			}
			return flat
		}
		if len(items) > 0 {
			b := Block{Kind: List, Items: items}
			if n.IsOrdered() {
				b.Ordered, b.Start = true, n.Start
			}
			return []Block{b}
		}
	case *ast.HTMLBlock:
		raw := n.Lines().Value(c.src)
		if n.HasClosure() {
			raw = append(raw, n.ClosureLine.Value(c.src)...)
		}
		in := c.raw(raw)
		c.trackContainers(raw)
		if len(in) > 0 {
			return []Block{{Kind: Paragraph, Inlines: in}}
		}
	case *ast.LinkReferenceDefinition:
		// never rendered; links using it are checked like any other
	case *east.Table:
		return c.table(n)
	default:
		if n.Type() == ast.TypeBlock {
			return c.blocks(n)
		}
	}
	return nil
}

// table writes one paragraph per row, cells joined by " | ", header row
// first with its cells in bold: the Doc has no table node, and this reads
// well in every target.
func (c *converter) table(t *east.Table) []Block {
	var out []Block
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		_, header := row.(*east.TableHeader)
		var in []Inline
		empty := true
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			cin := c.inlines(cell, true)
			if header && len(cin) > 0 {
				cin = []Inline{{Kind: Strong, Children: cin}}
			}
			if cell != row.FirstChild() {
				in = append(in, Inline{Kind: Text, Text: " | "})
			}
			if len(cin) > 0 {
				empty = false
			}
			in = append(in, cin...)
		}
		if !empty {
			out = append(out, Block{Kind: Paragraph, Inlines: normLevel(in, true)})
		}
	}
	return out
}

func (c *converter) lines(n ast.Node) string {
	var b strings.Builder
	ls := n.Lines()
	for i := 0; i < ls.Len(); i++ {
		seg := ls.At(i)
		b.Write(seg.Value(c.src))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// lang keeps a code block's info word when it is a plain language name.
func lang(s string) string {
	s = strings.ToLower(s)
	if len(s) > 32 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' {
			return ""
		}
	}
	return s
}

func clampLevel(l int) int {
	return min(max(l, 1), 6)
}

// span converts emphasis or strikethrough; nested past maxNesting, the
// span's content is kept without it.
func (c *converter) span(kind InlineKind, n ast.Node) []Inline {
	c.depth++
	ch := c.inlines(n, false)
	c.depth--
	if len(ch) == 0 || c.depth >= maxNesting {
		return ch
	}
	return []Inline{{Kind: kind, Children: ch}}
}

// inlines converts the inline children of parent. Runs of text are
// collected and tokenised together, so a mention split over two goldmark
// text nodes is still found.
func (c *converter) inlines(parent ast.Node, top bool) []Inline {
	var out []Inline
	var run strings.Builder
	flush := func() {
		if run.Len() > 0 {
			out = append(out, tokenize(clean(run.String()))...)
			run.Reset()
		}
	}
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Text:
			if c.cutting() {
				continue
			}
			v := n.Value(c.src)
			if n.IsRaw() {
				run.Write(v)
			} else {
				run.WriteString(decode(v))
			}
			switch {
			case n.HardLineBreak():
				flush()
				out = append(out, Inline{Kind: Break})
			case n.SoftLineBreak():
				run.WriteByte('\n')
			}
		case *ast.String:
			if c.cutting() {
				continue
			}
			if n.IsCode() || n.IsRaw() {
				run.Write(n.Value)
			} else {
				run.WriteString(decode(n.Value))
			}
		case *east.TaskCheckBox:
			if c.cutting() {
				continue
			}
			if n.IsChecked {
				run.WriteString("[x] ")
			} else {
				run.WriteString("[ ] ")
			}
		case *ast.RawHTML:
			flush()
			out = append(out, c.raw(n.Segments.Value(c.src))...)
		default:
			flush()
			out = append(out, c.inline(n)...)
		}
	}
	flush()
	return normLevel(out, top)
}

func (c *converter) inline(n ast.Node) []Inline {
	switch n := n.(type) {
	case *ast.CodeSpan:
		if c.cutting() {
			return nil
		}
		var b strings.Builder
		for t := n.FirstChild(); t != nil; t = t.NextSibling() {
			if t, ok := t.(*ast.Text); ok {
				v := t.Segment.Value(c.src)
				if strings.HasSuffix(string(v), "\n") {
					b.Write(v[:len(v)-1])
					b.WriteByte(' ')
				} else {
					b.Write(v)
				}
			}
		}
		if s := clean(b.String()); s != "" {
			return []Inline{{Kind: Code, Text: s}}
		}
	case *ast.Emphasis:
		kind := Emph
		if n.Level >= 2 {
			kind = Strong
		}
		return c.span(kind, n)
	case *east.Strikethrough:
		return c.span(Strike, n)
	case *ast.Link:
		wasCut, wasIn := c.cutting(), c.inLink
		c.inLink = true
		ch := c.inlines(n, false)
		c.inLink = wasIn
		href, ok := c.dom.allowedHref(decode(n.Destination))
		if !ok || wasIn {
			return ch
		}
		if len(ch) == 0 {
			if wasCut || c.cutting() {
				return nil
			}
			ch = []Inline{{Kind: Text, Text: href}}
		}
		return []Inline{{Kind: Link, Href: href, Children: ch}}
	case *ast.AutoLink:
		if c.cutting() {
			return nil
		}
		label := clean(string(n.Label(c.src)))
		url := string(n.URL(c.src))
		if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(url), "mailto:") {
			url = "mailto:" + url
		}
		// A bare URL is kept as its own Text, not tokenised: it is one
		// word, and the renderers break it so no target links it.
		t := Inline{Kind: Text, Text: label}
		if href, ok := c.dom.allowedHref(url); ok && !c.inLink {
			return []Inline{{Kind: Link, Href: href, Children: []Inline{t}}}
		}
		return []Inline{t}
	case *ast.Image:
		visible := !c.cutting()
		// Alt text and URL never show; the alt is walked only for markers.
		wasIn := c.inLink
		c.inLink = true
		c.inlines(n, false)
		c.inLink = wasIn
		if visible {
			return []Inline{{Kind: Omitted}}
		}
	default:
		if n.HasChildren() {
			return c.inlines(n, false)
		}
	}
	return nil
}
