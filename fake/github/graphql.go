package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// GitHub's REST description has no GraphQL; the fake understands the one
// operation vitrine sends (deleteIssue) and fails the test on anything else.

type graphqlReq struct {
	mutation bool
	op       string // "deleteIssue"
	issueID  string // node ID argument
}

var (
	gqlDelete   = regexp.MustCompile(`deleteIssue\s*\(\s*input\s*:\s*\{([^}]*)\}`)
	gqlIssueArg = regexp.MustCompile(`issueId\s*:\s*(?:"([^"]*)"|\$(\w+))`)
	gqlInputVar = regexp.MustCompile(`input\s*:\s*\$(\w+)`)
)

func parseGraphQL(body []byte) (*graphqlReq, error) {
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("body is not a GraphQL JSON request: %v", err)
	}
	q := strings.TrimSpace(in.Query)
	if q == "" {
		return nil, errors.New(`GraphQL request without "query"`)
	}
	g := &graphqlReq{mutation: strings.HasPrefix(q, "mutation")}
	if !strings.Contains(q, "deleteIssue") {
		return nil, fmt.Errorf("GraphQL operation not supported by the fake: %.80q", q)
	}
	if !g.mutation {
		return nil, errors.New("deleteIssue outside a mutation")
	}
	g.op = "deleteIssue"
	// Either deleteIssue(input: {issueId: "..." | $var}) or
	// deleteIssue(input: $input) with variables {"input": {"issueId": ...}}.
	if m := gqlDelete.FindStringSubmatch(q); m != nil {
		a := gqlIssueArg.FindStringSubmatch(m[1])
		switch {
		case a == nil:
			return nil, errors.New("deleteIssue without issueId")
		case a[1] != "":
			g.issueID = a[1]
		default:
			g.issueID, _ = in.Variables[a[2]].(string)
		}
	} else if m := gqlInputVar.FindStringSubmatch(q); m != nil {
		input, _ := in.Variables[m[1]].(map[string]any)
		g.issueID, _ = input["issueId"].(string)
	}
	if g.issueID == "" {
		return nil, errors.New("deleteIssue: no issueId found in the query or its variables")
	}
	return g, nil
}

func (s *Server) graphqlObjectLocked(g *graphqlReq) string {
	for _, is := range s.byID {
		if is.NodeID == g.issueID {
			return fmt.Sprintf("%s#%d", strings.ToLower(is.Repo), is.Number)
		}
	}
	return ""
}

// graphql runs under s.mu.
func (s *Server) graphql(token, login string, g *graphqlReq) *response {
	var is *Issue
	for _, x := range s.byID {
		if x.NodeID == g.issueID {
			is = x
		}
	}
	gqlErr := func(typ, msg string) *response {
		return jsonResponse(http.StatusOK, map[string]any{
			"data": map[string]any{"deleteIssue": nil},
			"errors": []any{map[string]any{"type": typ, "path": []any{"deleteIssue"},
				"locations": []any{map[string]any{"line": 1, "column": 1}}, "message": msg}},
		})
	}
	if is == nil || s.accessOf(token, is.Repo) == AccessNone {
		return gqlErr("NOT_FOUND", fmt.Sprintf("Could not resolve to a node with the global id of '%s'", g.issueID))
	}
	if s.accessOf(token, is.Repo) < AccessAdmin {
		return gqlErr("FORBIDDEN", fmt.Sprintf("%s does not have the correct permissions to execute `DeleteIssue`", login))
	}
	r := s.repoLocked(is.Repo)
	s.deleteIssueLocked(r, is)
	return jsonResponse(http.StatusOK, map[string]any{
		"data": map[string]any{"deleteIssue": map[string]any{"clientMutationId": nil, "repository": map[string]any{"id": r.nodeID}}},
	})
}
