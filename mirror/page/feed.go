package page

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"time"

	"vitrine/mapping"
)

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Author  atomPerson `xml:"author"`
	Link    atomLink   `xml:"link"`
	Summary *atomText  `xml:"summary,omitempty"`
	Content *atomText  `xml:"content,omitempty"`
}

// RenderFeed writes v's status updates as an Atom feed, newest first. Full:
// each entry carries the update's text (plain summary, HTML content);
// titles: health and date only. Off: ErrFeedOff.
//
// Ids are URNs of a keyed MAC of the customer and the update key: stable
// across renders, opaque to readers.
func RenderFeed(v mapping.View, mode FeedMode, o Options) ([]byte, error) {
	if mode == "" {
		mode = FeedFull
	}
	if mode == FeedOff {
		return nil, ErrFeedOff
	}
	if mode != FeedFull && mode != FeedTitles {
		return nil, fmt.Errorf("page: feed mode %q", mode)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	loc := location(v.Timezone)
	d := ids{key: o.IDKey, customer: v.Customer}
	pageURL := o.PageURL
	if pageURL == "" {
		pageURL = "./"
	}

	updated := o.Changed
	for _, u := range v.Updates {
		if u.Time.After(updated) {
			updated = u.Time
		}
	}
	if updated.IsZero() {
		updated = time.Unix(0, 0)
	}
	f := atomFeed{
		ID:      d.urn("feed", ""),
		Title:   v.Name + ": project status",
		Updated: updated.UTC().Format(time.RFC3339),
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: pageURL + "feed.atom"},
			{Rel: "alternate", Type: "text/html", Href: pageURL},
		},
	}
	if v.Name == "" {
		f.Title = Title
	}
	for _, u := range v.Updates {
		h := healthOf(u.Health)
		author := u.Author
		if author == "" {
			author = "Project team"
		}
		e := atomEntry{
			ID:      d.urn("update", u.Key),
			Title:   h.Word + " · " + u.Time.In(loc).Format("2 Jan 2006"),
			Updated: u.Time.UTC().Format(time.RFC3339),
			Author:  atomPerson{Name: author},
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: pageURL + "#" + d.anchor("u", u.Key)},
		}
		if mode == FeedFull && !u.Body.IsEmpty() {
			e.Summary = &atomText{Type: "text", Body: u.Body.PlainText()}
			e.Content = &atomText{Type: "html", Body: u.Body.HTML()}
		}
		f.Entries = append(f.Entries, e)
	}

	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("page: render feed: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
