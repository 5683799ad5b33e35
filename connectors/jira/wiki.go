package jira

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WikiToMarkdown converts Jira wiki markup (what /rest/api/2 returns for
// descriptions and comments, Cloud and Data Center alike) to CommonMark,
// vitrine's one canonical format. The mapping scrubs the result, so the
// conversion aims at faithful structure, not at safety by itself; but
// literal text stays literal: whatever Jira shows as text is escaped so that
// CommonMark does not read it as markup (a "<b>" typed in Jira stays text,
// it does not become raw HTML).
//
// Kept: headings, paragraphs (single newlines are line breaks, as Jira
// shows them), bold, italic, strikethrough, monospace, code and noformat
// blocks, quotes, lists (nested, mixed), tables, rules, links. Mentions
// become "@name" text (the account id of a Cloud mention never shows),
// images and attachments become images (the scrubber shows "[image
// omitted]"), colours, panels and unknown macros lose their markup and keep
// their text. HTML comments typed in the text are passed through as they
// are, so the <!-- internal --> markers cut Jira text too.
func WikiToMarkdown(src string) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	blocks := wikiBlocks(src, 0)
	return strings.Join(blocks, "\n\n")
}

var (
	reHeading   = regexp.MustCompile(`^h([1-6])\.\s*(.*)$`)
	reBQ        = regexp.MustCompile(`^bq\.\s*(.*)$`)
	reList      = regexp.MustCompile(`^([*#]+|-)\s+(.*)$`)
	reRule      = regexp.MustCompile(`^-{4,}\s*$`)
	reBlockOpen = regexp.MustCompile(`^\{(code|noformat|quote|panel)(:[^}]*)?\}`)
	reMacro     = regexp.MustCompile(`^\{[A-Za-z][A-Za-z0-9-]*(:[^}\n]*)?\}`)
	reCodeLang  = regexp.MustCompile(`^[A-Za-z0-9+#-]{1,20}$`)
)

const maxWikiDepth = 8

// wikiBlocks converts text into Markdown blocks (joined by blank lines by
// the caller).
func wikiBlocks(src string, depth int) []string {
	lines := strings.Split(src, "\n")
	var out []string
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, paragraph(para))
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		line := strings.TrimLeft(raw, " \t")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if m := reBlockOpen.FindStringSubmatch(line); m != nil && depth < maxWikiDepth {
			flush()
			name, params := m[1], strings.TrimPrefix(m[2], ":")
			rest := strings.Join(append([]string{line[len(m[0]):]}, lines[i+1:]...), "\n")
			closeTag := "{" + name + "}"
			body, after, closed := strings.Cut(rest, closeTag)
			if !closed {
				// Jira shows an unclosed block to the end of the text.
				body, after = rest, ""
			}
			switch name {
			case "code", "noformat":
				out = append(out, fence(strings.Trim(body, "\n"), codeLang(name, params)))
			case "quote":
				if inner := wikiBlocks(body, depth+1); len(inner) > 0 {
					out = append(out, quoteBlocks(inner))
				}
			case "panel":
				if t := macroParam(params, "title"); t != "" {
					out = append(out, "**"+inline(t, modeLine)+"**")
				}
				out = append(out, wikiBlocks(body, depth+1)...)
			}
			// The rest of the closing line continues as text of its own.
			lines = strings.Split(strings.TrimLeft(after, " \t"), "\n")
			i = -1
			if !closed {
				lines = nil
			}
			continue
		}
		switch {
		case reRule.MatchString(line):
			flush()
			out = append(out, "---")
		case reHeading.MatchString(line):
			flush()
			m := reHeading.FindStringSubmatch(line)
			if t := inline(m[2], modeHeading); t != "" {
				out = append(out, strings.Repeat("#", int(m[1][0]-'0'))+" "+t)
			}
		case reBQ.MatchString(line):
			flush()
			m := reBQ.FindStringSubmatch(line)
			if t := inline(m[1], modeLine); t != "" {
				out = append(out, "> "+t)
			}
		case reList.MatchString(line):
			flush()
			var items []string
			for ; i < len(lines); i++ {
				m := reList.FindStringSubmatch(strings.TrimLeft(lines[i], " \t"))
				if m == nil {
					break
				}
				items = append(items, listItem(m[1], m[2]))
			}
			i--
			out = append(out, strings.Join(items, "\n"))
		case strings.HasPrefix(line, "|"):
			flush()
			var rows []string
			for ; i < len(lines); i++ {
				l := strings.TrimSpace(lines[i])
				if !strings.HasPrefix(l, "|") {
					break
				}
				rows = append(rows, l)
			}
			i--
			if t := table(rows); t != "" {
				out = append(out, t)
			}
		default:
			para = append(para, line)
		}
	}
	flush()
	return out
}

func codeLang(name, params string) string {
	if name != "code" || params == "" {
		return ""
	}
	first := strings.Split(params, "|")[0]
	if strings.Contains(first, "=") {
		if l := macroParam(params, "language"); reCodeLang.MatchString(l) {
			return strings.ToLower(l)
		}
		return ""
	}
	if reCodeLang.MatchString(first) {
		return strings.ToLower(first)
	}
	return ""
}

// macroParam reads key=value out of "a=b|c=d".
func macroParam(params, key string) string {
	for _, p := range strings.Split(params, "|") {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fence writes a fenced code block that its content cannot close.
func fence(body, lang string) string {
	f := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	return f + lang + "\n" + body + "\n" + f
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

func quoteBlocks(blocks []string) string {
	var b strings.Builder
	for i, blk := range blocks {
		if i > 0 {
			b.WriteString(">\n")
		}
		for _, l := range strings.Split(blk, "\n") {
			if l == "" {
				b.WriteString(">\n")
			} else {
				b.WriteString("> " + l + "\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// paragraph joins a paragraph's lines with hard breaks: Jira shows each
// newline of a paragraph as a line break.
func paragraph(lines []string) string {
	var parts []string
	for _, l := range lines {
		if t := lineStart(inline(strings.TrimRight(l, " \t"), modePara)); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\\\n")
}

var reOrderedStart = regexp.MustCompile(`^(\d{1,9})([.)])`)

// lineStart escapes what would open a block at the start of a Markdown
// line: headings, quotes, list markers, rules and setext underlines.
func lineStart(s string) string {
	if s == "" {
		return s
	}
	if m := reOrderedStart.FindStringSubmatch(s); m != nil {
		return m[1] + `\` + s[len(m[1]):]
	}
	switch s[0] {
	case '>':
		return `\` + s
	case '#':
		// An ATX heading needs a space (or nothing) after its #s: "#tag" is text.
		n := len(s) - len(strings.TrimLeft(s, "#"))
		if n <= 6 && (n == len(s) || s[n] == ' ' || s[n] == '\t') {
			return `\` + s
		}
	case '-', '+', '=':
		// List markers, rules and setext underlines.
		if len(s) == 1 || s[1] == ' ' || s[1] == '\t' || strings.Trim(s, string(s[0])+" \t") == "" {
			return `\` + s
		}
	}
	return s
}

func listItem(markers, text string) string {
	indent := 0
	for _, m := range markers[:len(markers)-1] {
		if m == '#' {
			indent += 3
		} else {
			indent += 2
		}
	}
	marker := "- "
	if markers[len(markers)-1] == '#' {
		marker = "1. "
	}
	return strings.Repeat(" ", indent) + marker + lineStartItem(inline(text, modeLine))
}

// lineStartItem escapes what would open a nested block at the start of a
// list item's text.
func lineStartItem(s string) string {
	if s == "" {
		return `\ `
	}
	return lineStart(s)
}

// table converts Jira table rows ("||h||h||", "|c|c|") to a GFM table.
func table(rows []string) string {
	var cells [][]string
	header := false
	width := 0
	for i, r := range rows {
		isHeader := strings.HasPrefix(r, "||")
		if i == 0 {
			header = isHeader
		}
		cs := splitCells(r)
		width = max(width, len(cs))
		cells = append(cells, cs)
	}
	if width == 0 {
		return ""
	}
	var b strings.Builder
	row := func(cs []string) {
		b.WriteString("|")
		for k := 0; k < width; k++ {
			c := ""
			if k < len(cs) {
				c = inline(cs[k], modeLine)
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	start := 0
	if header {
		row(cells[0])
		start = 1
	} else {
		row(nil)
	}
	b.WriteString("|")
	for k := 0; k < width; k++ {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, cs := range cells[start:] {
		row(cs)
	}
	return strings.TrimRight(b.String(), "\n")
}

// splitCells splits a table row on '|' and "||", keeping the '|' inside
// links ([text|url]) and monospace.
func splitCells(r string) []string {
	var cells []string
	var cur strings.Builder
	depth, mono := 0, false
	started := false
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r):
			cur.WriteByte(c)
			cur.WriteByte(r[i+1])
			i++
			continue
		case strings.HasPrefix(r[i:], "{{"):
			mono = true
			cur.WriteString("{{")
			i++
			continue
		case strings.HasPrefix(r[i:], "}}"):
			mono = false
			cur.WriteString("}}")
			i++
			continue
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == '|' && depth == 0 && !mono:
			if started {
				cells = append(cells, strings.TrimSpace(cur.String()))
			}
			cur.Reset()
			started = true
			if i+1 < len(r) && r[i+1] == '|' {
				i++
			}
			continue
		}
		cur.WriteByte(c)
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		cells = append(cells, t)
	}
	return cells
}

type inlineMode int

const (
	modePara    inlineMode = iota // "\\" is a hard line break
	modeLine                      // list items, table cells, quotes: breaks become spaces
	modeHeading                   // like modeLine, and '#' is always escaped
)

// effects are Jira's text effects and what each becomes.
var effects = []struct {
	delim      string
	open, shut string
}{
	{"??", "*", "*"}, // citation
	{"*", "**", "**"},
	{"_", "*", "*"},
	{"-", "~~", "~~"},
	{"+", "", ""}, // inserted: no Markdown form, the text stays
	{"^", "", ""},
	{"~", "", ""},
}

// inline converts one line (or cell) of wiki text.
func inline(s string, mode inlineMode) string {
	var b strings.Builder
	inl := &inliner{mode: mode, b: &b}
	inl.run(s, 0)
	return strings.TrimSpace(b.String())
}

type inliner struct {
	mode inlineMode
	b    *strings.Builder
}

func (w *inliner) run(s string, depth int) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && strings.HasPrefix(s[i:], `\\`):
			if w.mode == modePara {
				w.b.WriteString("\\\n")
			} else {
				w.b.WriteByte(' ')
			}
			i += 2
			continue
		case c == '\\' && i+1 < len(s):
			r, n := utf8.DecodeRuneInString(s[i+1:])
			w.text(string(r), s, i+1)
			i += 1 + n
			continue
		case strings.HasPrefix(s[i:], "<!--"):
			// Passed through as raw HTML: the scrubber reads internal
			// markers from it and drops the rest.
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				w.b.WriteString(s[i:])
				return
			}
			w.b.WriteString(s[i : i+4+end+3])
			i += 4 + end + 3
			continue
		case strings.HasPrefix(s[i:], "{{"):
			if end := strings.Index(s[i+2:], "}}"); end > 0 {
				w.b.WriteString(codeSpan(s[i+2 : i+2+end]))
				i += 2 + end + 2
				continue
			}
		case c == '{':
			if m := reMacro.FindString(s[i:]); m != "" {
				i += len(m) // colour, anchor and unknown macros: their text stays
				continue
			}
		case c == '[':
			if n := w.link(s, i, depth); n > 0 {
				i += n
				continue
			}
		case c == '!':
			if n := w.image(s, i); n > 0 {
				i += n
				continue
			}
		}
		if depth < maxWikiDepth {
			if n := w.effect(s, i, depth); n > 0 {
				i += n
				continue
			}
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		w.text(s[i:i+n], s, i)
		i += n
	}
}

// effect converts a text effect opening at s[i]; it returns the bytes used.
func (w *inliner) effect(s string, i, depth int) int {
	for _, e := range effects {
		d := e.delim
		if !strings.HasPrefix(s[i:], d) {
			continue
		}
		if i > 0 && isWordRune(lastRune(s[:i])) {
			return 0
		}
		start := i + len(d)
		if start >= len(s) || s[start] == ' ' || s[start] == '\t' || strings.HasPrefix(s[start:], d) {
			return 0
		}
		for j := start + 1; j+len(d) <= len(s); j++ {
			if !strings.HasPrefix(s[j:], d) {
				continue
			}
			if s[j-1] == ' ' || s[j-1] == '\t' || s[j-1] == '\\' {
				continue
			}
			after := j + len(d)
			if after < len(s) && isWordRune(firstRune(s[after:])) {
				continue
			}
			var inner strings.Builder
			sub := &inliner{mode: w.mode, b: &inner}
			sub.run(s[start:j], depth+1)
			content := strings.TrimSpace(inner.String())
			if content == "" {
				return after - i
			}
			if e.open == "" {
				w.b.WriteString(content)
			} else {
				w.b.WriteString(e.open + content + e.shut)
			}
			return after - i
		}
		return 0
	}
	return 0
}

// link converts [text|url], [url], [~user], [^attachment] and [#anchor].
// A bracketed word that is none of these stays as written ("[client]").
func (w *inliner) link(s string, i, depth int) int {
	end := strings.IndexByte(s[i+1:], ']')
	if end < 0 {
		return 0
	}
	body := s[i+1 : i+1+end]
	n := end + 2
	if strings.Contains(body, "[") {
		return 0
	}
	switch {
	case strings.HasPrefix(body, "~"):
		name := strings.TrimPrefix(body, "~")
		if strings.HasPrefix(strings.ToLower(name), "accountid:") || name == "" {
			name = "user"
		}
		w.b.WriteString("@" + escapeText(name, "", 0))
		return n
	case strings.HasPrefix(body, "^"):
		w.b.WriteString("![](" + linkURL(strings.TrimPrefix(body, "^")) + ")")
		return n
	case strings.HasPrefix(body, "#"):
		w.b.WriteString(escapeText(strings.TrimPrefix(body, "#"), "", 0))
		return n
	}
	text, target, hasText := strings.Cut(body, "|")
	if !hasText {
		target, text = body, ""
	}
	target, _, _ = strings.Cut(target, "|") // [text|url|tooltip]
	target = strings.TrimSpace(target)
	if !isURL(target) {
		if hasText {
			return 0
		}
		w.b.WriteString("[")
		sub := &inliner{mode: w.mode, b: w.b}
		sub.run(body, depth+1)
		if next := i + n; next < len(s) && strings.IndexByte("([:", s[next]) >= 0 {
			w.b.WriteString(`\]`) // "[a](b)" typed in Jira is text, not a Markdown link
		} else {
			w.b.WriteString("]")
		}
		return n
	}
	label := ""
	if text != "" {
		var lb strings.Builder
		sub := &inliner{mode: modeLine, b: &lb}
		sub.run(text, depth+1)
		label = strings.TrimSpace(lb.String())
	}
	if label == "" {
		label = escapeText(target, "", 0)
	}
	w.b.WriteString("[" + label + "](" + linkURL(target) + ")")
	return n
}

// image converts !file.png! and !url|params! to an image.
func (w *inliner) image(s string, i int) int {
	if i > 0 && isWordRune(lastRune(s[:i])) {
		return 0
	}
	end := strings.IndexByte(s[i+1:], '!')
	if end <= 0 {
		return 0
	}
	body := s[i+1 : i+1+end]
	name, _, _ := strings.Cut(body, "|")
	if name == "" || strings.ContainsAny(name, " \t") || !(strings.Contains(name, ".") || strings.Contains(name, "://")) {
		return 0
	}
	w.b.WriteString("![](" + linkURL(name) + ")")
	return end + 2
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "mailto:") || strings.HasPrefix(l, "ftp://")
}

// linkURL makes a destination safe inside (...): no spaces, parentheses or
// angle brackets.
func linkURL(u string) string {
	r := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "\\", "%5C", "\n", "")
	return r.Replace(strings.TrimSpace(u))
}

func codeSpan(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	n := longestRun(s, '`') + 1
	f := strings.Repeat("`", n)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		return f + " " + s + " " + f
	}
	return f + s + f
}

// text writes literal text (t, which stands at s[i]) escaped for Markdown.
func (w *inliner) text(t, s string, i int) {
	var prev byte
	if i > 0 {
		prev = s[i-1]
	}
	w.b.WriteString(escapeText(t, s[min(len(s), i+len(t)):], prev))
}

// escapeText escapes literal text for CommonMark: only what Markdown would
// otherwise read as markup, so that plain words (and the markers the
// mapping looks for, such as "[client]" or "/status on_track") stay as
// written. next is the text that follows, prev the byte before.
func escapeText(t, next string, prev byte) string {
	var b strings.Builder
	for k := 0; k < len(t); k++ {
		c := t[k]
		var after byte
		if k+1 < len(t) {
			after = t[k+1]
		} else if next != "" {
			after = next[0]
		}
		before := prev
		if k > 0 {
			before = t[k-1]
		}
		switch c {
		case '\\', '`', '*', '~', '|', '&':
			b.WriteByte('\\')
		case '<':
			b.WriteByte('\\')
		case '_':
			if !(isAlnumByte(before) && isAlnumByte(after)) {
				b.WriteByte('\\')
			}
		case ']':
			if after == '(' || after == '[' || after == ':' {
				b.WriteByte('\\')
			}
		case '!':
			if after == '[' {
				b.WriteByte('\\')
			}
		case '#':
			// an ATX heading's closing sequence
			if after == 0 || after == ' ' {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}
