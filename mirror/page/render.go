// Package page renders a customer's curated view as one read-only HTML page
// and an Atom feed of its status updates, serves them under unguessable
// token URLs with strict headers, and exports them as static files.
//
// Everything printed comes from a mapping.View and only from the parts meant
// for the customer: keys (source identities) and the customer id never reach
// the output; anchors and feed ids are HMACs of them.
package page

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
	_ "time/tzdata" // the customer's timezone must resolve on hosts without zoneinfo

	"vitrine/mapping"
	"vitrine/scrub"
)

// Title is the page's generic <title>: a shared or bookmarked link names
// neither the customer nor the project.
const Title = "Project status"

// FeedMode is a page target's `feed` setting.
type FeedMode string

const (
	FeedFull   FeedMode = "full"   // entries carry the update's text
	FeedTitles FeedMode = "titles" // health and date only
	FeedOff    FeedMode = "off"    // no feed: its URL is the same 404 as any unknown path
)

// ParseFeedMode reads a config value; "" is full.
func ParseFeedMode(s string) (FeedMode, error) {
	switch FeedMode(s) {
	case "", FeedFull:
		return FeedFull, nil
	case FeedTitles, FeedOff:
		return FeedMode(s), nil
	}
	return "", fmt.Errorf("feed %q: want full, titles or off", s)
}

// ErrFeedOff is returned by RenderFeed for FeedOff.
var ErrFeedOff = errors.New("feed is off")

// Options say how a view is rendered.
type Options struct {
	// IDKey keys the HMACs that make anchors and feed entry ids out of View
	// keys. Use a secret that never rotates (VITRINE_KEY_SECRET) so they
	// stay stable; the labels inside the MAC keep them apart from other uses.
	IDKey []byte
	// Changed is when the curated view last changed ("last updated"); zero:
	// not shown.
	Changed time.Time
	// Feed: whether the page links its feed (FeedOff: no link). "" is full.
	Feed FeedMode
	// PageURL is the page's absolute public URL with the token and a
	// trailing slash; the feed's self and alternate links use it. "": links
	// relative to the feed ("./", "feed.atom"), as in static exports.
	PageURL string
}

func (o Options) check() error {
	if len(o.IDKey) == 0 {
		return errors.New("page: no IDKey for anchors and feed ids")
	}
	return nil
}

// location resolves the view's timezone; an unknown one falls back to UTC,
// which every printed time names, so the page stays truthful.
func location(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ids derives anchors and feed ids: a keyed MAC of the customer and the key,
// never the key itself.
type ids struct {
	key      []byte
	customer string
}

func (d ids) anchor(kind, key string) string {
	return kind + "-" + hex.EncodeToString(mac(d.key, "vitrine/page-anchor", d.customer, kind, key)[:8])
}

func (d ids) urn(kind, key string) string {
	return "urn:vitrine:" + hex.EncodeToString(mac(d.key, "vitrine/feed-id", d.customer, kind, key)[:16])
}

type stamp struct {
	ISO  string // datetime attribute; "" when the date did not parse
	Text string
}

func dayStamp(s string) *stamp {
	if s == "" {
		return nil
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return &stamp{Text: s}
	}
	return &stamp{ISO: s, Text: d.Format("2 Jan 2006")}
}

func timeStamp(t time.Time, loc *time.Location) stamp {
	t = t.In(loc)
	return stamp{ISO: t.Format(time.RFC3339), Text: t.Format("2 Jan 2006, 15:04 MST")}
}

type health struct {
	Class string
	Word  string
}

func healthOf(h string) health {
	switch h {
	case mapping.OnTrack:
		return health{"on_track", "On track"}
	case mapping.AtRisk:
		return health{"at_risk", "At risk"}
	case mapping.OffTrack:
		return health{"off_track", "Off track"}
	}
	return health{"none", "No status yet"}
}

type updateView struct {
	ID       string
	Health   health
	Author   string
	Time     stamp
	Body     template.HTML
	ItemHref string
	ItemName template.HTML
}

type milestoneView struct {
	ID       string
	Name     template.HTML
	Due      *stamp
	Progress *int
	Done     bool
	Desc     template.HTML
}

type commentView struct {
	ID     string
	Author string
	Time   stamp
	Body   template.HTML
}

type itemView struct {
	ID            string
	Title         template.HTML
	Due           *stamp
	Progress      *int
	Milestone     template.HTML
	MilestoneHref string
	Parent        template.HTML
	ParentHref    string
	Assignees     string
	Fields        []mapping.Field
	Body          template.HTML
	Comments      []commentView
}

type groupView struct {
	Word  string
	Items []itemView
}

type pageData struct {
	MetaCSP    string
	Robots     string
	Title      string
	CSS        template.CSS
	Published  bool
	FeedHref   string
	Name       string
	Health     health
	Updated    *stamp
	Latest     *updateView
	Earlier    []updateView
	Milestones []milestoneView
	Groups     []groupView
}

func docHTML(d scrub.Doc) template.HTML {
	if d.IsEmpty() {
		return ""
	}
	return template.HTML(d.HTML()) // scrub's renderer escapes; its model has no raw HTML
}

func inlineHTML(in []scrub.Inline, empty string) template.HTML {
	if len(in) == 0 {
		return template.HTML(template.HTMLEscapeString(empty))
	}
	return template.HTML(scrub.InlineHTML(in))
}

func percent(p *int) *int {
	if p == nil {
		return nil
	}
	v := min(max(*p, 0), 100)
	return &v
}

// Render writes v as the customer's page.
func Render(v mapping.View, o Options) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	loc := location(v.Timezone)
	d := ids{key: o.IDKey, customer: v.Customer}
	p := pageData{
		MetaCSP:   metaCSP,
		Robots:    Robots,
		Title:     Title,
		CSS:       template.CSS(css),
		Published: true,
		Name:      v.Name,
		Health:    healthOf(v.Health),
	}
	if o.Feed != FeedOff {
		p.FeedHref = "feed.atom"
	}
	if !o.Changed.IsZero() {
		s := timeStamp(o.Changed, loc)
		p.Updated = &s
	}

	itemTitle := make(map[string]template.HTML, len(v.Items))
	for _, it := range v.Items {
		itemTitle[it.Key] = inlineHTML(it.Title, "Untitled")
	}
	msName := make(map[string]template.HTML, len(v.Milestones))
	for _, m := range v.Milestones {
		name := inlineHTML(m.Name, "Milestone")
		msName[m.Key] = name
		p.Milestones = append(p.Milestones, milestoneView{
			ID:       d.anchor("m", m.Key),
			Name:     name,
			Due:      dayStamp(m.Due),
			Progress: percent(m.Progress),
			Done:     m.Done,
			Desc:     docHTML(m.Description),
		})
	}

	for i, u := range v.Updates {
		uv := updateView{
			ID:     d.anchor("u", u.Key),
			Health: healthOf(u.Health),
			Author: u.Author,
			Time:   timeStamp(u.Time, loc),
			Body:   docHTML(u.Body),
		}
		if t, ok := itemTitle[u.Item]; ok && u.Item != "" {
			uv.ItemHref = "#" + d.anchor("i", u.Item)
			uv.ItemName = t
		}
		if i == 0 {
			p.Latest = &uv
		} else {
			p.Earlier = append(p.Earlier, uv)
		}
	}

	// Groups in v.Groups order; an item whose status is not listed (should
	// not happen) still shows, in a group after the listed ones.
	index := make(map[string]int)
	for _, g := range v.Groups {
		if _, dup := index[g]; !dup {
			index[g] = len(p.Groups)
			p.Groups = append(p.Groups, groupView{Word: g})
		}
	}
	for _, it := range v.Items {
		iv := itemView{
			ID:       d.anchor("i", it.Key),
			Title:    itemTitle[it.Key],
			Due:      dayStamp(it.Due),
			Progress: percent(it.Progress),
			Fields:   it.Fields,
			Body:     docHTML(it.Body),
		}
		if n, ok := msName[it.Milestone]; ok && it.Milestone != "" {
			iv.Milestone = n
			iv.MilestoneHref = "#" + d.anchor("m", it.Milestone)
		}
		if t, ok := itemTitle[it.Parent]; ok && it.Parent != "" {
			iv.Parent = t
			iv.ParentHref = "#" + d.anchor("i", it.Parent)
		}
		iv.Assignees = strings.Join(it.Assignees, ", ")
		for _, c := range it.Comments {
			iv.Comments = append(iv.Comments, commentView{
				ID:     d.anchor("c", c.Key),
				Author: c.Author,
				Time:   timeStamp(c.Time, loc),
				Body:   docHTML(c.Body),
			})
		}
		g, ok := index[it.Status]
		if !ok {
			g = len(p.Groups)
			index[it.Status] = g
			p.Groups = append(p.Groups, groupView{Word: it.Status})
		}
		p.Groups[g].Items = append(p.Groups[g].Items, iv)
	}
	kept := p.Groups[:0]
	for _, g := range p.Groups {
		if len(g.Items) > 0 {
			kept = append(kept, g)
		}
	}
	p.Groups = kept

	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("page: render: %w", err)
	}
	return b.Bytes(), nil
}

// notPublished is the page of a valid link whose view is not computed yet
// (a new customer before its first sync): 200 and an honest sentence rather
// than the 404 that would make the customer think the link is wrong.
var notPublished = mustExec(pageTemplate, pageData{
	MetaCSP: metaCSP, Robots: Robots, Title: Title, CSS: template.CSS(css),
})

// notFound is the one body of every 404.
var notFound = mustExec(notFoundTemplate, pageData{
	MetaCSP: metaCSP, Robots: Robots, Title: "Not found", CSS: template.CSS(css),
})

// NotPublished returns the page shown for a valid link before its first view.
func NotPublished() []byte { return bytes.Clone(notPublished) }

// NotFoundBody returns the body of every 404.
func NotFoundBody() []byte { return bytes.Clone(notFound) }

func mustExec(t *template.Template, p pageData) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		panic(err)
	}
	return b.Bytes()
}

const head = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{.MetaCSP}}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="{{.Robots}}">
<title>{{.Title}}</title>
{{- if .FeedHref}}
<link rel="alternate" type="application/atom+xml" title="Status updates" href="{{.FeedHref}}">
{{- end}}
<style>{{.CSS}}</style>
</head>
`

var notFoundTemplate = template.Must(template.New("404").Parse(head + `<body>
<main class="wrap">
<h1>Page not found</h1>
<p>There is no page at this address. If you followed a status link, it may have been replaced by a new one: ask your project contact for the current link.</p>
</main>
</body>
</html>
`))

var pageTemplate = template.Must(template.New("page").Parse(head + `<body>
<div class="wrap">
{{- if not .Published}}
<main>
<h1>Not published yet</h1>
<p>This project status page has not been published yet. Please check back later.</p>
</main>
{{- else}}
<header>
<h1>{{if .Name}}{{.Name}}{{else}}Project status{{end}}</h1>
<p class="health {{.Health.Class}}" id="health">Overall health: <strong>{{.Health.Word}}</strong></p>
{{- with .Updated}}
<p class="meta" id="updated">Last updated <time datetime="{{.ISO}}">{{.Text}}</time></p>
{{- end}}
</header>
<main>
<section id="latest">
<h2>Latest update</h2>
{{- with .Latest}}
{{template "update" .}}
{{- else}}
<p class="meta">No status update yet.</p>
{{- end}}
</section>
{{- if .Milestones}}
<section id="roadmap">
<h2>Roadmap</h2>
<ol class="plain">
{{- range .Milestones}}
<li class="card milestone" id="{{.ID}}">
<h3>{{.Name}}</h3>
{{- if or .Due .Done}}
<p class="meta">
{{- with .Due}}Due {{template "day" .}}{{end}}
{{- if and .Due .Done}} · {{end}}
{{- if .Done}}<span class="tag">Done</span>{{end -}}
</p>
{{- end}}
{{- with .Progress}}
{{template "bar" .}}
{{- end}}
{{- if .Desc}}
<div class="doc">{{.Desc}}</div>
{{- end}}
</li>
{{- end}}
</ol>
</section>
{{- end}}
<section id="items">
<h2>Work items</h2>
{{- range .Groups}}
<section class="group">
<h3>{{.Word}}</h3>
<ol class="plain">
{{- range .Items}}
<li class="card item" id="{{.ID}}">
<article>
<h4><a href="#{{.ID}}">{{.Title}}</a></h4>
{{- if or .Due .Milestone .Parent .Assignees}}
<p class="meta">
{{- with .Due}}Due {{template "day" .}}{{end}}
{{- if and .Due .Milestone}} · {{end}}
{{- if .Milestone}}Milestone: <a href="{{.MilestoneHref}}">{{.Milestone}}</a>{{end}}
{{- if and (or .Due .Milestone) .Parent}} · {{end}}
{{- if .Parent}}Part of <a href="{{.ParentHref}}">{{.Parent}}</a>{{end}}
{{- if and (or .Due .Milestone .Parent) .Assignees}} · {{end}}
{{- if .Assignees}}Assigned to {{.Assignees}}{{end -}}
</p>
{{- end}}
{{- with .Progress}}
{{template "bar" .}}
{{- end}}
{{- if .Fields}}
<dl class="fields">
{{- range .Fields}}
<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
{{- end}}
{{- if .Body}}
<div class="doc">{{.Body}}</div>
{{- end}}
{{- if .Comments}}
<section class="comments">
<h5>Comments</h5>
<ol class="plain">
{{- range .Comments}}
<li class="comment" id="{{.ID}}">
<p class="meta"><strong>{{.Author}}</strong> · <time datetime="{{.Time.ISO}}">{{.Time.Text}}</time></p>
<div class="doc">{{.Body}}</div>
</li>
{{- end}}
</ol>
</section>
{{- end}}
</article>
</li>
{{- end}}
</ol>
</section>
{{- else}}
<p class="meta">Nothing is published yet.</p>
{{- end}}
</section>
{{- if .Earlier}}
<section id="timeline">
<h2>Earlier updates</h2>
<ol class="plain">
{{- range .Earlier}}
<li>{{template "update" .}}</li>
{{- end}}
</ol>
</section>
{{- end}}
</main>
{{- end}}
<footer>
<p>This page is private: anyone with its link can read it, so please do not share the link.
{{- if .FeedHref}} Status updates are also available as a <a href="{{.FeedHref}}">feed</a>.{{end}}</p>
</footer>
</div>
</body>
</html>
{{- define "day"}}{{if .ISO}}<time datetime="{{.ISO}}">{{.Text}}</time>{{else}}{{.Text}}{{end}}{{end}}
{{- define "bar"}}<div class="bar"><progress max="100" value="{{.}}">{{.}}%</progress><span>{{.}}% complete</span></div>{{end}}
{{- define "update"}}<article class="card update" id="{{.ID}}">
<p class="meta"><span class="health {{.Health.Class}}">{{.Health.Word}}</span> · <time datetime="{{.Time.ISO}}">{{.Time.Text}}</time>
{{- if .Author}} · {{.Author}}{{end}}
{{- if .ItemHref}} · on <a href="{{.ItemHref}}">{{.ItemName}}</a>{{end -}}
</p>
{{- if .Body}}
<div class="doc">{{.Body}}</div>
{{- end}}
</article>
{{- end}}
`))
