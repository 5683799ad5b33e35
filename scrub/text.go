package scrub

import (
	"bufio"
	"bytes"
	"html"
	"strings"
	"unicode/utf8"

	ghtml "github.com/yuin/goldmark/renderer/html"
)

// Zero-width characters used to break what a target would otherwise turn into
// a mention, reference or link. U+200B in bodies (Markdown writes it as an
// entity so the source shows it), U+2060 in single-line titles, where a
// zero-width space could become a line-break opportunity.
const (
	zwsp   = "\u200b"
	zwsp64 = "&#8203;"
	wj     = "\u2060"
)

// clean makes a string fit for a Doc: valid UTF-8, CR and CRLF as LF, NUL as
// U+FFFD, and no other C0 control or DEL but tab and newline. Every renderer
// runs text through it too, so a hand-built Doc cannot smuggle a control
// character (a CR the HTML tokenizer would rewrite, a NUL) past the escapers.
func clean(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	s = strings.ToValidUTF8(s, "\ufffd")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			b.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case c == 0:
			b.WriteString("\ufffd")
		case (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decode turns Markdown inline source (backslash escapes, entity and
// numeric character references) into the text it stands for, exactly as
// goldmark's own HTML writer reads it: that writer is run into a buffer and
// its HTML escaping undone, so the two can never disagree.
func decode(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, 0) < 0 {
		return string(raw)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	ghtml.DefaultWriter.Write(w, raw)
	_ = w.Flush()
	return html.UnescapeString(buf.String())
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool       { return isASCIILetter(c) || isDigit(c) }
func isWordByte(c byte) bool    { return isAlnum(c) || c == '_' }

// breaks returns, in ascending order, the byte offsets of s before which a
// zero-width character must go so that no target (GitHub, Jira) can read a
// mention, an issue reference or a URL out of s:
//
//	@name        → @|name         (mentions, emails, org/repo@sha)
//	#12          → #|12           (issue refs, org/repo#12)
//	ABC-12, GH-1 → ABC-|12        (Jira keys, GitHub GH- refs, custom autolinks)
//	https://x    → https|://x     (any "://", and a scheme-like word
//	                               before ':' and a letter, digit, '/'
//	                               or '%': mailto:a, javascript:x, ...)
//	www.x        → www|.x         (GitHub's www. autolinks)
//
// The rules look only at ASCII bytes, so offsets always fall on rune
// boundaries. They run over the joined text of adjacent text-like inlines,
// so splitting "ABC" and "-12" across two nodes does not escape them.
func breaks(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '@':
			if i+1 < len(s) && isWordByte(s[i+1]) {
				out = append(out, i+1)
			}
		case '#':
			if i+1 < len(s) && isDigit(s[i+1]) {
				out = append(out, i+1)
			}
		case '-':
			if i+1 < len(s) && isDigit(s[i+1]) && wordBeforeStartsWithLetter(s, i, isWordByte) {
				out = append(out, i+1)
			}
		case ':':
			if strings.HasPrefix(s[i+1:], "//") ||
				(i+1 < len(s) && schemeBodyStart(s[i+1]) && wordBeforeStartsWithLetter(s, i, isSchemeByte)) {
				out = append(out, i)
			}
		case '.':
			if i >= 3 && strings.EqualFold(s[i-3:i], "www") {
				out = append(out, i)
			}
		}
	}
	return out
}

// schemeBodyStart: what can follow "scheme:" in a URL a target would link
// (javascript:alert, mailto:a@b, file:/x, data:%3C); not punctuation, so
// ":tada:" and "note:." stay as they are.
func schemeBodyStart(c byte) bool { return isAlnum(c) || c == '/' || c == '%' }

func isSchemeByte(c byte) bool { return isAlnum(c) || c == '+' || c == '.' || c == '-' }

// wordBeforeStartsWithLetter reports whether the run of in-word bytes ending
// just before i is non-empty and starts with an ASCII letter.
func wordBeforeStartsWithLetter(s string, i int, in func(byte) bool) bool {
	j := i
	for j > 0 && in(s[j-1]) {
		j--
	}
	return j < i && isASCIILetter(s[j])
}

// withBreaks returns s with joiner inserted at every offset in at (sorted).
func withBreaks(s string, at []int, joiner string) string {
	if len(at) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(at)*len(joiner))
	prev := 0
	for _, o := range at {
		b.WriteString(s[prev:o])
		b.WriteString(joiner)
		prev = o
	}
	b.WriteString(s[prev:])
	return b.String()
}
