package jira

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// indexedLocked is what search sees of an issue: its last state at least
// the index lag old (nil: not indexed yet, or deleted).
func (s *Server) indexedLocked(id int64) *issue {
	cut := s.now().Add(-s.lag)
	var v *issue
	for _, sn := range s.index[id] {
		if sn.at.After(cut) {
			break
		}
		v = sn.is
	}
	return v
}

type searchParams struct {
	jql       string
	fields    []string
	expand    []string
	props     []string
	reconcile []int64
}

// search runs a JQL query as the request's credential. Issues named in
// reconcile are read at their current state; the rest from the index.
func (s *Server) search(q *request, sp searchParams, bounded bool) ([]*issue, *response) {
	c := &jqlCompiler{s: s, cred: q.cred, loc: q.cred.loc, now: s.now()}
	query, err := parseJQL(sp.jql, c)
	if err != nil {
		if strings.HasPrefix(err.Error(), "fake/jira:") {
			s.t.Logf("%v (query: %s)", err, sp.jql)
		}
		return nil, fail(http.StatusBadRequest, err.Error())
	}
	for _, p := range c.projects {
		if q.cred.lost[p] == http.StatusForbidden {
			return nil, fail(http.StatusForbidden, fmt.Sprintf("You do not have permission to view project '%s'.", p))
		}
	}
	if bounded && query.where == nil {
		return nil, fail(http.StatusBadRequest, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
	}
	var out []*issue
	for _, id := range s.issueOrder {
		var is *issue
		if slices.Contains(sp.reconcile, id) {
			is = s.issues[id]
		} else {
			is = s.indexedLocked(id)
		}
		if is == nil || !s.canSee(q.cred, is) {
			continue
		}
		if query.where == nil || query.where.eval(is) {
			out = append(out, is)
		}
	}
	sortIssues(out, query.order)
	return out, nil
}

type pageToken struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
}

func queryHash(jql string) string {
	h := sha256.Sum256([]byte(jql))
	return hex.EncodeToString(h[:6])
}

// hSearchJQL is Cloud's GET/POST /rest/api/2/search/jql: nextPageToken
// pages, explicit fields (default: id only), reconcileIssues.
func (s *Server) hSearchJQL(q *request) *response {
	sp := searchParams{}
	var token string
	maxResults := 50
	if q.r.Method == http.MethodPost {
		var b struct {
			JQL             string   `json:"jql"`
			NextPageToken   string   `json:"nextPageToken"`
			MaxResults      *int     `json:"maxResults"`
			Fields          []string `json:"fields"`
			Expand          string   `json:"expand"`
			Properties      []string `json:"properties"`
			FieldsByKeys    bool     `json:"fieldsByKeys"`
			FailFast        bool     `json:"failFast"`
			ReconcileIssues []int64  `json:"reconcileIssues"`
		}
		if err := json.Unmarshal(q.body, &b); err != nil {
			return fail(http.StatusBadRequest, "Invalid request payload: "+err.Error())
		}
		sp = searchParams{jql: b.JQL, fields: b.Fields, props: b.Properties, reconcile: b.ReconcileIssues}
		sp.expand = splitList(b.Expand)
		token = b.NextPageToken
		if b.MaxResults != nil {
			maxResults = *b.MaxResults
		}
	} else {
		sp = searchParams{jql: q.query("jql"), fields: q.list("fields"), expand: q.list("expand"), props: q.list("properties")}
		for _, v := range q.list("reconcileIssues") {
			id, _ := strconv.ParseInt(v, 10, 64)
			sp.reconcile = append(sp.reconcile, id)
		}
		token = q.query("nextPageToken")
		if m := q.query("maxResults"); m != "" {
			maxResults, _ = strconv.Atoi(m)
		}
	}
	if len(sp.reconcile) > 50 {
		return fail(http.StatusBadRequest, "The reconcileIssues parameter accepts at most 50 issue ids.")
	}
	if len(sp.props) > 5 {
		return fail(http.StatusBadRequest, "The properties parameter accepts at most 5 property keys.")
	}
	fs := parseFieldSel(sp.fields, "id")
	limit := 100
	if fs.onlyIDs() {
		limit = 5000
	}
	maxResults = min(max(maxResults, 0), limit)
	offset := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		var pt pageToken
		if err != nil || json.Unmarshal(raw, &pt) != nil || pt.Query != queryHash(sp.jql) || pt.Offset < 0 {
			return fail(http.StatusBadRequest, "The provided next page token is invalid or expired.")
		}
		offset = pt.Offset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, r := s.search(q, sp, true)
	if r != nil {
		return r
	}
	v := s.viewerFor(q.cred)
	issues := []any{}
	end := min(offset+maxResults, len(found))
	for i := offset; i < end; i++ {
		issues = append(issues, s.renderIssue(found[i], v, fs, sp.expand, sp.props))
	}
	out := map[string]any{"issues": issues, "isLast": end >= len(found)}
	if end < len(found) {
		b, _ := json.Marshal(pageToken{Offset: end, Query: queryHash(sp.jql)})
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	if slices.Contains(sp.expand, "names") {
		out["names"] = fieldNames(fs)
	}
	return ok(http.StatusOK, out)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func fieldNames(fs fieldSel) map[string]string {
	names := map[string]string{}
	for _, f := range fieldCatalog {
		if fs.wants(f.id) {
			names[f.id] = f.name
		}
	}
	return names
}

// hSearchDC is Data Center's GET/POST /rest/api/2/search: startAt,
// maxResults (at most 1000), total; fields default to *navigable.
func (s *Server) hSearchDC(q *request) *response {
	sp := searchParams{}
	startAt, maxResults := 0, 50
	if q.r.Method == http.MethodPost {
		var b struct {
			JQL           string   `json:"jql"`
			StartAt       int      `json:"startAt"`
			MaxResults    *int     `json:"maxResults"`
			Fields        []string `json:"fields"`
			Expand        []string `json:"expand"`
			Properties    []string `json:"properties"`
			ValidateQuery any      `json:"validateQuery"`
			FieldsByKeys  bool     `json:"fieldsByKeys"`
		}
		dec := json.NewDecoder(strings.NewReader(string(q.body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			s.t.Errorf("fake/jira: Data Center search body: %v", err)
			return fail(http.StatusBadRequest, "Invalid request payload: "+err.Error())
		}
		sp = searchParams{jql: b.JQL, fields: b.Fields, expand: b.Expand, props: b.Properties}
		startAt = b.StartAt
		if b.MaxResults != nil {
			maxResults = *b.MaxResults
		}
	} else {
		sp = searchParams{jql: q.query("jql"), fields: q.list("fields"), expand: q.list("expand"), props: q.list("properties")}
		startAt, _ = strconv.Atoi(q.query("startAt"))
		if m := q.query("maxResults"); m != "" {
			maxResults, _ = strconv.Atoi(m)
		}
	}
	maxResults = min(max(maxResults, 0), 1000)
	fs := parseFieldSel(sp.fields, "*navigable")
	s.mu.Lock()
	defer s.mu.Unlock()
	found, r := s.search(q, sp, false)
	if r != nil {
		return r
	}
	v := s.viewerFor(q.cred)
	issues := []any{}
	for i := startAt; i < len(found) && i < startAt+maxResults; i++ {
		issues = append(issues, s.renderIssue(found[i], v, fs, sp.expand, sp.props))
	}
	out := map[string]any{"expand": "schema,names", "startAt": startAt, "maxResults": maxResults, "total": len(found), "issues": issues}
	if slices.Contains(sp.expand, "names") {
		out["names"] = fieldNames(fs)
	}
	return ok(http.StatusOK, out)
}
