package mapping

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"vitrine/item"
	"vitrine/scrub"
)

// Curate applies one customer's rules to snapshots and returns what that
// customer may see, with a Decision for every item of its sources.
//
// snaps must hold a snapshot (possibly empty) of every source of the
// customer: a missing one is an error, never "that source is empty", so that
// a source that could not be read does not retract its items. Snapshots of
// other sources are ignored for the view; those of customers sharing a
// source (Set.SourcesFor) let Curate find conflicts: an item that another
// customer's rules also select is withheld from both.
//
// Items must have their comments loaded (CommentsLoaded) where they matter;
// Result.NeedComments names the selected items whose comments were not.
//
// now is the curation instant. The view does not depend on it (no rule reads
// the clock), so the same snapshots always give the same hashes.
func (s *Set) Curate(customerID string, snaps []item.Snapshot, now time.Time) (Result, error) {
	c, ok := s.byID[customerID]
	if !ok {
		return Result{}, fmt.Errorf("mapping: no customer %q", customerID)
	}
	x := newIndex(snaps)
	for _, k := range c.sources {
		if !x.sources[k] {
			return Result{}, fmt.Errorf("mapping: customer %s: no snapshot of source %s", c.cfg.ID, k)
		}
	}
	sl := s.selectFor(c, x)
	own, sel := sl.own, sl.sel
	cur := &curation{c: c, x: x, sel: sel, published: sl.published, notes: map[string][]string{}}
	view := cur.view()

	res := Result{View: view}
	byKey := map[string]*Item{}
	for i := range view.Items {
		byKey[view.Items[i].Key] = &view.Items[i]
	}
	updates := map[string]int{}
	for _, u := range view.Updates {
		// Comment IDs hold no slash; the item ID before them may.
		updates[u.Key[:strings.LastIndex(u.Key, "/c/")]]++
	}
	for _, id := range own {
		it := x.items[id]
		ch := sel.memo[id]
		d := Decision{Item: id, Ref: it.Ref, Selected: cur.published[id], Rule: ch.rule}
		if v := byKey[id]; v != nil {
			d.Fields = leavingFields(v)
		}
		if n := updates[id]; n > 0 {
			d.Fields = append(d.Fields, fmt.Sprintf("status updates (%d)", n))
		}
		d.Notes = cur.notes[id]
		res.Decisions = append(res.Decisions, d)
		if (d.Selected || cur.isStatusItem(it)) && !it.CommentsLoaded {
			res.NeedComments = append(res.NeedComments, id)
		}
	}
	return res, nil
}

// selection is one customer's selection over one index.
type selection struct {
	own       []string            // item IDs of the customer's sources, sorted
	sel       *selector           // the final decisions
	conflicts map[string][]string // item ID -> other customers whose rules select it too
	published map[string]bool
}

// selectFor decides every item of c's sources. Two customers' rules
// selecting one item of a shared source is a conflict (validate should have
// rejected the overlap): neither shows it, nor what inherits only from it.
// Conflicts are found on each customer's own decisions, then c decides
// again with them withheld; that can only shrink c's selection, so no new
// conflict arises and the outcome does not depend on evaluation order.
func (s *Set) selectFor(c *Customer, x *index) *selection {
	sl := &selection{conflicts: map[string][]string{}, published: map[string]bool{}}
	pure := newSelector(c, x, nil)
	for _, id := range x.ids {
		if c.sourceSet[x.items[id].Source] {
			sl.own = append(sl.own, id)
			pure.decide(id)
		}
	}
	for _, o := range s.sharing(c) {
		os := newSelector(o, x, nil)
		for _, id := range sl.own {
			if !pure.memo[id].published {
				continue
			}
			// The item as o reads it: under the same key, or under another
			// key of the same container (a jql filter, a host spelling).
			src, native := item.SplitID(id)
			for _, k := range o.sources {
				twin := item.MakeID(k, native)
				if sameContainer(k, src) && x.items[twin] != nil && os.decide(twin).published {
					sl.conflicts[id] = append(sl.conflicts[id], o.cfg.ID)
					break
				}
			}
		}
	}
	sl.sel = pure
	if len(sl.conflicts) > 0 {
		sl.sel = newSelector(c, x, sl.conflicts)
		for _, id := range sl.own {
			sl.sel.decide(id)
		}
	}
	for _, id := range sl.own {
		if sl.sel.memo[id].published {
			sl.published[id] = true
		}
	}
	return sl
}

// curation builds one customer's view from its published items.
type curation struct {
	c         *Customer
	x         *index
	sel       *selector
	published map[string]bool
	notes     map[string][]string
}

func (k *curation) note(id, format string, args ...any) {
	k.notes[id] = append(k.notes[id], fmt.Sprintf(format, args...))
}

func (k *curation) isStatusItem(it *item.Item) bool {
	si := k.c.cfg.Publish.StatusItem
	return si != "" && it.Ref == si
}

func (k *curation) view() View {
	c := k.c
	v := View{Customer: c.cfg.ID, Name: c.cfg.Name, Timezone: c.cfg.Timezone}

	msShown := map[string]bool{}
	for _, id := range sortedKeys(k.published) {
		it := k.x.items[id]
		v.Items = append(v.Items, k.item(it))
		if m := k.x.milestones[it.Milestone]; m != nil && c.sourceSet[m.Source] {
			msShown[it.Milestone] = true
		}
	}
	for i := range v.Items {
		if !msShown[v.Items[i].Milestone] {
			v.Items[i].Milestone = ""
		}
	}
	for id := range msShown {
		v.Milestones = append(v.Milestones, k.milestone(k.x.milestones[id]))
	}
	sort.Slice(v.Milestones, func(i, j int) bool {
		a, b := &v.Milestones[i], &v.Milestones[j]
		return lessDueTextKey(a.Due, b.Due, inlineText(a.Name), inlineText(b.Name), a.Key, b.Key)
	})

	v.Updates = k.updates()
	if len(v.Updates) > 0 {
		v.Health = v.Updates[0].Health
	}

	// Groups in rules order, only those with items.
	order := c.groupOrder()
	rank := map[string]int{}
	for i, g := range order {
		rank[g] = i
	}
	used := map[string]bool{}
	for _, it := range v.Items {
		used[it.Status] = true
	}
	for _, g := range order {
		if used[g] {
			v.Groups = append(v.Groups, g)
		}
	}
	titles := make(map[string]string, len(v.Items))
	for _, it := range v.Items {
		titles[it.Key] = inlineText(it.Title)
	}
	sort.SliceStable(v.Items, func(i, j int) bool {
		a, b := &v.Items[i], &v.Items[j]
		if ra, rb := rank[a.Status], rank[b.Status]; ra != rb {
			return ra < rb
		}
		return lessDueTextKey(a.Due, b.Due, titles[a.Key], titles[b.Key], a.Key, b.Key)
	})

	for i := range v.Items {
		v.Items[i].Hash = hashItem(v.Items[i])
	}
	for i := range v.Milestones {
		m := v.Milestones[i]
		m.Hash = ""
		v.Milestones[i].Hash = item.Hash(m)
	}
	for i := range v.Updates {
		u := v.Updates[i]
		u.Hash = ""
		v.Updates[i].Hash = item.Hash(u)
	}
	v.Hash = ""
	v.Hash = item.Hash(v)
	return v
}

func sortedKeys(pub map[string]bool) []string {
	out := make([]string, 0, len(pub))
	for id := range pub {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// lessDueTextKey orders by due date (none last), then text, then key.
func lessDueTextKey(da, db, ta, tb, ka, kb string) bool {
	if da != db {
		if da == "" || db == "" {
			return db == ""
		}
		return da < db
	}
	if ta != tb {
		return ta < tb
	}
	return ka < kb
}

// groupOrder is every customer word in display order: mapped words in file
// order, then default, done and the cancelled word.
func (c *Customer) groupOrder() []string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, k := range c.cfg.Statuses.Map.Keys {
		w, _ := c.cfg.Statuses.Map.Get(k)
		add(w)
	}
	add(c.statusDefault)
	add(c.statusDone)
	add(c.cancelledWord)
	return out
}

// word is the customer's status word for an item. Unknown states read as
// open: their internal name never shows.
func (c *Customer) word(it *item.Item) string {
	switch it.State {
	case item.Cancelled:
		return c.cancelledWord
	case item.Done:
		return c.statusDone
	}
	if w, ok := c.cfg.Statuses.Map.Get(it.Status); ok && w != "" {
		return w
	}
	return c.statusDefault
}

func (c *Customer) bodyOptions(section string) scrub.Options {
	return scrub.Options{
		LinkDomains:    c.cfg.Show.LinkDomains,
		InternalMarker: c.cfg.Show.InternalMarker,
		Section:        section,
	}
}

func (c *Customer) commentOptions() scrub.Options {
	return scrub.Options{
		LinkDomains:    c.cfg.Show.LinkDomains,
		InternalMarker: c.cfg.Show.InternalMarker,
		Comment:        true,
	}
}

// item builds the customer's copy of one published item: every field is
// set here from an allow-list, never copied wholesale.
func (k *curation) item(it *item.Item) Item {
	c := k.c
	sh := c.cfg.Show
	out := Item{Key: it.ID}

	if c.titleSection {
		if sh.BodySection != "" {
			out.Title = scrub.FirstLine(scrub.Body(it.Body, c.bodyOptions(sh.BodySection)))
		}
		if len(out.Title) == 0 {
			out.Title = scrub.Title(it.Title)
			k.note(it.ID, "title: no section %q in the body; the scrubbed source title is shown", sh.BodySection)
		}
	} else {
		out.Title = scrub.Title(it.Title)
	}
	switch c.body {
	case "section":
		if sh.BodySection != "" {
			out.Body = scrub.Body(it.Body, c.bodyOptions(sh.BodySection))
		}
	case "all":
		out.Body = scrub.Body(it.Body, c.bodyOptions(""))
	}

	out.Status = c.word(it)
	out.Done = out.Status == c.statusDone
	if sh.Dates {
		out.Due = dueDate(it.Due, c.loc, c.cfg.Dates.BufferDays)
	}
	if sh.Progress {
		out.Progress = k.progress(k.x.children[it.ID])
	}
	out.Milestone = it.Milestone // cleared by view() unless the milestone is shown
	if it.Parent != "" && k.published[it.Parent] {
		out.Parent = it.Parent
	}
	if sh.Assignees && len(it.Assignees) > 0 {
		out.Assignees = append([]string(nil), it.Assignees...)
	}
	for _, name := range c.fieldNames {
		if val, ok := fieldText(it.Fields[name]); ok {
			out.Fields = append(out.Fields, Field{Name: name, Value: val})
		}
	}
	if c.comments {
		out.Comments = k.comments(it)
	}
	return out
}

// progress is done ÷ (all − cancelled) over the given items of the
// customer's sources, hidden ones included, rounded down: 100 only when all
// are done. nil when none count.
func (k *curation) progress(ids []string) *int {
	var all, done int
	for _, id := range ids {
		it := k.sel.own(id)
		if it == nil {
			continue
		}
		switch it.State {
		case item.Cancelled:
			continue
		case item.Done:
			done++
		}
		all++
	}
	if all == 0 {
		return nil
	}
	p := done * 100 / all
	return &p
}

func (k *curation) author(cm *item.Comment) string {
	if k.c.authorName {
		return cm.Author
	}
	return k.c.teamName
}

// comments are the item's public comments: not internal, not restricted,
// starting with the marker, not a status command.
func (k *curation) comments(it *item.Item) []Comment {
	var out []Comment
	for i := range it.Comments {
		cm := &it.Comments[i]
		if cm.Internal || cm.Restricted {
			continue
		}
		if _, _, isCmd := parseStatus(cm.Body, k.c.commentMarker); isCmd {
			continue
		}
		rest, ok := cutMarker(cm.Body, k.c.commentMarker)
		if !ok {
			continue
		}
		body := scrub.Body(rest, k.c.commentOptions())
		if body.IsEmpty() {
			continue
		}
		out = append(out, Comment{
			Key:    it.ID + "/c/" + cm.ID,
			Author: k.author(cm),
			Time:   cm.Created.UTC(),
			Body:   body,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Key < out[j].Key
	})
	for i := range out {
		cm := out[i]
		cm.Hash = ""
		out[i].Hash = item.Hash(cm)
	}
	return out
}

// cutMarker returns the comment without its leading marker.
func cutMarker(body, marker string) (string, bool) {
	s := strings.TrimLeft(body, " \t\r\n")
	if marker == "" || !strings.HasPrefix(s, marker) {
		return "", false
	}
	return strings.TrimLeft(s[len(marker):], " \t\r\n"), true
}

// parseStatus recognises `/status <health> text`, optionally after the
// comment marker. isCmd is true for anything starting with /status, valid
// or not: such a comment is never an ordinary comment.
func parseStatus(body, marker string) (health, text string, isCmd bool) {
	s := strings.TrimLeft(body, " \t\r\n")
	if rest, ok := cutMarker(s, marker); ok {
		s = rest
	}
	const cmd = "/status"
	if !strings.HasPrefix(s, cmd) {
		return "", "", false
	}
	s = s[len(cmd):]
	if s != "" && !isSpace(s[0]) {
		return "", "", false // "/statusboard": not the command
	}
	s = strings.TrimLeft(s, " \t")
	for _, h := range []string{OnTrack, AtRisk, OffTrack} {
		if r, ok := strings.CutPrefix(s, h); ok && (r == "" || isSpace(r[0])) {
			return h, strings.TrimSpace(r), true
		}
	}
	return "", "", true
}

// byTime orders comments by creation, then ID, so that what is derived from
// them (notes) does not depend on the order a tracker lists them in.
func byTime(cs []item.Comment) []*item.Comment {
	out := make([]*item.Comment, len(cs))
	for i := range cs {
		out[i] = &cs[i]
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// updates collects status updates from published items and the status item
// of the customer's sources, newest first.
func (k *curation) updates() []Update {
	c := k.c
	var out []Update
	var created []time.Time
	for _, id := range k.x.ids {
		it := k.sel.own(id)
		if it == nil {
			continue
		}
		pub := k.published[id]
		if !pub && (!k.isStatusItem(it) || k.sel.keptHome(it)) {
			continue
		}
		for _, cm := range byTime(it.Comments) {
			health, text, isCmd := parseStatus(cm.Body, c.commentMarker)
			if !isCmd {
				continue
			}
			switch {
			case health == "":
				k.note(id, "comment %s: /status without on_track, at_risk or off_track: ignored", cm.ID)
				continue
			case cm.Internal || cm.Restricted:
				k.note(id, "comment %s: internal or restricted /status: ignored", cm.ID)
				continue
			case len(c.statusAuthors) > 0 && !c.statusAuthors[cm.Author]:
				k.note(id, "comment %s: /status by %s, not in status_authors: ignored", cm.ID, cm.Author)
				continue
			}
			u := Update{
				Key:    it.ID + "/c/" + cm.ID,
				Health: health,
				Author: k.author(cm),
				Time:   cm.Created.UTC(),
				Body:   scrub.Body(text, c.commentOptions()),
			}
			if pub {
				u.Item = it.ID
			}
			out = append(out, u)
			created = append(created, cm.Created)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := created[idx[a]], created[idx[b]]
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
		return out[idx[a]].Key < out[idx[b]].Key
	})
	sorted := make([]Update, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

// milestone builds a roadmap entry; progress counts every item of it in the
// customer's sources, hidden ones included, so that the number is honest
// without naming hidden work.
func (k *curation) milestone(m *item.Milestone) Milestone {
	c := k.c
	sh := c.cfg.Show
	out := Milestone{Key: m.ID, Name: scrub.Title(m.Name), Done: m.Closed}
	if c.msDescription && sh.BodySection != "" {
		out.Description = scrub.Body(m.Description, c.bodyOptions(sh.BodySection))
	}
	if sh.Dates {
		out.Due = dueDate(m.Due, c.loc, c.cfg.Dates.BufferDays)
	}
	if sh.Progress {
		out.Progress = k.progress(k.x.msItems[m.ID])
	}
	return out
}

func hashItem(it Item) string {
	it.Key, it.Hash = "", ""
	return item.Hash(it)
}

// fieldText writes a custom field value as text: scalars, and lists of
// scalars joined with ", ". Anything else (objects) does not leave.
func fieldText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case time.Time:
		return x.UTC().Format(time.RFC3339), true
	case []string:
		return strings.Join(x, ", "), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if _, isList := e.([]any); isList {
				continue
			}
			if s, ok := fieldText(e); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", "), true
	}
	return "", false
}

// inlineText is the plain text of inlines, for ordering.
func inlineText(in []scrub.Inline) string {
	var b strings.Builder
	var walk func([]scrub.Inline)
	walk = func(in []scrub.Inline) {
		for _, x := range in {
			switch x.Kind {
			case scrub.Omitted:
				b.WriteString(scrub.OmittedText)
			case scrub.Break:
				b.WriteByte(' ')
			default:
				b.WriteString(x.Text)
			}
			walk(x.Children)
		}
	}
	walk(in)
	return b.String()
}

// leavingFields names what of a curated item leaves, for explain.
func leavingFields(v *Item) []string {
	out := []string{"title", "status"}
	if !v.Body.IsEmpty() {
		out = append(out, "body")
	}
	if v.Due != "" {
		out = append(out, "due")
	}
	if v.Progress != nil {
		out = append(out, "progress")
	}
	if v.Milestone != "" {
		out = append(out, "milestone")
	}
	if v.Parent != "" {
		out = append(out, "parent")
	}
	if len(v.Assignees) > 0 {
		out = append(out, "assignees")
	}
	for _, f := range v.Fields {
		out = append(out, "fields."+f.Name)
	}
	if n := len(v.Comments); n > 0 {
		out = append(out, fmt.Sprintf("comments (%d)", n))
	}
	return out
}
