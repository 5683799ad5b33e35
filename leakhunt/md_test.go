package leakhunt

import (
	"strings"
)

// The body model: generated Markdown is built from blocks and inline pieces
// whose canaries are known, so the oracle can say which canaries a given set
// of options lets through without parsing Markdown itself. It follows the
// rules as DESIGN.md and scrub.Options document them, naively:
//
//  1. <!-- internal --> ... <!-- /internal --> markers (block or inline) are
//     counted in document order; everything while the count is above zero
//     is cut; unclosed, to the end;
//  2. a heading named internal_marker (case-insensitive, whitespace runs as
//     one) cuts everything up to the next heading of its level or higher, at
//     the top and inside quotes and list items;
//  3. body_section keeps what follows the first top-level heading of that
//     name up to the next heading of its level or higher;
//  4. in comments, quotes are dropped;
//  5. HTML comments, raw HTML, reference definitions, image alt text and
//     URLs, and link titles never show; a link's URL shows only when its
//     host is one of link_domains or a subdomain.

type bkind int

const (
	bPara        bkind = iota // lines of pieces
	bHeading                  // ATX, level, text
	bSetext                   // setext heading (level 1 or 2)
	bMarkOpen                 // <!-- internal --> on its own
	bMarkClose                // <!-- /internal --> on its own
	bComment                  // <!-- canary --> block, one or several lines
	bHTML                     // raw HTML block
	bHTMLImg                  // <img> alone on a line: shows as "[image omitted]"
	bRefDef                   // [label]: url "title"
	bCode                     // fenced code
	bQuote                    // children
	bList                     // items
	bTable                    // lines: header row, then rows
	bOpenComment              // "<!--" never closed: runs to the end of the text (last block only)
)

type mdBlock struct {
	kind     bkind
	level    int
	text     string   // heading text as written
	hl       []*piece // heading made of pieces (with inline markers); its name is what is left of them
	toks     []string // heading or code canaries (visible with the block)
	delta    int      // raw HTML block holding an internal marker: +1 opens a cut, -1 closes one
	lines    [][]*piece
	children []*mdBlock
	items    [][]*mdBlock
	md       string // rendered form of leaf blocks that have no pieces
	url      *gurl  // bRefDef: the URL, shown only through a link that uses it
}

type pkind int

const (
	pWord      pkind = iota // filler word
	pTok                    // a visible canary word
	pOpen                   // inline <!-- internal -->
	pClose                  // inline <!-- /internal -->
	pComment                // <!-- canary -->
	pRawInline              // <span title="hidden">visible</span>, <a href="hidden">visible</a>
	pImg                    // image: "[image omitted]", alt/url/title hidden
	pLink                   // [visible](url "hidden title"), also by reference
	pEmptyLink              // [](url): the URL is the text when it stays a link
	pAutolink               // <url> or a bare URL: the URL is text
	pMention                // @canary
	pCode                   // `canary`
	pEntity                 // &lt;!-- canary --&gt;: text, not a comment
	pEmph                   // *canary*
	pXRef                   // org/repo#12, ABC-12, #7: neutralised, shown
)

type piece struct {
	kind pkind
	vis  string // canary shown when the piece is not cut
	url  *gurl  // link destination: shown when allowed
	md   string
}

// content: the piece puts something in the document when not cut.
func (p *piece) content() bool {
	switch p.kind {
	case pOpen, pClose, pComment:
		return false
	case pEmptyLink:
		return false // decided with the URL
	}
	return true
}

type mdDoc struct {
	blocks []*mdBlock
}

// gurl is a link destination described by its parts, so that whether it is
// allowed is decided from what it is, not by parsing what was written.
type gurl struct {
	md     string // destination as written in Markdown
	tok    string // the canary in it
	scheme string // as a URL parser reads it, lower-case; "" for relative
	mailto bool
	user   bool   // has user info
	host   string // as written
}

// allowedBy is the naive rule of DESIGN.md: http(s) or mailto, no user
// info, an ASCII host equal to a link domain or ending in "." + one.
func (u *gurl) allowedBy(domains []string) bool {
	if u == nil {
		return false
	}
	if !u.mailto && u.scheme != "http" && u.scheme != "https" {
		return false
	}
	if u.user {
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(u.host), ".")
	if h == "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	for _, d := range domains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

// Markdown writes the model.
func (d *mdDoc) Markdown() string {
	return renderBlocks(d.blocks)
}

func renderBlocks(bs []*mdBlock) string {
	var parts []string
	for _, b := range bs {
		parts = append(parts, renderBlock(b))
	}
	return strings.Join(parts, "\n\n")
}

func renderLines(lines [][]*piece) string {
	var ls []string
	for _, l := range lines {
		var ws []string
		for _, p := range l {
			ws = append(ws, p.md)
		}
		ls = append(ls, strings.Join(ws, " "))
	}
	return strings.Join(ls, "\n")
}

func renderBlock(b *mdBlock) string {
	switch b.kind {
	case bPara:
		return renderLines(b.lines)
	case bTable:
		var rows []string
		for i, l := range b.lines {
			var cells []string
			for _, p := range l {
				cells = append(cells, p.md)
			}
			rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
			if i == 0 {
				rows = append(rows, "|"+strings.Repeat(" --- |", len(l)))
			}
		}
		return strings.Join(rows, "\n")
	case bQuote:
		inner := renderBlocks(b.children)
		var out []string
		for _, l := range strings.Split(inner, "\n") {
			if l == "" {
				out = append(out, ">")
			} else {
				out = append(out, "> "+l)
			}
		}
		return strings.Join(out, "\n")
	case bList:
		var out []string
		for _, it := range b.items {
			inner := renderBlocks(it)
			for i, l := range strings.Split(inner, "\n") {
				switch {
				case i == 0:
					out = append(out, "- "+l)
				case l == "":
					out = append(out, "")
				default:
					out = append(out, "  "+l)
				}
			}
		}
		return strings.Join(out, "\n")
	}
	return b.md
}

// mdOpts are the scrub options of one use of a text for one customer.
type mdOpts struct {
	section string // normalised; "" none
	marker  string // normalised; "" none
	comment bool
	domains []string
}

func normName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// mdVis is what of a text shows under some options.
type mdVis struct {
	toks    []string // canaries that show (text, code, link text)
	urls    []string // canaries of URLs that stay links
	first   []string // canaries on the first line of the first text block
	firstOK bool     // there is a text block (else a section title falls back)
	empty   bool     // nothing shows at all
}

type ev struct {
	o       mdOpts
	hname   map[*mdBlock]string // heading name after the marker cut
	cut     int
	pcut    map[*piece]bool
	bcut    map[*mdBlock]bool
	nlShown map[*mdBlock][]bool // per paragraph line: the line's end shows
	gone    map[*mdBlock]bool
}

func evalDoc(d *mdDoc, o mdOpts) mdVis {
	e := &ev{o: o, hname: map[*mdBlock]string{}, pcut: map[*piece]bool{}, bcut: map[*mdBlock]bool{}, nlShown: map[*mdBlock][]bool{}, gone: map[*mdBlock]bool{}}
	e.markers(d.blocks)
	if o.marker != "" {
		e.internal(d.blocks)
	}
	top := d.blocks
	if o.section != "" {
		top = e.section(d.blocks)
	}
	var v mdVis
	v.empty = true
	e.collect(top, &v)
	v.first, v.firstOK = e.firstLine(top)
	return v
}

// markers: stage 1, document order, block and inline markers alike.
func (e *ev) markers(bs []*mdBlock) {
	for _, b := range bs {
		switch b.kind {
		case bMarkOpen:
			e.cut++
		case bMarkClose:
			if e.cut > 0 {
				e.cut--
			}
		case bOpenComment:
			e.cut++ // everything after it is inside the comment
		case bPara, bTable:
			shown := make([]bool, len(b.lines))
			for i, l := range b.lines {
				for _, p := range l {
					switch p.kind {
					case pOpen:
						e.cut++
					case pClose:
						if e.cut > 0 {
							e.cut--
						}
					default:
						e.pcut[p] = e.cut > 0
					}
				}
				shown[i] = e.cut == 0
			}
			e.nlShown[b] = shown
		case bQuote:
			e.bcut[b] = e.cut > 0
			e.markers(b.children)
		case bList:
			e.bcut[b] = e.cut > 0
			for _, it := range b.items {
				e.markers(it)
			}
		case bHeading, bSetext:
			if b.hl == nil {
				e.bcut[b] = e.cut > 0
				e.hname[b] = normName(b.text)
				continue
			}
			// A heading is kept when it starts outside a cut or keeps
			// some text; kept empty, it still ends sections.
			start := e.cut == 0
			var words []string
			for _, p := range b.hl {
				switch p.kind {
				case pOpen:
					e.cut++
				case pClose:
					if e.cut > 0 {
						e.cut--
					}
				default:
					e.pcut[p] = e.cut > 0
					if e.cut == 0 {
						words = append(words, p.md)
					}
				}
			}
			e.bcut[b] = !start && len(words) == 0
			e.hname[b] = normName(strings.Join(words, " "))
		case bHTML:
			e.bcut[b] = e.cut > 0
			e.cut += b.delta
			if e.cut < 0 {
				e.cut = 0
			}
		default:
			e.bcut[b] = e.cut > 0
		}
	}
}

func isHeading(b *mdBlock) bool { return b.kind == bHeading || b.kind == bSetext }

// live: a heading that survived the marker cut (one inside a cut has no
// text left and is dropped, so it ends nothing).
func (e *ev) live(b *mdBlock) bool { return isHeading(b) && !e.bcut[b] && !e.gone[b] }

func (e *ev) goAll(b *mdBlock) {
	e.gone[b] = true
	for _, c := range b.children {
		e.goAll(c)
	}
	for _, it := range b.items {
		for _, c := range it {
			e.goAll(c)
		}
	}
}

// internal: stage 2, at every level.
func (e *ev) internal(bs []*mdBlock) {
	for i := 0; i < len(bs); i++ {
		b := bs[i]
		if e.live(b) && e.hname[b] == e.o.marker {
			e.goAll(b)
			j := i + 1
			for ; j < len(bs); j++ {
				if e.live(bs[j]) && bs[j].level <= b.level {
					break
				}
				e.goAll(bs[j])
			}
			i = j - 1
			continue
		}
		switch b.kind {
		case bQuote:
			e.internal(b.children)
		case bList:
			for _, it := range b.items {
				e.internal(it)
			}
		}
	}
}

// section: stage 3, top level only.
func (e *ev) section(bs []*mdBlock) []*mdBlock {
	for i, b := range bs {
		if e.live(b) && e.hname[b] == e.o.section {
			j := i + 1
			for ; j < len(bs); j++ {
				if e.live(bs[j]) && bs[j].level <= b.level {
					break
				}
			}
			return bs[i+1 : j]
		}
	}
	return nil
}

func (e *ev) dropped(b *mdBlock) bool {
	return e.gone[b] || (b.kind == bQuote && e.o.comment)
}

func (e *ev) collect(bs []*mdBlock, v *mdVis) {
	for _, b := range bs {
		if e.dropped(b) {
			continue
		}
		switch b.kind {
		case bHeading, bSetext:
			if toks, shows := e.headingShows(b); shows {
				v.toks = append(v.toks, toks...)
				v.empty = false
			}
		case bCode:
			if !e.bcut[b] {
				v.toks = append(v.toks, b.toks...)
				v.empty = false
			}
		case bHTMLImg:
			if !e.bcut[b] {
				v.empty = false
			}
		case bPara, bTable:
			for _, l := range b.lines {
				for _, p := range l {
					if e.pcut[p] {
						continue
					}
					if p.content() {
						v.empty = false
					}
					if p.vis != "" && p.kind != pEmptyLink {
						v.toks = append(v.toks, p.vis)
					}
					if p.url != nil && p.url.allowedBy(e.o.domains) && p.kind != pAutolink {
						v.urls = append(v.urls, p.url.tok)
						if p.kind == pEmptyLink {
							v.empty = false
							v.toks = append(v.toks, p.url.tok) // the URL is its text
						}
					}
				}
			}
		case bQuote:
			e.collect(b.children, v)
		case bList:
			for _, it := range b.items {
				e.collect(it, v)
			}
		}
	}
}

// firstLine: the first line of the first paragraph or heading, depth first.
func (e *ev) firstLine(bs []*mdBlock) ([]string, bool) {
	for _, b := range bs {
		if e.dropped(b) {
			continue
		}
		switch b.kind {
		case bHeading, bSetext:
			if toks, shows := e.headingShows(b); shows {
				return toks, true
			}
		case bHTMLImg:
			if !e.bcut[b] {
				return nil, true
			}
		case bTable:
			for _, l := range b.lines {
				var toks []string
				shows := false
				for _, p := range l {
					if e.pcut[p] {
						continue
					}
					shows = shows || p.content()
					toks = append(toks, e.pieceToks(p)...)
				}
				if shows {
					return toks, true
				}
			}
		case bPara:
			var toks []string
			started := false
			nl := e.nlShown[b]
			for i, l := range b.lines {
				for _, p := range l {
					if e.pcut[p] {
						continue
					}
					if p.content() || (p.kind == pEmptyLink && p.url.allowedBy(e.o.domains)) {
						started = true
					}
					if started {
						toks = append(toks, e.pieceToks(p)...)
					}
				}
				if started && i < len(b.lines)-1 && nl[i] {
					return toks, true
				}
			}
			if started {
				return toks, true
			}
		case bQuote:
			if f, ok := e.firstLine(b.children); ok {
				return f, true
			}
		case bList:
			for _, it := range b.items {
				if f, ok := e.firstLine(it); ok {
					return f, true
				}
			}
		}
	}
	return nil, false
}

// headingShows: the heading is kept with some text, and its canaries.
func (e *ev) headingShows(b *mdBlock) ([]string, bool) {
	if e.bcut[b] {
		return nil, false
	}
	if b.hl == nil {
		return b.toks, true
	}
	var toks []string
	shows := false
	for _, p := range b.hl {
		if p.kind == pOpen || p.kind == pClose || e.pcut[p] {
			continue
		}
		shows = shows || p.content()
		toks = append(toks, e.pieceToks(p)...)
	}
	return toks, shows
}

// pieceToks: the canaries a shown piece puts in a title's HTML (text, and
// the href of a link that stays one).
func (e *ev) pieceToks(p *piece) []string {
	var out []string
	if p.vis != "" && p.kind != pEmptyLink {
		out = append(out, p.vis)
	}
	if p.url != nil && p.url.allowedBy(e.o.domains) && p.kind != pAutolink {
		out = append(out, p.url.tok)
	}
	return out
}
