package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// container is one repository, project or board file, as sources and
// targets name it.
type container struct {
	kind string // github | jira | file
	name string // owner/name lower-cased, project key, or cleaned file path
	host string // API host; "" is the default site ($VITRINE_GITHUB_API_URL, $JIRA_URL)
}

// same is conservative: a default site may be the explicitly named one,
// since the environment that decides it is not known here. Over-matching
// only refuses a config; under-matching would let customers overlap or
// vitrine read its own writes.
func (a container) same(b container) bool {
	return a.kind == b.kind && a.name == b.name && (a.host == b.host || a.host == "" || b.host == "")
}

func (a container) String() string {
	s := a.kind + " " + a.name
	if a.host != "" {
		s += " on " + a.host
	}
	return s
}

func siteHost(raw, defaultHost string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.ToLower(raw)
	}
	h := strings.ToLower(u.Host)
	if h == defaultHost {
		return ""
	}
	return h
}

func sourceContainer(s *Source) (container, bool) {
	switch {
	case s.GitHub != nil && s.Jira == nil && s.File == nil && s.GitHub.Repo != "":
		return container{"github", strings.ToLower(s.GitHub.Repo), siteHost(s.GitHub.APIURL, "api.github.com")}, true
	case s.Jira != nil && s.GitHub == nil && s.File == nil && s.Jira.Project != "":
		return container{"jira", strings.ToUpper(s.Jira.Project), siteHost(s.Jira.URL, "")}, true
	case s.File != nil && s.GitHub == nil && s.Jira == nil && s.File.Path != "":
		p := s.File.Resolved
		if p == "" {
			p = resolvePath(s.Pos.File, s.File.Path)
		}
		return container{"file", filepath.Clean(p), ""}, true
	}
	return container{}, false
}

func targetContainer(t *Target) (container, string, bool) {
	switch {
	case t.GitHub != nil && t.Jira == nil && t.Page == nil && t.GitHub.Repo != "":
		return container{"github", strings.ToLower(t.GitHub.Repo), siteHost(t.GitHub.APIURL, "api.github.com")}, "github", true
	case t.Jira != nil && t.GitHub == nil && t.Page == nil && t.Jira.Project != "":
		return container{"jira", strings.ToUpper(t.Jira.Project), siteHost(t.Jira.URL, "")}, "jira", true
	}
	return container{}, "", false
}

type placed struct {
	c   container
	ci  int // customer index
	j   int // source or target index
	rel string
}

// isolation enforces the promises that cross customers: no two customers
// can select the same item, no target is read back as a source (an echo
// loop), and no two mirrors write the same target.
func (v *validator) isolation(r *Rules) {
	var sources, targets []placed
	for ci := range r.Customers {
		c := &r.Customers[ci]
		for j := range c.Sources {
			if k, ok := sourceContainer(&c.Sources[j]); ok {
				sources = append(sources, placed{k, ci, j, fmt.Sprintf("sources[%d]", j)})
			}
		}
		for j := range c.Targets {
			if k, kind, ok := targetContainer(&c.Targets[j]); ok {
				targets = append(targets, placed{k, ci, j, fmt.Sprintf("targets[%d].%s", j, kind)})
			}
		}
	}
	at := func(p placed) (Pos, string) {
		c := &r.Customers[p.ci]
		return c.PosOf(p.rel), c.field(p.ci, p.rel)
	}
	// Two customers under one id are reported as such; comparing them
	// again would only repeat it.
	twins := func(a, b int) bool {
		return a != b && r.Customers[a].ID != "" && r.Customers[a].ID == r.Customers[b].ID
	}
	id := func(ci int) string {
		c := &r.Customers[ci]
		if c.ID != "" {
			return c.ID
		}
		return fmt.Sprintf("#%d", ci)
	}

	// Each later entry is reported once, against the first it clashes
	// with, so that a long list of copies gives a list as long, not its
	// square.
	for b := range sources {
		for a := range b {
			sa, sb := sources[a], sources[b]
			if !sa.c.same(sb.c) || twins(sa.ci, sb.ci) {
				continue
			}
			pos, field := at(sb)
			posA, _ := at(sa)
			if sa.ci == sb.ci {
				v.probs.Add(pos, field, "%s is already a source of this customer (at %s)", sb.c, posA)
				break
			}
			la, lb := r.Customers[sa.ci].Publish.Label, r.Customers[sb.ci].Publish.Label
			if strings.TrimSpace(la) != "" && strings.EqualFold(strings.TrimSpace(la), strings.TrimSpace(lb)) {
				v.probs.Add(pos, field, "customers %s and %s share source %s (%s's at %s) and both publish with label %q: both could select the same item; give each customer its own label",
					id(sa.ci), id(sb.ci), sb.c, id(sa.ci), posA, clip(lb))
				break
			}
		}
	}
	for _, t := range targets {
		for _, s := range sources {
			if t.c.same(s.c) && !twins(t.ci, s.ci) {
				pos, field := at(t)
				posS, _ := at(s)
				v.probs.Add(pos, field, "%s is also a source of customer %s (at %s): vitrine would read back its own writes", t.c, id(s.ci), posS)
				break
			}
		}
	}
	for b := range targets {
		for a := range b {
			ta, tb := targets[a], targets[b]
			if !ta.c.same(tb.c) || twins(ta.ci, tb.ci) {
				continue
			}
			pos, field := at(tb)
			posA, _ := at(ta)
			v.probs.Add(pos, field, "%s is already the target of customer %s (at %s): two mirrors would overwrite each other", tb.c, id(ta.ci), posA)
			break
		}
	}
}
