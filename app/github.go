package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vitrine/config"
	"vitrine/connectors/github"
	"vitrine/pace"
	"vitrine/worker"
)

const defaultGitHubAPI = "https://api.github.com"

// githubAPI is a source's or target's REST base: its own api_url, else
// VITRINE_GITHUB_API_URL, else api.github.com.
func (rt *runtime) githubAPI(own string) string {
	for _, u := range []string{own, rt.env.GitHubAPIURL} {
		if u = strings.TrimRight(u, "/"); u != "" {
			return u
		}
	}
	return defaultGitHubAPI
}

func (rt *runtime) githubToken(tokenEnv string) (string, string, error) {
	name := tokenEnv
	if name == "" {
		name = "GITHUB_TOKEN"
	}
	s, ok := rt.env.Lookup(name)
	if !ok || !s.IsSet() {
		return "", "", fmt.Errorf("%s is not set", name)
	}
	return s.Reveal(), name, nil
}

// pacerBlocker lets GitHub reads wait out a block on their credential; the
// pacer is built after every credential is known.
type pacerBlocker struct{ rt *runtime }

func (b pacerBlocker) Stats(ctx context.Context, cred string) (pace.Stats, error) {
	return b.rt.pacer.Stats(ctx, cred)
}

func (rt *runtime) spread() *github.Spread {
	if rt.ghSpread == nil {
		rt.ghSpread = github.NewSpread()
	}
	return rt.ghSpread
}

func (rt *runtime) githubSource(s config.Source, key string) (worker.Source, error) {
	g := s.GitHub
	api := rt.githubAPI(g.APIURL)
	token, name, err := rt.githubToken(g.TokenEnv)
	if err != nil {
		return nil, err
	}
	hc, err := rt.httpClient("github", siteHost(api), name, token, false)
	if err != nil {
		return nil, err
	}
	return github.NewSource(github.SourceOptions{
		Key: key, Repo: g.Repo, StatusFrom: g.StatusFrom, HTTP: hc, APIURL: api, Token: token,
		Meta: rt.st, Blocker: pacerBlocker{rt}, Spread: rt.spread(), Clock: rt.clk,
		Log: rt.log.With().Str("source", key).Logger(),
	})
}

func (rt *runtime) githubTarget(c config.Customer, t config.Target) (worker.Binding, error) {
	g := t.GitHub
	api := rt.githubAPI(g.APIURL)
	token, name, err := rt.githubToken(g.TokenEnv)
	if err != nil {
		return worker.Binding{}, err
	}
	hc, err := rt.httpClient("github", siteHost(api), name, token, true)
	if err != nil {
		return worker.Binding{}, err
	}
	tg, err := github.NewTarget(github.TargetOptions{
		Name: github.TargetName(*g), Repo: g.Repo, Retract: g.Retract, LabelPrefix: g.LabelPrefix,
		HTTP: hc, APIURL: api, Token: token, Blocker: pacerBlocker{rt}, Spread: rt.spread(), Clock: rt.clk,
		Log: rt.log.With().Str("customer", c.ID).Logger(),
	})
	if err != nil {
		return worker.Binding{}, err
	}
	return worker.Binding{Target: tg, Delay: g.TargetDelay.Duration}, nil
}

// githubParser builds /webhooks/github when a GitHub source or target is
// configured and a secret is set. Target logins (read once from GET /user)
// let the parser ignore vitrine's own events on mirror repositories.
func (rt *runtime) githubParser(ctx context.Context) (*github.WebhookParser, error) {
	sources, targets := github.Routes(rt.rules)
	if len(sources) == 0 && len(targets) == 0 {
		return nil, nil
	}
	if !rt.env.GitHubWebhookSecret.IsSet() {
		rt.log.Warn().Msg("VITRINE_GITHUB_WEBHOOK_SECRET is not set: /webhooks/github is off, polling only")
		return nil, nil
	}
	var bots []string
	for _, tg := range rt.ghTargets {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		login, err := tg.Login(cctx)
		cancel()
		if err != nil {
			rt.log.Warn().Err(err).Str("target", tg.Name()).Msg("cannot read the target token's login: its echoes are told by content only")
			continue
		}
		bots = append(bots, login)
	}
	previous := ""
	if rt.env.GitHubWebhookSecretPrevious.IsSet() {
		previous = rt.env.GitHubWebhookSecretPrevious.Reveal()
	}
	return github.NewWebhookParser(github.WebhookOptions{
		Secret: rt.env.GitHubWebhookSecret.Reveal(), Previous: previous,
		Sources: sources, Targets: targets, BotLogin: bots,
	})
}

// checkGitHub reads every GitHub target's login (token valid) and every
// source's first page (read access).
func (rt *runtime) checkGitHub(ctx context.Context) []error {
	var errs []error
	for _, tg := range rt.ghTargets {
		if _, err := tg.Login(ctx); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", tg.Name(), err))
		}
	}
	for key, src := range rt.sources {
		gs, ok := src.(*github.Source)
		if !ok {
			continue
		}
		if _, err := gs.Milestones(ctx, false); err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", key, err))
		}
	}
	return errs
}
