package scrub

import (
	"strings"
)

// normInlines returns a normalised copy of in: adjacent Text merged, empty
// nodes and containers dropped, blank lines inside text collapsed to one
// newline. At the top of a block (top) leading and trailing whitespace and
// line breaks go too. Body's output is already normal; renderers normalise
// again so that a hand-built Doc ("@" and "name" in two Text nodes, a mention
// hidden behind an empty emphasis) cannot slip past their break rules.
func normInlines(in []Inline, top bool) []Inline { return norm(in, top, true) }

// normLevel normalises one level of inlines whose children are normal
// already, as the converter builds them bottom-up: re-walking every subtree
// at every level would be quadratic in the nesting depth.
func normLevel(in []Inline, top bool) []Inline { return norm(in, top, false) }

func norm(in []Inline, top, deep bool) []Inline {
	var out []Inline
	for _, x := range in {
		switch x.Kind {
		case Text:
			out = appendText(out, clean(x.Text))
		case Code:
			t := clean(x.Text)
			if strings.Trim(t, " \t\n") == "" {
				// blank code shows as nothing but its space
				if t != "" {
					out = appendText(out, " ")
				}
				continue
			}
			out = append(out, Inline{Kind: Code, Text: t})
		case Mention:
			if t := clean(x.Text); t != "" {
				out = append(out, Inline{Kind: Mention, Text: t})
			}
		case XRef:
			if t := clean(x.Text); strings.Trim(t, " \t\n") != "" {
				out = append(out, Inline{Kind: XRef, Text: t})
			} else {
				out = appendText(out, t)
			}
		case Emph, Strong, Strike, Link:
			// A break at the edge of a span would leave a delimiter alone
			// at the start of a line.
			ch := x.Children
			if deep {
				ch = normInlines(ch, false)
			}
			ch = trimBreaks(ch)
			switch {
			case len(ch) == 0:
			case x.Kind != Link && len(ch) == 1 && ch[0].Kind == Text && strings.Trim(ch[0].Text, " \t\n") == "":
				out = appendText(out, ch[0].Text) // a blank span is its blank
			default:
				out = append(out, Inline{Kind: x.Kind, Href: x.Href, Children: ch})
			}
		case Break, Omitted:
			out = append(out, Inline{Kind: x.Kind})
		}
		// Unknown kinds are dropped: what the model cannot name cannot leak.
	}
	for i := range out {
		if out[i].Kind == Text {
			out[i].Text = collapseBlankLines(out[i].Text)
		}
	}
	if top {
		out = trimInlines(out)
	}
	return out
}

// appendText appends t to out, merged into a Text before it.
func appendText(out []Inline, t string) []Inline {
	if t == "" {
		return out
	}
	if n := len(out); n > 0 && out[n-1].Kind == Text {
		out[n-1].Text += t
		return out
	}
	return append(out, Inline{Kind: Text, Text: t})
}

// collapseBlankLines keeps one newline where text has a blank line: inside
// a paragraph a blank line would end it in every target.
func collapseBlankLines(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	for i, l := range lines {
		if i > 0 {
			if strings.TrimLeft(l, " \t") == "" && i < len(lines)-1 {
				continue // a blank line inside text: one newline is enough
			}
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// trimInlines drops leading and trailing whitespace and breaks of a block's
// inlines.
func trimInlines(in []Inline) []Inline {
	for len(in) > 0 {
		switch f := in[0]; {
		case f.Kind == Break:
			in = in[1:]
			continue
		case f.Kind == Text:
			if t := strings.TrimLeft(f.Text, " \t\n"); t != f.Text {
				if t == "" {
					in = in[1:]
					continue
				}
				in = append([]Inline{{Kind: Text, Text: t}}, in[1:]...)
			}
		}
		break
	}
	for len(in) > 0 {
		n := len(in) - 1
		switch l := in[n]; {
		case l.Kind == Break:
			in = in[:n]
			continue
		case l.Kind == Text:
			if t := strings.TrimRight(l.Text, " \t\n"); t != l.Text {
				if t == "" {
					in = in[:n]
					continue
				}
				in = append(in[:n:n], Inline{Kind: Text, Text: t})
			}
		}
		break
	}
	if len(in) == 0 {
		return nil
	}
	return in
}

// trimBreaks drops the breaks at both ends of in, and the blank text
// between such a break and the end. Spans inside in were trimmed when they
// were normalised, so one level is enough.
func trimBreaks(in []Inline) []Inline {
	blank := func(x Inline) bool { return x.Kind == Text && strings.Trim(x.Text, " \t\n") == "" }
	for {
		switch n := len(in); {
		case n > 0 && in[0].Kind == Break:
			in = in[1:]
		case n > 1 && blank(in[0]) && in[1].Kind == Break:
			in = in[2:]
		case n > 0 && in[n-1].Kind == Break:
			in = in[:n-1]
		case n > 1 && blank(in[n-1]) && in[n-2].Kind == Break:
			in = in[:n-2]
		default:
			return in
		}
	}
}

func isTextLike(k InlineKind) bool { return k == Text || k == Mention || k == XRef }

// flat is the text of a block's inlines as one string, in document order
// (mentions with their "@", code, "[image omitted]", a newline per break),
// and the offsets in it where a joiner must go: the break rules run over the
// whole block, across emphasis and link boundaries, so "ABC-" next to a bold
// "12" is broken too (Jira ignores delimiters glued to a word and would read
// the key). Writers walk the inlines in the same order and take their share
// of offsets as they go, adding those of each text node on its own.
type flat struct {
	at  []int
	pos int
}

func newFlat(in []Inline) *flat {
	var b strings.Builder
	var forced []int
	flatten(&b, in, &forced)
	return &flat{at: mergeSorted(breaks(b.String()), forced)}
}

// flatten writes the text of in; forced collects the offsets right after
// every mention's "@", broken whatever follows.
func flatten(b *strings.Builder, in []Inline, forced *[]int) {
	for _, x := range in {
		switch x.Kind {
		case Text, XRef, Code:
			b.WriteString(x.Text)
		case Mention:
			b.WriteByte('@')
			*forced = append(*forced, b.Len())
			b.WriteString(x.Text)
		case Omitted:
			b.WriteString(OmittedText)
		case Break:
			b.WriteByte('\n')
		case Emph, Strong, Strike, Link:
			flatten(b, x.Children, forced)
		}
	}
}

// take returns the offsets falling in the next n bytes, relative to them,
// and moves past them.
func (f *flat) take(n int) []int {
	var out []int
	for len(f.at) > 0 && f.at[0] < f.pos+n {
		if f.at[0] >= f.pos {
			out = append(out, f.at[0]-f.pos)
		}
		f.at = f.at[1:]
	}
	f.pos += n
	return out
}

// share returns the offsets for s, the next piece of text a writer emits
// as one text node: its share of the block-wide offsets, and the offsets
// of s on its own, as the target may also read it alone ("GH-7" in
// emphasis right after "3" is a reference to GitHub, not "3GH-7").
func (f *flat) share(s string) []int {
	return mergeSorted(f.take(len(s)), breaks(s))
}

// runText joins a run of adjacent Text, Mention and XRef inlines into the
// one string a target sees.
func runText(in []Inline) string {
	var b strings.Builder
	for _, x := range in {
		if x.Kind == Mention {
			b.WriteByte('@')
		}
		b.WriteString(x.Text)
	}
	return b.String()
}

func mergeSorted(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v int
		if j >= len(b) || (i < len(a) && a[i] <= b[j]) {
			v = a[i]
			i++
		} else {
			v = b[j]
			j++
		}
		if n := len(out); n == 0 || out[n-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// runEnd returns the end of the run of text-like inlines starting at i.
func runEnd(in []Inline, i int) int {
	for i < len(in) && isTextLike(in[i].Kind) {
		i++
	}
	return i
}

// plain is the text of inlines as written: mentions with their "@".
func plain(in []Inline) string {
	var b strings.Builder
	writePlain(&b, in, false)
	return b.String()
}

func writePlain(b *strings.Builder, in []Inline, oneLine bool) {
	for _, x := range in {
		switch x.Kind {
		case Text, Code, XRef:
			t := x.Text
			if oneLine {
				t = strings.ReplaceAll(t, "\n", " ")
			}
			b.WriteString(t)
		case Mention:
			b.WriteString("@" + x.Text)
		case Break:
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteByte('\n')
			}
		case Omitted:
			b.WriteString(OmittedText)
		case Emph, Strong, Strike, Link:
			writePlain(b, x.Children, oneLine)
		}
	}
}

// FirstLine returns the first line of the first paragraph or heading of d,
// for `show.title: section`: the inlines up to the first Break or newline,
// trimmed. The search goes depth first, into lists and quotes, so a section
// that starts with a list still gives a title.
func FirstLine(d Doc) []Inline {
	b := firstTextBlock(d.Blocks)
	if b == nil {
		return nil
	}
	out, _ := cutLine(normInlines(b.Inlines, true))
	return normInlines(out, true)
}

func firstTextBlock(bs []Block) *Block {
	for i := range bs {
		b := &bs[i]
		switch b.Kind {
		case Paragraph, Heading:
			if len(normInlines(b.Inlines, true)) > 0 {
				return b
			}
		case List:
			for _, it := range b.Items {
				if f := firstTextBlock(it); f != nil {
					return f
				}
			}
		case Quote:
			if f := firstTextBlock(b.Children); f != nil {
				return f
			}
		}
	}
	return nil
}

// cutLine copies in up to its first line end; done reports that one was
// found.
func cutLine(in []Inline) (out []Inline, done bool) {
	for _, x := range in {
		switch x.Kind {
		case Break:
			return out, true
		case Text:
			if i := strings.IndexByte(x.Text, '\n'); i >= 0 {
				return append(out, Inline{Kind: Text, Text: x.Text[:i]}), true
			}
			out = append(out, x)
		case Emph, Strong, Strike, Link:
			ch, d := cutLine(x.Children)
			y := x
			y.Children = ch
			out = append(out, y)
			if d {
				return out, true
			}
		default:
			out = append(out, x)
		}
	}
	return out, false
}
