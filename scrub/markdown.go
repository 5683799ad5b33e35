package scrub

import (
	"strconv"
	"strings"
)

// Markdown writes d as GitHub-flavoured Markdown, escaped: every Markdown
// metacharacter in text is backslash-escaped (backticks, '<' and '&' as
// entities), mentions, references and URLs are broken with &#8203; so
// GitHub neither notifies, links nor autolinks them, code is fenced with
// more backticks than it contains, and links are written [text](<url>).
// Nothing in text can open a block at the start of a line: leading
// whitespace goes, and "1." is written "1\.".
func (d Doc) Markdown() string {
	s := mdBlocks(d.Blocks)
	if s == "" {
		return ""
	}
	return s + "\n"
}

// specialLangs are info words GitHub renders as something else than code
// (diagrams, maps, 3D models, suggested changes), some of them able to load
// or link to other places.
var specialLangs = map[string]bool{"mermaid": true, "geojson": true, "topojson": true, "stl": true, "suggestion": true}

func mdBlocks(bs []Block) string { return mdBlockList(bs, false) }

// mdBlockList joins blocks with blank lines. In a list item (inItem) a
// sub-list right after a paragraph follows on the next line, keeping the
// list tight; an ordered one only when it starts at 1, as CommonMark lets
// no other interrupt a paragraph.
func mdBlockList(bs []Block, inItem bool) string {
	var b strings.Builder
	alt := false // alternates list markers so adjacent lists stay apart
	var prev BlockKind
	for _, x := range bs {
		isList := x.Kind == List
		if isList && prev == List {
			alt = !alt
		}
		s := mdBlock(x, alt)
		if s == "" {
			continue
		}
		switch {
		case b.Len() == 0:
		case inItem && isList && prev == Paragraph && (!x.Ordered || listStart(x) == 1):
			b.WriteString("\n")
		default:
			b.WriteString("\n\n")
		}
		b.WriteString(s)
		prev = x.Kind
	}
	return b.String()
}

func mdBlock(b Block, alt bool) string {
	switch b.Kind {
	case Paragraph:
		return mdInlines(b.Inlines, false)
	case Heading:
		t := mdInlines(b.Inlines, true)
		if t == "" {
			return ""
		}
		return strings.Repeat("#", clampLevel(b.Level)) + " " + t
	case CodeBlock:
		return mdCodeBlock(clean(b.Text), lang(b.Lang))
	case Quote:
		inner := mdBlocks(b.Children)
		if inner == "" {
			return ""
		}
		return prefixLines(inner, "> ", ">")
	case Rule:
		// "___", not "---" or "***": after a "-" or "*" list marker those
		// would turn the whole line into a thematic break.
		return "___"
	case List:
		return mdList(b, alt)
	}
	return ""
}

func mdList(b Block, alt bool) string {
	var items []string
	n := listStart(b)
	for _, it := range b.Items {
		var m string
		switch {
		case b.Ordered && alt:
			m = strconv.Itoa(n) + ")"
		case b.Ordered:
			m = strconv.Itoa(n) + "."
		case alt:
			m = "*"
		default:
			m = "-"
		}
		if n < 999999999 {
			n++
		}
		content := mdBlockList(it, true)
		if content == "" {
			items = append(items, m)
			continue
		}
		pad := strings.Repeat(" ", len(m)+1)
		first, rest, more := strings.Cut(content, "\n")
		item := m + " " + first
		if more {
			item += "\n" + prefixLines(rest, pad, "")
		}
		items = append(items, item)
	}
	return strings.Join(items, "\n")
}

// listStart is the first number of an ordered list, within what CommonMark
// accepts (at most nine digits).
func listStart(b Block) int {
	return min(max(b.Start, 0), 999999999)
}

// prefixLines puts prefix before every line of s, and blank before empty
// lines.
func prefixLines(s, prefix, blank string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = blank
		} else {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func mdCodeBlock(text, lang string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	if specialLangs[lang] {
		lang = ""
	}
	if text == "" {
		return fence + lang + "\n" + fence
	}
	return fence + lang + "\n" + text + "\n" + fence
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

func mdCodeSpan(text string) string {
	// A newline would let the next line start a block and end the span
	// before its closing fence.
	text = strings.ReplaceAll(text, "\n", " ")
	fence := strings.Repeat("`", longestRun(text, '`')+1)
	if strings.Trim(text, " ") != "" &&
		(text[0] == '`' || text[len(text)-1] == '`' || (text[0] == ' ' && text[len(text)-1] == ' ')) {
		text = " " + text + " "
	}
	return fence + text + fence
}

// mdURL writes a canonical href (safeHref's) inside <...>: '&' as an
// entity so no character reference is decoded out of it; the canonical form
// has no '<', '>', '\\' or whitespace left, and anything outside the safe
// set is encoded all the same.
func mdURL(href string) string {
	return strings.ReplaceAll(encodeURLBytes(href), "&", "&amp;")
}

// mdEscaped are the ASCII characters backslash-escaped in text: everything
// that can start or end emphasis, strikethrough, code, links, images,
// tables, headings, lists, quotes, setext underlines, math or a footnote.
const mdEscaped = "\\*_{}[]()#+-!|~>=$"

// mdInline writes inlines of one block. lineStart says nothing has been
// written on the current line yet; digits says only digits have.
type mdInline struct {
	b         strings.Builder
	prev      byte // the byte before b, when b starts inside a span
	flat      *flat
	heading   bool
	inLink    bool
	in        map[InlineKind]bool
	lineStart bool
	digits    bool
}

func mdInlines(in []Inline, heading bool) string {
	in = normInlines(in, true)
	w := &mdInline{heading: heading, lineStart: true, in: map[InlineKind]bool{}, flat: newFlat(in)}
	w.inlines(in)
	return strings.TrimRight(w.b.String(), " \t\n")
}

func (w *mdInline) lastByte() byte {
	if w.b.Len() == 0 {
		return w.prev
	}
	return w.b.String()[w.b.Len()-1]
}

func (w *mdInline) write(s string) {
	w.b.WriteString(s)
	w.lineStart, w.digits = false, false
}

func (w *mdInline) inlines(in []Inline) {
	for i := 0; i < len(in); {
		if isTextLike(in[i].Kind) {
			j := runEnd(in, i)
			s := runText(in[i:j])
			w.text(s, w.flat.share(s))
			i = j
			continue
		}
		w.inline(in[i])
		i++
	}
}

func (w *mdInline) inline(x Inline) {
	switch x.Kind {
	case Code:
		w.flat.take(len(x.Text)) // GitHub reads nothing inside code
		// A backtick can be part of an email's local part: "e`a@b.c<x>`"
		// would be read as the address e`a@b.c by goldmark's linkify, which
		// then never sees the code span and parses its content. A joiner
		// ends any such address before the fence.
		if c := w.lastByte(); c != 0 && (isAlnum(c) || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			w.write(zwsp64)
		}
		w.write(mdCodeSpan(x.Text))
	case Break:
		if w.heading {
			w.text(" ", w.flat.take(1))
			return
		}
		w.flat.take(1)
		w.b.WriteString("\\\n")
		w.lineStart, w.digits = true, false
	case Omitted:
		w.text(OmittedText, w.flat.take(len(OmittedText)))
	case Emph, Strong, Strike:
		if w.in[x.Kind] {
			// Nested delimiters add nothing and, for "~~", could open a
			// code fence at the start of a line.
			w.inlines(x.Children)
			return
		}
		delim := map[InlineKind]string{Emph: "*", Strong: "**", Strike: "~~"}[x.Kind]
		inner := w.sub(delim[0])
		inner.in[x.Kind] = true
		inner.inlines(x.Children)
		w.wrap(delim, delim, inner.b.String())
	case Link:
		href, _, ok := safeHref(x.Href)
		if w.inLink || !ok {
			w.inlines(x.Children)
			return
		}
		inner := w.sub('[')
		inner.inLink = true
		inner.inlines(x.Children)
		text := inner.b.String()
		if strings.TrimSpace(text) == "" {
			text = w.subText(href)
		}
		if w.lineStart {
			text = unTask(text)
		}
		if w.lineStart && codeHasBracket(x.Children) {
			// "[`]: x`](<u>)" at the start of a paragraph is a link
			// reference definition: its label ends at the ']' inside the
			// code span, which block parsing does not know about.
			w.write(zwsp64)
		}
		w.write("[" + text + "](<" + mdURL(href) + ">)")
	}
}

// unTask writes the letter of a link text "x" or "X" as an entity: at the
// start of a list item "[X](<u>)" is a GFM task-list checkbox, which would
// swallow the text and show a checked box instead of the link.
func unTask(text string) string {
	t := strings.TrimSpace(text)
	if t != "x" && t != "X" {
		return text
	}
	return strings.Replace(text, t, "&#"+strconv.Itoa(int(t[0]))+";", 1)
}

func codeHasBracket(in []Inline) bool {
	for _, x := range in {
		if (x.Kind == Code && strings.Contains(x.Text, "]")) || codeHasBracket(x.Children) {
			return true
		}
	}
	return false
}

// sub is a writer for the content of a delimited span, which never starts
// a line; prev is the last byte of the opening delimiter.
func (w *mdInline) sub(prev byte) *mdInline {
	in := make(map[InlineKind]bool, len(w.in))
	for k, v := range w.in {
		in[k] = v
	}
	return &mdInline{heading: w.heading, inLink: w.inLink, in: in, flat: w.flat, prev: prev}
}

func (w *mdInline) subText(s string) string {
	inner := w.sub('[')
	inner.text(s, breaks(s))
	return inner.b.String()
}

// wrap writes content between delimiters with its surrounding whitespace
// moved outside: "* x *" would not be emphasis.
func (w *mdInline) wrap(open, close, content string) {
	core := strings.Trim(content, " \t\n")
	// A break ("\\\n") left at an edge would escape or strand a delimiter;
	// a text backslash is always written doubled, so an odd run at the end
	// is a break's.
	for {
		if c, ok := strings.CutPrefix(core, "\\\n"); ok {
			core = strings.Trim(c, " \t\n")
		} else if n := len(core) - len(strings.TrimRight(core, `\`)); n%2 == 1 {
			core = strings.Trim(core[:len(core)-1], " \t\n")
		} else {
			break
		}
	}
	// Leading whitespace is never written at the start of a line, where
	// " 1." would still open a list.
	if core == "" {
		if content != "" && !w.lineStart {
			w.write(" ")
		}
		return
	}
	if first := content[0]; (first == ' ' || first == '\t' || first == '\n') && !w.lineStart {
		w.write(" ")
	}
	w.write(open + core + close)
	if last := content[len(content)-1]; last == ' ' || last == '\t' || last == '\n' {
		w.write(" ")
	}
}

// text writes s escaped, with &#8203; before every offset in at.
func (w *mdInline) text(s string, at []int) {
	k := 0
	for i := 0; i < len(s); i++ {
		for k < len(at) && at[k] < i {
			k++
		}
		if k < len(at) && at[k] == i {
			w.write(zwsp64)
			k++
		}
		c := s[i]
		switch {
		case c == '\n':
			if w.heading {
				if !w.lineStart {
					w.write(" ")
				}
				continue
			}
			if !w.lineStart {
				w.b.WriteByte('\n')
				w.lineStart, w.digits = true, false
			}
			continue
		case c == ' ' || c == '\t':
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			// Leading whitespace could indent a line into code; trailing
			// whitespace before a newline would be a hard break.
			if !w.lineStart && (j >= len(s) || s[j] != '\n') {
				w.write(s[i:j])
			}
			i = j - 1
			continue
		case isDigit(c):
			digits := w.lineStart || w.digits
			w.write(s[i : i+1])
			w.digits = digits
			continue
		case c == '.' && w.digits:
			w.write("\\.")
		case c == '<':
			w.write("&lt;")
		case c == '&':
			w.write("&amp;")
		case c == '`':
			// an entity, not "\`": an escaped backtick next to a code
			// span's fence would lengthen the fence
			w.write("&#96;")
		case strings.IndexByte(mdEscaped, c) >= 0:
			w.write("\\" + s[i:i+1])
		default:
			w.write(s[i : i+1])
		}
	}
}
