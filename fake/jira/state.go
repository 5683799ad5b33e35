package jira

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

type user struct {
	name        string
	dcKey       string // Data Center's user key, fixed at creation
	accountID   string
	displayName string
	email       string
	tz          string
}

type project struct {
	id         string
	key        string
	name       string
	nextNum    int
	versions   []*version
	components []component
}

type version struct {
	id          string
	name        string
	description string
	released    bool
	releaseDate string
}

type component struct {
	id   string
	name string
}

type issue struct {
	id          int64
	key         string
	oldKeys     []string
	project     string
	typ         string
	summary     string
	description string
	labels      []string
	components  []string
	fixVersions []string
	status      string
	resolution  string
	parentID    int64
	epicLink    string
	security    string
	dueDate     string
	assignee    string
	reporter    string
	creator     string
	priority    string
	custom      map[string]json.RawMessage
	created     time.Time
	updated     time.Time
	statusAt    time.Time
	resolvedAt  time.Time
	comments    []*comment
	props       map[string]json.RawMessage
	changelog   []changeEntry
}

type comment struct {
	id           int64
	author       string
	updateAuthor string
	body         string
	created      time.Time
	updated      time.Time
	jsdPublic    bool
	props        map[string]json.RawMessage
	visibility   *Visibility
}

// Visibility restricts a comment to a project role or a group.
type Visibility struct {
	Type  string `json:"type"` // "role" or "group"
	Value string `json:"value"`
}

type changeEntry struct {
	id      int64
	author  string
	created time.Time
	items   []changeItem
}

type changeItem struct {
	Field, FieldID, From, FromString, To, ToString string
	hasFrom, hasTo                                 bool
}

type snapshot struct {
	at time.Time
	is *issue // nil: deleted
}

func (is *issue) clone() *issue {
	c := *is
	c.oldKeys = slices.Clone(is.oldKeys)
	c.labels = slices.Clone(is.labels)
	c.components = slices.Clone(is.components)
	c.fixVersions = slices.Clone(is.fixVersions)
	c.custom = maps.Clone(is.custom)
	c.props = maps.Clone(is.props)
	c.changelog = slices.Clone(is.changelog)
	c.comments = make([]*comment, len(is.comments))
	for i, cm := range is.comments {
		cc := *cm
		cc.props = maps.Clone(cm.props)
		if cm.visibility != nil {
			v := *cm.visibility
			cc.visibility = &v
		}
		c.comments[i] = &cc
	}
	return &c
}

func (is *issue) comment(id string) *comment {
	for _, c := range is.comments {
		if strconv.FormatInt(c.id, 10) == id {
			return c
		}
	}
	return nil
}

func canonical(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func mustRaw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return json.RawMessage(canonical(b))
}

// userLocked returns (creating) the Jira user with this name.
func (s *Server) userLocked(name string) *user {
	if u, ok := s.users[name]; ok {
		return u
	}
	sum := sha256.Sum256([]byte("fake-jira-user:" + name))
	u := &user{
		name:        name,
		accountID:   "5f" + hex.EncodeToString(sum[:11]),
		displayName: name,
		email:       name + "@agency.example",
		tz:          s.opts.TimeZone,
		dcKey:       "JIRAUSER" + strconv.Itoa(10000+len(s.users)),
	}
	s.users[name] = u
	return u
}

// AddProject creates a project with the standard issue types, statuses and
// workflow. It returns the project id.
func (s *Server) AddProject(key, name string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.projects[key]; dup {
		s.t.Fatalf("fake/jira: project %s added twice", key)
	}
	p := &project{id: strconv.Itoa(10000 + len(s.projectOrder)), key: key, name: name, nextNum: 1}
	s.projects[key] = p
	s.projectOrder = append(s.projectOrder, key)
	return p.id
}

// AddVersion adds a version (fix version) to a project and returns its id.
func (s *Server) AddVersion(projectKey, name, releaseDate string, released bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(projectKey)
	v := &version{id: strconv.FormatInt(s.nextVersionID, 10), name: name, releaseDate: releaseDate, released: released}
	s.nextVersionID++
	p.versions = append(p.versions, v)
	return v.id
}

// AddComponent adds a component to a project and returns its id.
func (s *Server) AddComponent(projectKey, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(projectKey)
	c := component{id: strconv.FormatInt(s.nextVersionID, 10), name: name}
	s.nextVersionID++
	p.components = append(p.components, c)
	return c.id
}

func (s *Server) mustProject(key string) *project {
	p, ok := s.projects[key]
	if !ok {
		s.t.Fatalf("fake/jira: no project %s", key)
	}
	return p
}

func (s *Server) projectByIDOrKey(v string) *project {
	if p, ok := s.projects[v]; ok {
		return p
	}
	for _, p := range s.projects {
		if p.id == v || strings.EqualFold(p.key, v) {
			return p
		}
	}
	return nil
}

func (p *project) version(idOrName string) *version {
	for _, v := range p.versions {
		if v.id == idOrName || v.name == idOrName {
			return v
		}
	}
	return nil
}

func (p *project) component(idOrName string) *component {
	for i := range p.components {
		if p.components[i].id == idOrName || p.components[i].name == idOrName {
			return &p.components[i]
		}
	}
	return nil
}

func (s *Server) securityLevelID(name string) string {
	if id, ok := s.securityLevels[name]; ok {
		return id
	}
	id := strconv.Itoa(10100 + len(s.securityLevels))
	s.securityLevels[name] = id
	return id
}

// lookupIDLocked resolves an issue id or key (current or former, live or
// deleted) to its id.
func (s *Server) lookupIDLocked(idOrKey string) (int64, bool) {
	if idOrKey == "" {
		return 0, false
	}
	if id, ok := s.keys[strings.ToUpper(idOrKey)]; ok {
		return id, true
	}
	if id, err := strconv.ParseInt(idOrKey, 10, 64); err == nil {
		if _, live := s.issues[id]; live {
			return id, true
		}
		if _, dead := s.tombstones[id]; dead {
			return id, true
		}
	}
	return 0, false
}

func (s *Server) liveIssue(idOrKey string) *issue {
	id, ok := s.lookupIDLocked(idOrKey)
	if !ok {
		return nil
	}
	return s.issues[id]
}

// Fields is an issue's content as the agency sets it.
type Fields struct {
	Type        string // issue type name: Epic, Story, Task (default), Bug, Sub-task
	Summary     string
	Description string // Jira wiki markup
	Labels      []string
	Components  []string // names (created in the project on demand)
	FixVersions []string // names (created in the project on demand)
	// Status and Resolution are set directly, ignoring the workflow (the
	// agency's own Jira has its own ways); default "To Do".
	Status     string
	Resolution string
	Parent     string // parent issue key (sub-task, or child of an epic)
	EpicLink   string // key in the Epic Link field (company-managed projects)
	Security   string // issue security level name
	DueDate    string // yyyy-mm-dd
	Assignee   string // user name
	Reporter   string // user name (default "pm-anna")
	Priority   string // default Medium
	// Custom holds custom field values by field id (customfield_NNNNN), as
	// their JSON values.
	Custom map[string]any
}

// CreateIssue creates an issue as the agency and returns its key.
func (s *Server) CreateIssue(projectKey string, f Fields) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(projectKey)
	if f.Reporter == "" {
		f.Reporter = "pm-anna"
	}
	is := s.newIssueLocked(p, f.Reporter)
	if err := s.applyFields(is, p, f); err != nil {
		s.t.Fatalf("fake/jira: CreateIssue: %v", err)
	}
	s.commitCreateLocked(is, f.Reporter)
	return is.key
}

func (s *Server) newIssueLocked(p *project, creator string) *issue {
	now := s.now()
	is := &issue{
		id:       s.nextIssueID,
		key:      fmt.Sprintf("%s-%d", p.key, p.nextNum),
		project:  p.key,
		typ:      "Task",
		status:   initialStatus,
		priority: "Medium",
		reporter: creator,
		creator:  creator,
		created:  now,
		updated:  now,
		statusAt: now,
		custom:   map[string]json.RawMessage{},
		props:    map[string]json.RawMessage{},
	}
	s.nextIssueID++
	p.nextNum++
	return is
}

func (s *Server) commitCreateLocked(is *issue, actor string) {
	s.issues[is.id] = is
	s.keys[is.key] = is.id
	s.issueOrder = append(s.issueOrder, is.id)
	empty := &issue{}
	items := diffIssues(s, empty, is)
	s.addChangeLocked(is, actor, items)
	s.snapshotLocked(is)
}

func (s *Server) applyFields(is *issue, p *project, f Fields) error {
	if f.Type != "" {
		if issueTypeByName(f.Type) == nil {
			return fmt.Errorf("unknown issue type %q", f.Type)
		}
		is.typ = issueTypeByName(f.Type).name
	}
	is.summary = f.Summary
	is.description = f.Description
	is.labels = slices.Clone(f.Labels)
	is.components = nil
	for _, c := range f.Components {
		if p.component(c) == nil {
			p.components = append(p.components, component{id: strconv.FormatInt(s.nextVersionID, 10), name: c})
			s.nextVersionID++
		}
		is.components = append(is.components, p.component(c).name)
	}
	is.fixVersions = nil
	for _, v := range f.FixVersions {
		if p.version(v) == nil {
			p.versions = append(p.versions, &version{id: strconv.FormatInt(s.nextVersionID, 10), name: v})
			s.nextVersionID++
		}
		is.fixVersions = append(is.fixVersions, p.version(v).name)
	}
	if f.Status != "" {
		st := statusByName(f.Status)
		if st == nil {
			return fmt.Errorf("unknown status %q", f.Status)
		}
		if st.name != is.status {
			is.statusAt = s.now()
		}
		is.status = st.name
	}
	if f.Resolution != "" {
		r := resolutionByName(f.Resolution)
		if r == nil {
			return fmt.Errorf("unknown resolution %q", f.Resolution)
		}
		if is.resolution == "" {
			is.resolvedAt = s.now()
		}
		is.resolution = r.name
	} else {
		is.resolution = ""
		is.resolvedAt = time.Time{}
	}
	is.parentID = 0
	if f.Parent != "" {
		par := s.liveIssue(f.Parent)
		if par == nil {
			return fmt.Errorf("parent %s does not exist", f.Parent)
		}
		is.parentID = par.id
	}
	is.epicLink = f.EpicLink
	is.security = f.Security
	if f.Security != "" {
		s.securityLevelID(f.Security)
	}
	is.dueDate = f.DueDate
	is.assignee = f.Assignee
	if f.Reporter != "" {
		is.reporter = f.Reporter
	}
	if f.Priority != "" {
		is.priority = f.Priority
	}
	for _, n := range []string{is.assignee, is.reporter} {
		if n != "" {
			s.userLocked(n)
		}
	}
	is.custom = map[string]json.RawMessage{}
	for k, v := range f.Custom {
		if fieldByID(k) == nil {
			return fmt.Errorf("unknown custom field %q", k)
		}
		is.custom[k] = mustRaw(v)
	}
	return nil
}

func (s *Server) fieldsOf(is *issue) Fields {
	f := Fields{
		Type: is.typ, Summary: is.summary, Description: is.description,
		Labels: slices.Clone(is.labels), Components: slices.Clone(is.components), FixVersions: slices.Clone(is.fixVersions),
		Status: is.status, Resolution: is.resolution, EpicLink: is.epicLink, Security: is.security,
		DueDate: is.dueDate, Assignee: is.assignee, Reporter: is.reporter, Priority: is.priority,
	}
	if par := s.issueByID(is.parentID); par != nil {
		f.Parent = par.key
	}
	if len(is.custom) > 0 {
		f.Custom = map[string]any{}
		for k, v := range is.custom {
			var x any
			json.Unmarshal(v, &x)
			f.Custom[k] = x
		}
	}
	return f
}

func (s *Server) issueByID(id int64) *issue {
	if id == 0 {
		return nil
	}
	if is, ok := s.issues[id]; ok {
		return is
	}
	return s.tombstones[id]
}

// UpdateIssue edits an issue as the agency: fn gets the current fields and
// changes them. The issue's updated time moves to now (if anything changed)
// and the change lands in its changelog.
func (s *Server) UpdateIssue(key string, fn func(f *Fields)) {
	s.UpdateIssueAs(key, "pm-anna", fn)
}

// UpdateIssueAs is UpdateIssue by a named user.
func (s *Server) UpdateIssueAs(key, actor string, fn func(f *Fields)) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil {
		s.t.Fatalf("fake/jira: UpdateIssue: no issue %s", key)
	}
	f := s.fieldsOf(is)
	fn(&f)
	err := s.mutateLocked(is, actor, true, func(is *issue) error {
		return s.applyFields(is, s.projects[is.project], f)
	})
	if err != nil {
		s.t.Fatalf("fake/jira: UpdateIssue %s: %v", key, err)
	}
}

// mutateLocked applies fn to an issue; on error the issue is left as it was.
// Changes land in the changelog; updated moves when bump is set and
// something changed; search sees the change after the index lag.
func (s *Server) mutateLocked(is *issue, actor string, bump bool, fn func(is *issue) error) error {
	before := is.clone()
	if err := fn(is); err != nil {
		*is = *before
		return err
	}
	items := diffIssues(s, before, is)
	if len(items) > 0 {
		s.addChangeLocked(is, actor, items)
	}
	if bump && (len(items) > 0 || !sameComments(before, is)) {
		is.updated = s.now()
	}
	if statusByName(before.status).category != statusByName(is.status).category {
		is.statusAt = s.now()
	}
	s.snapshotLocked(is)
	return nil
}

func sameComments(a, b *issue) bool {
	if len(a.comments) != len(b.comments) {
		return false
	}
	for i := range a.comments {
		x, y := a.comments[i], b.comments[i]
		if x.id != y.id || x.body != y.body || x.updated != y.updated {
			return false
		}
	}
	return true
}

func (s *Server) addChangeLocked(is *issue, actor string, items []changeItem) {
	if len(items) == 0 {
		return
	}
	is.changelog = append(is.changelog, changeEntry{id: s.nextChangeID, author: actor, created: s.now(), items: items})
	s.nextChangeID++
	s.userLocked(actor)
}

func (s *Server) snapshotLocked(is *issue) {
	s.index[is.id] = append(s.index[is.id], snapshot{at: s.now(), is: is.clone()})
}

// DeleteIssue deletes an issue (and its sub-tasks) as the agency.
func (s *Server) DeleteIssue(key string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil {
		s.t.Fatalf("fake/jira: DeleteIssue: no issue %s", key)
	}
	s.deleteLocked(is, "pm-anna")
}

func (s *Server) deleteLocked(is *issue, actor string) {
	for _, sub := range s.subtasksLocked(is.id) {
		s.deleteLocked(sub, actor)
	}
	s.deletedBy[is.id] = actor
	delete(s.issues, is.id)
	s.tombstones[is.id] = is.clone()
	s.index[is.id] = append(s.index[is.id], snapshot{at: s.now(), is: nil})
}

func (s *Server) subtasksLocked(id int64) []*issue {
	var out []*issue
	for _, oid := range s.issueOrder {
		if is, ok := s.issues[oid]; ok && is.parentID == id && issueTypeByName(is.typ).subtask {
			out = append(out, is)
		}
	}
	return out
}

// MoveIssue moves an issue to another project as the agency: the id stays,
// the key changes (the old key still finds it), the status goes back to
// the initial one unless it exists in both (it always does here).
func (s *Server) MoveIssue(key, toProject string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil {
		s.t.Fatalf("fake/jira: MoveIssue: no issue %s", key)
	}
	p := s.mustProject(toProject)
	newKey := fmt.Sprintf("%s-%d", p.key, p.nextNum)
	p.nextNum++
	s.mutateLocked(is, "pm-anna", true, func(is *issue) error {
		is.oldKeys = append(is.oldKeys, is.key)
		is.key = newKey
		is.project = p.key
		// versions and components belong to the old project
		is.fixVersions, is.components = nil, nil
		return nil
	})
	s.keys[newKey] = is.id
	return newKey
}

// SetProperty sets an issue property as the agency.
func (s *Server) SetProperty(key, prop string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil {
		s.t.Fatalf("fake/jira: SetProperty: no issue %s", key)
	}
	s.mutateLocked(is, "pm-anna", false, func(is *issue) error {
		is.props[prop] = mustRaw(value)
		return nil
	})
}

// Comment is a comment as the agency writes it.
type Comment struct {
	Author string // user name (default "pm-anna")
	Body   string // wiki markup
	// JSDPublic is Cloud's jsdPublic (JSM: false for an internal comment).
	// Nil: true unless Properties marks the comment internal.
	JSDPublic *bool
	// Properties are comment properties, e.g. "sd.public.comment":
	// {"internal": true} (see SDInternal).
	Properties map[string]any
	Visibility *Visibility
}

// The comment variants the agency writes.
func PublicComment(author, body string) Comment { return Comment{Author: author, Body: body} }

// JSMInternalComment is an internal JSM comment as JSM Cloud stores it:
// jsdPublic false and sd.public.comment {"internal": true}.
func JSMInternalComment(author, body string) Comment {
	f := false
	return Comment{Author: author, Body: body, JSDPublic: &f, Properties: map[string]any{SDPublicComment: map[string]any{"internal": true}}}
}

// JSDPrivateComment has jsdPublic false and no property (what a reader of
// the comment bean alone sees on Cloud).
func JSDPrivateComment(author, body string) Comment {
	f := false
	return Comment{Author: author, Body: body, JSDPublic: &f}
}

// SDInternalComment carries only the sd.public.comment property (what Data
// Center JSM stores; jsdPublic stays true on Cloud).
func SDInternalComment(author, body string) Comment {
	t := true
	return Comment{Author: author, Body: body, JSDPublic: &t, Properties: map[string]any{SDPublicComment: map[string]any{"internal": true}}}
}

// RoleComment is restricted to a project role, GroupComment to a group.
func RoleComment(author, body, role string) Comment {
	return Comment{Author: author, Body: body, Visibility: &Visibility{Type: "role", Value: role}}
}

func GroupComment(author, body, group string) Comment {
	return Comment{Author: author, Body: body, Visibility: &Visibility{Type: "group", Value: group}}
}

// SDPublicComment is JSM's comment property key for internal comments.
const SDPublicComment = "sd.public.comment"

// AddComment adds a comment as the agency and returns its id.
func (s *Server) AddComment(key string, c Comment) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil {
		s.t.Fatalf("fake/jira: AddComment: no issue %s", key)
	}
	if c.Author == "" {
		c.Author = "pm-anna"
	}
	s.userLocked(c.Author)
	props := map[string]json.RawMessage{}
	for k, v := range c.Properties {
		props[k] = mustRaw(v)
	}
	pub := !internalByProperty(props)
	if c.JSDPublic != nil {
		pub = *c.JSDPublic
	}
	cm := s.newCommentLocked(c.Author, c.Body, pub, props, c.Visibility)
	s.mutateLocked(is, c.Author, true, func(is *issue) error {
		is.comments = append(is.comments, cm)
		return nil
	})
	return strconv.FormatInt(cm.id, 10)
}

func internalByProperty(props map[string]json.RawMessage) bool {
	raw, ok := props[SDPublicComment]
	if !ok {
		return false
	}
	var v struct {
		Internal bool `json:"internal"`
	}
	return json.Unmarshal(raw, &v) == nil && v.Internal
}

func (s *Server) newCommentLocked(author, body string, pub bool, props map[string]json.RawMessage, vis *Visibility) *comment {
	now := s.now()
	cm := &comment{
		id: s.nextCommentID, author: author, updateAuthor: author, body: body,
		created: now, updated: now, jsdPublic: pub, props: props,
	}
	if vis != nil {
		v := *vis
		cm.visibility = &v
	}
	s.nextCommentID++
	return cm
}

// EditComment changes a comment's body as the agency.
func (s *Server) EditComment(key, id, body string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil || is.comment(id) == nil {
		s.t.Fatalf("fake/jira: EditComment: no comment %s on %s", id, key)
	}
	s.mutateLocked(is, is.comment(id).author, true, func(is *issue) error {
		c := is.comment(id)
		c.body = body
		c.updated = s.now()
		return nil
	})
}

// DeleteComment deletes a comment as the agency. Its last state is kept for
// the comment_deleted webhook.
func (s *Server) DeleteComment(key, id string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.liveIssue(key)
	if is == nil || is.comment(id) == nil {
		s.t.Fatalf("fake/jira: DeleteComment: no comment %s on %s", id, key)
	}
	s.removeCommentLocked(is, id, "pm-anna")
}

func (s *Server) removeCommentLocked(is *issue, id, actor string) {
	s.mutateLocked(is, actor, true, func(is *issue) error {
		i := slices.IndexFunc(is.comments, func(c *comment) bool { return strconv.FormatInt(c.id, 10) == id })
		s.deletedComments = append(s.deletedComments, deletedComment{issueID: is.id, c: *is.comments[i]})
		is.comments = slices.Delete(is.comments, i, i+1)
		return nil
	})
}

type deletedComment struct {
	issueID int64
	c       comment
}

// diffIssues lists the changelog items between two states of an issue.
func diffIssues(s *Server, a, b *issue) []changeItem {
	var items []changeItem
	str := func(field, id, from, to string) {
		if from != to {
			items = append(items, changeItem{Field: field, FieldID: id, FromString: from, ToString: to, hasFrom: from != "", hasTo: to != ""})
		}
	}
	idStr := func(field, id, from, fromID, to, toID string) {
		if from != to {
			items = append(items, changeItem{Field: field, FieldID: id, From: fromID, FromString: from, To: toID, ToString: to,
				hasFrom: from != "", hasTo: to != ""})
		}
	}
	str("summary", "summary", a.summary, b.summary)
	str("description", "description", a.description, b.description)
	str("labels", "labels", strings.Join(a.labels, " "), strings.Join(b.labels, " "))
	str("Component", "components", strings.Join(a.components, ", "), strings.Join(b.components, ", "))
	str("Fix Version", "fixVersions", strings.Join(a.fixVersions, ", "), strings.Join(b.fixVersions, ", "))
	if a.typ != b.typ {
		var fa string
		if t := issueTypeByName(a.typ); t != nil {
			fa = t.id
		}
		idStr("issuetype", "issuetype", a.typ, fa, b.typ, issueTypeByName(b.typ).id)
	}
	if a.status != b.status {
		var fa string
		if st := statusByName(a.status); st != nil {
			fa = st.id
		}
		idStr("status", "status", a.status, fa, b.status, statusByName(b.status).id)
	}
	if a.resolution != b.resolution {
		var fa, fb string
		if r := resolutionByName(a.resolution); r != nil {
			fa = r.id
		}
		if r := resolutionByName(b.resolution); r != nil {
			fb = r.id
		}
		idStr("resolution", "resolution", a.resolution, fa, b.resolution, fb)
	}
	str("duedate", "duedate", a.dueDate, b.dueDate)
	str("assignee", "assignee", a.assignee, b.assignee)
	str("security", "security", a.security, b.security)
	str("Epic Link", EpicLinkField, a.epicLink, b.epicLink)
	if a.project != b.project {
		str("Key", "key", a.key, b.key)
		str("project", "project", a.project, b.project)
	}
	if a.parentID != b.parentID {
		var fa, fb string
		if p := s.issueByID(a.parentID); p != nil {
			fa = p.key
		}
		if p := s.issueByID(b.parentID); p != nil {
			fb = p.key
		}
		str("Parent", "parent", fa, fb)
	}
	keys := slices.Sorted(maps.Keys(b.custom))
	for k := range a.custom {
		if _, ok := b.custom[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !bytes.Equal(a.custom[k], b.custom[k]) {
			name := k
			if f := fieldByID(k); f != nil {
				name = f.name
			}
			str(name, k, string(a.custom[k]), string(b.custom[k]))
		}
	}
	return items
}
