package github

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"vitrine/fake/openapi"
)

// ctx is one request as a handler sees it; handlers run under s.mu.
type ctx struct {
	s     *Server
	r     *http.Request
	route *openapi.Route
	token string
	login string
	body  []byte
}

type handler func(*ctx) *response

const (
	docNotFound   = "https://docs.github.com/rest"
	docValidation = "https://docs.github.com/rest"
)

func (s *Server) handlerFor(route *openapi.Route) handler {
	return map[string]handler{
		"repos/get":                     getRepo,
		"rate-limit/get":                getRateLimit,
		"issues/list-for-repo":          listIssues,
		"issues/create":                 createIssue,
		"issues/get":                    getIssue,
		"issues/update":                 updateIssue,
		"issues/list-comments":          listComments,
		"issues/list-comments-for-repo": listRepoComments,
		"issues/create-comment":         createComment,
		"issues/get-comment":            getComment,
		"issues/update-comment":         updateComment,
		"issues/delete-comment":         deleteComment,
		"issues/list-labels-on-issue":   listIssueLabels,
		"issues/add-labels":             addLabels,
		"issues/set-labels":             setLabels,
		"issues/remove-label":           removeLabel,
		"issues/remove-all-labels":      removeAllLabels,
		"issues/list-labels-for-repo":   listLabels,
		"issues/create-label":           createLabel,
		"issues/get-label":              getLabel,
		"issues/update-label":           updateLabel,
		"issues/delete-label":           deleteLabel,
		"issues/list-milestones":        listMilestones,
		"issues/create-milestone":       createMilestone,
		"issues/get-milestone":          getMilestone,
		"issues/update-milestone":       updateMilestone,
		"issues/delete-milestone":       deleteMilestone,
		"issues/list-sub-issues":        listSubIssues,
		"issues/get-parent":             getParent,
		"issues/add-sub-issue":          addSubIssue,
		"issues/remove-sub-issue":       removeSubIssue,
	}[route.OperationID]
}

func notFound() *response { return errorResponse(http.StatusNotFound, "Not Found", docNotFound) }

func forbidden() *response {
	return errorResponse(http.StatusForbidden, "Must have admin rights to Repository.", docNotFound)
}

func validationFailed(resource, field, code string, value any) *response {
	e := map[string]any{"resource": resource, "field": field, "code": code}
	if value != nil {
		e["value"] = value
	}
	return jsonResponse(http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []any{e}, "documentation_url": docValidation, "status": "422",
	})
}

// repo resolves the route's repository; no access is 404, as on GitHub.
func (c *ctx) repo() (*repo, Access, *response) {
	r := c.s.repoLocked(c.route.Params["owner"] + "/" + c.route.Params["repo"])
	if r == nil {
		return nil, AccessNone, notFound()
	}
	a := c.s.accessOf(c.token, r.full())
	if a == AccessNone {
		return nil, a, notFound()
	}
	return r, a, nil
}

// issue resolves the route's issue: 410 when deleted, 301 (307 for other
// methods than GET) to /repositories/{id}/issues/{n} when transferred.
func (c *ctx) issue(r *repo) (*Issue, *response) {
	n, _ := strconv.Atoi(c.route.Params["issue_number"])
	if is := r.issues[n]; is != nil {
		return is, nil
	}
	t, ok := r.gone[n]
	switch {
	case !ok:
		return nil, notFound()
	case t.deleted:
		return nil, errorResponse(http.StatusGone, "This issue was deleted", docNotFound)
	}
	dst := c.s.repoLocked(t.issue.Repo)
	suffix := strings.TrimPrefix(c.r.URL.Path, fmt.Sprintf("/repos/%s/%s/issues/%d", r.owner, r.name, n))
	loc := fmt.Sprintf("%s/repositories/%d/issues/%d%s", c.s.srv.URL, dst.id, t.issue.Number, suffix)
	status := http.StatusMovedPermanently
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		status = http.StatusTemporaryRedirect
	}
	resp := jsonResponse(status, map[string]any{"message": "Moved Permanently", "url": loc, "documentation_url": "https://docs.github.com/v3/#http-redirects"})
	resp.header.Set("Location", loc)
	return nil, resp
}

func (c *ctx) decode() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(c.body, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// labelArgs reads label names from {"labels": [...]} or a bare array, items
// being names or {"name": ...}.
func (c *ctx) labelArgs() []string {
	var raw any
	_ = json.Unmarshal(c.body, &raw)
	if m, ok := raw.(map[string]any); ok {
		raw = m["labels"]
	}
	return namesOf(raw)
}

func namesOf(raw any) []string {
	var out []string
	list, _ := raw.([]any)
	for _, x := range list {
		switch v := x.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			if n, ok := v["name"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func created(v map[string]any) *response {
	resp := jsonResponse(http.StatusCreated, v)
	if u, ok := v["url"].(string); ok {
		resp.header.Set("Location", u)
	}
	return resp
}

// pageRange is the slice of n items the request's page and per_page select.
func (c *ctx) pageRange(n int) (from, to int) {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	from = min((page-1)*per, n)
	return from, min(from+per, n)
}

// paginate answers one page of items with GitHub's Link header.
func (c *ctx) paginate(items []any) *response {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max((len(items)+per-1)/per, 1)
	from, to := c.pageRange(len(items))
	resp := jsonResponse(http.StatusOK, append([]any{}, items[from:to]...))
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		u := url.URL{Path: c.r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf(`<%s%s>; rel="%s"`, c.s.srv.URL, u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		resp.header.Set("Link", strings.Join(links, ", "))
	}
	return resp
}

func getRepo(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	return jsonResponse(http.StatusOK, c.s.repoJSON(r, c.token))
}

func getRateLimit(c *ctx) *response {
	pw := c.s.primaryLocked(c.token)
	rate := func(res string) map[string]any {
		return map[string]any{"limit": c.s.opts.PrimaryLimit, "remaining": c.s.opts.PrimaryLimit - pw.used,
			"reset": pw.start.Add(time.Hour).Unix(), "used": pw.used, "resource": res}
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"resources": map[string]any{"core": rate("core"), "search": rate("search"), "graphql": rate("graphql")},
		"rate":      rate("core"),
	})
}

func listIssues(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return validationFailed("Issue", "since", "invalid", v)
		}
		since = t
	}
	var want []string
	if v := q.Get("labels"); v != "" {
		want = strings.Split(v, ",")
	}
	var list []*Issue
	for _, is := range r.issues {
		if state != "all" && is.State != state {
			continue
		}
		if !since.IsZero() && is.UpdatedAt.Before(since) {
			continue
		}
		if v := q.Get("creator"); v != "" && !strings.EqualFold(v, is.User) {
			continue
		}
		if !matchAssignee(q.Get("assignee"), is.Assignees) || !matchMilestone(r, q.Get("milestone"), is.Milestone) {
			continue
		}
		if !hasAllLabels(is.Labels, want) {
			continue
		}
		list = append(list, is)
	}
	key := func(is *Issue) int64 {
		switch q.Get("sort") {
		case "updated":
			return is.UpdatedAt.Unix()
		case "comments":
			return int64(len(is.Comments))
		}
		return is.CreatedAt.Unix()
	}
	desc := q.Get("direction") != "asc"
	slices.SortStableFunc(list, func(a, b *Issue) int {
		d := compare(key(a), key(b))
		if d == 0 {
			d = a.Number - b.Number
		}
		if desc {
			return -d
		}
		return d
	})
	// Only the requested page is rendered (paginate reads no other entry):
	// rendering an issue scans every issue for its sub-issues, so rendering
	// every match made a long listing quadratic in the repository's size.
	items := make([]any, len(list))
	from, to := c.pageRange(len(list))
	for i := from; i < to; i++ {
		items[i] = c.s.issueJSON(list[i])
	}
	return c.paginate(items)
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func matchAssignee(q string, as []string) bool {
	switch q {
	case "":
		return true
	case "none":
		return len(as) == 0
	case "*":
		return len(as) > 0
	}
	return slices.ContainsFunc(as, func(a string) bool { return strings.EqualFold(a, q) })
}

func matchMilestone(r *repo, q string, n int) bool {
	switch q {
	case "":
		return true
	case "none":
		return n == 0
	case "*":
		return n != 0
	}
	want, err := strconv.Atoi(q)
	return err == nil && want == n
}

func hasAllLabels(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, strings.TrimSpace(w)) }) {
			return false
		}
	}
	return true
}

func titleOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

func milestoneArg(v any) (int, bool) {
	switch t := v.(type) {
	case float64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	}
	return 0, false
}

func createIssue(c *ctx) *response {
	r, a, resp := c.repo()
	if resp != nil {
		return resp
	}
	in := c.decode()
	is := &Issue{}
	// Validate before creating anything, as GitHub answers 422 whole.
	var mile int
	if a >= AccessPush {
		if v, ok := in["milestone"]; ok && v != nil {
			n, ok := milestoneArg(v)
			if !ok || r.milestones[n] == nil {
				return validationFailed("Issue", "milestone", "invalid", v)
			}
			mile = n
		}
	}
	is = c.s.createIssueLocked(r, c.login, titleOf(in["title"]), str(in["body"]))
	// Without push access GitHub silently drops labels, milestone and
	// assignees (documented on the operation).
	if a >= AccessPush {
		is.Labels = c.s.labelNamesLocked(r, namesOf(in["labels"]), true)
		is.Milestone = mile
		is.Assignees = assigneesArg(in)
	}
	return created(c.s.issueJSON(is))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func assigneesArg(in map[string]any) []string {
	var out []string
	if v, ok := in["assignee"].(string); ok && v != "" {
		out = append(out, v)
	}
	for _, x := range namesOrLogins(in["assignees"]) {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func namesOrLogins(raw any) []string {
	var out []string
	list, _ := raw.([]any)
	for _, x := range list {
		switch v := x.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			if n, ok := v["login"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func getIssue(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	return jsonResponse(http.StatusOK, c.s.issueJSON(is))
}

func updateIssue(c *ctx) *response {
	r, a, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	if a < AccessPush && !strings.EqualFold(is.User, c.login) {
		return forbidden()
	}
	in := c.decode()
	before, _ := json.Marshal(c.s.issueJSON(is))
	if v, ok := in["title"]; ok && v != nil {
		is.Title = titleOf(v)
	}
	if v, ok := in["body"]; ok {
		is.Body = str(v)
	}
	if v, ok := in["state"].(string); ok && v != is.State {
		is.State = v
		if v == "closed" {
			is.ClosedAt = c.s.now()
			is.StateReason = "completed"
			if sr, ok := in["state_reason"].(string); ok && sr != "reopened" {
				is.StateReason = sr
			}
		} else {
			is.ClosedAt = time.Time{}
			is.StateReason = "reopened"
		}
	}
	if a >= AccessPush {
		if v, ok := in["milestone"]; ok {
			if v == nil {
				is.Milestone = 0
			} else {
				n, ok := milestoneArg(v)
				if !ok || r.milestones[n] == nil {
					return validationFailed("Issue", "milestone", "invalid", v)
				}
				is.Milestone = n
			}
		}
		if v, ok := in["labels"]; ok {
			is.Labels = c.s.labelNamesLocked(r, namesOf(v), true)
		}
		if _, ok := in["assignees"]; ok {
			is.Assignees = namesOrLogins(in["assignees"])
		} else if v, ok := in["assignee"]; ok {
			is.Assignees = nil
			if s := str(v); s != "" {
				is.Assignees = []string{s}
			}
		}
	}
	after, _ := json.Marshal(c.s.issueJSON(is))
	if string(before) != string(after) {
		is.UpdatedAt = c.s.now()
	}
	return jsonResponse(http.StatusOK, c.s.issueJSON(is))
}

func listComments(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	since, resp := c.since()
	if resp != nil {
		return resp
	}
	var items []any
	for _, cm := range is.Comments {
		if since.IsZero() || !cm.UpdatedAt.Before(since) {
			items = append(items, c.s.commentJSON(is, cm))
		}
	}
	return c.paginate(items)
}

func (c *ctx) since() (time.Time, *response) {
	v := c.r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, validationFailed("IssueComment", "since", "invalid", v)
	}
	return t, nil
}

func listRepoComments(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	since, resp := c.since()
	if resp != nil {
		return resp
	}
	type pair struct {
		is *Issue
		c  *Comment
	}
	var list []pair
	for _, is := range r.issues {
		for _, cm := range is.Comments {
			if since.IsZero() || !cm.UpdatedAt.Before(since) {
				list = append(list, pair{is, cm})
			}
		}
	}
	q := c.r.URL.Query()
	desc := q.Get("direction") == "desc"
	slices.SortStableFunc(list, func(a, b pair) int {
		var d int
		if q.Get("sort") == "updated" {
			d = compare(a.c.UpdatedAt.Unix(), b.c.UpdatedAt.Unix())
		} else {
			d = compare(a.c.CreatedAt.Unix(), b.c.CreatedAt.Unix())
		}
		if d == 0 {
			d = compare(a.c.ID, b.c.ID)
		}
		if desc {
			return -d
		}
		return d
	})
	items := make([]any, len(list))
	for i, p := range list {
		items[i] = c.s.commentJSON(p.is, p.c)
	}
	return c.paginate(items)
}

func createComment(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	cm := c.s.addCommentLocked(is, c.login, str(c.decode()["body"]))
	return created(c.s.commentJSON(is, cm))
}

func (c *ctx) comment(r *repo) (*Issue, *Comment, *response) {
	id, _ := strconv.ParseInt(c.route.Params["comment_id"], 10, 64)
	is, cm := c.s.commentLocked(id)
	if cm == nil || !strings.EqualFold(is.Repo, r.full()) {
		return nil, nil, notFound()
	}
	return is, cm, nil
}

func getComment(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, cm, resp := c.comment(r)
	if resp != nil {
		return resp
	}
	return jsonResponse(http.StatusOK, c.s.commentJSON(is, cm))
}

func updateComment(c *ctx) *response {
	r, a, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, cm, resp := c.comment(r)
	if resp != nil {
		return resp
	}
	if a < AccessPush && !strings.EqualFold(cm.User, c.login) {
		return forbidden()
	}
	if b := str(c.decode()["body"]); b != cm.Body {
		cm.Body = b
		cm.UpdatedAt = c.s.now()
		is.UpdatedAt = c.s.now()
	}
	return jsonResponse(http.StatusOK, c.s.commentJSON(is, cm))
}

func deleteComment(c *ctx) *response {
	r, a, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, cm, resp := c.comment(r)
	if resp != nil {
		return resp
	}
	if a < AccessPush && !strings.EqualFold(cm.User, c.login) {
		return forbidden()
	}
	c.s.deleteCommentLocked(is, cm)
	return &response{status: http.StatusNoContent}
}

func (c *ctx) issueLabels(r *repo, is *Issue) []any {
	out := []any{}
	for _, n := range is.Labels {
		if l := r.label(n); l != nil {
			out = append(out, c.s.labelJSON(r, l))
		}
	}
	return out
}

// labelTarget resolves the repository and issue for the label routes,
// which need push access.
func (c *ctx) labelTarget() (*repo, *Issue, *response) {
	r, a, resp := c.repo()
	if resp != nil {
		return nil, nil, resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return nil, nil, resp
	}
	if c.r.Method != http.MethodGet && a < AccessPush {
		return nil, nil, forbidden()
	}
	return r, is, nil
}

func listIssueLabels(c *ctx) *response {
	r, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	return c.paginate(c.issueLabels(r, is))
}

func addLabels(c *ctx) *response {
	r, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	add := c.s.labelNamesLocked(r, c.labelArgs(), true)
	changed := false
	for _, n := range add {
		if !slices.Contains(is.Labels, n) {
			is.Labels = append(is.Labels, n)
			changed = true
		}
	}
	if changed {
		is.UpdatedAt = c.s.now()
	}
	return jsonResponse(http.StatusOK, c.issueLabels(r, is))
}

func setLabels(c *ctx) *response {
	r, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	next := c.s.labelNamesLocked(r, c.labelArgs(), true)
	if !slices.Equal(next, is.Labels) {
		is.Labels = next
		is.UpdatedAt = c.s.now()
	}
	return jsonResponse(http.StatusOK, c.issueLabels(r, is))
}

func removeLabel(c *ctx) *response {
	r, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	name := c.route.Params["name"]
	i := slices.IndexFunc(is.Labels, func(n string) bool { return strings.EqualFold(n, name) })
	if i < 0 {
		return errorResponse(http.StatusNotFound, "Label does not exist", docNotFound)
	}
	is.Labels = slices.Delete(is.Labels, i, i+1)
	is.UpdatedAt = c.s.now()
	return jsonResponse(http.StatusOK, c.issueLabels(r, is))
}

func removeAllLabels(c *ctx) *response {
	_, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	if len(is.Labels) > 0 {
		is.Labels = nil
		is.UpdatedAt = c.s.now()
	}
	return &response{status: http.StatusNoContent}
}

func listLabels(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	items := []any{}
	for _, l := range r.labels {
		items = append(items, c.s.labelJSON(r, l))
	}
	return c.paginate(items)
}

func (c *ctx) pushRepo() (*repo, *response) {
	r, a, resp := c.repo()
	if resp != nil {
		return nil, resp
	}
	if c.r.Method != http.MethodGet && a < AccessPush {
		return nil, forbidden()
	}
	return r, nil
}

func createLabel(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	in := c.decode()
	name := str(in["name"])
	if r.label(name) != nil {
		return validationFailed("Label", "name", "already_exists", nil)
	}
	color := strings.TrimPrefix(str(in["color"]), "#")
	if color == "" {
		color = "ededed"
	}
	l := c.s.addLabelLocked(r, name, color, str(in["description"]))
	return created(c.s.labelJSON(r, l))
}

func getLabel(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	l := r.label(c.route.Params["name"])
	if l == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, c.s.labelJSON(r, l))
}

func updateLabel(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	l := r.label(c.route.Params["name"])
	if l == nil {
		return notFound()
	}
	in := c.decode()
	if nn := str(in["new_name"]); nn != "" && nn != l.Name {
		if o := r.label(nn); o != nil && o != l {
			return validationFailed("Label", "name", "already_exists", nil)
		}
		for _, is := range r.issues {
			if i := slices.Index(is.Labels, l.Name); i >= 0 {
				is.Labels[i] = nn
			}
		}
		l.Name = nn
	}
	if v, ok := in["color"].(string); ok {
		l.Color = strings.TrimPrefix(v, "#")
	}
	if v, ok := in["description"].(string); ok {
		l.Description = v
	}
	return jsonResponse(http.StatusOK, c.s.labelJSON(r, l))
}

func deleteLabel(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	if !c.s.deleteLabelLocked(r, c.route.Params["name"]) {
		return notFound()
	}
	return &response{status: http.StatusNoContent}
}

func listMilestones(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var list []*Milestone
	for _, m := range r.milestones {
		if state == "all" || m.State == state {
			list = append(list, m)
		}
	}
	desc := q.Get("direction") == "desc"
	slices.SortStableFunc(list, func(a, b *Milestone) int {
		var d int
		if q.Get("sort") == "completeness" {
			d = compare(int64(completeness(r, a)), int64(completeness(r, b)))
		} else {
			// due_on ascending, milestones without a date last.
			switch {
			case a.DueOn.IsZero() && !b.DueOn.IsZero():
				d = 1
			case !a.DueOn.IsZero() && b.DueOn.IsZero():
				d = -1
			default:
				d = compare(a.DueOn.Unix(), b.DueOn.Unix())
			}
		}
		if d == 0 {
			d = a.Number - b.Number
		}
		if desc {
			return -d
		}
		return d
	})
	items := make([]any, len(list))
	for i, m := range list {
		items[i] = c.s.milestoneJSON(r, m)
	}
	return c.paginate(items)
}

func completeness(r *repo, m *Milestone) int {
	open, closed := milestoneCounts(r, m)
	if open+closed == 0 {
		return 0
	}
	return closed * 100 / (open + closed)
}

func milestoneCounts(r *repo, m *Milestone) (open, closed int) {
	for _, is := range r.issues {
		if is.Milestone == m.Number {
			if is.State == "closed" {
				closed++
			} else {
				open++
			}
		}
	}
	return open, closed
}

func dueArg(v any) (time.Time, bool) {
	if v == nil {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, str(v))
	return t.UTC(), err == nil
}

func createMilestone(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	in := c.decode()
	title := str(in["title"])
	for _, m := range r.milestones {
		if m.Title == title {
			return validationFailed("Milestone", "title", "already_exists", nil)
		}
	}
	due, ok := dueArg(in["due_on"])
	if !ok {
		return validationFailed("Milestone", "due_on", "invalid", in["due_on"])
	}
	m := c.s.addMilestoneLocked(r, c.login, title)
	m.Description, m.DueOn = str(in["description"]), due
	if str(in["state"]) == "closed" {
		m.State = "closed"
		c.s.normalizeMilestoneLocked(m)
	}
	return created(c.s.milestoneJSON(r, m))
}

func (c *ctx) milestone(r *repo) (*Milestone, *response) {
	n, _ := strconv.Atoi(c.route.Params["milestone_number"])
	m := r.milestones[n]
	if m == nil {
		return nil, notFound()
	}
	return m, nil
}

func getMilestone(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	m, resp := c.milestone(r)
	if resp != nil {
		return resp
	}
	return jsonResponse(http.StatusOK, c.s.milestoneJSON(r, m))
}

func updateMilestone(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	m, resp := c.milestone(r)
	if resp != nil {
		return resp
	}
	in := c.decode()
	before := *m
	if v, ok := in["title"].(string); ok {
		m.Title = v
	}
	if v, ok := in["description"]; ok {
		m.Description = str(v)
	}
	if v, ok := in["state"].(string); ok {
		m.State = v
		c.s.normalizeMilestoneLocked(m)
	}
	if v, ok := in["due_on"]; ok {
		due, ok := dueArg(v)
		if !ok {
			return validationFailed("Milestone", "due_on", "invalid", v)
		}
		m.DueOn = due
	}
	if *m != before {
		m.UpdatedAt = c.s.now()
	}
	return jsonResponse(http.StatusOK, c.s.milestoneJSON(r, m))
}

func deleteMilestone(c *ctx) *response {
	r, resp := c.pushRepo()
	if resp != nil {
		return resp
	}
	m, resp := c.milestone(r)
	if resp != nil {
		return resp
	}
	c.s.deleteMilestoneLocked(r, m.Number)
	return &response{status: http.StatusNoContent}
}

func (s *Server) childrenLocked(parent *Issue) []*Issue {
	var out []*Issue
	for _, is := range s.byID {
		if is.ParentID == parent.ID {
			out = append(out, is)
		}
	}
	slices.SortFunc(out, func(a, b *Issue) int { return compare(a.ID, b.ID) })
	return out
}

func listSubIssues(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	items := []any{}
	for _, ch := range c.s.childrenLocked(is) {
		items = append(items, c.s.issueJSON(ch))
	}
	return c.paginate(items)
}

func getParent(c *ctx) *response {
	r, _, resp := c.repo()
	if resp != nil {
		return resp
	}
	is, resp := c.issue(r)
	if resp != nil {
		return resp
	}
	p := c.s.byID[is.ParentID]
	if p == nil || c.s.accessOf(c.token, p.Repo) == AccessNone {
		return notFound()
	}
	return jsonResponse(http.StatusOK, c.s.issueJSON(p))
}

func addSubIssue(c *ctx) *response {
	r, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	_ = r
	in := c.decode()
	id, _ := in["sub_issue_id"].(float64)
	child := c.s.byID[int64(id)]
	if child == nil || child == is {
		return validationFailed("Issue", "sub_issue_id", "invalid", in["sub_issue_id"])
	}
	if child.ParentID != 0 && in["replace_parent"] != true {
		return validationFailed("Issue", "sub_issue_id", "already_exists", in["sub_issue_id"])
	}
	child.ParentID = is.ID
	child.UpdatedAt = c.s.now()
	is.UpdatedAt = c.s.now()
	return created(c.s.issueJSON(is))
}

func removeSubIssue(c *ctx) *response {
	_, is, resp := c.labelTarget()
	if resp != nil {
		return resp
	}
	in := c.decode()
	id, _ := in["sub_issue_id"].(float64)
	child := c.s.byID[int64(id)]
	if child == nil || child.ParentID != is.ID {
		return notFound()
	}
	child.ParentID = 0
	child.UpdatedAt = c.s.now()
	is.UpdatedAt = c.s.now()
	return jsonResponse(http.StatusOK, c.s.issueJSON(is))
}
