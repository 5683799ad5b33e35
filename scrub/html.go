package scrub

import (
	"html"
	"regexp"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// linkRel is on every link of the page: no ranking credit, no window
// handle, no referrer (the page URL holds the customer's token).
const linkRel = "nofollow noopener noreferrer"

// policy allows exactly the markup the HTML writer emits. The writer's
// output goes through it as a second line of defence; the tests assert it
// never changes anything, which would mean the writer emitted something it
// should not.
var policy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "h3", "h4", "h5", "h6", "ul", "ol", "li", "pre", "code",
		"blockquote", "hr", "em", "strong", "del", "br")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^(mention|ref|omitted)$`)).OnElements("span")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + linkRel + `$`)).OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	return p
}()

// HTML writes d as an HTML fragment: text escaped, headings shifted to
// h3..h6 (the page owns h1 and h2), links with rel="nofollow noopener
// noreferrer", mentions, references and omitted images as spans. A newline
// inside a paragraph is a <br>, as GitHub and Jira show it.
func (d Doc) HTML() string { return policy.Sanitize(d.rawHTML()) }

func (d Doc) rawHTML() string {
	s := htmlBlocks(d.Blocks)
	if s == "" {
		return ""
	}
	return s + "\n"
}

// InlineHTML writes inlines as an HTML fragment.
func InlineHTML(in []Inline) string { return policy.Sanitize(rawInlineHTML(in)) }

func rawInlineHTML(in []Inline) string { return htmlInlines(in, true) }

func htmlBlocks(bs []Block) string {
	var parts []string
	for _, b := range bs {
		if s := htmlBlock(b); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

func htmlBlock(b Block) string {
	switch b.Kind {
	case Paragraph:
		if t := htmlInlines(b.Inlines, false); t != "" {
			return "<p>" + t + "</p>"
		}
	case Heading:
		if t := htmlInlines(b.Inlines, true); t != "" {
			h := "h" + strconv.Itoa(min(clampLevel(b.Level)+2, 6))
			return "<" + h + ">" + t + "</" + h + ">"
		}
	case CodeBlock:
		return "<pre><code>" + html.EscapeString(clean(b.Text)) + "</code></pre>"
	case Quote:
		if inner := htmlBlocks(b.Children); inner != "" {
			return "<blockquote>\n" + inner + "\n</blockquote>"
		}
	case Rule:
		return "<hr>"
	case List:
		var items []string
		for _, it := range b.Items {
			var body string
			if tightItem(it) {
				// a paragraph, then only sub-lists: no <p>
				body = htmlInlines(it[0].Inlines, false)
				if rest := htmlBlocks(it[1:]); rest != "" {
					body += "\n" + rest + "\n"
				}
			} else if body = htmlBlocks(it); body != "" {
				body = "\n" + body + "\n"
			}
			items = append(items, "<li>"+body+"</li>")
		}
		if len(items) == 0 {
			return ""
		}
		open, end := "<ul>", "</ul>"
		if b.Ordered {
			open, end = "<ol>", "</ol>"
			if s := listStart(b); s != 1 {
				open = `<ol start="` + strconv.Itoa(s) + `">`
			}
		}
		return open + "\n" + strings.Join(items, "\n") + "\n" + end
	}
	return ""
}

func tightItem(it []Block) bool {
	if len(it) == 0 || it[0].Kind != Paragraph {
		return false
	}
	for _, b := range it[1:] {
		if b.Kind != List {
			return false
		}
	}
	return true
}

func htmlInlines(in []Inline, oneLine bool) string {
	var b strings.Builder
	writeHTMLInlines(&b, normInlines(in, true), oneLine, false)
	return b.String()
}

func writeHTMLInlines(b *strings.Builder, in []Inline, oneLine, inLink bool) {
	for _, x := range in {
		switch x.Kind {
		case Text:
			writeHTMLText(b, x.Text, oneLine)
		case Mention:
			b.WriteString(`<span class="mention">@`)
			writeHTMLText(b, x.Text, true)
			b.WriteString(`</span>`)
		case XRef:
			b.WriteString(`<span class="ref">`)
			writeHTMLText(b, x.Text, true)
			b.WriteString(`</span>`)
		case Code:
			b.WriteString("<code>")
			writeHTMLText(b, x.Text, true)
			b.WriteString("</code>")
		case Emph, Strong, Strike:
			tag := map[InlineKind]string{Emph: "em", Strong: "strong", Strike: "del"}[x.Kind]
			b.WriteString("<" + tag + ">")
			writeHTMLInlines(b, x.Children, oneLine, inLink)
			b.WriteString("</" + tag + ">")
		case Link:
			href, _, ok := safeHref(x.Href)
			if inLink || !ok {
				writeHTMLInlines(b, x.Children, oneLine, inLink)
				continue
			}
			b.WriteString(`<a href="` + html.EscapeString(href) + `" rel="` + linkRel + `">`)
			writeHTMLInlines(b, x.Children, oneLine, true)
			b.WriteString("</a>")
		case Break:
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteString("<br>\n")
			}
		case Omitted:
			b.WriteString(`<span class="omitted">` + html.EscapeString(OmittedText) + `</span>`)
		}
	}
}

func writeHTMLText(b *strings.Builder, s string, oneLine bool) {
	for {
		line, rest, more := strings.Cut(s, "\n")
		b.WriteString(html.EscapeString(line))
		if !more {
			return
		}
		if oneLine {
			b.WriteByte(' ')
		} else {
			b.WriteString("<br>\n")
		}
		s = rest
	}
}
