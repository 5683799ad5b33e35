package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/item"
)

// Defaults of a source.
const (
	// MinOverlap is the least overlap window of a cursor poll: Jira's
	// search index lags behind its writes, and an update indexed late
	// must still be found by the next poll.
	MinOverlap = 5 * time.Minute
	// zoneTTL bounds how long the user's time zone is trusted between
	// poll cycles' own reads of it (answers also show it: zoneMismatch).
	zoneTTL         = time.Hour
	defaultPageSize = 100
	maxGonePages    = 20
)

// SourceOptions configure a Source.
type SourceOptions struct {
	// Key is the source key (mapping.SourceKey): item IDs are
	// item.MakeID(Key, <Jira issue id>).
	Key        string
	Site       string // https://agency.atlassian.net
	Project    string // ACME
	JQL        string // optional membership filter, wrapped as project = K AND (<jql>)
	Milestones string // "versions" (default) or "epics"
	// Fields are the custom fields to read: canonical name -> field id
	// ("customfield_10016").
	Fields     map[string]string
	Deployment Deployment
	// HTTP is the read credential's client (no pacer needed: a source
	// never writes).
	HTTP *httpapi.Client
	Auth Auth
	// Overlap is the cursor poll's overlap window (at least MinOverlap).
	Overlap  time.Duration
	PageSize int // search page size (default 100)
	Clock    clock.Clock
	Log      zerolog.Logger
}

// Source reads one Jira project (through one customer filter) for the
// engine: worker.Source and worker.CommentReader.
type Source struct {
	key, project, jql string
	epics             bool
	fields            map[string]string
	c                 *conn
	clk               clock.Clock
	log               zerolog.Logger
	overlap           time.Duration
	pageSize          int

	mu        sync.Mutex
	loc       *time.Location
	locAt     time.Time
	epicField string // the Epic Link custom field, "" when the site has none
	epicKnown bool
	epicIDs   map[string]string // epic key -> id
}

// NewSource validates o and returns a source (no I/O).
func NewSource(o SourceOptions) (*Source, error) {
	if o.Key == "" || o.Project == "" {
		return nil, errors.New("jira source: key and project are required")
	}
	if err := CheckJQL(o.JQL); err != nil {
		return nil, fmt.Errorf("jira source %s: %w", o.Key, err)
	}
	switch o.Milestones {
	case "", "versions", "epics":
	default:
		return nil, fmt.Errorf("jira source %s: milestones %q (want versions or epics)", o.Key, o.Milestones)
	}
	for name, id := range o.Fields {
		if name == "" || !strings.HasPrefix(id, "customfield_") {
			return nil, fmt.Errorf("jira source %s: field %q: %q is not a custom field id (customfield_NNNNN)", o.Key, name, id)
		}
	}
	c, err := newConn(o.Site, o.Deployment, o.HTTP, o.Auth)
	if err != nil {
		return nil, fmt.Errorf("jira source %s: %w", o.Key, err)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Overlap < MinOverlap {
		o.Overlap = MinOverlap
	}
	if o.PageSize <= 0 || o.PageSize > 100 {
		o.PageSize = defaultPageSize
	}
	return &Source{
		key: o.Key, project: strings.ToUpper(o.Project), jql: strings.TrimSpace(o.JQL),
		epics: o.Milestones == "epics", fields: o.Fields, c: c, clk: o.Clock,
		log: o.Log.With().Str("source", o.Key).Logger(), overlap: o.Overlap, pageSize: o.PageSize,
		epicIDs: map[string]string{},
	}, nil
}

// Key is the source key.
func (s *Source) Key() string { return s.key }

func (s *Source) wrap(what string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.key, what, err)
}

// accessErr classifies a failed read: the credential (401) or the project
// (403, or 404 on the project itself) is a container-level failure.
func (s *Source) accessErr(status int, err error) error {
	return &connectors.AccessError{Source: s.key, Status: status, Err: err}
}

// projectReadable reads the project: nil when it is readable, an
// AccessError when the project answers 401/403/404.
func (s *Source) projectReadable(ctx context.Context) error {
	err := s.c.do(ctx, http.MethodGet, "/rest/api/2/project/"+url.PathEscape(s.project), nil, nil, nil)
	switch st := statusOf(err); st {
	case 0:
		if err != nil {
			return s.wrap("read project", err)
		}
		return nil
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return s.accessErr(st, err)
	default:
		return s.wrap("read project", err)
	}
}

// classify turns a failed search or issue read into what the engine acts
// on: a 401 or 403 is a container-level failure; a 400 or 404 is one when
// the project itself is not readable (Jira answers a search naming a hidden
// project with 400), else it stays a plain error.
func (s *Source) classify(ctx context.Context, what string, err error) error {
	switch st := statusOf(err); st {
	case http.StatusUnauthorized, http.StatusForbidden:
		return s.accessErr(st, err)
	case http.StatusBadRequest, http.StatusNotFound:
		if perr := s.projectReadable(ctx); perr != nil {
			return perr
		}
	}
	return s.wrap(what, err)
}

// ---- time zone ----

// zone is the reading user's time zone: JQL dates are read in it.
func (s *Source) zone(ctx context.Context, refresh bool) (*time.Location, error) {
	s.mu.Lock()
	loc, at := s.loc, s.locAt
	s.mu.Unlock()
	now := s.clk.Now()
	if loc != nil && !refresh && now.Sub(at) < zoneTTL {
		return loc, nil
	}
	var me struct {
		TimeZone string `json:"timeZone"`
	}
	if err := s.c.do(ctx, http.MethodGet, "/rest/api/2/myself", nil, nil, &me); err != nil {
		if st := statusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			return nil, s.accessErr(st, err)
		}
		return nil, s.wrap("read user time zone", err)
	}
	l := time.UTC
	if me.TimeZone != "" {
		var err error
		if l, err = time.LoadLocation(me.TimeZone); err != nil {
			return nil, s.wrap("user time zone", err)
		}
	}
	s.mu.Lock()
	s.loc, s.locAt = l, now
	s.mu.Unlock()
	return l, nil
}

// zoneMismatch reports whether Jira wrote the issues' dates with another
// offset than loc has at those instants: the user's zone changed.
func zoneMismatch(issues []issueJSON, loc *time.Location) bool {
	for _, is := range issues {
		var f struct {
			Updated string `json:"updated"`
		}
		raw, ok := is.Fields["updated"]
		if !ok || json.Unmarshal(raw, &f.Updated) != nil {
			continue
		}
		off, ok := timeOffset(f.Updated)
		t, err := parseTime(f.Updated)
		if !ok || err != nil {
			continue
		}
		if _, want := t.In(loc).Zone(); want != off {
			return true
		}
	}
	return false
}

// ---- search ----

type searchResult struct {
	Issues        []issueJSON `json:"issues"`
	NextPageToken string      `json:"nextPageToken"`
	IsLast        *bool       `json:"isLast"`
	StartAt       int         `json:"startAt"`
	Total         int         `json:"total"`
}

type searchReq struct {
	jql        string
	fields     []string
	properties []string
	reconcile  []string // Cloud: read these issues at their current state
	token      string
	startAt    int
	max        int
}

func (c *conn) search(ctx context.Context, r searchReq) (searchResult, bool, error) {
	q := url.Values{}
	q.Set("jql", r.jql)
	if len(r.fields) > 0 {
		q.Set("fields", strings.Join(r.fields, ","))
	}
	if len(r.properties) > 0 {
		q.Set("properties", strings.Join(r.properties, ","))
	}
	if r.max > 0 {
		q.Set("maxResults", strconv.Itoa(r.max))
	}
	var res searchResult
	path := "/rest/api/2/search/jql"
	if c.dep == DataCenter {
		path = "/rest/api/2/search"
		if r.startAt > 0 {
			q.Set("startAt", strconv.Itoa(r.startAt))
		}
	} else {
		if r.token != "" {
			q.Set("nextPageToken", r.token)
		}
		for _, id := range r.reconcile {
			q.Add("reconcileIssues", id)
		}
	}
	if err := c.do(ctx, http.MethodGet, path, q, nil, &res); err != nil {
		return res, false, err
	}
	more := false
	if c.dep == DataCenter {
		more = res.StartAt+len(res.Issues) < res.Total && len(res.Issues) > 0
	} else {
		more = res.NextPageToken != "" && (res.IsLast == nil || !*res.IsLast)
	}
	return res, more, nil
}

func (s *Source) fieldList() []string {
	out := append([]string(nil), issueFields...)
	s.mu.Lock()
	if s.epicField != "" {
		out = append(out, s.epicField)
	}
	s.mu.Unlock()
	for _, id := range sortedKeys(invert(s.fields)) {
		out = append(out, id)
	}
	return out
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// discoverEpicField finds the site's Epic Link custom field once: classic
// projects link stories to epics with it, newer ones with parent.
func (s *Source) discoverEpicField(ctx context.Context) {
	s.mu.Lock()
	known := s.epicKnown
	s.mu.Unlock()
	if known {
		return
	}
	var fields []struct {
		ID     string `json:"id"`
		Schema struct {
			Custom string `json:"custom"`
		} `json:"schema"`
	}
	if err := s.c.do(ctx, http.MethodGet, "/rest/api/2/field", nil, nil, &fields); err != nil {
		s.log.Debug().Err(err).Msg("field list not readable: epic links by parent only")
		if st := statusOf(err); st >= 400 && st < 500 {
			s.mu.Lock()
			s.epicKnown = true // refused, not failing: do not ask on every read
			s.mu.Unlock()
		}
		return
	}
	id := ""
	for _, f := range fields {
		if f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-epic-link" {
			id = f.ID
		}
	}
	s.mu.Lock()
	s.epicField, s.epicKnown = id, true
	s.mu.Unlock()
}

// ---- poll ----

// pollCursor is the state a poll hands the engine to store.
type pollCursor struct {
	// T is the newest `updated` processed: the next cycle starts at T
	// minus the overlap window.
	T time.Time `json:"t,omitzero"`
	// Seen holds the (id, updated) pairs processed within the overlap
	// window, so the overlap does not hand the same state twice.
	Seen map[string]int64 `json:"seen,omitempty"`
	// B0 is the current cycle's lower bound (for the query of issues that
	// left the filter); zero for a first, unbounded listing.
	B0 time.Time `json:"b0,omitzero"`
	// K: the next page starts at this issue's `updated` (keyset paging:
	// an issue updated while a cycle pages moves to its end and is still
	// met, where offsets would skip one).
	K time.Time `json:"k,omitzero"`
	// Q, Tok, At page one query on when a whole page shares one minute.
	Q   string `json:"q,omitempty"`
	Tok string `json:"tok,omitempty"`
	At  int    `json:"at,omitempty"`
	Mid bool   `json:"mid,omitempty"` // a cycle is under way
}

func decodeCursor(s string) (pollCursor, error) {
	var c pollCursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("cursor: %w", err)
	}
	return c, nil
}

// Poll returns one page of issues changed since cursor (all issues for "").
// The query is `project = K AND (<jql>) AND updated >= "<bound>"` ordered by
// updated then id, the bound being the newest processed update minus the
// overlap window, written in the user's zone. Epics become milestones with
// `milestones: epics`. The last page of a cycle also lists, as Gone, the
// issues changed since the bound that no longer match the customer's
// filter.
func (s *Source) Poll(ctx context.Context, cursor string) (connectors.Poll, error) {
	st, err := decodeCursor(cursor)
	if err != nil {
		return connectors.Poll{}, s.wrap("poll", err)
	}
	s.discoverEpicField(ctx)
	// The zone is read again at the start of every cycle: an empty answer
	// cannot show that it changed, and a bound read in a zone west of the
	// one it was written for lies in the future and finds nothing.
	loc, err := s.zone(ctx, !st.Mid)
	if err != nil {
		return connectors.Poll{}, err
	}
	if !st.Mid {
		st.B0 = time.Time{}
		if !st.T.IsZero() {
			st.B0 = st.T.Add(-s.overlap)
		}
		st.K, st.Q, st.Tok, st.At = time.Time{}, "", "", 0
	}
	var res searchResult
	var more bool
	var jql string
	for attempt := 0; ; attempt++ {
		bound := st.B0
		if !st.K.IsZero() {
			bound = st.K
		}
		jql = membership(s.project, s.jql)
		if !bound.IsZero() {
			jql += " AND updated >= " + jqlDate(bound, loc)
		}
		jql += " ORDER BY updated ASC, id ASC"
		req := searchReq{jql: jql, fields: s.fieldList(), max: s.pageSize}
		if st.Q != "" && st.Q == jql {
			req.token, req.startAt = st.Tok, st.At
		}
		res, more, err = s.c.search(ctx, req)
		if err != nil {
			if req.token != "" && statusOf(err) == http.StatusBadRequest && attempt == 0 {
				// An expired page token: page this query again from its start.
				st.Q, st.Tok, st.At = "", "", 0
				continue
			}
			return connectors.Poll{}, s.classify(ctx, "poll", err)
		}
		if attempt == 0 && zoneMismatch(res.Issues, loc) {
			// The user's zone changed since it was read: the bound was
			// written in the wrong zone. Read it again and redo the page.
			if loc, err = s.zone(ctx, true); err != nil {
				return connectors.Poll{}, err
			}
			st.Q, st.Tok, st.At = "", "", 0
			continue
		}
		break
	}

	var p connectors.Poll
	if st.Seen == nil {
		st.Seen = map[string]int64{}
	}
	var last time.Time
	for _, raw := range res.Issues {
		var f stdFields
		if err := decodeFields(raw, &f); err != nil {
			return connectors.Poll{}, s.wrap("poll: issue "+raw.Key, err)
		}
		upd := timeOrZero(f.Updated)
		last = upd
		if !strings.EqualFold(f.Project.Key, s.project) {
			// Never another project's issue, whatever the filter says.
			continue
		}
		if ms, ok := st.Seen[raw.ID]; ok && ms == upd.UnixMilli() {
			continue
		}
		it, m, isItem, err := s.convert(ctx, raw, &f)
		if err != nil {
			return connectors.Poll{}, err
		}
		switch {
		case isItem:
			p.Items = append(p.Items, it)
		case m != nil:
			p.Milestones = append(p.Milestones, *m)
		}
		st.Seen[raw.ID] = upd.UnixMilli()
		if upd.After(st.T) {
			st.T = upd
		}
	}

	if more {
		st.Mid = true
		bound := st.B0
		if !st.K.IsZero() {
			bound = st.K
		}
		if !last.IsZero() && last.Truncate(time.Minute).After(bound.Truncate(time.Minute)) {
			st.K, st.Q, st.Tok, st.At = last, "", "", 0
		} else {
			// The whole page shares the bound's minute: page this query on.
			st.Q, st.Tok, st.At = jql, res.NextPageToken, res.StartAt+len(res.Issues)
		}
		p.More = true
	} else {
		if s.jql != "" && !st.B0.IsZero() {
			gone, err := s.leftFilter(ctx, st.B0, loc)
			if err != nil {
				return connectors.Poll{}, err
			}
			p.Gone = gone
		}
		st.Mid, st.K, st.Q, st.Tok, st.At = false, time.Time{}, "", "", 0
	}
	cut := st.T.Add(-s.overlap - time.Minute).UnixMilli()
	for id, ms := range st.Seen {
		if ms < cut {
			delete(st.Seen, id)
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return connectors.Poll{}, s.wrap("poll: cursor", err)
	}
	p.Cursor = string(b)
	return p, nil
}

// leftFilter lists the issues of the project changed since bound that do
// not match the customer's filter (any more): gone from this source.
func (s *Source) leftFilter(ctx context.Context, bound time.Time, loc *time.Location) ([]string, error) {
	jql := "project = " + jqlString(s.project) + " AND NOT (" + s.jql + ") AND updated >= " + jqlDate(bound, loc) + " ORDER BY id ASC"
	var out []string
	req := searchReq{jql: jql, fields: []string{"id"}, max: 1000}
	for page := 0; page < maxGonePages; page++ {
		res, more, err := s.c.search(ctx, req)
		if err != nil {
			return nil, s.classify(ctx, "poll: issues that left the filter", err)
		}
		for _, is := range res.Issues {
			if isDigits(is.ID) {
				out = append(out, item.MakeID(s.key, is.ID))
			}
		}
		if !more {
			return out, nil
		}
		req.token, req.startAt = res.NextPageToken, res.StartAt+len(res.Issues)
	}
	return out, nil
}

func decodeFields(raw issueJSON, f *stdFields) error {
	b, err := json.Marshal(raw.Fields)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, f)
}

// ---- fetch ----

// Fetch reads one issue's current state, and whether it is still a member
// of this source: a search for `project = K AND (<jql>) AND id = N` (Cloud:
// with reconcileIssues, so the answer is current, not the index's). An
// issue that left the filter, was deleted, moved to another project or is
// an epic with `milestones: epics` is connectors.ErrGone; a project that is
// not readable is a *connectors.AccessError. Jira has no conditional
// reads, and comment visibility can change without moving anything a
// validator could see, so Fetch always reads fully.
func (s *Source) Fetch(ctx context.Context, id string, o connectors.FetchOptions) (item.Item, error) {
	src, native := item.SplitID(id)
	if src != s.key {
		return item.Item{}, fmt.Errorf("%s: item %s belongs to another source", s.key, id)
	}
	if !isDigits(native) {
		return item.Item{}, connectors.ErrGone
	}
	s.discoverEpicField(ctx)
	req := searchReq{jql: membership(s.project, s.jql) + " AND id = " + native, fields: s.fieldList(), max: 1}
	if s.c.dep == Cloud {
		req.reconcile = []string{native}
	}
	res, _, err := s.c.search(ctx, req)
	if err != nil {
		if st := statusOf(err); st == http.StatusBadRequest || st == http.StatusNotFound {
			// Real Jira refuses `id = N` for an issue that no longer exists.
			return item.Item{}, s.goneOr(ctx, native, s.wrap("read "+native, err))
		}
		return item.Item{}, s.classify(ctx, "read "+native, err)
	}
	if len(res.Issues) == 0 {
		if err := s.projectReadable(ctx); err != nil {
			return item.Item{}, err
		}
		return item.Item{}, connectors.ErrGone
	}
	raw := res.Issues[0]
	var f stdFields
	if err := decodeFields(raw, &f); err != nil {
		return item.Item{}, s.wrap("read "+native, err)
	}
	if raw.ID != native || !strings.EqualFold(f.Project.Key, s.project) {
		return item.Item{}, connectors.ErrGone
	}
	it, _, isItem, err := s.convert(ctx, raw, &f)
	if err != nil {
		return item.Item{}, err
	}
	if !isItem {
		return item.Item{}, connectors.ErrGone
	}
	if o.Comments && !it.CommentsLoaded {
		cs, err := s.readComments(ctx, native)
		if err != nil {
			return item.Item{}, err
		}
		it.Comments, it.CommentsLoaded, it.CommentCount = cs, true, len(cs)
	}
	return it, nil
}

// goneOr tells a deleted or moved issue (ErrGone) from an unreadable
// project (AccessError); anything else returns orig.
func (s *Source) goneOr(ctx context.Context, native string, orig error) error {
	if err := s.projectReadable(ctx); err != nil {
		return err
	}
	var is struct {
		Fields struct {
			Project struct {
				Key string `json:"key"`
			} `json:"project"`
		} `json:"fields"`
	}
	err := s.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+native, url.Values{"fields": {"project"}}, nil, &is)
	switch st := statusOf(err); {
	case st == http.StatusNotFound:
		return connectors.ErrGone
	case err != nil:
		return s.classify(ctx, "read "+native, err)
	case !strings.EqualFold(is.Fields.Project.Key, s.project):
		return connectors.ErrGone
	}
	return orig
}

// Comments reads an issue's comments with their properties (worker.CommentReader).
func (s *Source) Comments(ctx context.Context, id string) ([]item.Comment, error) {
	src, native := item.SplitID(id)
	if src != s.key || !isDigits(native) {
		return nil, connectors.ErrGone
	}
	return s.readComments(ctx, native)
}

func (s *Source) readComments(ctx context.Context, native string) ([]item.Comment, error) {
	var out []item.Comment
	start := 0
	for page := 0; page < 1000; page++ {
		q := url.Values{"expand": {"properties"}, "startAt": {strconv.Itoa(start)}, "maxResults": {"100"}, "orderBy": {"created"}}
		var cp commentPageJSON
		if err := s.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+native+"/comment", q, nil, &cp); err != nil {
			if statusOf(err) == http.StatusNotFound {
				return nil, s.goneOr(ctx, native, s.wrap("read comments of "+native, err))
			}
			return nil, s.classify(ctx, "read comments of "+native, err)
		}
		for _, c := range cp.Comments {
			out = append(out, decodeComment(c))
		}
		start += len(cp.Comments)
		if len(cp.Comments) == 0 || start >= cp.Total {
			return out, nil
		}
	}
	return out, nil
}

// ---- milestones ----

// Milestones reads the project's fix versions (or, with `milestones:
// epics`, its epics). Versions have no validator, so this always reads.
func (s *Source) Milestones(ctx context.Context, cached bool) ([]item.Milestone, error) {
	if s.epics {
		return s.epicMilestones(ctx)
	}
	var vs []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Released    bool   `json:"released"`
		Archived    bool   `json:"archived"`
		ReleaseDate string `json:"releaseDate"`
	}
	if err := s.c.do(ctx, http.MethodGet, "/rest/api/2/project/"+url.PathEscape(s.project)+"/versions", nil, nil, &vs); err != nil {
		return nil, s.classify(ctx, "read versions", err)
	}
	out := make([]item.Milestone, 0, len(vs))
	for _, v := range vs {
		if !isDigits(v.ID) {
			continue
		}
		m := item.Milestone{
			ID: item.MakeID(s.key, "v-"+v.ID), Source: s.key, Name: v.Name,
			Description: WikiToMarkdown(v.Description), Closed: v.Released || v.Archived,
			URL: s.c.site.String() + "/projects/" + url.PathEscape(s.project) + "/versions/" + v.ID,
		}
		if d := v.ReleaseDate; len(d) == 10 {
			m.Due = &item.Due{Date: d}
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Source) epicMilestones(ctx context.Context) ([]item.Milestone, error) {
	req := searchReq{
		jql:    "project = " + jqlString(s.project) + " AND issuetype = Epic ORDER BY id ASC",
		fields: []string{"summary", "description", "issuetype", "project", "status", "resolution", "security", "duedate", "updated"},
		max:    100,
	}
	var out []item.Milestone
	for page := 0; page < 1000; page++ {
		res, more, err := s.c.search(ctx, req)
		if err != nil {
			return nil, s.classify(ctx, "read epics", err)
		}
		for _, raw := range res.Issues {
			var f stdFields
			if err := decodeFields(raw, &f); err != nil {
				return nil, s.wrap("read epic "+raw.Key, err)
			}
			if m := s.epicMilestone(raw, &f); m != nil {
				out = append(out, *m)
			}
		}
		if !more {
			return out, nil
		}
		req.token, req.startAt = res.NextPageToken, res.StartAt+len(res.Issues)
	}
	return out, nil
}

func (s *Source) epicMilestone(raw issueJSON, f *stdFields) *item.Milestone {
	if !isDigits(raw.ID) || !strings.EqualFold(f.Project.Key, s.project) || f.Security != nil {
		// An epic under a security level never names a roadmap entry.
		return nil
	}
	s.mu.Lock()
	s.epicIDs[raw.Key] = raw.ID
	s.mu.Unlock()
	m := &item.Milestone{
		ID: item.MakeID(s.key, "e-"+raw.ID), Source: s.key, Name: f.Summary,
		Closed: f.state() != item.Open, URL: s.c.browseURL(raw.Key), Updated: timeOrZero(f.Updated),
	}
	if f.Description != nil {
		m.Description = WikiToMarkdown(*f.Description)
	}
	if len(f.DueDate) == 10 {
		m.Due = &item.Due{Date: f.DueDate}
	}
	return m
}

// ---- conversion ----

// convert turns an issue into an item (isItem), or (with `milestones:
// epics`) an epic into a milestone (nil for an epic that names none).
func (s *Source) convert(ctx context.Context, raw issueJSON, f *stdFields) (it item.Item, m *item.Milestone, isItem bool, err error) {
	if !isDigits(raw.ID) {
		return item.Item{}, nil, false, s.wrap("issue "+raw.Key, fmt.Errorf("issue id %q is not numeric", raw.ID))
	}
	epic := f.IssueType.isEpic()
	if epic {
		s.mu.Lock()
		s.epicIDs[raw.Key] = raw.ID
		s.mu.Unlock()
		if s.epics {
			return item.Item{}, s.epicMilestone(raw, f), false, nil
		}
	}
	it = item.Item{
		ID: item.MakeID(s.key, raw.ID), Source: s.key, Ref: raw.Key, URL: s.c.browseURL(raw.Key),
		Kind: item.KindIssue, Type: f.IssueType.Name, Title: f.Summary,
		State: f.state(), Labels: f.Labels,
		Created: timeOrZero(f.Created), Updated: timeOrZero(f.Updated),
	}
	switch {
	case epic:
		it.Kind = item.KindEpic
	case f.IssueType.Subtask:
		it.Kind = item.KindSubtask
	}
	if f.Description != nil {
		it.Body = WikiToMarkdown(*f.Description)
	}
	if f.Status != nil {
		it.Status = f.Status.Name
	}
	if f.Resolution != nil {
		it.Resolution = f.Resolution.Name
	}
	if it.State == item.Done {
		if t := timeOrZero(f.ResolutionDate); !t.IsZero() {
			it.Completed = &t
		}
	}
	if len(f.DueDate) == 10 {
		it.Due = &item.Due{Date: f.DueDate}
	}
	if n := f.Assignee.display(); n != "" {
		it.Assignees = []string{n}
	}
	it.Reporter = f.Reporter.display()
	if f.Security != nil {
		it.SecurityLevel = f.Security.Name
		if it.SecurityLevel == "" {
			it.SecurityLevel = "level " + f.Security.ID
		}
	}

	// Hierarchy: parent (sub-tasks, and epics on newer projects) or the
	// Epic Link field (classic projects).
	epicID := ""
	if p := f.Parent; p != nil && isDigits(p.ID) {
		if p.Fields.IssueType.isEpic() {
			epicID = p.ID
		} else {
			it.Parent = item.MakeID(s.key, p.ID)
		}
	}
	s.mu.Lock()
	ef := s.epicField
	s.mu.Unlock()
	if epicID == "" && ef != "" {
		var key string
		if raw, ok := raw.Fields[ef]; ok && json.Unmarshal(raw, &key) == nil && key != "" {
			epicID = s.epicIDFor(ctx, key)
		}
	}
	if epicID != "" {
		if s.epics {
			it.Milestone = item.MakeID(s.key, "e-"+epicID)
		} else if it.Parent == "" {
			it.Parent = item.MakeID(s.key, epicID)
		}
	}
	if !s.epics && len(f.FixVersions) > 0 && isDigits(f.FixVersions[0].ID) {
		it.Milestone = item.MakeID(s.key, "v-"+f.FixVersions[0].ID)
	}

	for _, name := range sortedKeys(s.fields) {
		if v, ok := fieldValue(raw.Fields[s.fields[name]]); ok {
			if it.Fields == nil {
				it.Fields = map[string]any{}
			}
			it.Fields[name] = v
		}
	}

	if f.Comment != nil {
		it.CommentCount = f.Comment.Total
	}
	// Comments in a search answer carry no properties, so an internal JSM
	// comment marked only by sd.public.comment would read as public: they
	// are never taken from here.
	it.CommentsLoaded = it.CommentCount == 0
	return it, nil, true, nil
}

// epicIDFor resolves an Epic Link key to the epic's id (cached).
func (s *Source) epicIDFor(ctx context.Context, key string) string {
	s.mu.Lock()
	id, ok := s.epicIDs[key]
	s.mu.Unlock()
	if ok {
		return id
	}
	var is struct {
		ID string `json:"id"`
	}
	if err := s.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+url.PathEscape(key), url.Values{"fields": {"issuetype"}}, nil, &is); err != nil || !isDigits(is.ID) {
		return ""
	}
	s.mu.Lock()
	s.epicIDs[key] = is.ID
	s.mu.Unlock()
	return is.ID
}
