package scrub

import (
	"strconv"
	"strings"
)

// PlainText writes d as plain text (feed summaries): no markup, mentions
// and references as written (a feed reader neither notifies nor links),
// links as their text, lists with "- " or "1. ", quotes with "> ". The
// caller escapes for its container (Atom's XML encoder does).
func (d Doc) PlainText() string {
	s := plainBlocks(d.Blocks)
	if s == "" {
		return ""
	}
	return s + "\n"
}

func plainBlocks(bs []Block) string { return plainBlockList(bs, false) }

func plainBlockList(bs []Block, inItem bool) string {
	var b strings.Builder
	var prev BlockKind
	for _, x := range bs {
		s := plainBlock(x)
		if s == "" {
			continue
		}
		switch {
		case b.Len() == 0:
		case inItem && x.Kind == List && prev == Paragraph:
			b.WriteString("\n")
		default:
			b.WriteString("\n\n")
		}
		b.WriteString(s)
		prev = x.Kind
	}
	return b.String()
}

func plainBlock(b Block) string {
	switch b.Kind {
	case Paragraph:
		return plain(normInlines(b.Inlines, true))
	case Heading:
		var sb strings.Builder
		writePlain(&sb, normInlines(b.Inlines, true), true)
		return sb.String()
	case CodeBlock:
		return clean(b.Text)
	case Quote:
		if inner := plainBlocks(b.Children); inner != "" {
			return prefixLines(inner, "> ", ">")
		}
	case Rule:
		return "---"
	case List:
		var items []string
		n := listStart(b)
		for _, it := range b.Items {
			m := "-"
			if b.Ordered {
				m = strconv.Itoa(n) + "."
				n++
			}
			content := plainBlockList(it, true)
			first, rest, more := strings.Cut(content, "\n")
			item := m + " " + first
			if more {
				item += "\n" + prefixLines(rest, strings.Repeat(" ", len(m)+1), "")
			}
			items = append(items, item)
		}
		return strings.Join(items, "\n")
	}
	return ""
}

// InlineText writes a title for a plain-text field of the given style, on
// one line. TitlePlain is the text as written. TitleGitHub and TitleJira
// break mentions, references and URLs with U+2060 WORD JOINER, which keeps
// the title looking the same but stops the tracker linking or notifying.
func InlineText(in []Inline, style TitleStyle) string {
	var b strings.Builder
	var forced []int
	flattenTitle(&b, normInlines(in, true), &forced)
	s := strings.TrimSpace(b.String())
	if style == TitlePlain {
		return s
	}
	// Trimming moved every offset by the same amount.
	lead := len(b.String()) - len(strings.TrimLeft(b.String(), " \t\n"))
	for i := range forced {
		forced[i] -= lead
	}
	return withBreaks(s, mergeSorted(breaks(s), forced), wj)
}

func flattenTitle(b *strings.Builder, in []Inline, forced *[]int) {
	for _, x := range in {
		switch x.Kind {
		case Text, Code, XRef:
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(x.Text, "\n", " "), "\t", " "))
		case Mention:
			b.WriteByte('@')
			*forced = append(*forced, b.Len())
			b.WriteString(strings.ReplaceAll(x.Text, "\n", " "))
		case Break:
			b.WriteByte(' ')
		case Omitted:
			b.WriteString(OmittedText)
		case Emph, Strong, Strike, Link:
			flattenTitle(b, x.Children, forced)
		}
	}
}
