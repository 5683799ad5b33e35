package jira

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// viewer is who a rendering is for: a credential (nil: the agency itself,
// e.g. webhooks) and the zone dates are rendered in.
type viewer struct {
	cred *credState
	loc  *time.Location
}

func (s *Server) viewerFor(c *credState) viewer {
	if c == nil {
		return viewer{loc: s.defTZ}
	}
	return viewer{cred: c, loc: c.loc}
}

// jiraTime is how Jira renders a datetime: millisecond precision, numeric
// zone offset without a colon, in the viewer's zone.
func jiraTime(t time.Time, loc *time.Location) any {
	if t.IsZero() {
		return nil
	}
	return t.In(loc).Format("2006-01-02T15:04:05.000-0700")
}

func (s *Server) self(path string) string { return s.srv.URL + path }

func (s *Server) renderUser(name string) any {
	if name == "" {
		return nil
	}
	u := s.userLocked(name)
	m := map[string]any{
		"displayName":  u.displayName,
		"active":       true,
		"timeZone":     u.tz,
		"emailAddress": u.email,
		"avatarUrls": map[string]string{
			"48x48": "https://avatar.example/" + u.accountID + "?s=48",
			"24x24": "https://avatar.example/" + u.accountID + "?s=24",
			"16x16": "https://avatar.example/" + u.accountID + "?s=16",
			"32x32": "https://avatar.example/" + u.accountID + "?s=32",
		},
	}
	if s.opts.Flavor == Cloud {
		m["self"] = s.self("/rest/api/2/user?accountId=" + u.accountID)
		m["accountId"] = u.accountID
		m["accountType"] = "atlassian"
	} else {
		m["self"] = s.self("/rest/api/2/user?username=" + url.QueryEscape(u.name))
		m["name"] = u.name
		m["key"] = u.dcKey
	}
	return m
}

// userByRef finds a user from a request's {accountId}/{name}/{key} object.
func (s *Server) userByRef(m map[string]any) (string, bool) {
	for _, k := range []string{"accountId", "name", "key"} {
		v, _ := m[k].(string)
		if v == "" {
			continue
		}
		for _, u := range s.users {
			if (k == "accountId" && u.accountID == v) || (k != "accountId" && u.name == v) {
				return u.name, true
			}
		}
		return "", false
	}
	return "", false
}

func (s *Server) renderStatus(name string) any {
	st := statusByName(name)
	return map[string]any{
		"self":        s.self("/rest/api/2/status/" + st.id),
		"description": "",
		"iconUrl":     s.self("/images/icons/statuses/generic.png"),
		"name":        st.name,
		"id":          st.id,
		"statusCategory": map[string]any{
			"self":      s.self("/rest/api/2/statuscategory/" + strconv.Itoa(st.category.id)),
			"id":        st.category.id,
			"key":       st.category.key,
			"colorName": st.category.color,
			"name":      st.category.name,
		},
	}
}

func (s *Server) renderIssueType(name string) any {
	t := issueTypeByName(name)
	m := map[string]any{
		"self":        s.self("/rest/api/2/issuetype/" + t.id),
		"id":          t.id,
		"description": t.description,
		"iconUrl":     s.self("/images/icons/issuetypes/" + strings.ToLower(t.name) + ".svg"),
		"name":        t.name,
		"subtask":     t.subtask,
	}
	if s.opts.Flavor == Cloud {
		m["hierarchyLevel"] = t.hierarchy
		m["avatarId"] = 10300
	}
	return m
}

func (s *Server) renderProjectRef(p *project) any {
	m := map[string]any{
		"self":           s.self("/rest/api/2/project/" + p.id),
		"id":             p.id,
		"key":            p.key,
		"name":           p.name,
		"projectTypeKey": "software",
		"avatarUrls":     map[string]string{"48x48": s.self("/secure/projectavatar?avatarId=10324")},
	}
	if s.opts.Flavor == Cloud {
		m["simplified"] = false
	}
	return m
}

func (s *Server) renderVersion(p *project, name string) any {
	v := p.version(name)
	if v == nil {
		return map[string]any{"name": name}
	}
	m := map[string]any{
		"self":      s.self("/rest/api/2/version/" + v.id),
		"id":        v.id,
		"name":      v.name,
		"archived":  false,
		"released":  v.released,
		"projectId": mustAtoi(p.id),
	}
	if v.description != "" {
		m["description"] = v.description
	}
	if v.releaseDate != "" {
		m["releaseDate"] = v.releaseDate
	}
	return m
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func (s *Server) renderPriority(name string) any {
	p := priorityByName(name)
	if p == nil {
		return nil
	}
	return map[string]any{
		"self":    s.self("/rest/api/2/priority/" + p.id),
		"iconUrl": s.self("/images/icons/priorities/" + strings.ToLower(p.name) + ".svg"),
		"name":    p.name,
		"id":      p.id,
	}
}

// renderIssueRef is the short issue form used for parent and subtasks.
func (s *Server) renderIssueRef(is *issue) any {
	return map[string]any{
		"id":   strconv.FormatInt(is.id, 10),
		"key":  is.key,
		"self": s.self("/rest/api/2/issue/" + strconv.FormatInt(is.id, 10)),
		"fields": map[string]any{
			"summary":   is.summary,
			"status":    s.renderStatus(is.status),
			"priority":  s.renderPriority(is.priority),
			"issuetype": s.renderIssueType(is.typ),
		},
	}
}

// commentVisible says whether a viewer sees a comment: restricted comments
// only reach members of the role or group.
func commentVisible(v viewer, c *comment) bool {
	if c.visibility == nil || v.cred == nil {
		return true
	}
	switch c.visibility.Type {
	case "role":
		return v.cred.inRole(c.visibility.Value)
	case "group":
		return v.cred.inGroup(c.visibility.Value)
	}
	return false
}

func (s *Server) renderComment(is *issue, c *comment, v viewer, withProps bool) map[string]any {
	id := strconv.FormatInt(c.id, 10)
	m := map[string]any{
		"self":         s.self("/rest/api/2/issue/" + strconv.FormatInt(is.id, 10) + "/comment/" + id),
		"id":           id,
		"author":       s.renderUser(c.author),
		"body":         c.body,
		"updateAuthor": s.renderUser(c.updateAuthor),
		"created":      jiraTime(c.created, v.loc),
		"updated":      jiraTime(c.updated, v.loc),
	}
	if s.opts.Flavor == Cloud {
		m["jsdPublic"] = c.jsdPublic
	}
	if c.visibility != nil {
		vis := map[string]any{"type": c.visibility.Type, "value": c.visibility.Value}
		if s.opts.Flavor == Cloud {
			vis["identifier"] = c.visibility.Value
		}
		m["visibility"] = vis
	}
	if withProps {
		props := []any{}
		for _, k := range sortedKeys(c.props) {
			props = append(props, map[string]any{"key": k, "value": json.RawMessage(c.props[k])})
		}
		m["properties"] = props
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (s *Server) visibleComments(is *issue, v viewer) []*comment {
	var out []*comment
	for _, c := range is.comments {
		if commentVisible(v, c) {
			out = append(out, c)
		}
	}
	return out
}

// allFields renders every field of an issue.
func (s *Server) allFields(is *issue, v viewer) map[string]any {
	p := s.projects[is.project]
	f := map[string]any{
		"summary":                  is.summary,
		"description":              nilIfEmpty(is.description),
		"issuetype":                s.renderIssueType(is.typ),
		"project":                  s.renderProjectRef(p),
		"status":                   s.renderStatus(is.status),
		"resolution":               nil,
		"resolutiondate":           jiraTime(is.resolvedAt, v.loc),
		"labels":                   orEmpty(is.labels),
		"components":               []any{},
		"fixVersions":              []any{},
		"versions":                 []any{},
		"subtasks":                 []any{},
		"issuelinks":               []any{},
		"attachment":               []any{},
		"security":                 nil,
		"duedate":                  nilIfEmpty(is.dueDate),
		"assignee":                 s.renderUser(is.assignee),
		"reporter":                 s.renderUser(is.reporter),
		"creator":                  s.renderUser(is.creator),
		"priority":                 s.renderPriority(is.priority),
		"created":                  jiraTime(is.created, v.loc),
		"updated":                  jiraTime(is.updated, v.loc),
		"environment":              nil,
		"timetracking":             map[string]any{},
		"statuscategorychangedate": jiraTime(is.statusAt, v.loc),
		EpicLinkField:              nilIfEmpty(is.epicLink),
	}
	if s.opts.Flavor == DataCenter {
		delete(f, "statuscategorychangedate")
	}
	if r := resolutionByName(is.resolution); r != nil {
		f["resolution"] = map[string]any{"self": s.self("/rest/api/2/resolution/" + r.id), "id": r.id, "description": r.description, "name": r.name}
	}
	comps := []any{}
	for _, c := range is.components {
		if pc := p.component(c); pc != nil {
			comps = append(comps, map[string]any{"self": s.self("/rest/api/2/component/" + pc.id), "id": pc.id, "name": pc.name})
		}
	}
	f["components"] = comps
	fv := []any{}
	for _, name := range is.fixVersions {
		fv = append(fv, s.renderVersion(p, name))
	}
	f["fixVersions"] = fv
	if par := s.issueByID(is.parentID); par != nil {
		f["parent"] = s.renderIssueRef(par)
	}
	subs := []any{}
	for _, sub := range s.subtasksLocked(is.id) {
		subs = append(subs, s.renderIssueRef(sub))
	}
	f["subtasks"] = subs
	if is.security != "" {
		id := s.securityLevelID(is.security)
		f["security"] = map[string]any{"self": s.self("/rest/api/2/securitylevel/" + id), "id": id, "description": "", "name": is.security}
	}
	for _, fd := range fieldCatalog {
		if fd.custom && fd.id != EpicLinkField {
			f[fd.id] = nil
		}
	}
	for k, raw := range is.custom {
		f[k] = json.RawMessage(raw)
	}
	comments := []any{}
	for _, c := range s.visibleComments(is, v) {
		comments = append(comments, s.renderComment(is, c, v, false))
	}
	f["comment"] = map[string]any{
		"comments":   comments,
		"self":       s.self("/rest/api/2/issue/" + strconv.FormatInt(is.id, 10) + "/comment"),
		"maxResults": len(comments),
		"total":      len(comments),
		"startAt":    0,
	}
	return f
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fieldSel is a parsed `fields` parameter.
type fieldSel struct {
	all, navigable bool
	include        map[string]bool
	exclude        map[string]bool
}

func parseFieldSel(vals []string, def string) fieldSel {
	if len(vals) == 0 {
		vals = []string{def}
	}
	fs := fieldSel{include: map[string]bool{}, exclude: map[string]bool{}}
	for _, v := range vals {
		switch {
		case v == "*all":
			fs.all = true
		case v == "*navigable":
			fs.navigable = true
		case strings.HasPrefix(v, "-"):
			fs.exclude[v[1:]] = true
		default:
			fs.include[v] = true
		}
	}
	return fs
}

// onlyIDs reports a selection that asks for no field beyond id and key.
func (fs fieldSel) onlyIDs() bool {
	if fs.all || fs.navigable {
		return false
	}
	for f := range fs.include {
		if f != "id" && f != "key" {
			return false
		}
	}
	return true
}

func (fs fieldSel) wants(id string) bool {
	if fs.exclude[id] {
		return false
	}
	if fs.all || fs.include[id] {
		return true
	}
	if fs.navigable {
		fd := fieldByID(id)
		return fd == nil || fd.navigable
	}
	return false
}

// renderIssue renders an issue bean with the selected fields, requested
// properties and expansions.
func (s *Server) renderIssue(is *issue, v viewer, fs fieldSel, expand []string, props []string) map[string]any {
	id := strconv.FormatInt(is.id, 10)
	m := map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     id,
		"self":   s.self("/rest/api/2/issue/" + id),
		"key":    is.key,
	}
	all := s.allFields(is, v)
	fields := map[string]any{}
	for k, val := range all {
		if fs.wants(k) {
			fields[k] = val
		}
	}
	if !fs.onlyIDs() || len(fields) > 0 {
		m["fields"] = fields
	}
	if len(props) > 0 {
		pm := map[string]any{}
		for _, k := range props {
			if raw, ok := is.props[k]; ok {
				pm[k] = json.RawMessage(raw)
			}
		}
		m["properties"] = pm
	}
	for _, e := range expand {
		switch e {
		case "names":
			names := map[string]string{}
			for k := range fields {
				if fd := fieldByID(k); fd != nil {
					names[k] = fd.name
				}
			}
			m["names"] = names
		case "transitions":
			m["transitions"] = s.renderTransitions(is, false)
		case "changelog":
			m["changelog"] = s.renderChangelog(is, v)
		case "renderedFields":
			m["renderedFields"] = map[string]any{"description": renderWiki(is.description)}
		}
	}
	return m
}

// renderWiki is a stand-in for Jira's wiki-to-HTML renderer: the text,
// HTML-escaped, in a paragraph. Tests must not rely on its details.
func renderWiki(s string) any {
	if s == "" {
		return nil
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;")
	return "<p>" + r.Replace(s) + "</p>"
}

func (s *Server) renderChangelog(is *issue, v viewer) any {
	hist := []any{}
	for _, e := range is.changelog {
		hist = append(hist, s.renderChangeEntry(e, v))
	}
	return map[string]any{"startAt": 0, "maxResults": len(hist), "total": len(hist), "histories": hist}
}

func (s *Server) renderChangeEntry(e changeEntry, v viewer) map[string]any {
	items := []any{}
	for _, it := range e.items {
		m := map[string]any{"field": it.Field, "fieldtype": "jira", "fieldId": it.FieldID,
			"from": nilIfEmpty(it.From), "fromString": nilIfEmpty(it.FromString),
			"to": nilIfEmpty(it.To), "toString": nilIfEmpty(it.ToString)}
		if strings.HasPrefix(it.FieldID, "customfield_") {
			m["fieldtype"] = "custom"
		}
		items = append(items, m)
	}
	return map[string]any{"id": strconv.FormatInt(e.id, 10), "author": s.renderUser(e.author),
		"created": jiraTime(e.created, v.loc), "items": items}
}

// renderTransitions lists the transitions available from an issue's status.
func (s *Server) renderTransitions(is *issue, withFields bool) []any {
	out := []any{}
	for _, t := range transitionsFrom(is.status) {
		m := map[string]any{
			"id":            t.id,
			"name":          t.name,
			"to":            s.renderStatus(t.to),
			"hasScreen":     t.needsResolution,
			"isGlobal":      false,
			"isInitial":     false,
			"isAvailable":   true,
			"isConditional": false,
			"isLooped":      false,
		}
		if withFields {
			fields := map[string]any{}
			if t.needsResolution {
				var allowed []any
				for _, r := range resolutions {
					allowed = append(allowed, map[string]any{"self": s.self("/rest/api/2/resolution/" + r.id), "id": r.id, "name": r.name})
				}
				fields["resolution"] = map[string]any{
					"required": true, "schema": map[string]any{"type": "resolution", "system": "resolution"},
					"name": "Resolution", "key": "resolution", "operations": []string{"set"}, "allowedValues": allowed,
					"hasDefaultValue": false,
				}
			}
			m["fields"] = fields
		}
		out = append(out, m)
	}
	return out
}
