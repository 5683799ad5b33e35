package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"vitrine/config"
	"vitrine/connectors/jira"
	"vitrine/mapping"
	"vitrine/webhooks"
	"vitrine/worker"
)

// jiraSite is a source's or target's site URL: its own `url`, else JIRA_URL.
func (rt *runtime) jiraSite(own string) (string, error) {
	site := strings.TrimRight(own, "/")
	if site == "" {
		site = strings.TrimRight(rt.env.JiraURL, "/")
	}
	if site == "" {
		return "", errors.New("no Jira site: set JIRA_URL or the source's url")
	}
	return site, nil
}

func siteHost(site string) string {
	u, err := url.Parse(site)
	if err != nil || u.Host == "" {
		return site
	}
	return strings.ToLower(u.Host)
}

// jiraAuth picks the credential: a named pair (email_env + token_env) or
// token (token_env alone: a Data Center PAT); else JIRA_EMAIL+JIRA_API_TOKEN
// (Cloud), or JIRA_PAT (Data Center).
func (rt *runtime) jiraAuth(emailEnv, tokenEnv string) (jira.Auth, jira.Deployment, string, error) {
	lookup := func(name string) (string, error) {
		s, ok := rt.env.Lookup(name)
		if !ok || !s.IsSet() {
			return "", fmt.Errorf("%s is not set", name)
		}
		return s.Reveal(), nil
	}
	switch {
	case tokenEnv != "" && emailEnv != "":
		email, err := lookup(emailEnv)
		if err != nil {
			return jira.Auth{}, "", "", err
		}
		tok, err := lookup(tokenEnv)
		if err != nil {
			return jira.Auth{}, "", "", err
		}
		return jira.Auth{Email: email, Token: tok}, jira.Cloud, tokenEnv, nil
	case tokenEnv != "":
		pat, err := lookup(tokenEnv)
		if err != nil {
			return jira.Auth{}, "", "", err
		}
		return jira.Auth{PAT: pat}, jira.DataCenter, tokenEnv, nil
	case rt.env.JiraPAT.IsSet():
		return jira.Auth{PAT: rt.env.JiraPAT.Reveal()}, jira.DataCenter, "JIRA_PAT", nil
	case rt.env.JiraAPIToken.IsSet() && rt.env.JiraEmail.IsSet():
		return jira.Auth{Email: rt.env.JiraEmail.Reveal(), Token: rt.env.JiraAPIToken.Reveal()}, jira.Cloud, "JIRA_API_TOKEN", nil
	}
	return jira.Auth{}, "", "", errors.New("no Jira credential: set JIRA_EMAIL and JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center)")
}

func (rt *runtime) jiraSource(s config.Source, key string) (worker.Source, error) {
	j := s.Jira
	site, err := rt.jiraSite(j.URL)
	if err != nil {
		return nil, err
	}
	auth, dep, tokenName, err := rt.jiraAuth(j.EmailEnv, j.TokenEnv)
	if err != nil {
		return nil, err
	}
	hc, err := rt.httpClient("jira", siteHost(site), tokenName, secretOf(auth), false)
	if err != nil {
		return nil, err
	}
	return jira.NewSource(jira.SourceOptions{
		Key: key, Site: site, Project: j.Project, JQL: j.JQL, Milestones: j.Milestones, Fields: j.Fields,
		Deployment: dep, HTTP: hc, Auth: auth, Clock: rt.clk,
		Log: rt.log.With().Str("source", key).Logger(),
	})
}

func secretOf(a jira.Auth) string {
	if a.PAT != "" {
		return a.PAT
	}
	return a.Email + "\x00" + a.Token
}

// jiraTargetName names a Jira target as links and metrics know it.
func jiraTargetName(site, project string) string {
	return "jira:" + siteHost(site) + "/" + strings.ToUpper(project)
}

func (rt *runtime) jiraTargetOptions(c config.Customer, t config.Target) (jira.TargetOptions, error) {
	j := t.Jira
	site, err := rt.jiraSite(j.URL)
	if err != nil {
		return jira.TargetOptions{}, err
	}
	auth, dep, tokenName, err := rt.jiraAuth(j.EmailEnv, j.TokenEnv)
	if err != nil {
		return jira.TargetOptions{}, err
	}
	hc, err := rt.httpClient("jira", siteHost(site), tokenName, secretOf(auth), true)
	if err != nil {
		return jira.TargetOptions{}, err
	}
	name := jiraTargetName(site, j.Project)
	return jira.TargetOptions{
		Name: name, Site: site, Project: j.Project, IssueType: j.IssueType, Transitions: j.Transitions,
		Done: c.Statuses.Done, Retract: j.Retract, Deployment: dep, HTTP: hc, Auth: auth, Clock: rt.clk,
		Log: rt.log.With().Str("customer", c.ID).Logger(),
	}, nil
}

func (rt *runtime) jiraTarget(c config.Customer, t config.Target) (worker.Binding, error) {
	o, err := rt.jiraTargetOptions(c, t)
	if err != nil {
		return worker.Binding{}, err
	}
	tg, err := jira.NewTarget(o)
	if err != nil {
		return worker.Binding{}, err
	}
	return worker.Binding{Target: tg, Delay: t.Jira.TargetDelay.Duration}, nil
}

// customerWords are the status words a customer can be shown: each must be
// reachable in a Jira target's workflow.
func customerWords(c config.Customer) []string {
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if w != "" && w != config.CancelledRetract && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, k := range c.Statuses.Map.Keys {
		add(c.Statuses.Map.Values[k])
	}
	add(c.Statuses.Default)
	add(c.Statuses.Done)
	add(c.Statuses.Cancelled)
	return out
}

// jiraParser builds /webhooks/jira when a Jira source or target is
// configured. One site per route: the site of the first Jira source.
func (rt *runtime) jiraParser() (webhooks.Parser, error) {
	sources := map[string][]string{}
	targets := map[string][]jira.TargetRef{}
	site := ""
	for _, c := range rt.rules.Customers {
		for _, s := range c.Sources {
			if s.Jira == nil {
				continue
			}
			st, err := rt.jiraSite(s.Jira.URL)
			if err != nil {
				return nil, err
			}
			if site == "" {
				site = st
			}
			p := strings.ToUpper(s.Jira.Project)
			key := mapping.SourceKey(s)
			if !contains(sources[p], key) {
				sources[p] = append(sources[p], key)
			}
		}
		for _, t := range c.Targets {
			if t.Jira == nil {
				continue
			}
			st, err := rt.jiraSite(t.Jira.URL)
			if err != nil {
				return nil, err
			}
			p := strings.ToUpper(t.Jira.Project)
			targets[p] = append(targets[p], jira.TargetRef{Customer: c.ID, Target: jiraTargetName(st, p)})
		}
	}
	if len(sources) == 0 && len(targets) == 0 {
		return nil, nil
	}
	if !rt.env.JiraWebhookSecret.IsSet() {
		rt.log.Warn().Msg("VITRINE_JIRA_WEBHOOK_SECRET is not set: /webhooks/jira is off, polling only")
		return nil, nil
	}
	bot := ""
	if rt.env.JiraEmail.IsSet() {
		bot = rt.env.JiraEmail.Reveal()
	}
	p, err := jira.NewWebhookParser(jira.WebhookOptions{
		Secret: rt.env.JiraWebhookSecret.Reveal(), Site: siteHost(site), Sources: sources, Targets: targets, BotAccount: bot,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// checkJira runs the online checks of every Jira source and target.
func (rt *runtime) checkJira(ctx context.Context) []error {
	var errs []error
	for _, c := range rt.rules.Customers {
		for _, s := range c.Sources {
			if s.Jira == nil {
				continue
			}
			src, ok := rt.sources[mapping.SourceKey(s)].(*jira.Source)
			if !ok {
				continue
			}
			if err := src.Check(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: source jira %s: %w", c.ID, s.Jira.Project, err))
			}
		}
		for _, t := range c.Targets {
			if t.Jira == nil {
				continue
			}
			o, err := rt.jiraTargetOptions(c, t)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: target jira %s: %w", c.ID, t.Jira.Project, err))
				continue
			}
			if err := jira.CheckTarget(ctx, o, customerWords(c)); err != nil {
				errs = append(errs, fmt.Errorf("%s: target jira %s: %w", c.ID, t.Jira.Project, err))
			}
		}
	}
	return errs
}
