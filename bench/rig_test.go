package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/config"
	"vitrine/connectors/github"
	"vitrine/connectors/httpapi"
	"vitrine/mapping"
	"vitrine/pace"
	"vitrine/store/sqlite"
	"vitrine/webhooks"
	"vitrine/worker"
)

// The one customer every scenario uses: the agency's private repository
// mirrored into the customer's, as in connectors/github/README.md.
const (
	srcRepo    = "agency/acme-internal"
	dstRepo    = "acme/acme-status"
	srcToken   = "ghp_BenchSourceToken0001"
	dstToken   = "ghp_BenchTargetToken0002"
	reader     = "vitrine-reader"
	bot        = "vitrine-bot"
	hookSecret = "bench-webhook-secret"
	srcKey     = "github:agency/acme-internal"
	dstName    = "github:acme/acme-status"
	keySecret  = "bench-key-secret"
)

// rules is the customer's rules file: statuses come from "status: "
// labels, bodies show their client section, [client] comments leave.
const rules = `
reconcile: {interval: 10m}
customers:
  - id: acme
    name: ACME Corp
    timezone: Europe/Berlin
    sources:
      - github: {repo: agency/acme-internal, token_env: SRC_TOKEN, status_from: "label_prefix:status: "}
    publish:
      label: client-visible
      hide_label: client-hidden
    show:
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      comment_marker: "[client]"
      dates: true
      progress: true
    statuses:
      map: {"In Review": In progress, QA: In progress, Blocked: On hold}
      default: In progress
      done: Done
      cancelled: retract
%s`

const githubTarget = `    targets:
      - page: {feed: full}
      - github: {repo: acme/acme-status, retract: neutralize, token_env: DST_TOKEN}
`

const pageOnly = `    targets:
      - page: {feed: full}
`

// rigOptions shape the vitrine side of a scenario.
type rigOptions struct {
	Dir     string      // holds vitrine.yaml and the SQLite file
	APIURL  string      // the (fake) GitHub API
	Clock   clock.Clock // virtual or real
	Mirror  bool        // a GitHub mirror target besides the page
	Unpaced bool        // pacer limits no test reaches (latency and call counts)
	// Transport, when set, wraps the target's HTTP transport (to see when
	// a write's answer arrives); SourceTransport the source's.
	Transport       func(http.RoundTripper) http.RoundTripper
	SourceTransport func(http.RoundTripper) http.RoundTripper
	Log             zerolog.Logger
}

// rig is vitrine wired as the app wires it (app/runtime.go): the store,
// the GitHub source and target through the httpapi policy with the pacer
// as the write gate, the engine and the webhook intake.
type rig struct {
	st    *sqlite.Store
	eng   *worker.Engine
	pacer *pace.Pacer
	hook  *webhooks.Handler
	reg   *prometheus.Registry // the engine's metrics
}

// unpaced are limits no scenario reaches: the pacer still gates every
// write, it just never refuses.
func unpaced() pace.Limits {
	return pace.Limits{PerMinute: math.MaxInt32 / 2, PerHour: math.MaxInt32}
}

func buildRig(ctx context.Context, o rigOptions) (*rig, error) {
	targets := pageOnly
	if o.Mirror {
		targets = githubTarget
	}
	path := filepath.Join(o.Dir, "vitrine.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(rules, targets)), 0o600); err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	set, err := mapping.Compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(o.Dir, "vitrine.db"), sqlite.WithClock(o.Clock))
	if err != nil {
		return nil, err
	}
	r := &rig{st: st}
	po := pace.Options{Clock: o.Clock}
	if o.Unpaced {
		po.Default = unpaced()
	}
	if r.pacer, err = pace.New(po); err != nil {
		st.Close()
		return nil, err
	}
	env := map[string]string{"SRC_TOKEN": srcToken, "DST_TOKEN": dstToken}
	spread := github.NewSpread()
	sources := map[string]worker.Source{}
	bindings := map[string][]worker.Binding{}
	for _, c := range cfg.Customers {
		for _, s := range c.Sources {
			key := mapping.SourceKey(s)
			hc, err := httpClient(o, "github:"+reader, key, nil, o.SourceTransport)
			if err != nil {
				st.Close()
				return nil, err
			}
			src, err := github.NewSource(github.SourceOptions{
				Key: key, Repo: s.GitHub.Repo, StatusFrom: s.GitHub.StatusFrom, HTTP: hc,
				APIURL: o.APIURL, Token: env[s.GitHub.TokenEnv], Meta: st, Clock: o.Clock, Log: o.Log,
				Blocker: r.pacer, Spread: spread,
			})
			if err != nil {
				st.Close()
				return nil, err
			}
			sources[key] = src
		}
		for _, tc := range c.Targets {
			if tc.GitHub == nil {
				continue
			}
			g := tc.GitHub
			name := github.TargetName(*g)
			hc, err := httpClient(o, "github:"+bot, name, r.pacer, o.Transport)
			if err != nil {
				st.Close()
				return nil, err
			}
			tg, err := github.NewTarget(github.TargetOptions{
				Name: name, Repo: g.Repo, Retract: g.Retract, Bot: bot, HTTP: hc, APIURL: o.APIURL,
				Token: env[g.TokenEnv], Clock: o.Clock, Log: o.Log, Blocker: r.pacer, Spread: spread,
			})
			if err != nil {
				st.Close()
				return nil, err
			}
			bindings[c.ID] = append(bindings[c.ID], worker.Binding{Target: tg, Delay: g.TargetDelay.Duration})
		}
	}
	r.reg = prometheus.NewRegistry()
	r.eng, err = worker.New(worker.Config{
		Store: st, Rules: set, Sources: sources, Targets: bindings, Pacer: r.pacer, Clock: o.Clock, Log: o.Log,
		Metrics:   worker.NewMetrics(r.reg),
		KeySecret: []byte(keySecret), Owner: "bench", Interval: cfg.Reconcile.Interval.Duration,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	srcs, tgts := github.Routes(cfg)
	parser, err := github.NewWebhookParser(github.WebhookOptions{Secret: hookSecret, Sources: srcs, Targets: tgts, BotLogin: []string{bot}})
	if err != nil {
		st.Close()
		return nil, err
	}
	r.hook = webhooks.New(map[string]webhooks.Parser{"github": parser}, st, r.eng.Wake, o.Log, nil)
	r.hook.SetCoalesce(webhooks.Coalesce, o.Clock.Now) // as serve does
	return r, nil
}

func httpClient(o rigOptions, cred, target string, p *pace.Pacer, wrap func(http.RoundTripper) http.RoundTripper) (*httpapi.Client, error) {
	log := o.Log
	ho := httpapi.Options{Credential: cred, Target: target, Clock: o.Clock, Logger: &log}
	if f, ok := o.Clock.(*clock.Fake); ok {
		// Retries wait on the virtual clock.
		ho.Sleep = func(ctx context.Context, d time.Duration) error { f.Advance(d); return ctx.Err() }
	}
	if wrap != nil {
		ho.Transport = wrap(httpDefaultTransport())
	}
	if p != nil {
		ho.Pacer = p
		ho.PaceInfo = worker.PaceLaneKey
	}
	return httpapi.New(ho)
}

// httpDefaultTransport is what httpapi uses when given none.
func httpDefaultTransport() http.RoundTripper { return cleanhttp.DefaultPooledTransport() }

func (r *rig) close() {
	if r != nil && r.st != nil {
		r.st.Close()
	}
}

// reconcile enqueues a full reconcile and processes keys until idle (on a
// virtual clock, moving it to each scheduled key).
func (r *rig) reconcile(ctx context.Context) error {
	if err := r.eng.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		return err
	}
	return r.eng.RunUntilIdle(ctx, "bench")
}

// runUntil processes keys on a virtual clock up to (not past) until, as a
// worker that is always free would: every ready key at once, then the
// clock moves to the next scheduled key while that is before until.
func (r *rig) runUntil(ctx context.Context, fc *clock.Fake, until time.Time) error {
	for {
		did, err := r.eng.Step(ctx, "bench")
		if err != nil {
			return err
		}
		if did {
			continue
		}
		at, ok, err := r.st.NextReady(ctx)
		if err != nil {
			return err
		}
		if !ok || at.After(until) {
			break
		}
		if at.After(fc.Now()) {
			fc.Set(at)
		}
	}
	if until.After(fc.Now()) {
		fc.Set(until)
	}
	return nil
}

// passes counts the engine's passes of a key kind ("op", "view", ...) by
// result ("ok", "defer", "retry", "park"); result "" sums them all.
func (r *rig) passes(kind, result string) int {
	mfs, err := r.reg.Gather()
	if err != nil {
		return -1
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "vitrine_passes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			k, res := "", ""
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "kind":
					k = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			if k == kind && (result == "" || res == result) {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int(n)
}
