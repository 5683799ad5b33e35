package leakhunt

import (
	"strings"
)

// docGen builds one text: blocks, then the reference definitions its
// links use, placed among the top-level blocks.
type docGen struct {
	h       *hcase
	where   string
	comment bool
	defs    []*mdBlock
}

// genDoc generates a Markdown text of about n blocks. Comments get small
// texts; bodies and descriptions get sections and internal headings.
func (h *hcase) genDoc(where string, n int, comment bool) *mdDoc {
	g := &docGen{h: h, where: where, comment: comment}
	var bs []*mdBlock
	if !comment && h.chance(0.5) {
		bs = append(bs, g.para(1+h.r.IntN(2))) // a preamble before any heading
	}
	for i := 0; i < n; i++ {
		bs = append(bs, g.block(0)...)
	}
	if !comment && h.chance(0.6) {
		// most bodies have a section somewhere, some an internal part in it
		at := h.r.IntN(len(bs) + 1)
		sec := []*mdBlock{g.named(pick(h.r, h.sections), 1+h.r.IntN(3)), g.para(1 + h.r.IntN(2))}
		if h.chance(0.3) {
			sec = append(sec, g.named(pick(h.r, h.markers), 2+h.r.IntN(3)), g.para(1))
		}
		if h.chance(0.5) {
			sec = append(sec, g.para(1))
		}
		bs = append(bs[:at], append(sec, bs[at:]...)...)
	}
	for _, d := range g.defs {
		at := h.r.IntN(len(bs) + 1)
		bs = append(bs[:at], append([]*mdBlock{d}, bs[at:]...)...)
	}
	if h.chance(0.03) {
		bs = append(bs, &mdBlock{kind: bOpenComment, md: "<!-- " + h.reg.textTok(where+": unclosed HTML comment") + "\n" + h.reg.textTok(where+": inside the unclosed HTML comment")})
		h.count("unclosed HTML comment")
	}
	return &mdDoc{blocks: bs}
}

func (g *docGen) tok(what string) string { return g.h.reg.textTok(g.where + ": " + what) }

func (g *docGen) block(depth int) []*mdBlock {
	h := g.h
	x := h.r.IntN(100)
	switch {
	case x < 30:
		return []*mdBlock{g.para(1 + h.r.IntN(3))}
	case x < 52:
		if g.comment && h.r.IntN(3) > 0 {
			return []*mdBlock{g.para(1)}
		}
		return []*mdBlock{g.heading(1+h.r.IntN(4), depth)}
	case x < 57:
		h.count("block internal marker")
		return []*mdBlock{{kind: bMarkOpen, md: pick(h.r, []string{"<!-- internal -->", "<!--internal-->", "<!-- INTERNAL -->", "<!--   Internal -->"})}}
	case x < 62:
		return []*mdBlock{{kind: bMarkClose, md: pick(h.r, []string{"<!-- /internal -->", "<!--/internal-->", "<!-- / Internal -->"})}}
	case x < 66:
		h.count("HTML comment block")
		switch h.r.IntN(3) {
		case 0:
			return []*mdBlock{{kind: bComment, md: "<!-- " + g.tok("HTML comment") + " -->"}}
		case 1:
			return []*mdBlock{{kind: bComment, md: "<!--\n" + g.tok("HTML comment") + "\n-->"}}
		default:
			return []*mdBlock{{kind: bComment, md: "<!-- internal " + g.tok("HTML comment that is no marker") + " -->"}}
		}
	case x < 71:
		h.count("raw HTML block")
		a, b := g.tok("raw HTML"), g.tok("raw HTML")
		if h.chance(0.2) {
			// a marker inside raw HTML still moves the cut
			h.count("internal marker in raw HTML")
			if h.chance(0.5) {
				return []*mdBlock{{kind: bHTML, delta: 1, md: `<div title="` + a + `">` + b + `<!-- internal --></div>`}}
			}
			return []*mdBlock{{kind: bHTML, delta: -1, md: `<div title="` + a + `"><!-- /internal -->` + b + `</div>`}}
		}
		return []*mdBlock{{kind: bHTML, md: pick(h.r, []string{
			`<div title="` + a + `">` + b + `</div>`,
			"<details>\n<summary>" + a + "</summary>\n" + b + "\n</details>",
			`<script>var x = "` + a + `"; // ` + b + `</script>`,
			`<p class="` + a + `">` + b + `</p>`,
			"<table><tr><td>" + a + "</td><td>" + b + "</td></tr></table>",
		})}}
	case x < 73:
		h.count("raw HTML image block")
		a, b := g.tok("raw HTML image src"), g.tok("raw HTML image alt")
		return []*mdBlock{{kind: bHTMLImg, md: pick(h.r, []string{
			`<img src="https://acme.example/` + a + `.png" alt="` + b + `">`,
			`<iframe src="https://evil.example/` + a + `" title="` + b + `"></iframe>`,
		})}}
	case x < 76:
		h.count("unused reference definition")
		return []*mdBlock{{kind: bRefDef, md: "[" + g.tok("reference label") + "]: https://" + pick(h.r, h.domains) + "/" + g.tok("unused reference definition URL") + ` "` + g.tok("reference title") + `"`}}
	case x < 82:
		t := g.tok("code block")
		body := t
		switch h.r.IntN(3) {
		case 0:
			body += "\n## " + pick(h.r, h.markers) // not a heading inside code
		case 1:
			body = "<!-- internal -->\n" + body // not a marker inside code
		}
		fence := pick(h.r, []string{"```", "~~~"})
		return []*mdBlock{{kind: bCode, toks: []string{t}, md: fence + pick(h.r, []string{"", "go", "text"}) + "\n" + body + "\n" + fence}}
	case x < 89:
		if depth > 1 {
			return []*mdBlock{g.para(1)}
		}
		h.count("quote")
		q := &mdBlock{kind: bQuote}
		for n := 1 + h.r.IntN(2); n > 0; n-- {
			q.children = append(q.children, g.block(depth+1)...)
		}
		return []*mdBlock{q}
	case x < 95:
		if depth > 1 {
			return []*mdBlock{g.para(1)}
		}
		h.count("list")
		l := &mdBlock{kind: bList}
		for n := 1 + h.r.IntN(3); n > 0; n-- {
			var it []*mdBlock
			if h.chance(0.3) {
				it = append(it, g.heading(2+h.r.IntN(2), depth+1))
			}
			it = append(it, g.para(1))
			if depth == 0 && h.chance(0.2) {
				h.count("nested container")
				it = append(it, g.block(depth+1)...)
			}
			l.items = append(l.items, it)
		}
		return []*mdBlock{l}
	default:
		if depth > 0 {
			return []*mdBlock{g.para(1)}
		}
		h.count("table")
		t := &mdBlock{kind: bTable}
		for rows := 2 + h.r.IntN(2); rows > 0; rows-- {
			var row []*piece
			for c := 0; c < 2; c++ {
				if h.chance(0.6) {
					row = append(row, &piece{kind: pTok, vis: g.tok("table cell"), md: ""})
					row[len(row)-1].md = row[len(row)-1].vis
				} else {
					row = append(row, g.word())
				}
			}
			t.lines = append(t.lines, row)
		}
		return []*mdBlock{t}
	}
}

func (g *docGen) word() *piece {
	return &piece{kind: pWord, md: pick(g.h.r, g.h.words)}
}

// heading: a section, an internal heading (names as configured, in other
// case and spacing), a look-alike that is neither, or a plain one.
func (g *docGen) heading(level, depth int) *mdBlock {
	h := g.h
	b := &mdBlock{kind: bHeading, level: level}
	switch x := h.r.IntN(10); {
	case x < 3:
		b.text = g.variant(pick(h.r, h.sections))
		h.count("section heading")
	case x < 6:
		b.text = g.variant(pick(h.r, h.markers))
		h.count("internal heading")
	case x < 7:
		t := g.tok("look-alike heading")
		b.text = pick(h.r, append(append([]string{}, h.sections...), h.markers...)) + pick(h.r, []string{":", " " + t, "s"})
		if strings.HasSuffix(b.text, t) {
			b.toks = []string{t}
		}
	default:
		t := g.tok("heading")
		b.text = pick(h.r, h.words) + " " + t
		b.toks = []string{t}
	}
	if h.chance(0.15) {
		g.pieceHeading(b)
		return b
	}
	if level <= 2 && depth == 0 && h.chance(0.2) {
		b.kind = bSetext
		b.md = b.text + "\n" + strings.Repeat(map[int]string{1: "=", 2: "-"}[level], 3+h.r.IntN(3))
		h.count("setext heading")
		return b
	}
	b.md = strings.Repeat("#", level) + pick(h.r, []string{" ", "  "}) + b.text
	if h.chance(0.15) {
		b.md += " " + strings.Repeat("#", 1+h.r.IntN(3))
	}
	return b
}

// pieceHeading rewrites b with an inline internal part: a name with a cut
// in the middle still names the section or internal part; a heading whose
// text is all cut is kept empty and still ends sections.
func (g *docGen) pieceHeading(b *mdBlock) {
	h := g.h
	h.count("heading with an inline marker")
	var hl []*piece
	for _, w := range strings.Fields(b.text) {
		if len(b.toks) > 0 && w == b.toks[0] {
			hl = append(hl, &piece{kind: pTok, vis: w, md: w})
		} else {
			hl = append(hl, &piece{kind: pWord, md: w})
		}
	}
	at := h.r.IntN(len(hl) + 1)
	cut := []*piece{{kind: pOpen, md: "<!-- internal -->"}, {kind: pTok, vis: g.tok("heading text inside a marker"), md: ""}}
	cut[1].md = cut[1].vis
	if h.chance(0.9) {
		cut = append(cut, &piece{kind: pClose, md: "<!-- /internal -->"})
	}
	if h.chance(0.15) {
		hl, at = nil, 0 // nothing left: an empty heading
		h.count("empty heading")
	}
	hl = append(hl[:at], append(cut, hl[at:]...)...)
	b.hl, b.toks = hl, nil
	var md []string
	for _, p := range hl {
		md = append(md, p.md)
	}
	b.kind = bHeading
	b.md = strings.Repeat("#", b.level) + " " + strings.Join(md, " ")
}

// named is an ATX heading with a configured name, in some spelling.
func (g *docGen) named(name string, level int) *mdBlock {
	b := &mdBlock{kind: bHeading, level: level, text: g.variant(name)}
	b.md = strings.Repeat("#", level) + " " + b.text
	g.h.count("section heading")
	return b
}

// variant writes a heading name in another case and spacing.
func (g *docGen) variant(name string) string {
	h := g.h
	ws := strings.Fields(name)
	for i, w := range ws {
		switch h.r.IntN(4) {
		case 0:
			ws[i] = strings.ToUpper(w)
		case 1:
			ws[i] = strings.ToLower(w)
		}
	}
	return strings.Join(ws, pick(h.r, []string{" ", " ", "   ", "\t"}))
}

// para: one to three lines, each starting and ending with a word, so that
// no line opens a block and every line end belongs to a text node.
func (g *docGen) para(lines int) *mdBlock {
	h := g.h
	b := &mdBlock{kind: bPara}
	for i := 0; i < lines; i++ {
		l := []*piece{g.word()}
		for n := 1 + h.r.IntN(4); n > 0; n-- {
			switch x := h.r.Float64(); {
			case x < 0.1:
				h.count("inline internal marker")
				l = append(l, &piece{kind: pOpen, md: pick(h.r, []string{"<!-- internal -->", "<!--internal-->", "<!-- Internal -->"})})
				l = append(l, g.piece())
				if h.chance(0.2) {
					l = append(l, &piece{kind: pOpen, md: "<!-- internal -->"}, g.piece(), &piece{kind: pClose, md: "<!-- /internal -->"})
					h.count("nested inline marker")
				}
				if h.chance(0.9) {
					l = append(l, &piece{kind: pClose, md: pick(h.r, []string{"<!-- /internal -->", "<!--/internal-->"})})
				} else {
					h.count("unclosed inline marker")
				}
			case x < 0.13:
				l = append(l, &piece{kind: pClose, md: "<!-- /internal -->"}) // stray: nothing to close, or an open block
			default:
				l = append(l, g.piece())
			}
		}
		l = append(l, g.word())
		b.lines = append(b.lines, l)
	}
	return b
}

func (g *docGen) piece() *piece {
	h := g.h
	switch x := h.r.IntN(100); {
	case x < 25:
		t := g.tok("text")
		return &piece{kind: pTok, vis: t, md: t}
	case x < 32:
		h.count("inline HTML comment")
		if h.chance(0.2) {
			return &piece{kind: pComment, md: "<!-- " + g.tok("inline HTML comment") + "\n" + g.tok("inline HTML comment, second line") + " -->"}
		}
		return &piece{kind: pComment, md: pick(h.r, []string{"<!-- ", "<!--"}) + g.tok("inline HTML comment") + " -->"}
	case x < 38:
		h.count("inline raw HTML")
		v, a := g.tok("text between raw HTML tags"), g.tok("raw HTML attribute")
		return &piece{kind: pRawInline, vis: v, md: pick(h.r, []string{
			`<span title="` + a + `">` + v + `</span>`,
			`<a href="https://evil.example/` + a + `">` + v + `</a>`,
			`<b class="` + a + `">` + v + `</b>`,
		})}
	case x < 48:
		h.count("image")
		alt, u := g.tok("image alt text"), g.tok("image URL")
		host := pick(h.r, h.domains)
		switch h.r.IntN(5) {
		case 0:
			return &piece{kind: pImg, md: "![" + alt + "](https://" + host + "/" + u + `.png "` + g.tok("image title") + `")`}
		case 1:
			lbl := g.tok("image reference label")
			g.defs = append(g.defs, &mdBlock{kind: bRefDef, md: "[" + lbl + "]: https://" + host + "/" + u + ".png"})
			h.count("reference image")
			return &piece{kind: pImg, md: "![" + alt + "][" + lbl + "]"}
		case 2:
			return &piece{kind: pImg, md: `<img src="https://` + host + "/" + u + `.png" alt="` + alt + `">`}
		case 3:
			// an image inside a link: the link shows "[image omitted]"
			lu := g.url()
			h.count("linked image")
			return &piece{kind: pLink, url: lu, md: "[![" + alt + "](https://" + host + "/" + u + ".png)](" + lu.md + ")"}
		default:
			return &piece{kind: pImg, md: "![" + alt + "](<https://" + host + "/" + u + ".png>)"}
		}
	case x < 66:
		h.count("link")
		v := g.tok("link text")
		u := g.url()
		switch h.r.IntN(4) {
		case 0:
			return &piece{kind: pLink, vis: v, url: u, md: "[" + v + "](" + u.md + ` "` + g.tok("link title") + `")`}
		case 1:
			lbl := g.tok("link reference label")
			g.defs = append(g.defs, &mdBlock{kind: bRefDef, md: "[" + strings.ToUpper(lbl) + "]: " + u.md + ` "` + g.tok("reference link title") + `"`})
			h.count("reference link")
			return &piece{kind: pLink, vis: v, url: u, md: "[" + v + "][" + lbl + "]"}
		default:
			return &piece{kind: pLink, vis: v, url: u, md: "[" + v + "](" + u.md + ")"}
		}
	case x < 69:
		h.count("empty link")
		u := g.url()
		return &piece{kind: pEmptyLink, url: u, md: "[](" + u.md + ")"}
	case x < 74:
		h.count("autolink")
		u := g.autoURL()
		if h.chance(0.5) && !strings.HasPrefix(u.md, "mailto:") {
			return &piece{kind: pAutolink, vis: u.tok, url: u, md: u.md} // bare URL
		}
		return &piece{kind: pAutolink, vis: u.tok, url: u, md: "<" + u.md + ">"}
	case x < 79:
		t := g.tok("mention")
		return &piece{kind: pMention, vis: t, md: "@" + t}
	case x < 84:
		t := g.tok("code span")
		return &piece{kind: pCode, vis: t, md: "`" + t + "`"}
	case x < 87:
		t := g.tok("escaped comment text")
		return &piece{kind: pEntity, vis: t, md: pick(h.r, []string{"&lt;!-- " + t + " --&gt;", `\<!-- ` + t + " -->"})}
	case x < 92:
		t := g.tok("emphasis")
		return &piece{kind: pEmph, vis: t, md: pick(h.r, []string{"*" + t + "*", "**" + t + "**", "~~" + t + "~~"})}
	case x < 95:
		return &piece{kind: pXRef, md: pick(h.r, []string{"org/repo#12", "ABC-12", "#7", "GH-3", "@anna"})}
	default:
		return g.word()
	}
}

// url is a link destination: allowed and disallowed hosts, tricky ones.
func (g *docGen) url() *gurl {
	h := g.h
	d := pick(h.r, h.domains)
	t := g.tok("link URL")
	switch h.r.IntN(20) {
	case 0:
		return &gurl{md: "https://" + d + "/" + t, tok: t, scheme: "https", host: d}
	case 1:
		return &gurl{md: "http://www." + d + "/p/" + t + "?x=1", tok: t, scheme: "http", host: "www." + d}
	case 2:
		return &gurl{md: "https://" + d + ":8443/" + t, tok: t, scheme: "https", host: d}
	case 3:
		return &gurl{md: "https://" + d + "./" + t, tok: t, scheme: "https", host: d + "."}
	case 4:
		return &gurl{md: "HTTPS://" + d + "/" + t, tok: t, scheme: "https", host: d}
	case 5:
		return &gurl{md: "https://SUB." + d + "/" + t, tok: t, scheme: "https", host: "SUB." + d}
	case 6:
		h.count("tricky host")
		return &gurl{md: "https://evil" + d + "/" + t, tok: t, scheme: "https", host: "evil" + d}
	case 7:
		h.count("tricky host")
		return &gurl{md: "https://" + d + ".evil.example/" + t, tok: t, scheme: "https", host: d + ".evil.example"}
	case 8:
		h.count("tricky host")
		return &gurl{md: "https://" + d + "@evil.example/" + t, tok: t, scheme: "https", user: true, host: "evil.example"}
	case 9:
		return &gurl{md: "https://user:pw@" + d + "/" + t, tok: t, scheme: "https", user: true, host: d}
	case 10:
		return &gurl{md: "https://evil.example/" + t + "?next=https://" + d + "/", tok: t, scheme: "https", host: "evil.example"}
	case 11:
		return &gurl{md: "ftp://" + d + "/" + t, tok: t, scheme: "ftp", host: d}
	case 12:
		return &gurl{md: "//" + d + "/" + t, tok: t, host: d}
	case 13:
		return &gurl{md: "mailto:" + t + "@" + d, tok: t, scheme: "mailto", mailto: true, host: d}
	case 14:
		return &gurl{md: "mailto:" + t + "@evil.example", tok: t, scheme: "mailto", mailto: true, host: "evil.example"}
	case 15:
		return &gurl{md: "javascript:alert('" + t + "')", tok: t, scheme: "javascript"}
	case 16:
		h.count("tricky host")
		return &gurl{md: "https://\u0430cme.example/" + t, tok: t, scheme: "https", host: "\u0430cme.example"}
	case 17:
		h.count("tricky host")
		return &gurl{md: `https://evil.example\@` + d + "/" + t, tok: t, scheme: "https", user: true, host: d}
	case 18:
		return &gurl{md: "https://" + t + ".evil.example/p", tok: t, scheme: "https", host: t + ".evil.example"}
	default:
		return &gurl{md: "https://" + d + "/a%20b/" + t, tok: t, scheme: "https", host: d}
	}
}

// autoURL is an autolink or bare URL: shown as text whatever its host.
func (g *docGen) autoURL() *gurl {
	h := g.h
	d := pick(h.r, append([]string{"evil.example"}, h.domains...))
	t := g.tok("autolink URL")
	switch h.r.IntN(3) {
	case 0:
		return &gurl{md: "https://" + d + "/" + t, tok: t, scheme: "https", host: d}
	case 1:
		return &gurl{md: "http://" + d + "/x/" + t, tok: t, scheme: "http", host: d}
	default:
		return &gurl{md: "mailto:" + t + "@" + d, tok: t, scheme: "mailto", mailto: true, host: d}
	}
}
