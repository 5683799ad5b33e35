package jira

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

type route struct {
	method  string
	pattern string
	segs    []string
	write   bool
	// removed: the route is gone from this flavor; answer 410 with this
	// message and fail the test.
	removed string
	// specChecked: the Cloud OpenAPI description covers the route.
	specChecked bool
	// queryParams the route takes (checked by shapeCheck); nil: none.
	queryParams []string
	// jsonBody: the route takes a JSON body (an object unless bodyAny).
	jsonBody, bodyAny bool
	h                 func(*request) *response
}

const (
	pIssue     = "/rest/api/2/issue/{issueIdOrKey}"
	pProject   = "/rest/api/2/project/{projectIdOrKey}"
	pSearchJQL = "/rest/api/2/search/jql"
	pSearch    = "/rest/api/2/search"
)

func (s *Server) buildRoutes() []*route {
	cloud := s.opts.Flavor == Cloud
	issueGetParams := []string{"fields", "fieldsByKeys", "expand", "properties", "updateHistory", "failFast"}
	rs := []*route{
		{method: "GET", pattern: "/rest/api/2/myself", queryParams: []string{"expand"}, h: s.hMyself},
		{method: "GET", pattern: "/rest/api/2/serverInfo", h: s.hServerInfo},
		{method: "GET", pattern: "/rest/api/2/field", h: s.hFields},
		{method: "GET", pattern: pProject, queryParams: []string{"expand", "properties"}, h: s.hProject},
		{method: "GET", pattern: pProject + "/versions", queryParams: []string{"expand"}, h: s.hVersions},

		{method: "POST", pattern: "/rest/api/2/issue", write: true, jsonBody: true, queryParams: []string{"updateHistory"}, h: s.hCreateIssue},
		{method: "GET", pattern: pIssue, queryParams: issueGetParams, h: s.hGetIssue},
		{method: "PUT", pattern: pIssue, write: true, jsonBody: true,
			queryParams: []string{"notifyUsers", "overrideScreenSecurity", "overrideEditableFlag", "returnIssue", "expand"}, h: s.hEditIssue},
		{method: "DELETE", pattern: pIssue, write: true, queryParams: []string{"deleteSubtasks"}, h: s.hDeleteIssue},

		{method: "GET", pattern: pIssue + "/transitions",
			queryParams: []string{"expand", "transitionId", "skipRemoteOnlyCondition", "includeUnavailableTransitions", "sortByOpsBarAndStatus"}, h: s.hGetTransitions},
		{method: "POST", pattern: pIssue + "/transitions", write: true, jsonBody: true, h: s.hDoTransition},

		{method: "GET", pattern: pIssue + "/comment", queryParams: []string{"startAt", "maxResults", "orderBy", "expand"}, h: s.hListComments},
		{method: "POST", pattern: pIssue + "/comment", write: true, jsonBody: true, queryParams: []string{"expand"}, h: s.hAddComment},
		{method: "GET", pattern: pIssue + "/comment/{id}", queryParams: []string{"expand"}, h: s.hGetComment},
		{method: "PUT", pattern: pIssue + "/comment/{id}", write: true, jsonBody: true,
			queryParams: []string{"notifyUsers", "overrideEditableFlag", "expand"}, h: s.hEditComment},
		{method: "DELETE", pattern: pIssue + "/comment/{id}", write: true, h: s.hDeleteComment},
		{method: "GET", pattern: "/rest/api/2/comment/{commentId}/properties", h: s.hCommentPropertyKeys},
		{method: "GET", pattern: "/rest/api/2/comment/{commentId}/properties/{propertyKey}", h: s.hCommentProperty},

		{method: "GET", pattern: pIssue + "/properties", h: s.hPropertyKeys},
		{method: "GET", pattern: pIssue + "/properties/{propertyKey}", h: s.hGetProperty},
		{method: "PUT", pattern: pIssue + "/properties/{propertyKey}", write: true, jsonBody: true, bodyAny: true, h: s.hSetProperty},
		{method: "DELETE", pattern: pIssue + "/properties/{propertyKey}", write: true, h: s.hDeleteProperty},
	}
	searchDC := []string{"jql", "startAt", "maxResults", "validateQuery", "fields", "expand", "properties", "fieldsByKeys"}
	if cloud {
		rs = append(rs,
			&route{method: "GET", pattern: pSearchJQL,
				queryParams: []string{"jql", "nextPageToken", "maxResults", "fields", "expand", "properties", "fieldsByKeys", "failFast", "reconcileIssues"},
				h:           s.hSearchJQL},
			&route{method: "POST", pattern: pSearchJQL, jsonBody: true, h: s.hSearchJQL},
			&route{method: "GET", pattern: pSearch, queryParams: searchDC,
				removed: "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"},
			&route{method: "POST", pattern: pSearch, jsonBody: true,
				removed: "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"},
			// The current Cloud workflow reads (both the v2 and v3 groups have
			// them); GET /workflow/search was removed on 2026-06-01.
			&route{method: "POST", pattern: "/rest/api/2/workflows", jsonBody: true, queryParams: []string{"useApprovalConfiguration"}, h: s.hReadWorkflows},
			&route{method: "POST", pattern: "/rest/api/3/workflows", jsonBody: true, queryParams: []string{"useApprovalConfiguration"}, h: s.hReadWorkflows},
			&route{method: "POST", pattern: "/rest/api/2/workflows/preview", jsonBody: true, h: s.hPreviewWorkflows},
			&route{method: "POST", pattern: "/rest/api/3/workflows/preview", jsonBody: true, h: s.hPreviewWorkflows},
			&route{method: "GET", pattern: "/rest/api/2/workflow/search",
				queryParams: []string{"startAt", "maxResults", "workflowName", "expand", "queryString", "orderBy", "isActive"},
				removed:     "GET /rest/api/2/workflow/search was removed on 2026-06-01 (CHANGE-2569); use POST /rest/api/2/workflows or GET /rest/api/2/workflows/search"},
		)
	} else {
		rs = append(rs,
			&route{method: "GET", pattern: pSearch, queryParams: searchDC, h: s.hSearchDC},
			&route{method: "POST", pattern: pSearch, jsonBody: true, h: s.hSearchDC},
		)
	}
	for _, r := range rs {
		r.segs = strings.Split(strings.Trim(r.pattern, "/"), "/")
		r.specChecked = cloud && r.removed == ""
	}
	return rs
}

// match finds the route for a path; methodOK reports a path that exists
// under another method.
func (s *Server) match(method, path string) (*route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *route
	var bestParams map[string]string
	bestLiterals := -1
	methodOK := false
	for _, r := range s.routes {
		if len(r.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		literals := 0
		okPath := true
		for i, p := range r.segs {
			if strings.HasPrefix(p, "{") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					okPath = false
					break
				}
				params[strings.Trim(p, "{}")] = v
				continue
			}
			if p != segs[i] {
				okPath = false
				break
			}
			literals++
		}
		if !okPath {
			continue
		}
		if r.method != method {
			methodOK = true
			continue
		}
		if literals > bestLiterals {
			best, bestParams, bestLiterals = r, params, literals
		}
	}
	return best, bestParams, methodOK
}

// shapeCheck is the fake's own request check, run in both flavors: known
// query parameters with well-formed values, and a JSON body where the route
// takes one. On Data Center it is the only check.
func (s *Server) shapeCheck(rt *route, r *http.Request, body []byte) error {
	for name, vals := range r.URL.Query() {
		if !slices.Contains(rt.queryParams, name) {
			return fmt.Errorf("query parameter %q is not taken by %s %s", name, rt.method, rt.pattern)
		}
		for _, v := range vals {
			if err := checkParam(name, v); err != nil {
				return err
			}
		}
	}
	if !rt.jsonBody {
		if len(strings.TrimSpace(string(body))) > 0 {
			return fmt.Errorf("%s %s takes no body", rt.method, rt.pattern)
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	if _, isObj := v.(map[string]any); !isObj && !rt.bodyAny {
		return fmt.Errorf("body is %T, want a JSON object", v)
	}
	return nil
}

func checkParam(name, v string) error {
	switch name {
	case "startAt", "maxResults":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("query parameter %s=%q is not a non-negative integer", name, v)
		}
	case "fieldsByKeys", "failFast", "notifyUsers", "returnIssue", "overrideScreenSecurity", "overrideEditableFlag",
		"updateHistory", "deleteSubtasks", "skipRemoteOnlyCondition", "includeUnavailableTransitions", "sortByOpsBarAndStatus",
		"useApprovalConfiguration", "isActive":
		if v != "true" && v != "false" {
			return fmt.Errorf("query parameter %s=%q is not a boolean", name, v)
		}
	case "validateQuery":
		if !slices.Contains([]string{"strict", "warn", "none", "true", "false"}, v) {
			return fmt.Errorf("query parameter validateQuery=%q is not strict|warn|none|true|false", v)
		}
	case "reconcileIssues":
		for _, p := range strings.Split(v, ",") {
			if _, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err != nil {
				return fmt.Errorf("reconcileIssues=%q: %q is not an issue id", v, p)
			}
		}
	case "orderBy":
		if !slices.Contains([]string{"created", "-created", "+created"}, v) {
			return fmt.Errorf("orderBy=%q is not created|-created|+created", v)
		}
	}
	return nil
}
