package scrub

import (
	"regexp"
	"strconv"
	"strings"
)

// Wiki writes d as Jira wiki markup, escaped: Jira's metacharacters are
// backslash-escaped, a literal backslash is followed by U+200B (so "\\" is
// never a line break and "\*" never an escape the text did not ask for),
// mentions, issue keys and URLs are broken with U+200B, code blocks are
// {noformat} with any {noformat inside broken, and links are [text|url]
// with '|', '[' and ']' of the text replaced by their full-width forms.
func (d Doc) Wiki() string {
	s := wikiBlocks(d.Blocks, false)
	if s == "" {
		return ""
	}
	return s + "\n"
}

func wikiBlocks(bs []Block, inQuote bool) string {
	var parts []string
	for _, b := range bs {
		if s := wikiBlock(b, inQuote); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n\n")
}

func wikiBlock(b Block, inQuote bool) string {
	switch b.Kind {
	case Paragraph:
		return wikiInlines(b.Inlines, wikiPara)
	case Heading:
		t := wikiInlines(b.Inlines, wikiHeading)
		if t == "" {
			return ""
		}
		return "h" + strconv.Itoa(clampLevel(b.Level)) + ". " + t
	case CodeBlock:
		return "{noformat}\n" + noformatBody(clean(b.Text)) + "\n{noformat}"
	case Quote:
		if inQuote {
			// {quote} does not nest: the inner one would close the outer.
			return wikiBlocks(b.Children, true)
		}
		inner := wikiBlocks(b.Children, true)
		if inner == "" {
			return ""
		}
		return "{quote}\n" + inner + "\n{quote}"
	case Rule:
		return "----"
	case List:
		var lines []string
		wikiList(b, "", inQuote, &lines)
		return strings.TrimSpace(strings.Join(lines, "\n"))
	}
	return ""
}

// wikiList writes a list as Jira's one-line items ("* a", "*# b"). An
// item's later paragraphs join its line after a "\\" break; a code block,
// quote or rule inside an item cannot be expressed and is written after the
// line as a block of its own.
func wikiList(b Block, prefix string, inQuote bool, lines *[]string) {
	marker := "*"
	if b.Ordered {
		marker = "#"
	}
	p := prefix + marker
	for _, it := range b.Items {
		open := false
		for _, ib := range it {
			switch ib.Kind {
			case Paragraph, Heading:
				t := wikiInlines(ib.Inlines, wikiItem)
				if t == "" {
					continue
				}
				if open {
					(*lines)[len(*lines)-1] += ` \\ ` + t
				} else {
					*lines = append(*lines, p+" "+t)
					open = true
				}
			case List:
				wikiList(ib, p, inQuote, lines)
				open = false
			default:
				if s := wikiBlock(ib, inQuote); s != "" {
					*lines = append(*lines, "", s, "")
					open = false
				}
			}
		}
	}
}

var noformatTag = regexp.MustCompile(`(?i)\{(\s*noformat)`)

// noformatBody keeps code verbatim but for any {noformat, which would end
// the block early.
func noformatBody(s string) string {
	return noformatTag.ReplaceAllString(s, "{"+zwsp+"$1")
}

type wikiMode int

const (
	wikiPara    wikiMode = iota // newlines kept: Jira shows them as line breaks
	wikiItem                    // one line; breaks as "\\"
	wikiHeading                 // one line; breaks as spaces
)

// wikiEscaped are the characters Jira reads as markup and honours a
// backslash before.
const wikiEscaped = "*_-+^~?{}[]|!#"

type wikiInline struct {
	b         strings.Builder
	prev      byte // the byte before b, when b starts inside a span
	flat      *flat
	label     bool // inside a link's text
	mode      wikiMode
	in        map[InlineKind]bool
	lineStart bool
}

func wikiInlines(in []Inline, mode wikiMode) string {
	in = normInlines(in, true)
	w := &wikiInline{mode: mode, lineStart: true, in: map[InlineKind]bool{}, flat: newFlat(in)}
	w.inlines(in)
	return strings.TrimRight(w.b.String(), " \t\n")
}

func (w *wikiInline) lastByte() byte {
	if w.b.Len() == 0 {
		return w.prev
	}
	return w.b.String()[w.b.Len()-1]
}

func (w *wikiInline) write(s string) {
	w.b.WriteString(s)
	w.lineStart = false
}

func (w *wikiInline) inlines(in []Inline) {
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

func (w *wikiInline) inline(x Inline) {
	switch x.Kind {
	case Code:
		// {{...}} is a text effect: Jira still reads markup inside, so the
		// content is escaped like text.
		inner := w.sub('{')
		inner.mode = wikiHeading
		s := strings.ReplaceAll(x.Text, "\n", " ")
		inner.text(s, w.flat.share(s))
		if t := strings.TrimSpace(inner.b.String()); t != "" {
			w.write("{{" + t + "}}")
		} else if !w.lineStart {
			w.write(" ") // blank code still keeps its neighbours apart
		}
	case Break:
		w.flat.take(1)
		switch w.mode {
		case wikiPara:
			if !w.lineStart {
				w.b.WriteByte('\n')
				w.lineStart = true
			}
		case wikiItem:
			w.write(` \\ `)
		default:
			w.text(" ", nil)
		}
	case Omitted:
		w.text(OmittedText, w.flat.take(len(OmittedText)))
	case Emph, Strong, Strike:
		if w.in[x.Kind] {
			w.inlines(x.Children)
			return
		}
		delim := map[InlineKind]string{Emph: "_", Strong: "*", Strike: "-"}[x.Kind]
		inner := w.sub(delim[0])
		inner.in[x.Kind] = true
		inner.inlines(x.Children)
		content := inner.b.String()
		core := strings.Trim(content, " \t\n")
		// A break (`\\`) left at an edge would escape the delimiter; text
		// backslashes are never doubled, so `\\` here is always a break.
		for {
			if c, ok := strings.CutPrefix(core, `\\`); ok {
				core = strings.Trim(c, " \t\n")
			} else if c, ok := strings.CutSuffix(core, `\\`); ok {
				core = strings.Trim(c, " \t\n")
			} else {
				break
			}
		}
		if core == "" {
			if content != "" && !w.lineStart {
				w.write(" ")
			}
			return
		}
		if first := content[0]; (first == ' ' || first == '\t' || first == '\n') && !w.lineStart {
			w.write(" ")
		}
		open, end := delim, delim
		if x.Kind == Strike {
			// Jira leaves a '-' glued to a word as text, where it can join
			// the word to a number: "ABC" -"12"- would read as ABC-12.
			if isWordByte(w.lastByte()) {
				open += zwsp
			}
			end += zwsp
		}
		w.write(open + core + end)
		if last := content[len(content)-1]; last == ' ' || last == '\t' || last == '\n' {
			w.write(" ")
		}
	case Link:
		href, _, ok := safeHref(x.Href)
		if !ok {
			w.inlines(x.Children)
			return
		}
		// The label is written as one line of plain text: Jira reads it up
		// to the first '|' or ']' whatever the backslashes say, so those
		// (and '[') become full-width look-alikes.
		inner := w.sub('[')
		inner.mode, inner.label, inner.lineStart = wikiHeading, true, true
		inner.plainInlines(x.Children)
		if strings.TrimSpace(inner.b.String()) == "" {
			inner = w.sub('[')
			inner.mode, inner.label, inner.lineStart = wikiHeading, true, true
			inner.text(href, breaks(href))
		}
		w.write("[" + inner.b.String() + "|" + wikiURL(href) + "]")
	}
}

// plainInlines writes inlines as text only, no effects or links: the
// inside of a link label.
func (w *wikiInline) plainInlines(in []Inline) {
	for _, x := range in {
		switch x.Kind {
		case Emph, Strong, Strike, Link:
			w.plainInlines(x.Children)
		case Break:
			w.text(" ", w.flat.take(1))
		case Code:
			t := strings.ReplaceAll(x.Text, "\n", " ")
			w.text(t, w.flat.share(t))
		default:
			w.inlines([]Inline{x})
		}
	}
}

// sub is a writer for the inside of a span; prev is the last byte of its
// opening delimiter.
func (w *wikiInline) sub(prev byte) *wikiInline {
	in := make(map[InlineKind]bool, len(w.in))
	for k, v := range w.in {
		in[k] = v
	}
	mode := w.mode
	if mode == wikiPara {
		mode = wikiItem // a text effect must not span lines in Jira
	}
	return &wikiInline{mode: mode, in: in, flat: w.flat, label: w.label, prev: prev}
}

// wikiURL writes a canonical href (safeHref's) inside [text|url]: it has
// no '|', ']', '[', '{' or whitespace left; anything else outside the safe
// set is encoded all the same, should that ever change.
func wikiURL(href string) string { return encodeURLBytes(href) }

// jiraEmoticons are the "(...)" emoticons not already broken by escaping
// their inner character.
var jiraEmoticons = []string{"(y)", "(n)", "(i)", "(/)", "(x)", "(on)", "(off)", "(flag)", "(flagoff)"}

// text writes s escaped for Jira, with U+200B before every offset in at.
func (w *wikiInline) text(s string, at []int) {
	k := 0
	for i := 0; i < len(s); i++ {
		for k < len(at) && at[k] < i {
			k++
		}
		if k < len(at) && at[k] == i {
			w.write(zwsp)
			k++
		}
		c := s[i]
		switch {
		case c == '\n':
			if w.mode == wikiPara {
				if !w.lineStart {
					w.b.WriteByte('\n')
					w.lineStart = true
				}
			} else if !w.lineStart {
				w.write(" ")
			}
		case c == ' ' || c == '\t':
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if !w.lineStart && (j >= len(s) || s[j] != '\n' || w.mode != wikiPara) {
				w.write(s[i:j])
			}
			i = j - 1
		case w.label && (c == '|' || c == '[' || c == ']'):
			w.write(map[byte]string{'|': "\uff5c", '[': "\uff3b", ']': "\uff3d"}[c])
		case c == '@':
			// always broken: Jira's delimiters ('_' in "_@_") are word
			// characters to a mention pattern
			w.write("@")
			if k >= len(at) || at[k] != i+1 {
				w.write(zwsp)
			}
		case c == '\\':
			w.write(`\` + zwsp)
		case strings.IndexByte(wikiEscaped, c) >= 0:
			w.write(`\` + s[i:i+1])
		case c == '(' && emoticonAt(s, i):
			w.write("(" + zwsp)
		case (c == ':' || c == ';') && i+1 < len(s) && strings.IndexByte("()PpDd", s[i+1]) >= 0:
			w.write(s[i:i+1] + zwsp)
		case w.lineStart && blockWordAt(s, i) > 0:
			// "h1. " and "bq. " open a heading or quote at a line start.
			n := blockWordAt(s, i)
			w.write(s[i:i+n] + zwsp)
			i += n - 1
		default:
			w.write(s[i : i+1])
		}
	}
}

func emoticonAt(s string, i int) bool {
	for _, e := range jiraEmoticons {
		if len(s)-i >= len(e) && strings.EqualFold(s[i:i+len(e)], e) {
			return true
		}
	}
	return false
}

// blockWordAt returns the length of "h1".."h6" or "bq" at s[i] when a '.'
// follows, or 0.
func blockWordAt(s string, i int) int {
	if i+2 < len(s) && s[i+2] == '.' {
		w := strings.ToLower(s[i : i+2])
		if w == "bq" || (w[0] == 'h' && w[1] >= '1' && w[1] <= '6') {
			return 2
		}
	}
	return 0
}
