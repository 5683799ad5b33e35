package github

import (
	"strings"

	"vitrine/config"
	"vitrine/mapping"
)

// TargetName is a GitHub target's name in links, op keys and opaque keys:
// "github:<owner/name>" in lower case, with the API host for another site,
// like mapping.SourceKey. It must never change for a target with mirrors.
func TargetName(t config.GitHubTarget) string {
	repo := strings.ToLower(strings.TrimSpace(t.Repo))
	if h := mapping.APIHost(t.APIURL); h != "" && h != "api.github.com" {
		return "github:" + h + "/" + repo
	}
	return "github:" + repo
}

// Routes lists the rules' GitHub repositories for WebhookOptions: every
// source repository with its source key, and every target repository with
// the customers' targets written there. Deliveries name a repository but
// not the site, so one owner/name should not be used on two sites.
func Routes(r *config.Rules) (sources map[string]string, targets map[string][]TargetRef) {
	sources, targets = map[string]string{}, map[string][]TargetRef{}
	for _, c := range r.Customers {
		for _, s := range c.Sources {
			if s.GitHub != nil {
				sources[strings.ToLower(strings.TrimSpace(s.GitHub.Repo))] = mapping.SourceKey(s)
			}
		}
		for _, t := range c.Targets {
			if t.GitHub == nil {
				continue
			}
			repo := strings.ToLower(strings.TrimSpace(t.GitHub.Repo))
			ref := TargetRef{Customer: c.ID, Target: TargetName(*t.GitHub)}
			dup := false
			for _, x := range targets[repo] {
				dup = dup || x == ref
			}
			if !dup {
				targets[repo] = append(targets[repo], ref)
			}
		}
	}
	return sources, targets
}
