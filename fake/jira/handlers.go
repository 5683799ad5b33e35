package jira

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const msgNoIssue = "Issue does not exist or you do not have permission to see it."

func (s *Server) canSee(c *credState, is *issue) bool {
	if c == nil {
		return true
	}
	if !c.has(is.project, PermBrowse) {
		return false
	}
	return is.security == "" || !slices.Contains(c.HiddenSecurityLevels, is.security)
}

// issueFor resolves the {issueIdOrKey} of a request to a live issue the
// credential may see and act on with perm. A moved issue is found by any of
// its keys. Must hold s.mu.
func (s *Server) issueFor(q *request, perm Perm, denied string) (*issue, *response) {
	is := s.liveIssue(q.params["issueIdOrKey"])
	if is == nil {
		return nil, fail(http.StatusNotFound, msgNoIssue)
	}
	if q.cred.lost[is.project] == http.StatusForbidden {
		return nil, fail(http.StatusForbidden, "You do not have the permission to see the specified issue.")
	}
	if !s.canSee(q.cred, is) {
		return nil, fail(http.StatusNotFound, msgNoIssue)
	}
	if !q.cred.has(is.project, perm) {
		return nil, fail(http.StatusForbidden, denied)
	}
	return is, nil
}

func decodeObject(body []byte) (map[string]json.RawMessage, *response) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fail(http.StatusBadRequest, "Unexpected character in the request body: not a JSON object.")
	}
	return m, nil
}

// ---- site ----

func (s *Server) hMyself(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.renderUser(q.cred.Name).(map[string]any)
	u["timeZone"] = q.cred.TimeZone
	u["locale"] = "en_US"
	groups := []any{}
	for _, g := range q.cred.Groups {
		groups = append(groups, map[string]any{"name": g, "self": s.self("/rest/api/2/group?groupname=" + g)})
	}
	u["groups"] = map[string]any{"size": len(groups), "items": groups}
	u["applicationRoles"] = map[string]any{"size": 1, "items": []any{}}
	u["expand"] = "groups,applicationRoles"
	return ok(http.StatusOK, u)
}

func (s *Server) hServerInfo(q *request) *response {
	if s.opts.Flavor == Cloud {
		return ok(http.StatusOK, map[string]any{
			"baseUrl": s.srv.URL, "version": "1001.0.0-SNAPSHOT", "versionNumbers": []int{1001, 0, 0},
			"deploymentType": "Cloud", "buildNumber": 100284, "serverTitle": "Jira",
			"serverTime": jiraTime(s.now(), q.cred.loc),
		})
	}
	return ok(http.StatusOK, map[string]any{
		"baseUrl": s.srv.URL, "version": "9.12.15", "versionNumbers": []int{9, 12, 15},
		"deploymentType": "Server", "buildNumber": 9120015, "serverTitle": "Jira",
		"serverTime": jiraTime(s.now(), q.cred.loc),
	})
}

func (s *Server) hFields(q *request) *response {
	out := []any{}
	for _, f := range fieldCatalog {
		schema := map[string]any{"type": f.schemaType}
		if f.items != "" {
			schema["items"] = f.items
		}
		if f.custom {
			schema["custom"] = f.customType
			n, _ := strconv.Atoi(strings.TrimPrefix(f.id, "customfield_"))
			schema["customId"] = n
		} else {
			schema["system"] = f.system
		}
		m := map[string]any{
			"id": f.id, "key": f.id, "name": f.name, "custom": f.custom, "orderable": true,
			"navigable": f.navigable, "searchable": len(f.clauses) > 0, "clauseNames": orEmpty(f.clauses), "schema": schema,
		}
		out = append(out, m)
	}
	return ok(http.StatusOK, out)
}

func (s *Server) projectFor(q *request) (*project, *response) {
	v := q.params["projectIdOrKey"]
	p := s.projectByIDOrKey(v)
	if p != nil && q.cred.lost[p.key] == http.StatusForbidden {
		return nil, fail(http.StatusForbidden, "You do not have permission to view this project.")
	}
	if p == nil || !q.cred.has(p.key, PermBrowse) {
		return nil, fail(http.StatusNotFound, fmt.Sprintf("No project could be found with key '%s'.", v))
	}
	return p, nil
}

func (s *Server) hProject(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, r := s.projectFor(q)
	if r != nil {
		return r
	}
	m := s.renderProjectRef(p).(map[string]any)
	types := []any{}
	for _, t := range issueTypes {
		types = append(types, s.renderIssueType(t.name))
	}
	m["issueTypes"] = types
	m["versions"] = s.renderVersions(p)
	comps := []any{}
	for _, c := range p.components {
		comps = append(comps, map[string]any{"self": s.self("/rest/api/2/component/" + c.id), "id": c.id, "name": c.name})
	}
	m["components"] = comps
	m["style"] = "classic"
	m["isPrivate"] = false
	m["description"] = ""
	m["lead"] = s.renderUser("pm-anna")
	return ok(http.StatusOK, m)
}

func (s *Server) renderVersions(p *project) []any {
	out := []any{}
	for _, v := range p.versions {
		out = append(out, s.renderVersion(p, v.name))
	}
	return out
}

func (s *Server) hVersions(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, r := s.projectFor(q)
	if r != nil {
		return r
	}
	return ok(http.StatusOK, s.renderVersions(p))
}

// ---- issues ----

func (s *Server) hGetIssue(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	fs := parseFieldSel(q.list("fields"), "*all")
	return ok(http.StatusOK, s.renderIssue(is, s.viewerFor(q.cred), fs, q.list("expand"), q.list("properties")))
}

type entityProperty struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

func parseProperties(raw json.RawMessage) ([]entityProperty, *response) {
	if raw == nil {
		return nil, nil
	}
	var props []entityProperty
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, fail(http.StatusBadRequest, "properties must be a list of {key, value}")
	}
	for _, p := range props {
		if r := checkPropertyKeyValue(p.Key, p.Value); r != nil {
			return nil, r
		}
	}
	return props, nil
}

func checkPropertyKeyValue(key string, value []byte) *response {
	if key == "" || utf8.RuneCountInString(key) > 255 {
		return fail(http.StatusBadRequest, "The property key can not be empty or longer than 255 characters.")
	}
	if len(value) == 0 || !json.Valid(value) {
		return fail(http.StatusBadRequest, "The property value must be valid JSON.")
	}
	if len(value) > 32768 {
		return fail(http.StatusBadRequest, "The property value can not be longer than 32768 bytes.")
	}
	return nil
}

const notOnScreen = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown."

// fieldSetter applies create/edit field values to an issue.
type fieldSetter struct {
	s      *Server
	is     *issue
	p      *project
	cred   *credState
	create bool
	errs   map[string]string
	// comments to add (edit's update.comment)
	comments []commentIn
}

type commentIn struct {
	Body       json.RawMessage  `json:"body"`
	Visibility *visibilityIn    `json:"visibility"`
	Properties []entityProperty `json:"properties"`
}

type visibilityIn struct {
	Type       string `json:"type"`
	Value      string `json:"value"`
	Identifier string `json:"identifier"`
}

func (fs *fieldSetter) errf(field, format string, a ...any) {
	if _, dup := fs.errs[field]; !dup {
		fs.errs[field] = fmt.Sprintf(format, a...)
	}
}

func asString(raw json.RawMessage) (string, bool, bool) {
	if string(raw) == "null" {
		return "", true, true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, false
	}
	return v, false, true
}

// ref reads a {"id": …} / {"name": …} / {"key": …} reference.
func ref(raw json.RawMessage) (map[string]any, bool) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

func refStr(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatInt(int64(v), 10)
		}
	}
	return ""
}

// set applies one `fields` entry.
func (fs *fieldSetter) set(name string, raw json.RawMessage) {
	is, p := fs.is, fs.p
	switch name {
	case "summary":
		v, isNull, ok := asString(raw)
		if !ok || isNull {
			fs.errf(name, "Operation value must be a string")
			return
		}
		is.summary = v
	case "description", "environment":
		v, _, ok := asString(raw)
		if !ok {
			fs.errf(name, "Operation value must be a string")
			return
		}
		if name == "description" {
			is.description = v
		}
	case "labels":
		var ls []string
		if err := json.Unmarshal(raw, &ls); err != nil {
			fs.errf(name, "Operation value must be an array of strings")
			return
		}
		for _, l := range ls {
			if r := checkLabel(l); r != "" {
				fs.errf(name, "%s", r)
				return
			}
		}
		is.labels = dedupe(ls)
	case "components":
		names, ok := fs.refs(name, raw, func(v string) (string, bool) {
			c := p.component(v)
			if c == nil {
				return "", false
			}
			return c.name, true
		})
		if ok {
			is.components = names
		}
	case "fixVersions":
		names, ok := fs.refs(name, raw, func(v string) (string, bool) {
			x := p.version(v)
			if x == nil {
				return "", false
			}
			return x.name, true
		})
		if ok {
			is.fixVersions = names
		}
	case "duedate":
		v, isNull, ok := asString(raw)
		if !ok {
			fs.errf(name, "Operation value must be a string")
			return
		}
		if !isNull && v != "" && !validDate(v) {
			fs.errf(name, "Error parsing date string: %s", v)
			return
		}
		is.dueDate = v
	case "priority":
		m, ok := ref(raw)
		pr := priorityByName(refStr(m, "id", "name"))
		if !ok || pr == nil {
			fs.errf(name, "Specify the Priority (id or name) in the string format")
			return
		}
		is.priority = pr.name
	case "assignee", "reporter":
		if string(raw) == "null" {
			if name == "reporter" {
				fs.errf(name, "Reporter is required.")
				return
			}
			is.assignee = ""
			return
		}
		m, ok := ref(raw)
		u, found := "", false
		if ok {
			u, found = fs.s.userByRef(m)
		}
		if !found {
			fs.errf(name, "Specify a valid value for %s", name)
			return
		}
		if name == "assignee" {
			is.assignee = u
		} else {
			is.reporter = u
		}
	case "parent":
		m, ok := ref(raw)
		par := fs.s.liveIssue(refStr(m, "key", "id"))
		if !ok || par == nil || !fs.s.canSee(fs.cred, par) {
			fs.errf(name, "Could not find issue by id or key.")
			return
		}
		if issueTypeByName(par.typ).subtask {
			fs.errf(name, "Given parent issue is a sub-task.")
			return
		}
		is.parentID = par.id
	case "security":
		m, ok := ref(raw)
		v := refStr(m, "id", "name")
		found := ""
		for n, id := range fs.s.securityLevels {
			if id == v || n == v {
				found = n
			}
		}
		if !ok || found == "" {
			fs.errf(name, "Security level is not valid.")
			return
		}
		is.security = found
	case "issuetype":
		m, ok := ref(raw)
		it := issueTypeByName(refStr(m, "id", "name"))
		if !ok || it == nil {
			fs.errf(name, "Specify an issue type")
			return
		}
		is.typ = it.name
	case "project":
		if !fs.create {
			fs.errf(name, notOnScreen, name)
		}
	case EpicLinkField:
		v, _, ok := asString(raw)
		if !ok {
			fs.errf(name, "Operation value must be a string")
			return
		}
		if v != "" {
			e := fs.s.liveIssue(v)
			if e == nil || e.typ != "Epic" {
				fs.errf(name, "The issue %s is not an epic.", v)
				return
			}
		}
		is.epicLink = v
	default:
		fd := fieldByID(name)
		if fd == nil || !fd.custom {
			fs.errf(name, notOnScreen, name)
			return
		}
		if string(raw) == "null" {
			delete(is.custom, name)
			return
		}
		if fd.schemaType == "string" {
			if _, _, ok := asString(raw); !ok {
				fs.errf(name, "Operation value must be a string")
				return
			}
		}
		if fd.schemaType == "number" {
			var f float64
			if json.Unmarshal(raw, &f) != nil {
				fs.errf(name, "Operation value must be a number")
				return
			}
		}
		is.custom[name] = json.RawMessage(canonical(raw))
	}
}

func (fs *fieldSetter) refs(name string, raw json.RawMessage, find func(string) (string, bool)) ([]string, bool) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		fs.errf(name, "Operation value must be an array")
		return nil, false
	}
	var out []string
	for _, r := range list {
		m, ok := ref(r)
		v := refStr(m, "id", "name")
		n, found := find(v)
		if !ok || !found {
			fs.errf(name, "%s '%s' is not valid", strings.TrimSuffix(name, "s"), v)
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// update applies one `update` entry: a list of {set|add|remove: value}.
func (fs *fieldSetter) update(name string, raw json.RawMessage) {
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		fs.errf(name, "Field update operations must be a list")
		return
	}
	for _, op := range ops {
		if len(op) != 1 {
			fs.errf(name, "Each field update operation has exactly one verb")
			return
		}
		for verb, v := range op {
			fs.op(name, verb, v)
		}
	}
}

func (fs *fieldSetter) op(name, verb string, v json.RawMessage) {
	is := fs.is
	switch {
	case verb == "set":
		if name == "comment" {
			fs.errf(name, notOnScreen, name)
			return
		}
		fs.set(name, v)
	case name == "labels" && (verb == "add" || verb == "remove"):
		l, _, ok := asString(v)
		if !ok {
			fs.errf(name, "Operation value must be a string")
			return
		}
		if verb == "add" {
			if r := checkLabel(l); r != "" {
				fs.errf(name, "%s", r)
				return
			}
			if !slices.Contains(is.labels, l) {
				is.labels = append(is.labels, l)
			}
		} else {
			is.labels = slices.DeleteFunc(is.labels, func(x string) bool { return x == l })
		}
	case (name == "components" || name == "fixVersions") && (verb == "add" || verb == "remove"):
		m, ok := ref(v)
		key := refStr(m, "id", "name")
		var n string
		if name == "components" {
			if c := fs.p.component(key); c != nil {
				n = c.name
			}
		} else if x := fs.p.version(key); x != nil {
			n = x.name
		}
		if !ok || n == "" {
			fs.errf(name, "%s '%s' is not valid", strings.TrimSuffix(name, "s"), key)
			return
		}
		list := &is.components
		if name == "fixVersions" {
			list = &is.fixVersions
		}
		if verb == "add" && !slices.Contains(*list, n) {
			*list = append(*list, n)
		}
		if verb == "remove" {
			*list = slices.DeleteFunc(*list, func(x string) bool { return x == n })
		}
	case name == "comment" && verb == "add":
		var c commentIn
		if err := json.Unmarshal(v, &c); err != nil {
			fs.errf(name, "Comment must be an object with a body")
			return
		}
		fs.comments = append(fs.comments, c)
	default:
		fs.errf(name, notOnScreen, name)
	}
}

func checkLabel(l string) string {
	if l == "" {
		return "The label can not be empty."
	}
	if strings.ContainsAny(l, " \t\n") {
		return fmt.Sprintf("The label '%s' contains spaces which is invalid.", l)
	}
	if utf8.RuneCountInString(l) > 255 {
		return "The label can not be longer than 255 characters."
	}
	return ""
}

func dedupe(ls []string) []string {
	var out []string
	for _, l := range ls {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func validDate(v string) bool {
	if len(v) != 10 {
		return false
	}
	_, err := strconv.Atoi(strings.ReplaceAll(v, "-", ""))
	return err == nil && v[4] == '-' && v[7] == '-'
}

// applyBody runs the fields and update parts of a create/edit/transition
// body through the setter, refusing fields named in both.
func (fs *fieldSetter) applyBody(body map[string]json.RawMessage) {
	var fields, update map[string]json.RawMessage
	if raw, ok := body["fields"]; ok && json.Unmarshal(raw, &fields) != nil {
		fs.errf("fields", "fields must be an object")
		return
	}
	if raw, ok := body["update"]; ok && json.Unmarshal(raw, &update) != nil {
		fs.errf("update", "update must be an object")
		return
	}
	for _, name := range sortedKeys(fields) {
		if _, both := update[name]; both {
			fs.errf(name, "Field '%s' cannot be set in both 'fields' and 'update'.", name)
			continue
		}
		fs.set(name, fields[name])
	}
	for _, name := range sortedKeys(update) {
		fs.update(name, update[name])
	}
}

func (s *Server) hCreateIssue(q *request) *response {
	body, r := decodeObject(q.body)
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var fields map[string]json.RawMessage
	json.Unmarshal(body["fields"], &fields)
	pm, _ := ref(fields["project"])
	p := s.projectByIDOrKey(refStr(pm, "id", "key"))
	if p == nil || !q.cred.has(p.key, PermBrowse) {
		return fieldErrs(map[string]string{"project": "Specify a valid project ID or key"})
	}
	if q.cred.lost[p.key] == http.StatusForbidden || !q.cred.has(p.key, PermCreate) {
		return fail(http.StatusForbidden, "You do not have permission to create issues in this project.")
	}
	if _, ok := fields["issuetype"]; !ok {
		return fieldErrs(map[string]string{"issuetype": "Specify an issue type"})
	}
	props, r := parseProperties(body["properties"])
	if r != nil {
		return r
	}
	if _, ok := body["transition"]; ok {
		return fail(http.StatusBadRequest, "fake/jira: a transition on create is not supported by this fake")
	}
	is := s.newIssueLocked(p, q.cred.Name)
	fs := &fieldSetter{s: s, is: is, p: p, cred: q.cred, create: true, errs: map[string]string{}}
	fs.applyBody(body)
	if is.summary == "" {
		fs.errf("summary", "You must specify a summary of the issue.")
	}
	if utf8.RuneCountInString(is.summary) > 255 {
		fs.errf("summary", "Summary must be less than 255 characters.")
	}
	if issueTypeByName(is.typ).subtask && is.parentID == 0 {
		fs.errf("parent", "Sub-tasks must have a parent.")
	}
	if len(fs.comments) > 0 {
		fs.errf("comment", notOnScreen, "comment")
	}
	if len(fs.errs) > 0 {
		p.nextNum-- // the key is not used up by a rejected create
		s.nextIssueID--
		return fieldErrs(fs.errs)
	}
	for _, pr := range props {
		is.props[pr.Key] = json.RawMessage(canonical(pr.Value))
	}
	s.commitCreateLocked(is, q.cred.Name)
	s.writeLog[is.id] = append(s.writeLog[is.id], s.now())
	id := strconv.FormatInt(is.id, 10)
	return ok(http.StatusCreated, map[string]any{"id": id, "key": is.key, "self": s.self("/rest/api/2/issue/" + id)})
}

func (s *Server) hEditIssue(q *request) *response {
	body, r := decodeObject(q.body)
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermEdit, "You do not have permission to edit issues in this project.")
	if r != nil {
		return r
	}
	if q.query("notifyUsers") == "false" && !q.cred.has(is.project, PermAdminProject) {
		return fail(http.StatusForbidden, "To discard the user notification either admin or project admin permissions are required.")
	}
	props, r := parseProperties(body["properties"])
	if r != nil {
		return r
	}
	var bad *response
	err := s.mutateLocked(is, q.cred.Name, true, func(is *issue) error {
		fs := &fieldSetter{s: s, is: is, p: s.projects[is.project], cred: q.cred, errs: map[string]string{}}
		fs.applyBody(body)
		if len(fs.errs) > 0 {
			bad = fieldErrs(fs.errs)
			return fmt.Errorf("invalid")
		}
		for _, c := range fs.comments {
			cm, cr := s.commentFromRequest(q, is, c)
			if cr != nil {
				bad = cr
				return fmt.Errorf("invalid")
			}
			is.comments = append(is.comments, cm)
		}
		for _, pr := range props {
			is.props[pr.Key] = json.RawMessage(canonical(pr.Value))
		}
		return nil
	})
	if err != nil {
		return bad
	}
	if q.query("returnIssue") == "true" {
		return ok(http.StatusOK, s.renderIssue(is, s.viewerFor(q.cred), parseFieldSel(nil, "*all"), q.list("expand"), nil))
	}
	return ok(http.StatusNoContent, nil)
}

func (s *Server) hDeleteIssue(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermDelete, "You do not have permission to delete issues in this project.")
	if r != nil {
		return r
	}
	if len(s.subtasksLocked(is.id)) > 0 && q.query("deleteSubtasks") != "true" {
		return fail(http.StatusBadRequest, fmt.Sprintf("The issue '%s' has subtasks.  You must specify the 'deleteSubtasks' parameter to delete this issue and all its subtasks.", is.key))
	}
	s.deleteLocked(is, q.cred.Name)
	return ok(http.StatusNoContent, nil)
}

// ---- transitions ----

func (s *Server) hGetTransitions(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	withFields := slices.Contains(q.list("expand"), "transitions.fields")
	var list []any
	if q.cred.has(is.project, PermTransition) {
		list = s.renderTransitions(is, withFields)
	}
	if id := q.query("transitionId"); id != "" {
		list = slices.DeleteFunc(list, func(t any) bool { return t.(map[string]any)["id"] != id })
	}
	if list == nil {
		list = []any{}
	}
	return ok(http.StatusOK, map[string]any{"expand": "transitions", "transitions": list})
}

func (s *Server) hDoTransition(q *request) *response {
	body, r := decodeObject(q.body)
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermTransition, "You do not have permission to transition this issue.")
	if r != nil {
		return r
	}
	var tr struct {
		Transition *struct {
			ID any `json:"id"`
		} `json:"transition"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(q.body, &tr); err != nil || tr.Transition == nil {
		return fail(http.StatusBadRequest, "Missing 'transition' identifier")
	}
	id := fmt.Sprint(tr.Transition.ID)
	var t *transition
	for _, x := range transitionsFrom(is.status) {
		if x.id == id {
			x := x
			t = &x
		}
	}
	if t == nil {
		return fail(http.StatusBadRequest, fmt.Sprintf("Transition id '%s' is not valid for this issue.", id))
	}
	errs := map[string]string{}
	var res *resolution
	for name, raw := range tr.Fields {
		if name != "resolution" || !t.needsResolution {
			errs[name] = fmt.Sprintf(notOnScreen, name)
			continue
		}
		m, ok := ref(raw)
		res = resolutionByName(refStr(m, "id", "name"))
		if !ok || res == nil {
			errs[name] = "Specify a valid resolution (id or name)"
		}
	}
	if t.needsResolution && res == nil && errs["resolution"] == "" {
		errs["resolution"] = "Resolution is required."
	}
	if len(errs) > 0 {
		return fieldErrs(errs)
	}
	props, r := parseProperties(body["properties"])
	if r != nil {
		return r
	}
	var cerr *response
	err := s.mutateLocked(is, q.cred.Name, true, func(is *issue) error {
		fs := &fieldSetter{s: s, is: is, p: s.projects[is.project], cred: q.cred, errs: map[string]string{}}
		if raw, ok := body["update"]; ok {
			var update map[string]json.RawMessage
			json.Unmarshal(raw, &update)
			for name, ops := range update {
				if name != "comment" {
					fs.errf(name, notOnScreen, name)
					continue
				}
				fs.update(name, ops)
			}
		}
		if len(fs.errs) > 0 {
			cerr = fieldErrs(fs.errs)
			return fmt.Errorf("invalid")
		}
		for _, c := range fs.comments {
			cm, cr := s.commentFromRequest(q, is, c)
			if cr != nil {
				cerr = cr
				return fmt.Errorf("invalid")
			}
			is.comments = append(is.comments, cm)
		}
		is.status = t.to
		if res != nil {
			is.resolution = res.name
			is.resolvedAt = s.now()
		}
		if t.clearResolution {
			is.resolution = ""
			is.resolvedAt = time.Time{}
		}
		for _, pr := range props {
			is.props[pr.Key] = json.RawMessage(canonical(pr.Value))
		}
		return nil
	})
	if err != nil {
		return cerr
	}
	return ok(http.StatusNoContent, nil)
}

// ---- comments ----

// commentFromRequest builds a comment from a create body (v2: the body is
// a wiki string).
func (s *Server) commentFromRequest(q *request, is *issue, c commentIn) (*comment, *response) {
	body, isNull, okStr := asString(c.Body)
	if c.Body == nil || isNull || (okStr && strings.TrimSpace(body) == "") {
		return nil, fieldErrs(map[string]string{"comment": "Comment body can not be empty!"})
	}
	if !okStr {
		return nil, fieldErrs(map[string]string{"comment": "Operation value must be a string"})
	}
	vis, r := s.visibilityFromRequest(q, c.Visibility)
	if r != nil {
		return nil, r
	}
	props := map[string]json.RawMessage{}
	for _, p := range c.Properties {
		if r := checkPropertyKeyValue(p.Key, p.Value); r != nil {
			return nil, r
		}
		props[p.Key] = json.RawMessage(canonical(p.Value))
	}
	return s.newCommentLocked(q.cred.Name, body, !internalByProperty(props), props, vis), nil
}

func (s *Server) visibilityFromRequest(q *request, v *visibilityIn) (*Visibility, *response) {
	if v == nil || (v.Type == "" && v.Value == "" && v.Identifier == "") {
		return nil, nil
	}
	value := v.Value
	if value == "" {
		value = v.Identifier
	}
	switch v.Type {
	case "role":
		if !slices.Contains([]string{RoleDevelopers, RoleAdministrators, RoleServiceDesk}, value) {
			return nil, fieldErrs(map[string]string{"commentLevel": fmt.Sprintf("Invalid role level specified: %s", value)})
		}
		if !q.cred.inRole(value) {
			return nil, fieldErrs(map[string]string{"commentLevel": fmt.Sprintf("You are currently not a member of the project role: %s.", value)})
		}
	case "group":
		if !q.cred.inGroup(value) {
			return nil, fieldErrs(map[string]string{"commentLevel": fmt.Sprintf("You are currently not a member of the group: %s.", value)})
		}
	default:
		return nil, fieldErrs(map[string]string{"commentLevel": fmt.Sprintf("Invalid visibility type: %s", v.Type)})
	}
	return &Visibility{Type: v.Type, Value: value}, nil
}

func parseCommentBody(raw []byte) (commentIn, *response) {
	var c commentIn
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fail(http.StatusBadRequest, "Unexpected character in the comment body: "+err.Error())
	}
	// Other properties (read-only ones like author, which go-jira always
	// sends) are ignored, as Jira does.
	return c, nil
}

func (s *Server) hListComments(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	v := s.viewerFor(q.cred)
	list := s.visibleComments(is, v)
	if q.query("orderBy") == "-created" {
		list = slices.Clone(list)
		slices.Reverse(list)
	}
	start, _ := strconv.Atoi(q.query("startAt"))
	max := 100
	if s.opts.Flavor == DataCenter {
		max = 5000
	}
	if m := q.query("maxResults"); m != "" {
		max, _ = strconv.Atoi(m)
	}
	withProps := slices.Contains(q.list("expand"), "properties")
	out := []any{}
	for i := start; i < len(list) && i < start+max; i++ {
		out = append(out, s.renderComment(is, list[i], v, withProps))
	}
	return ok(http.StatusOK, map[string]any{"startAt": start, "maxResults": max, "total": len(list), "comments": out})
}

func (s *Server) hAddComment(q *request) *response {
	in, r := parseCommentBody(q.body)
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermComment, "You do not have the permission to comment on this issue.")
	if r != nil {
		return r
	}
	cm, r := s.commentFromRequest(q, is, in)
	if r != nil {
		return r
	}
	s.mutateLocked(is, q.cred.Name, true, func(is *issue) error {
		is.comments = append(is.comments, cm)
		return nil
	})
	return ok(http.StatusCreated, s.renderComment(is, cm, s.viewerFor(q.cred), slices.Contains(q.list("expand"), "properties")))
}

func (s *Server) commentFor(q *request, perm Perm, denied string) (*issue, *comment, *response) {
	is, r := s.issueFor(q, perm, denied)
	if r != nil {
		return nil, nil, r
	}
	c := is.comment(q.params["id"])
	if c == nil || !commentVisible(s.viewerFor(q.cred), c) {
		return nil, nil, fail(http.StatusNotFound, fmt.Sprintf("Can not find a comment for the id: %s.", q.params["id"]))
	}
	return is, c, nil
}

func (s *Server) hGetComment(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, c, r := s.commentFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	return ok(http.StatusOK, s.renderComment(is, c, s.viewerFor(q.cred), slices.Contains(q.list("expand"), "properties")))
}

func (s *Server) hEditComment(q *request) *response {
	in, r := parseCommentBody(q.body)
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, c, r := s.commentFor(q, PermComment, "You do not have the permission to comment on this issue.")
	if r != nil {
		return r
	}
	if c.author != q.cred.Name && !q.cred.has(is.project, PermAdminProject) {
		return fail(http.StatusForbidden, "You do not have the permission to edit this comment.")
	}
	upd, r := s.commentFromRequest(q, is, in)
	if r != nil {
		return r
	}
	id := c.id
	s.mutateLocked(is, q.cred.Name, true, func(is *issue) error {
		c := is.comment(strconv.FormatInt(id, 10))
		c.body = upd.body
		c.visibility = upd.visibility
		c.updateAuthor = q.cred.Name
		c.updated = s.now()
		for k, v := range upd.props {
			c.props[k] = v
		}
		if _, ok := upd.props[SDPublicComment]; ok {
			c.jsdPublic = !internalByProperty(c.props)
		}
		return nil
	})
	c = is.comment(strconv.FormatInt(id, 10))
	return ok(http.StatusOK, s.renderComment(is, c, s.viewerFor(q.cred), slices.Contains(q.list("expand"), "properties")))
}

func (s *Server) hDeleteComment(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, c, r := s.commentFor(q, PermComment, "You do not have the permission to comment on this issue.")
	if r != nil {
		return r
	}
	if c.author != q.cred.Name && !q.cred.has(is.project, PermAdminProject) {
		return fail(http.StatusForbidden, "You do not have permission to delete this comment.")
	}
	s.removeCommentLocked(is, q.params["id"], q.cred.Name)
	return ok(http.StatusNoContent, nil)
}

// commentByID finds a live comment anywhere, for the comment property routes.
func (s *Server) commentByID(q *request) (*issue, *comment, *response) {
	id := q.params["commentId"]
	for _, iid := range s.issueOrder {
		is := s.issues[iid]
		if is == nil {
			continue
		}
		if c := is.comment(id); c != nil {
			if !s.canSee(q.cred, is) || !commentVisible(s.viewerFor(q.cred), c) {
				break
			}
			return is, c, nil
		}
	}
	return nil, nil, fail(http.StatusNotFound, fmt.Sprintf("Can not find a comment for the id: %s.", id))
}

func (s *Server) hCommentPropertyKeys(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, c, r := s.commentByID(q)
	if r != nil {
		return r
	}
	keys := []any{}
	for _, k := range sortedKeys(c.props) {
		keys = append(keys, map[string]any{"key": k, "self": s.self("/rest/api/2/comment/" + q.params["commentId"] + "/properties/" + k)})
	}
	return ok(http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) hCommentProperty(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, c, r := s.commentByID(q)
	if r != nil {
		return r
	}
	k := q.params["propertyKey"]
	v, found := c.props[k]
	if !found {
		return fail(http.StatusNotFound, fmt.Sprintf("The property with key '%s' does not exist.", k))
	}
	return ok(http.StatusOK, map[string]any{"key": k, "value": json.RawMessage(v)})
}

// ---- issue properties ----

func (s *Server) hPropertyKeys(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	keys := []any{}
	for _, k := range sortedKeys(is.props) {
		keys = append(keys, map[string]any{"key": k, "self": s.self(fmt.Sprintf("/rest/api/2/issue/%d/properties/%s", is.id, k))})
	}
	return ok(http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) hGetProperty(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermBrowse, "")
	if r != nil {
		return r
	}
	k := q.params["propertyKey"]
	v, found := is.props[k]
	if !found {
		return fail(http.StatusNotFound, fmt.Sprintf("The property with key '%s' does not exist.", k))
	}
	return ok(http.StatusOK, map[string]any{"key": k, "value": json.RawMessage(v)})
}

func (s *Server) hSetProperty(q *request) *response {
	k := q.params["propertyKey"]
	if r := checkPropertyKeyValue(k, q.body); r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermEdit, "You do not have permission to edit issues in this project.")
	if r != nil {
		return r
	}
	_, existed := is.props[k]
	// Properties are not fields: setting one moves neither updated nor the changelog.
	s.mutateLocked(is, q.cred.Name, false, func(is *issue) error {
		is.props[k] = json.RawMessage(canonical(q.body))
		return nil
	})
	if existed {
		return ok(http.StatusOK, nil)
	}
	return ok(http.StatusCreated, nil)
}

func (s *Server) hDeleteProperty(q *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, r := s.issueFor(q, PermEdit, "You do not have permission to edit issues in this project.")
	if r != nil {
		return r
	}
	k := q.params["propertyKey"]
	if _, found := is.props[k]; !found {
		return fail(http.StatusNotFound, fmt.Sprintf("The property with key '%s' does not exist.", k))
	}
	s.mutateLocked(is, q.cred.Name, false, func(is *issue) error {
		delete(is.props, k)
		return nil
	})
	return ok(http.StatusNoContent, nil)
}

// ---- workflow (Cloud) ----

// The fake's projects are company-managed, so their workflow is GLOBAL:
// "Bulk get workflows" (POST /workflows) returns it only to a site admin
// (Administer Jira), while "Preview workflow" (POST /workflows/preview)
// needs Administer projects or View (read-only) workflow on the project.

func (s *Server) workflowStatuses(preview bool) []any {
	sts := []any{}
	for _, st := range statuses {
		m := map[string]any{
			"id": st.id, "name": st.name, "description": "", "statusReference": st.id,
			"statusCategory": map[string]string{"new": "TODO", "indeterminate": "IN_PROGRESS", "done": "DONE"}[st.category.key],
			"scope":          map[string]any{"type": "GLOBAL"},
		}
		if preview {
			m["rawName"] = st.name
		}
		sts = append(sts, m)
	}
	return sts
}

func (s *Server) hReadWorkflows(q *request) *response {
	var req struct {
		ProjectAndIssueTypes []struct {
			ProjectID   string `json:"projectId"`
			IssueTypeID string `json:"issueTypeId"`
		} `json:"projectAndIssueTypes"`
		WorkflowIDs   []string `json:"workflowIds"`
		WorkflowNames []string `json:"workflowNames"`
	}
	if err := json.Unmarshal(q.body, &req); err != nil {
		return fail(http.StatusBadRequest, "Invalid request body")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var wanted []*project
	for _, pit := range req.ProjectAndIssueTypes {
		p := s.projectByIDOrKey(pit.ProjectID)
		if p == nil || !q.cred.has(p.key, PermBrowse) || issueTypeByName(pit.IssueTypeID) == nil {
			return fail(http.StatusBadRequest, fmt.Sprintf("The project/issue type pair %s/%s was not found.", pit.ProjectID, pit.IssueTypeID))
		}
		wanted = append(wanted, p)
	}
	for _, key := range s.projectOrder {
		p := s.projects[key]
		if slices.Contains(req.WorkflowIDs, workflowID(p)) || slices.Contains(req.WorkflowNames, workflowName(p)) {
			wanted = append(wanted, p)
		}
	}
	if len(wanted) > 0 && !q.cred.SiteAdmin {
		return fail(http.StatusForbidden, "You need the Administer Jira global permission to read global workflows; use the workflow preview with a project permission.")
	}
	wfs := []any{}
	seen := map[string]bool{}
	for _, p := range wanted {
		if !seen[p.key] {
			seen[p.key] = true
			wfs = append(wfs, s.renderWorkflow(p, nil))
		}
	}
	return ok(http.StatusOK, map[string]any{"statuses": s.workflowStatuses(false), "workflows": wfs})
}

func (s *Server) hPreviewWorkflows(q *request) *response {
	var req struct {
		ProjectID     string   `json:"projectId"`
		IssueTypeIDs  []string `json:"issueTypeIds"`
		WorkflowIDs   []string `json:"workflowIds"`
		WorkflowNames []string `json:"workflowNames"`
	}
	if err := json.Unmarshal(q.body, &req); err != nil {
		return fail(http.StatusBadRequest, "Invalid request body")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectByIDOrKey(req.ProjectID)
	if p == nil || !q.cred.has(p.key, PermBrowse) {
		return fail(http.StatusNotFound, fmt.Sprintf("No project could be found with id '%s'.", req.ProjectID))
	}
	if !q.cred.has(p.key, PermAdminProject) && !q.cred.has(p.key, PermViewWorkflow) {
		return fail(http.StatusForbidden, "You need the Administer projects or View (read-only) workflow permission on this project.")
	}
	if len(req.IssueTypeIDs)+len(req.WorkflowIDs)+len(req.WorkflowNames) == 0 {
		return fail(http.StatusBadRequest, "Specify at least one of workflowNames, workflowIds or issueTypeIds.")
	}
	for _, it := range req.IssueTypeIDs {
		if issueTypeByName(it) == nil {
			return fail(http.StatusBadRequest, fmt.Sprintf("The issue type %s was not found.", it))
		}
	}
	wfs := []any{}
	if len(req.IssueTypeIDs) > 0 || slices.Contains(req.WorkflowIDs, workflowID(p)) || slices.Contains(req.WorkflowNames, workflowName(p)) {
		types := req.IssueTypeIDs
		if len(types) == 0 {
			for _, t := range issueTypes {
				types = append(types, t.id)
			}
		}
		wfs = append(wfs, s.renderWorkflow(p, []any{map[string]any{"project": p.id, "issueTypes": types}}))
	}
	return ok(http.StatusOK, map[string]any{"statuses": s.workflowStatuses(true), "workflows": wfs})
}

func workflowID(p *project) string   { return fmt.Sprintf("f0a1c2d3-0000-4000-8000-%012s", p.id) }
func workflowName(p *project) string { return p.key + ": Software Simplified Workflow" }

// renderWorkflow is the workflow in the shape both workflow reads share
// (queryContext only in the preview).
func (s *Server) renderWorkflow(p *project, queryContext []any) any {
	var wsts []any
	for _, st := range statuses {
		wsts = append(wsts, map[string]any{"statusReference": st.id, "deprecated": false})
	}
	trs := []any{map[string]any{
		"id": "1", "name": "Create", "type": "INITIAL", "toStatusReference": statusByName(initialStatus).id,
		"links": []any{}, "actions": []any{}, "validators": []any{}, "triggers": []any{},
	}}
	for _, t := range transitions {
		m := map[string]any{
			"id": t.id, "name": t.name, "type": "DIRECTED", "description": "",
			"toStatusReference": statusByName(t.to).id,
			"links":             []any{map[string]any{"fromStatusReference": statusByName(t.from).id, "fromPort": 0, "toPort": 0}},
			"actions":           []any{}, "validators": []any{}, "triggers": []any{},
		}
		if t.needsResolution {
			m["transitionScreen"] = map[string]any{"ruleKey": "system:transition-screen", "parameters": map[string]string{"screenId": "10002"}}
			m["validators"] = []any{map[string]any{"ruleKey": "system:validate-field-value",
				"parameters": map[string]string{"ruleType": "fieldRequired", "fieldsRequired": "resolution"}}}
		}
		if t.clearResolution {
			m["actions"] = []any{map[string]any{"ruleKey": "system:update-field",
				"parameters": map[string]string{"field": "resolution", "value": ""}}}
		}
		trs = append(trs, m)
	}
	wf := map[string]any{
		"id": workflowID(p), "name": workflowName(p), "description": "The workflow every fake project uses.",
		"scope": map[string]any{"type": "GLOBAL"}, "statuses": wsts, "transitions": trs,
		"version": map[string]any{"id": workflowID(p), "versionNumber": 1},
	}
	if queryContext != nil {
		wf["queryContext"] = queryContext
	} else {
		wf["isEditable"] = true
	}
	return wf
}
