package github

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The representations below carry every property GitHub's description
// marks required, so the fake's answers validate against it.

const htmlBase = "https://github.com"

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) userJSON(login string) map[string]any {
	id := s.userID(login)
	api := s.srv.URL + "/users/" + login
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("U", id),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            htmlBase + "/" + login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                typ,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

func (s *Server) repoJSON(r *repo, token string) map[string]any {
	api := s.srv.URL + "/repos/" + r.full()
	html := htmlBase + "/" + r.full()
	m := map[string]any{
		"id": r.id, "node_id": r.nodeID, "name": r.name, "full_name": r.full(),
		"owner": s.userJSON(r.owner), "private": true, "visibility": "private",
		"html_url": html, "description": nil, "fork": false, "url": api,
		"clone_url": html + ".git", "git_url": "git://github.com/" + r.full() + ".git",
		"ssh_url": "git@github.com:" + r.full() + ".git", "svn_url": html,
		"mirror_url": nil, "homepage": nil, "language": nil, "license": nil,
		"forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0,
		"size": 0, "network_count": 0, "subscribers_count": 0,
		"default_branch": "main", "is_template": false, "topics": []any{},
		"has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
		"has_downloads": true, "has_discussions": false, "archived": false, "disabled": false,
		"pushed_at": ts(r.createdAt), "created_at": ts(r.createdAt), "updated_at": ts(r.createdAt),
	}
	open := 0
	for _, is := range r.issues {
		if is.State == "open" {
			open++
		}
	}
	m["open_issues"], m["open_issues_count"] = open, open
	for k, suffix := range map[string]string{
		"archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
		"blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
		"collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
		"commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
		"contents_url": "/contents/{+path}", "contributors_url": "/contributors",
		"deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
		"forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
		"git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
		"issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
		"issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
		"languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
		"notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
		"releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
		"subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
		"teams_url": "/teams", "trees_url": "/git/trees{/sha}",
	} {
		m[k] = api + suffix
	}
	if token != "" {
		a := s.accessOf(token, r.full())
		m["permissions"] = map[string]any{
			"admin": a >= AccessAdmin, "maintain": a >= AccessAdmin, "push": a >= AccessPush,
			"triage": a >= AccessPush, "pull": a >= AccessRead,
		}
	}
	return m
}

func (s *Server) labelJSON(r *repo, l *Label) map[string]any {
	return map[string]any{
		"id": l.ID, "node_id": l.NodeID, "name": l.Name, "color": l.Color, "default": false,
		"description": nullable(l.Description),
		"url":         s.srv.URL + "/repos/" + r.full() + "/labels/" + url.PathEscape(l.Name),
	}
}

func (s *Server) milestoneJSON(r *repo, m *Milestone) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/milestones/%d", s.srv.URL, r.full(), m.Number)
	open, closed := milestoneCounts(r, m)
	return map[string]any{
		"url": api, "html_url": fmt.Sprintf("%s/%s/milestone/%d", htmlBase, r.full(), m.Number),
		"labels_url": api + "/labels", "id": m.ID, "node_id": m.NodeID, "number": m.Number,
		"state": m.State, "title": m.Title, "description": nullable(m.Description),
		"creator": s.userJSON(m.Creator), "open_issues": open, "closed_issues": closed,
		"created_at": ts(m.CreatedAt), "updated_at": ts(m.UpdatedAt),
		"closed_at": ts(m.ClosedAt), "due_on": ts(m.DueOn),
	}
}

func reactions(u string) map[string]any {
	return map[string]any{"url": u + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
		"confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0}
}

func (s *Server) issueJSON(is *Issue) map[string]any {
	r := s.repoLocked(is.Repo)
	repoAPI := s.srv.URL + "/repos/" + r.full()
	api := fmt.Sprintf("%s/issues/%d", repoAPI, is.Number)
	kind := "issues"
	if is.PullRequest {
		kind = "pull"
	}
	html := fmt.Sprintf("%s/%s/%s/%d", htmlBase, r.full(), kind, is.Number)
	labels := []any{}
	for _, n := range is.Labels {
		if l := r.label(n); l != nil {
			labels = append(labels, s.labelJSON(r, l))
		}
	}
	assignees := []any{}
	for _, a := range is.Assignees {
		assignees = append(assignees, s.userJSON(a))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var milestone any
	if m := r.milestones[is.Milestone]; m != nil {
		milestone = s.milestoneJSON(r, m)
	}
	total, completed := 0, 0
	for _, ch := range s.childrenLocked(is) {
		total++
		if ch.State == "closed" {
			completed++
		}
	}
	pct := 0
	if total > 0 {
		pct = completed * 100 / total
	}
	var parent any
	if p := s.byID[is.ParentID]; p != nil {
		parent = fmt.Sprintf("%s/repos/%s/issues/%d", s.srv.URL, p.Repo, p.Number)
	}
	var reason any
	if is.StateReason != "" {
		reason = is.StateReason
	}
	assoc := "MEMBER"
	if strings.EqualFold(is.User, r.owner) {
		assoc = "OWNER"
	}
	m := map[string]any{
		"id": is.ID, "node_id": is.NodeID, "url": api, "repository_url": repoAPI,
		"labels_url": api + "/labels{/name}", "comments_url": api + "/comments",
		"events_url": api + "/events", "timeline_url": api + "/timeline", "html_url": html,
		"number": is.Number, "state": is.State, "state_reason": reason, "title": is.Title,
		"body": nullable(is.Body), "user": s.userJSON(is.User), "labels": labels,
		"assignee": assignee, "assignees": assignees, "milestone": milestone,
		"locked": false, "active_lock_reason": nil, "comments": len(is.Comments),
		"closed_at": ts(is.ClosedAt), "created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt),
		"author_association": assoc, "reactions": reactions(api),
		"sub_issues_summary": map[string]any{"total": total, "completed": completed, "percent_completed": pct},
		"parent_issue_url":   parent,
	}
	if is.PullRequest {
		pr := fmt.Sprintf("%s/pulls/%d", repoAPI, is.Number)
		m["pull_request"] = map[string]any{"url": pr, "html_url": html, "diff_url": html + ".diff",
			"patch_url": html + ".patch", "merged_at": nil}
		m["draft"] = false
	}
	return m
}

func (s *Server) commentJSON(is *Issue, c *Comment) map[string]any {
	r := s.repoLocked(is.Repo)
	api := fmt.Sprintf("%s/repos/%s/issues/comments/%d", s.srv.URL, r.full(), c.ID)
	assoc := "MEMBER"
	if strings.EqualFold(c.User, r.owner) {
		assoc = "OWNER"
	}
	return map[string]any{
		"id": c.ID, "node_id": c.NodeID, "url": api,
		"html_url":  fmt.Sprintf("%s/%s/issues/%d#issuecomment-%d", htmlBase, r.full(), is.Number, c.ID),
		"issue_url": fmt.Sprintf("%s/repos/%s/issues/%d", s.srv.URL, r.full(), is.Number),
		"body":      c.Body, "user": s.userJSON(c.User),
		"created_at": ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"author_association": assoc, "reactions": reactions(api),
	}
}
