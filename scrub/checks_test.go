package scrub

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	xhtml "golang.org/x/net/html"
)

// These checkers inspect a renderer's output the way the target would read
// it, and report anything a target could turn into a mention, reference,
// link, image, macro or raw HTML.

// unbroken are the patterns that must never appear contiguous in text a
// target reads (after its own unescaping): each one is something GitHub or
// Jira would notify, link or autolink.
var unbroken = []struct {
	name string
	re   *regexp.Regexp
}{
	{"mention or email", regexp.MustCompile(`@[A-Za-z0-9_]`)},
	{"issue reference", regexp.MustCompile(`#[0-9]`)},
	{"issue key", regexp.MustCompile(`(^|[^A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*-[0-9]`)},
	{"url", regexp.MustCompile(`[A-Za-z0-9+.\-]://`)},
	{"scheme", regexp.MustCompile(`(^|[^A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9/%]`)},
	{"www", regexp.MustCompile(`(?i)www\.`)},
}

func checkText(where, s string) error {
	for _, u := range unbroken {
		if loc := u.re.FindStringIndex(s); loc != nil {
			return fmt.Errorf("%s: unbroken %s %q in text %q", where, u.name, s[loc[0]:loc[1]], s)
		}
	}
	return nil
}

// hrefCheck says whether an output link target is acceptable.
type hrefCheck func(href string) bool

// domainCheck accepts http(s)/mailto links to the given domains only.
func domainCheck(list []string) hrefCheck {
	d := newDomains(list)
	return func(h string) bool { _, ok := d.allowedHref(h); return ok }
}

// setCheck accepts exactly the canonical hrefs of the links of a Doc.
func setCheck(d Doc) hrefCheck {
	set := map[string]bool{}
	var walk func([]Inline)
	walk = func(in []Inline) {
		for _, x := range in {
			if x.Kind == Link {
				if c, _, ok := safeHref(x.Href); ok {
					set[c] = true
				}
			}
			walk(x.Children)
		}
	}
	eachInlines(d.Blocks, walk)
	return func(h string) bool {
		c, _, ok := safeHref(h)
		return ok && set[c]
	}
}

func eachInlines(bs []Block, f func([]Inline)) {
	for _, b := range bs {
		f(b.Inlines)
		eachInlines(b.Children, f)
		for _, it := range b.Items {
			eachInlines(it, f)
		}
	}
}

// mdCounts are the block nodes of a parsed Markdown document that must
// match the Doc one for one: text cannot have opened any of them.
type mdCounts struct{ headings, codes, quotes, rules int }

func docCounts(bs []Block) mdCounts {
	var c mdCounts
	for _, b := range bs {
		switch b.Kind {
		case Heading:
			c.headings++
		case CodeBlock:
			c.codes++
		case Quote:
			c.quotes++
		case Rule:
			c.rules++
		}
		sub := docCounts(b.Children)
		for _, it := range b.Items {
			s := docCounts(it)
			sub.headings, sub.codes, sub.quotes, sub.rules = sub.headings+s.headings, sub.codes+s.codes, sub.quotes+s.quotes, sub.rules+s.rules
		}
		c.headings, c.codes, c.quotes, c.rules = c.headings+sub.headings, c.codes+sub.codes, c.quotes+sub.quotes, c.rules+sub.rules
	}
	return c
}

// checkMarkdown parses md with GFM (linkify on) and fails on any image, raw
// HTML, autolink, table, reference definition, link outside ok, or text
// holding an unbroken mention, reference or URL. want, when not nil, is
// compared with the parsed block counts.
func checkMarkdown(md string, ok hrefCheck, want *mdCounts) error {
	src := []byte(md)
	doc := parse(src)
	var errs []error
	var got mdCounts
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Image, *ast.RawHTML, *ast.HTMLBlock, *ast.AutoLink, *east.Table, *ast.LinkReferenceDefinition:
			errs = append(errs, fmt.Errorf("markdown: %s node", n.Kind()))
		case *ast.Link:
			if dest := decode(n.Destination); !ok(dest) {
				errs = append(errs, fmt.Errorf("markdown: link to %q", dest))
			}
		case *ast.Heading:
			got.headings++
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			got.codes++
			return ast.WalkSkipChildren, nil
		case *ast.CodeSpan:
			return ast.WalkSkipChildren, nil
		case *ast.Blockquote:
			got.quotes++
		case *ast.ThematicBreak:
			got.rules++
		}
		if n.Type() == ast.TypeBlock || n.Kind() == ast.KindEmphasis || n.Kind() == ast.KindLink || n.Kind() == east.KindStrikethrough {
			if err := checkText("markdown", mdTextRuns(n, src)); err != nil {
				errs = append(errs, err)
			}
		}
		return ast.WalkContinue, nil
	})
	if want != nil && got != *want {
		errs = append(errs, fmt.Errorf("markdown: blocks %+v, doc has %+v", got, *want))
	}
	return errors.Join(errs...)
}

// mdTextRuns joins the decoded text children of n, a newline between runs
// that another node separates: what GitHub's filters see as text nodes.
func mdTextRuns(n ast.Node, src []byte) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			b.WriteString(decode(c.Value(src)))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte('\n')
			}
		case *ast.String:
			b.WriteString(decode(c.Value))
		default:
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// checkWiki scans Jira wiki markup. Outside {noformat}: no unescaped '!'
// (image), every unescaped '[' opens "[label|url]" with an accepted url,
// '{' and '}' only in "{{", "}}", {quote} and {noformat}, a backslash only
// as an escape, before U+200B or as the " \\ " break; and the visible text
// holds no unbroken mention, key or URL. Inside {noformat}: no "{noformat".
func checkWiki(w string, ok hrefCheck) error {
	inNoformat := false
	for n, line := range strings.Split(w, "\n") {
		where := fmt.Sprintf("wiki line %d %q", n+1, line)
		if line == "{noformat}" {
			inNoformat = !inNoformat
			continue
		}
		if inNoformat {
			if regexp.MustCompile(`(?i)\{\s*noformat`).MatchString(line) {
				return fmt.Errorf("%s: {noformat inside {noformat}", where)
			}
			continue
		}
		if line == "{quote}" {
			continue
		}
		var text strings.Builder
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch c {
			case '\\':
				rest := line[i+1:]
				switch {
				case strings.HasPrefix(rest, zwsp):
					text.WriteByte('\\')
					i += len(zwsp)
				case strings.HasPrefix(rest, `\ `) && i > 0 && line[i-1] == ' ':
					text.WriteByte('\n')
					i++
				case rest != "" && strings.IndexByte(wikiEscaped, rest[0]) >= 0:
					text.WriteByte(rest[0])
					i++
				default:
					return fmt.Errorf("%s: stray backslash at %d", where, i)
				}
			case '!':
				return fmt.Errorf("%s: unescaped '!' at %d", where, i)
			case '[':
				bar := strings.IndexByte(line[i:], '|')
				end := strings.IndexByte(line[i:], ']')
				if bar < 0 || end < bar {
					return fmt.Errorf("%s: '[' that is not a link at %d", where, i)
				}
				label, href := line[i+1:i+bar], line[i+bar+1:i+end]
				if strings.ContainsAny(label, "[!{") && !escapedOnly(label) {
					return fmt.Errorf("%s: markup in link label %q", where, label)
				}
				u, err := url.PathUnescape(href)
				if err != nil || !ok(u) {
					if !ok(href) {
						return fmt.Errorf("%s: link to %q", where, href)
					}
				}
				text.WriteByte('\n') // a link is an element of its own
				text.WriteString(unescapeWiki(label))
				text.WriteByte('\n')
				i += end
			case '{', '}':
				if i+1 < len(line) && line[i+1] == c {
					text.WriteByte('\n')
					i++
					continue
				}
				return fmt.Errorf("%s: unescaped %q at %d", where, c, i)
			default:
				text.WriteByte(c)
			}
		}
		if err := checkText("wiki", text.String()); err != nil {
			return err
		}
	}
	if inNoformat {
		return errors.New("wiki: unclosed {noformat}")
	}
	return nil
}

func escapedOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("[!{", s[i]) >= 0 && (i == 0 || s[i-1] != '\\') {
			return false
		}
	}
	return true
}

func unescapeWiki(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(wikiEscaped, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// htmlAllowed are the tags and attributes the HTML writer may emit.
var htmlAllowed = map[string]map[string]*regexp.Regexp{
	"p": {}, "h3": {}, "h4": {}, "h5": {}, "h6": {}, "ul": {}, "li": {}, "pre": {}, "code": {},
	"blockquote": {}, "hr": {}, "em": {}, "strong": {}, "del": {}, "br": {},
	"ol":   {"start": regexp.MustCompile(`^[0-9]{1,9}$`)},
	"span": {"class": regexp.MustCompile(`^(mention|ref|omitted)$`)},
	"a":    {"href": nil, "rel": regexp.MustCompile(`^nofollow noopener noreferrer$`)},
}

// checkHTML tokenises an HTML fragment: only the writer's own tags and
// attributes, links only where ok says, spans always with their class, and
// the strict policy leaves the fragment unchanged.
func checkHTML(h string, ok hrefCheck) error {
	z := xhtml.NewTokenizer(strings.NewReader(h))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			if s := policy.Sanitize(h); s != h {
				return fmt.Errorf("html: policy changed the output:\n got %q\nwant %q", s, h)
			}
			return nil
		case xhtml.CommentToken, xhtml.DoctypeToken, xhtml.SelfClosingTagToken:
			return fmt.Errorf("html: unexpected %v %q", tt, z.Token().String())
		case xhtml.StartTagToken, xhtml.EndTagToken:
			tok := z.Token()
			attrs, known := htmlAllowed[tok.Data]
			if !known {
				return fmt.Errorf("html: tag %q", tok.Data)
			}
			if tt == xhtml.EndTagToken {
				continue
			}
			if (tok.Data == "span" || tok.Data == "a") && len(tok.Attr) == 0 {
				return fmt.Errorf("html: bare <%s>", tok.Data)
			}
			for _, a := range tok.Attr {
				re, known := attrs[a.Key]
				switch {
				case !known:
					return fmt.Errorf("html: attribute %s on <%s>", a.Key, tok.Data)
				case a.Key == "href" && !ok(a.Val):
					return fmt.Errorf("html: link to %q", a.Val)
				case re != nil && !re.MatchString(a.Val):
					return fmt.Errorf("html: %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
			}
		}
	}
}

// checkTitle: a GitHub or Jira title holds no unbroken mention, reference
// or URL, and no line break.
func checkTitle(s string) error {
	if strings.ContainsAny(s, "\n\r") {
		return fmt.Errorf("title: line break in %q", s)
	}
	return checkText("title", s)
}

// checkAll runs every renderer of d through its checker.
func checkAll(d Doc, ok hrefCheck, counts bool) error {
	var want *mdCounts
	if counts {
		c := docCounts(d.Blocks)
		want = &c
	}
	return errors.Join(
		checkMarkdown(d.Markdown(), ok, want),
		checkWiki(d.Wiki(), ok),
		checkHTML(d.rawHTML(), ok),
		checkHTML(d.HTML(), ok),
	)
}
