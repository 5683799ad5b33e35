package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	// Time zones must load the same in a scratch container as on a laptop.
	_ "time/tzdata"
)

var (
	githubRepo = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	jiraKey    = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostLabel  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	orderBy    = regexp.MustCompile(`(?i)\border\s+by\b`)
)

const labelPrefixPrefix = "label_prefix:"

// StatusLabelPrefix is the label prefix of status_from
// "label_prefix:<prefix>"; ok is false for "state".
func (g GitHubSource) StatusLabelPrefix() (prefix string, ok bool) {
	return strings.CutPrefix(g.StatusFrom, labelPrefixPrefix)
}

// Validate checks the rules without network I/O (it reads local files: a
// file source's board must exist). It expects defaults applied (Load does;
// rules built in code call ApplyDefaults first). The error is Problems.
func (r *Rules) Validate() error {
	v := &validator{}
	if d := r.Reconcile.Interval.Duration; d <= 0 {
		v.probs.Add(r.PosOf("reconcile.interval"), "reconcile.interval", "must be positive, got %s", d)
	}
	first := map[string]int{}
	for i := range r.Customers {
		c := &r.Customers[i]
		if c.bad[""] {
			continue // not a customer at all; decoding said so
		}
		cv := &customerValidator{v: v, c: c, i: i}
		cv.validate()
		if c.ID == "" {
			continue
		}
		if j, dup := first[c.ID]; dup {
			cv.bad("id", "customer id %q is already used at %s", c.ID, r.Customers[j].Pos)
		} else {
			first[c.ID] = i
		}
	}
	v.isolation(r)
	return v.probs.Err()
}

type validator struct {
	probs Problems
}

type customerValidator struct {
	v *validator
	c *Customer
	i int
}

func (cv *customerValidator) bad(rel, format string, args ...any) {
	cv.v.probs.Add(cv.c.PosOf(rel), cv.c.field(cv.i, rel), format, args...)
}

// required reports an empty value, unless decoding it already failed.
func (cv *customerValidator) required(rel, value, what string) bool {
	if strings.TrimSpace(value) != "" {
		return true
	}
	if !cv.c.failed(rel) {
		cv.bad(rel, "required: %s", what)
	}
	return false
}

func (cv *customerValidator) oneOf(rel, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	if cv.c.failed(rel) {
		return
	}
	cv.bad(rel, "unknown value %q (want %s)", clip(value), orList(allowed))
}

func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func (cv *customerValidator) validate() {
	c := cv.c
	if cv.required("id", c.ID, "a slug such as acme") && !slug.MatchString(c.ID) {
		cv.bad("id", "%q is not a slug (lower-case letters, digits and -, starting with a letter or digit, at most 63)", clip(c.ID))
	}
	switch tz := c.Timezone; {
	case tz == "Local":
		cv.bad("timezone", "Local depends on the machine: name an IANA zone such as Europe/Berlin")
	case tz != "":
		if _, err := time.LoadLocation(tz); err != nil {
			cv.bad("timezone", "unknown time zone %q (want an IANA name such as Europe/Berlin)", clip(tz))
		}
	}

	if len(c.Sources) == 0 && !c.failed("sources") {
		cv.bad("sources", "at least one source is required")
	}
	hasJira := false
	for j := range c.Sources {
		cv.source(j, &c.Sources[j])
		hasJira = hasJira || c.Sources[j].Jira != nil
	}

	cv.publish(hasJira)
	cv.show()
	cv.statuses()
	if b := c.Dates.BufferDays; b < 0 || b > 365 {
		cv.bad("dates.buffer_days", "%d is out of range 0..365", b)
	}

	if len(c.Targets) == 0 && !c.failed("targets") {
		cv.bad("targets", "at least one target is required (page, github or jira)")
	}
	page := -1
	for j := range c.Targets {
		t := &c.Targets[j]
		cv.target(j, t)
		if t.Page != nil {
			if page >= 0 {
				cv.bad(fmt.Sprintf("targets[%d].page", j), "a customer has at most one page (the first is at %s)", c.Targets[page].Pos)
			} else {
				page = j
			}
		}
	}
}

func kinds(named map[string]bool, order ...string) []string {
	var out []string
	for _, k := range order {
		if named[k] {
			out = append(out, k)
		}
	}
	return out
}

// exactlyOne reports a source or target that is not exactly one kind.
func (cv *customerValidator) exactlyOne(rel string, set []string, all ...string) bool {
	switch len(set) {
	case 1:
		return true
	case 0:
		if !cv.c.failed(rel) {
			cv.bad(rel, "want one of %s", orList(all))
		}
	default:
		cv.bad(rel, "want exactly one of %s, got %s", orList(all), strings.Join(set, " and "))
	}
	return false
}

func (cv *customerValidator) source(j int, s *Source) {
	rel := fmt.Sprintf("sources[%d]", j)
	set := kinds(map[string]bool{"github": s.GitHub != nil, "jira": s.Jira != nil, "file": s.File != nil}, "github", "jira", "file")
	if !cv.exactlyOne(rel, set, "github", "jira", "file") {
		return
	}
	switch {
	case s.GitHub != nil:
		g, p := s.GitHub, rel+".github."
		if cv.required(p+"repo", g.Repo, "the repository as owner/name") && !githubRepo.MatchString(g.Repo) {
			cv.bad(p+"repo", "%q is not owner/name", clip(g.Repo))
		}
		switch prefix, ok := g.StatusLabelPrefix(); {
		case g.StatusFrom == "state":
		case ok && strings.TrimSpace(prefix) == "":
			cv.bad(p+"status_from", "label_prefix needs a prefix, such as \"label_prefix:status: \"")
		case !ok && !cv.c.failed(p+"status_from"):
			cv.bad(p+"status_from", "unknown status_from %q (want state or label_prefix:<prefix>)", clip(g.StatusFrom))
		}
		cv.apiURL(p+"api_url", g.APIURL)
		cv.env(p+"token_env", g.TokenEnv)
	case s.Jira != nil:
		jr, p := s.Jira, rel+".jira."
		cv.jiraProject(p+"project", jr.Project)
		cv.oneOf(p+"milestones", jr.Milestones, "versions", "epics")
		if jr.JQL != "" {
			if strings.TrimSpace(jr.JQL) == "" {
				cv.bad(p+"jql", "blank jql: remove it, or write a filter")
			} else if orderBy.MatchString(jr.JQL) {
				cv.bad(p+"jql", "jql must not contain ORDER BY: it is wrapped as project = %s AND (<jql>)", jr.Project)
			}
		}
		cv.apiURL(p+"url", jr.URL)
		cv.env(p+"email_env", jr.EmailEnv)
		cv.env(p+"token_env", jr.TokenEnv)
		for _, k := range sortedKeys(jr.Fields) {
			if strings.TrimSpace(k) == "" {
				cv.bad(p+"fields", "empty field name")
			}
		}
	case s.File != nil:
		f, p := s.File, rel+".file.path"
		if !cv.required(p, f.Path, "the board file, relative to this rules file") {
			return
		}
		path := f.Resolved
		if path == "" {
			path = resolvePath(s.Pos.File, f.Path)
		}
		st, err := os.Stat(path)
		switch {
		case err != nil:
			cv.bad(p, "board file %q not found (looked for %s)", clip(f.Path), path)
		case st.IsDir():
			cv.bad(p, "%s is a directory, not a board file", path)
		}
	}
}

func (cv *customerValidator) jiraProject(rel, key string) {
	if cv.required(rel, key, "the project key, such as ACME") && !jiraKey.MatchString(key) {
		cv.bad(rel, "%q is not a Jira project key (upper-case letters, digits and _, starting with a letter)", clip(key))
	}
}

func (cv *customerValidator) apiURL(rel, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		cv.bad(rel, "%q is not an http(s) URL", clip(raw))
	case u.User != nil:
		cv.bad(rel, "the URL must not carry credentials: name them with token_env")
	case u.RawQuery != "" || u.Fragment != "":
		cv.bad(rel, "the URL must not have a query or fragment")
	}
}

func (cv *customerValidator) env(rel, name string) {
	if name != "" && !envName.MatchString(name) {
		cv.bad(rel, "%q is not an environment variable name", clip(name))
	}
}

func (cv *customerValidator) publish(hasJira bool) {
	p := &cv.c.Publish
	if !cv.required("publish.label", p.Label, "the label PMs put on items to publish") {
		return
	}
	if p.HideLabel != "" && strings.EqualFold(strings.TrimSpace(p.HideLabel), strings.TrimSpace(p.Label)) {
		cv.bad("publish.hide_label", "hide_label is the same as label %q", clip(p.Label))
	}
	if hasJira {
		// Jira rejects labels with spaces: such a label could never be
		// set, and nothing would ever publish.
		for _, l := range []struct{ rel, v string }{{"publish.label", p.Label}, {"publish.hide_label", p.HideLabel}} {
			if strings.ContainsAny(l.v, " \t") {
				cv.bad(l.rel, "%q has a space, which Jira labels cannot have", clip(l.v))
			}
		}
	}
	for k, a := range p.StatusAuthors {
		if strings.TrimSpace(a) == "" {
			cv.bad(fmt.Sprintf("publish.status_authors[%d]", k), "blank author")
		}
	}
}

func (cv *customerValidator) show() {
	s := &cv.c.Show
	cv.oneOf("show.title", s.Title, "source", "section")
	cv.oneOf("show.body", s.Body, "none", "section", "all")
	cv.oneOf("show.comments", s.Comments, "none", "marked")
	cv.oneOf("show.comment_author", s.CommentAuthor, "team", "name")
	cv.oneOf("show.milestone_description", s.MilestoneDescription, "none", "section")
	if strings.TrimSpace(s.BodySection) == "" && !cv.c.failed("show.body_section") {
		if s.Body == "section" {
			cv.bad("show.body", "body: section needs show.body_section (the heading to show)")
		}
		if s.Title == "section" {
			cv.bad("show.title", "title: section needs show.body_section (the heading whose first line is the title)")
		}
	}
	if strings.TrimSpace(s.CommentMarker) == "" && !cv.c.failed("show.comment_marker") {
		cv.bad("show.comment_marker", "blank marker: every comment would count as marked")
	}
	for k, d := range s.LinkDomains {
		if l := strings.ToLower(d); l != d && bareHost(l) {
			cv.bad(fmt.Sprintf("show.link_domains[%d]", k), "write host names in lower case: %q", l)
		} else if !bareHost(d) {
			cv.bad(fmt.Sprintf("show.link_domains[%d]", k), "%q is not a bare host name such as acme.example (no scheme, port, path or wildcard)", clip(d))
		}
	}
}

// bareHost accepts a DNS name: lower-case labels of letters, digits and -.
// Upper case is refused rather than folded so that the rules say exactly
// what the scrubber compares.
func bareHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// words are the statuses a customer can be shown: the only keys a Jira
// target's transitions can be reached by.
func (c *Customer) words() []string {
	set := map[string]bool{c.Statuses.Default: true, c.Statuses.Done: true}
	if c.Statuses.Cancelled != CancelledRetract {
		set[c.Statuses.Cancelled] = true
	}
	for _, v := range c.Statuses.Map.Values {
		set[v] = true
	}
	delete(set, "")
	return sortedKeys(set)
}

func (cv *customerValidator) statuses() {
	st := &cv.c.Statuses
	for _, f := range []struct{ rel, v string }{
		{"statuses.default", st.Default},
		{"statuses.done", st.Done},
		{"statuses.cancelled", st.Cancelled},
	} {
		if strings.TrimSpace(f.v) == "" && !cv.c.failed(f.rel) {
			cv.bad(f.rel, "must not be blank")
		}
	}
	for k, key := range st.Map.Keys {
		if strings.TrimSpace(key) == "" {
			cv.bad(fmt.Sprintf("statuses.map[%d]", k), "blank status name")
		}
	}
}

func (cv *customerValidator) target(j int, t *Target) {
	rel := fmt.Sprintf("targets[%d]", j)
	set := kinds(map[string]bool{"page": t.Page != nil, "github": t.GitHub != nil, "jira": t.Jira != nil}, "page", "github", "jira")
	if !cv.exactlyOne(rel, set, "page", "github", "jira") {
		return
	}
	switch {
	case t.Page != nil:
		cv.oneOf(rel+".page.feed", t.Page.Feed, "full", "titles", "off")
	case t.GitHub != nil:
		g, p := t.GitHub, rel+".github."
		if cv.required(p+"repo", g.Repo, "the repository as owner/name") && !githubRepo.MatchString(g.Repo) {
			cv.bad(p+"repo", "%q is not owner/name", clip(g.Repo))
		}
		cv.oneOf(p+"retract", g.Retract, "neutralize", "delete")
		cv.delay(p+"target_delay", g.TargetDelay)
		cv.apiURL(p+"api_url", g.APIURL)
		cv.env(p+"token_env", g.TokenEnv)
		if strings.TrimSpace(g.LabelPrefix) == "" && !cv.c.failed(p+"label_prefix") {
			cv.bad(p+"label_prefix", "blank prefix: vitrine would manage every label")
		}
	case t.Jira != nil:
		jr, p := t.Jira, rel+".jira."
		cv.jiraProject(p+"project", jr.Project)
		cv.required(p+"issue_type", jr.IssueType, "the issue type mirrors are created as")
		cv.oneOf(p+"retract", jr.Retract, "neutralize", "delete")
		cv.delay(p+"target_delay", jr.TargetDelay)
		cv.apiURL(p+"url", jr.URL)
		cv.env(p+"email_env", jr.EmailEnv)
		cv.env(p+"token_env", jr.TokenEnv)
		words := cv.c.words()
		for k, status := range sortedKeys(jr.Transitions) {
			tp := p + "transitions[" + mapLabel(status, k) + "]"
			if cv.c.failed(tp) {
				continue
			}
			if len(jr.Transitions[status]) == 0 {
				cv.bad(tp, "empty list: name the transitions that lead from the initial status to %q", clip(status))
			}
			if indexOf(words, status) < 0 {
				cv.bad(tp, "%q is not a status this customer is shown (want one of %s)", clip(status), strings.Join(words, ", "))
			}
			for n, name := range jr.Transitions[status] {
				if strings.TrimSpace(name) == "" {
					cv.bad(fmt.Sprintf("%s[%d]", tp, n), "blank transition name")
				}
			}
		}
	}
}

func (cv *customerValidator) delay(rel string, d Duration) {
	if d.Duration < 0 {
		cv.bad(rel, "must not be negative, got %s", d.Duration)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
