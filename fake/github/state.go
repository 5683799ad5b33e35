package github

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Access is what a token may do in one repository.
type Access int

const (
	// AccessNone: the repository answers 404, as GitHub does for a private
	// repository the token cannot see.
	AccessNone Access = iota
	// AccessRead: read, open issues and comment (the "read" role); labels,
	// milestone and assignees on issue create/update are silently dropped,
	// and the label endpoints answer 403.
	AccessRead
	// AccessPush: everything an issue mirror needs (the "write" role).
	AccessPush
	// AccessAdmin: AccessPush plus deleting issues (GraphQL deleteIssue).
	AccessAdmin
)

func (a Access) String() string {
	return [...]string{"none", "read", "push", "admin"}[a]
}

// Issue is one issue or pull request. The agency-side API hands out copies;
// EditIssue's callback gets the live value.
type Issue struct {
	ID          int64
	NodeID      string
	Repo        string // owner/name
	Number      int
	Title       string
	Body        string
	State       string // open | closed
	StateReason string // "", completed, not_planned, duplicate, reopened
	Labels      []string
	Milestone   int // milestone number, 0 for none
	Assignees   []string
	User        string // login of the creator
	PullRequest bool
	ParentID    int64 // the parent's issue ID for a sub-issue, 0 for none
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time // zero while open
	Comments    []*Comment
}

// Comment is one issue comment.
type Comment struct {
	ID        int64
	NodeID    string
	User      string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Label is a repository label.
type Label struct {
	ID          int64
	NodeID      string
	Name        string
	Color       string
	Description string
}

// Milestone is a repository milestone.
type Milestone struct {
	ID          int64
	NodeID      string
	Number      int
	Title       string
	Description string
	State       string    // open | closed
	DueOn       time.Time // zero for none
	Creator     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
}

type repo struct {
	id          int64
	nodeID      string
	owner, name string
	createdAt   time.Time
	issues      map[int]*Issue // by number, deleted and moved ones excluded
	gone        map[int]tombstone
	nextNumber  int
	labels      []*Label
	milestones  map[int]*Milestone
	nextMile    int
}

func (r *repo) full() string { return r.owner + "/" + r.name }

// tombstone is what is left at an issue number after a delete or transfer.
type tombstone struct {
	deleted bool
	issue   *Issue // the issue as it was when deleted, or its new home
}

func (r *repo) label(name string) *Label {
	for _, l := range r.labels {
		if strings.EqualFold(l.Name, name) {
			return l
		}
	}
	return nil
}

func (s *Server) repoLocked(full string) *repo {
	return s.repos[strings.ToLower(full)]
}

func (s *Server) mustRepo(full string) *repo {
	r := s.repoLocked(full)
	if r == nil {
		panic(fmt.Sprintf("fake/github: no repository %s (AddRepo first)", full))
	}
	return r
}

func nodeID(prefix string, id int64) string {
	return prefix + "_" + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("fake:%s:%d", prefix, id)))
}

func (s *Server) userID(login string) int64 {
	if id, ok := s.users[login]; ok {
		return id
	}
	s.nextID++
	s.users[login] = 100000 + s.nextID
	return s.users[login]
}

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

// AddRepo creates an empty repository "owner/name".
func (s *Server) AddRepo(full string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		panic("fake/github: repository name must be owner/name, got " + full)
	}
	if s.repoLocked(full) != nil {
		panic("fake/github: repository exists: " + full)
	}
	id := s.newID()
	s.repos[strings.ToLower(full)] = &repo{
		id: id, nodeID: nodeID("R", id), owner: owner, name: name, createdAt: s.now(),
		issues: map[int]*Issue{}, gone: map[int]tombstone{}, nextNumber: 1,
		milestones: map[int]*Milestone{}, nextMile: 1,
	}
	s.repoOrder = append(s.repoOrder, strings.ToLower(full))
}

// AddToken registers a token acting as login. A token sees no repository
// until SetAccess.
func (s *Server) AddToken(token, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = login
	s.userID(login)
}

// SetAccess sets what token may do in repository full.
func (s *Server) SetAccess(token, full string, a Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[token]; !ok {
		panic("fake/github: unknown token (AddToken first)")
	}
	s.mustRepo(full)
	s.access[accessKey{token, strings.ToLower(full)}] = a
}

// LoseAccess is SetAccess(token, full, AccessNone): the repository then
// answers 404 to that token, as GitHub does.
func (s *Server) LoseAccess(token, full string) { s.SetAccess(token, full, AccessNone) }

func (s *Server) accessOf(token, full string) Access {
	return s.access[accessKey{token, strings.ToLower(full)}]
}

// NewIssue describes an issue the agency creates directly in state.
type NewIssue struct {
	Title, Body string
	User        string // creator login; default "agency-pm"
	Labels      []string
	Milestone   int
	Assignees   []string
	State       string // default open
	StateReason string
	PullRequest bool
	Parent      int // number of the parent issue in the same repository
}

// CreateIssue adds an issue (or a pull request) and returns a copy of it.
// Labels that do not exist are created, as GitHub does.
func (s *Server) CreateIssue(full string, in NewIssue) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	if in.User == "" {
		in.User = "agency-pm"
	}
	is := s.createIssueLocked(r, in.User, in.Title, in.Body)
	is.PullRequest = in.PullRequest
	is.Labels = s.labelNamesLocked(r, in.Labels, true)
	if in.Milestone != 0 {
		if r.milestones[in.Milestone] == nil {
			panic(fmt.Sprintf("fake/github: %s has no milestone %d", full, in.Milestone))
		}
		is.Milestone = in.Milestone
	}
	is.Assignees = slices.Clone(in.Assignees)
	if in.State != "" {
		is.State = in.State
		is.StateReason = in.StateReason
	}
	if in.Parent != 0 {
		p := r.issues[in.Parent]
		if p == nil {
			panic(fmt.Sprintf("fake/github: %s has no issue %d", full, in.Parent))
		}
		is.ParentID = p.ID
	}
	s.normalizeLocked(is)
	return copyIssue(is)
}

func (s *Server) createIssueLocked(r *repo, user, title, body string) *Issue {
	id := s.newID()
	now := s.now()
	is := &Issue{
		ID: id, NodeID: nodeID("I", id), Repo: r.full(), Number: r.nextNumber,
		Title: title, Body: body, State: "open", User: user,
		CreatedAt: now, UpdatedAt: now,
	}
	s.userID(user)
	r.nextNumber++
	r.issues[is.Number] = is
	s.byID[id] = is
	return is
}

// normalizeLocked keeps derived fields consistent after any change.
func (s *Server) normalizeLocked(is *Issue) {
	if is.State == "closed" && is.ClosedAt.IsZero() {
		is.ClosedAt = s.now()
		if is.StateReason == "" {
			is.StateReason = "completed"
		}
	}
	if is.State == "open" {
		if !is.ClosedAt.IsZero() {
			is.StateReason = "reopened"
		}
		is.ClosedAt = time.Time{}
	}
}

// labelNamesLocked resolves names case-insensitively to the repository's
// labels, creating missing ones when create is set, and dedupes.
func (s *Server) labelNamesLocked(r *repo, names []string, create bool) []string {
	var out []string
	for _, n := range names {
		l := r.label(n)
		if l == nil {
			if !create {
				continue
			}
			l = s.addLabelLocked(r, n, "ededed", "")
		}
		if !slices.Contains(out, l.Name) {
			out = append(out, l.Name)
		}
	}
	return out
}

func (s *Server) addLabelLocked(r *repo, name, color, desc string) *Label {
	id := s.newID()
	l := &Label{ID: id, NodeID: nodeID("LA", id), Name: name, Color: color, Description: desc}
	r.labels = append(r.labels, l)
	return l
}

// EditIssue changes an issue in place and bumps its updated_at. Labels set by
// the callback are resolved (and created) like GitHub does; closing sets
// closed_at.
func (s *Server) EditIssue(full string, number int, edit func(*Issue)) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	is := r.issues[number]
	if is == nil {
		panic(fmt.Sprintf("fake/github: %s has no issue %d", full, number))
	}
	edit(is)
	is.Labels = s.labelNamesLocked(r, is.Labels, true)
	s.normalizeLocked(is)
	is.UpdatedAt = s.now()
	return copyIssue(is)
}

// SetParent makes child a sub-issue of parent (0 removes the link). Both are
// numbers in repository full; the child's updated_at is bumped.
func (s *Server) SetParent(full string, child, parent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	c := r.issues[child]
	if c == nil {
		panic(fmt.Sprintf("fake/github: %s has no issue %d", full, child))
	}
	c.ParentID = 0
	if parent != 0 {
		p := r.issues[parent]
		if p == nil {
			panic(fmt.Sprintf("fake/github: %s has no issue %d", full, parent))
		}
		c.ParentID = p.ID
		p.UpdatedAt = s.now()
	}
	c.UpdatedAt = s.now()
}

// DeleteIssue deletes an issue: its number then answers 410 Gone.
func (s *Server) DeleteIssue(full string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	if r.issues[number] == nil {
		panic(fmt.Sprintf("fake/github: %s has no issue %d", full, number))
	}
	s.deleteIssueLocked(r, r.issues[number])
}

func (s *Server) deleteIssueLocked(r *repo, is *Issue) {
	delete(r.issues, is.Number)
	delete(s.byID, is.ID)
	for _, c := range is.Comments {
		delete(s.comments, c.ID)
	}
	r.gone[is.Number] = tombstone{deleted: true, issue: is}
}

// TransferIssue moves an issue to repository to, where it gets the next
// number; the old location answers 301 to the new one. The issue keeps its
// ID and node ID (the record moves), its comments come along, and labels and
// milestone are dropped unless the target has them (labels by name; GitHub
// keeps matching labels, milestones are dropped). Returns the new number.
func (s *Server) TransferIssue(full string, number int, to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	dst := s.mustRepo(to)
	is := r.issues[number]
	if is == nil {
		panic(fmt.Sprintf("fake/github: %s has no issue %d", full, number))
	}
	delete(r.issues, number)
	r.gone[number] = tombstone{issue: is}
	is.Repo = dst.full()
	is.Number = dst.nextNumber
	dst.nextNumber++
	dst.issues[is.Number] = is
	is.Labels = s.labelNamesLocked(dst, is.Labels, false)
	is.Milestone = 0
	is.ParentID = 0
	is.UpdatedAt = s.now()
	return is.Number
}

// AddComment adds a comment by user and bumps the issue's updated_at.
func (s *Server) AddComment(full string, number int, user, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	is := r.issues[number]
	if is == nil {
		panic(fmt.Sprintf("fake/github: %s has no issue %d", full, number))
	}
	return *s.addCommentLocked(is, user, body)
}

func (s *Server) addCommentLocked(is *Issue, user, body string) *Comment {
	id := s.newID()
	now := s.now()
	c := &Comment{ID: id, NodeID: nodeID("IC", id), User: user, Body: body, CreatedAt: now, UpdatedAt: now}
	s.userID(user)
	is.Comments = append(is.Comments, c)
	is.UpdatedAt = now
	s.comments[id] = is
	return c
}

// EditComment changes a comment's body; the comment's and the issue's
// updated_at are bumped.
func (s *Server) EditComment(id int64, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, c := s.commentLocked(id)
	if c == nil {
		panic(fmt.Sprintf("fake/github: no comment %d", id))
	}
	c.Body = body
	c.UpdatedAt = s.now()
	is.UpdatedAt = s.now()
}

// DeleteComment removes a comment and bumps the issue's updated_at.
func (s *Server) DeleteComment(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, c := s.commentLocked(id)
	if c == nil {
		panic(fmt.Sprintf("fake/github: no comment %d", id))
	}
	s.deleteCommentLocked(is, c)
}

func (s *Server) deleteCommentLocked(is *Issue, c *Comment) {
	s.deadComments[c.ID] = *c
	is.Comments = slices.DeleteFunc(is.Comments, func(x *Comment) bool { return x == c })
	delete(s.comments, c.ID)
	is.UpdatedAt = s.now()
}

func (s *Server) commentLocked(id int64) (*Issue, *Comment) {
	is := s.comments[id]
	if is == nil {
		return nil, nil
	}
	for _, c := range is.Comments {
		if c.ID == id {
			return is, c
		}
	}
	return nil, nil
}

// CreateLabel adds a repository label (color without '#').
func (s *Server) CreateLabel(full, name, color, description string) Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	if r.label(name) != nil {
		panic("fake/github: label exists: " + name)
	}
	return *s.addLabelLocked(r, name, color, description)
}

// EditLabel changes a label in place; a rename carries over to the issues
// that have it (their updated_at is not bumped: GitHub does not either).
func (s *Server) EditLabel(full, name string, edit func(*Label)) Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	l := r.label(name)
	if l == nil {
		panic(fmt.Sprintf("fake/github: %s has no label %q", full, name))
	}
	old := l.Name
	edit(l)
	if l.Name != old {
		for _, is := range r.issues {
			if i := slices.Index(is.Labels, old); i >= 0 {
				is.Labels[i] = l.Name
			}
		}
	}
	return *l
}

// DeleteLabel removes a label from the repository and from every issue
// carrying it (those issues' updated_at is bumped).
func (s *Server) DeleteLabel(full, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLabelLocked(s.mustRepo(full), name)
}

func (s *Server) deleteLabelLocked(r *repo, name string) bool {
	l := r.label(name)
	if l == nil {
		return false
	}
	r.labels = slices.DeleteFunc(r.labels, func(x *Label) bool { return x == l })
	s.deadLabels[strings.ToLower(r.full()+"\x00"+l.Name)] = *l
	for _, is := range r.issues {
		if i := slices.Index(is.Labels, l.Name); i >= 0 {
			is.Labels = slices.Delete(is.Labels, i, i+1)
			is.UpdatedAt = s.now()
		}
	}
	return true
}

// NewMilestone describes a milestone the agency creates.
type NewMilestone struct {
	Title, Description string
	State              string // default open
	DueOn              time.Time
	Creator            string // default "agency-pm"
}

// CreateMilestone adds a milestone and returns it (with its number).
func (s *Server) CreateMilestone(full string, in NewMilestone) Milestone {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	if in.Creator == "" {
		in.Creator = "agency-pm"
	}
	m := s.addMilestoneLocked(r, in.Creator, in.Title)
	m.Description, m.DueOn = in.Description, in.DueOn
	if in.State == "closed" {
		m.State, m.ClosedAt = "closed", s.now()
	}
	return *m
}

func (s *Server) addMilestoneLocked(r *repo, creator, title string) *Milestone {
	id := s.newID()
	now := s.now()
	m := &Milestone{ID: id, NodeID: nodeID("MI", id), Number: r.nextMile, Title: title, State: "open",
		Creator: creator, CreatedAt: now, UpdatedAt: now}
	s.userID(creator)
	r.nextMile++
	r.milestones[m.Number] = m
	return m
}

// EditMilestone changes a milestone in place and bumps its updated_at.
func (s *Server) EditMilestone(full string, number int, edit func(*Milestone)) Milestone {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mustRepo(full).milestones[number]
	if m == nil {
		panic(fmt.Sprintf("fake/github: %s has no milestone %d", full, number))
	}
	edit(m)
	s.normalizeMilestoneLocked(m)
	m.UpdatedAt = s.now()
	return *m
}

func (s *Server) normalizeMilestoneLocked(m *Milestone) {
	switch {
	case m.State == "closed" && m.ClosedAt.IsZero():
		m.ClosedAt = s.now()
	case m.State == "open":
		m.ClosedAt = time.Time{}
	}
}

// DeleteMilestone removes a milestone; its issues lose it (and are bumped).
func (s *Server) DeleteMilestone(full string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteMilestoneLocked(s.mustRepo(full), number)
}

func (s *Server) deleteMilestoneLocked(r *repo, number int) {
	if m := r.milestones[number]; m != nil {
		s.deadMilestones[fmt.Sprintf("%s#%d", strings.ToLower(r.full()), number)] = *m
	}
	delete(r.milestones, number)
	for _, is := range r.issues {
		if is.Milestone == number {
			is.Milestone = 0
			is.UpdatedAt = s.now()
		}
	}
}

// Issue returns a copy of an issue, false when the number holds none (also
// after a delete or transfer).
func (s *Server) Issue(full string, number int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.mustRepo(full).issues[number]
	if is == nil {
		return Issue{}, false
	}
	return copyIssue(is), true
}

// Issues returns copies of a repository's issues (pull requests included)
// by number.
func (s *Server) Issues(full string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(full)
	var out []Issue
	for _, is := range r.issues {
		out = append(out, copyIssue(is))
	}
	slices.SortFunc(out, func(a, b Issue) int { return a.Number - b.Number })
	return out
}

func copyIssue(is *Issue) Issue {
	c := *is
	c.Labels = slices.Clone(is.Labels)
	c.Assignees = slices.Clone(is.Assignees)
	c.Comments = make([]*Comment, len(is.Comments))
	for i, x := range is.Comments {
		cc := *x
		c.Comments[i] = &cc
	}
	return c
}
