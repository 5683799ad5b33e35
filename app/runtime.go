package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/config"
	"vitrine/connectors/file"
	"vitrine/connectors/github"
	"vitrine/connectors/httpapi"
	"vitrine/fault"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/mirror/page"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/worker"
)

// runtime is everything a command may need, built from the environment and
// the rules. Parts are built on demand; close releases them.
type runtime struct {
	io    IO
	env   config.Env
	rules *config.Rules
	set   *mapping.Set
	log   zerolog.Logger
	reg   *prometheus.Registry
	clk   clock.Clock

	st      store.Store
	sources map[string]worker.Source
	targets map[string][]worker.Binding
	pacer   *pace.Pacer
	engine  *worker.Engine
	tokens  *page.Tokens

	faults    *fault.Plan // crash tests only: VITRINE_FAULTS
	clients   map[string]*httpapi.Client
	ghSpread  *github.Spread
	ghTargets []*github.Target
	limits    map[string]pace.Limits // per write credential
	closers   []func() error
	draining  atomic.Bool // SIGTERM received: /readyz answers 503
	// The secrets in use when the environment gives none (demo).
	genKeySecret []byte
	pageSecret   []byte
}

type buildOpts struct {
	store   bool // open the store
	engine  bool // sources, targets and the worker engine (implies store)
	tokens  bool // page tokens (implies store)
	metrics bool // a Prometheus registry with the process collectors
	owner   string
	// oneShot: a command that runs until idle gives up on a failing key
	// after a few quick attempts (it stays parked for serve to retry).
	oneShot bool
	// keySecret may be generated (demo) when unset.
	keySecret  []byte
	pageSecret []byte
}

// newLogger builds the zerolog logger from VITRINE_LOG_LEVEL and _FORMAT.
func newLogger(env config.Env, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(env.LogLevel))
	if err != nil || env.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("VITRINE_LOG_LEVEL %q: want trace, debug, info, warn, error or disabled", env.LogLevel)
	}
	if strings.EqualFold(env.LogFormat, "console") {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// loadRules reads and compiles the rules; problems come back as one error
// listing every `file:line: field: problem`.
func loadRules(path string) (*config.Rules, *mapping.Set, error) {
	rules, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	set, err := mapping.Compile(rules)
	if err != nil {
		return rules, nil, err
	}
	return rules, set, nil
}

func build(ctx context.Context, iox IO, o buildOpts) (*runtime, error) {
	env, err := config.ParseEnviron(iox.Environ)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("environment: %w", err)}
	}
	log, err := newLogger(env, iox.Stderr)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	rules, set, err := loadRules(env.Config)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	rt := &runtime{io: iox, env: env, rules: rules, set: set, log: log, clk: clock.Real{}, genKeySecret: o.keySecret}
	if rt.faults, err = crashPlan(iox.Environ); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if o.metrics {
		rt.reg = prometheus.NewRegistry()
		rt.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if o.store || o.engine || o.tokens {
		if err := rt.openStore(ctx); err != nil {
			rt.close()
			return nil, err
		}
	}
	if o.tokens {
		secret := o.pageSecret
		if env.PageSecret.IsSet() {
			secret = []byte(env.PageSecret.Reveal())
		}
		if len(secret) == 0 {
			rt.close()
			return nil, &ExitError{Code: 2, Err: errors.New("VITRINE_PAGE_SECRET is not set (page tokens are derived from it)")}
		}
		ids := make([]string, 0, len(rules.Customers))
		for _, c := range rules.Customers {
			ids = append(ids, c.ID)
		}
		rt.pageSecret = secret
		if rt.tokens, err = page.NewTokens(secret, rt.st, ids); err != nil {
			rt.close()
			return nil, &ExitError{Code: 2, Err: fmt.Errorf("page tokens: %w", err)}
		}
	}
	if o.engine {
		if err := rt.buildEngine(ctx, o); err != nil {
			rt.close()
			return nil, err
		}
	}
	return rt, nil
}

func (rt *runtime) openStore(ctx context.Context) error {
	u, err := rt.env.StoreURL()
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	switch u.Kind {
	case "sqlite":
		st, err := sqlite.Open(ctx, u.Path)
		if err != nil {
			return fmt.Errorf("store %s: %w", u.Path, err)
		}
		rt.st = st
		rt.closers = append(rt.closers, st.Close)
		return nil
	case "redis":
		st, err := openRedis(ctx, u, rt.log)
		if err != nil {
			return err
		}
		rt.st = st
		rt.closers = append(rt.closers, st.Close)
		return nil
	}
	return &ExitError{Code: 2, Err: fmt.Errorf("VITRINE_STORE: unknown store kind %q", u.Kind)}
}

func (rt *runtime) close() {
	for i := len(rt.closers) - 1; i >= 0; i-- {
		if err := rt.closers[i](); err != nil {
			rt.log.Warn().Err(err).Msg("close failed")
		}
	}
	rt.closers = nil
}

// keySecret is VITRINE_KEY_SECRET, or the given fallback (demo).
func (rt *runtime) keySecret(fallback []byte) []byte {
	if rt.env.KeySecret.IsSet() {
		return []byte(rt.env.KeySecret.Reveal())
	}
	return fallback
}

// buildEngine constructs every configured source and target and the engine.
func (rt *runtime) buildEngine(ctx context.Context, o buildOpts) error {
	rt.sources = map[string]worker.Source{}
	rt.targets = map[string][]worker.Binding{}
	rt.clients = map[string]*httpapi.Client{}
	rt.limits = map[string]pace.Limits{}
	for _, c := range rt.rules.Customers {
		for _, s := range c.Sources {
			key := mapping.SourceKey(s)
			if _, ok := rt.sources[key]; ok {
				continue
			}
			src, err := rt.buildSource(s, key)
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: source %s: %w", c.ID, key, err)}
			}
			rt.sources[key] = src
		}
		for _, t := range c.Targets {
			if t.Page != nil {
				continue
			}
			b, err := rt.buildTarget(c, t)
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: target: %w", c.ID, err)}
			}
			rt.bind(c.ID, b)
		}
	}
	recs, err := rt.st.ListKV(ctx, nsTargets)
	if err != nil {
		return fmt.Errorf("list target records: %w", err)
	}
	if err := rt.rememberTargets(ctx, recs); err != nil {
		return err
	}
	if err := rt.bindDeparted(ctx, recs); err != nil {
		return err
	}
	// Every write credential is known now: the pacer gets their limits.
	rt.pacer, err = pace.New(pace.Options{Clock: rt.clk, State: pacingState(rt.st), Credentials: rt.limits})
	if err != nil {
		return err
	}
	var metrics *worker.Metrics
	if rt.reg != nil {
		metrics = worker.NewMetrics(rt.reg)
	}
	owner := o.owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	secret := rt.keySecret(o.keySecret)
	if len(rt.targets) > 0 && len(secret) == 0 {
		return &ExitError{Code: 2, Err: errors.New("VITRINE_KEY_SECRET is not set (mirror targets carry keys derived from it)")}
	}
	rt.engine, err = worker.New(worker.Config{
		Store: rt.st, Rules: rt.set, Sources: rt.sources, Targets: rt.targets, Pacer: rt.pacer,
		Clock: rt.clk, Log: rt.log, Metrics: metrics, KeySecret: secret, Owner: owner,
		Interval: rt.rules.Reconcile.Interval.Duration, MaxAttempts: maxAttempts(o.oneShot),
		Faults: faultsOrNil(rt.faults),
	})
	return err
}

// bind keeps a customer's target binding; GitHub targets are also asked
// for their login (echo suppression, validate --online).
func (rt *runtime) bind(customer string, b worker.Binding) {
	rt.targets[customer] = append(rt.targets[customer], b)
	if tg, ok := b.Target.(*github.Target); ok {
		rt.ghTargets = append(rt.ghTargets, tg)
	}
}

func (rt *runtime) buildSource(s config.Source, key string) (worker.Source, error) {
	switch {
	case s.File != nil:
		return file.NewSource(key, s.File.Resolved), nil
	case s.GitHub != nil:
		return rt.githubSource(s, key)
	case s.Jira != nil:
		return rt.jiraSource(s, key)
	}
	return nil, errors.New("source has no kind")
}

func (rt *runtime) buildTarget(c config.Customer, t config.Target) (worker.Binding, error) {
	switch {
	case t.GitHub != nil:
		return rt.githubTarget(c, t)
	case t.Jira != nil:
		return rt.jiraTarget(c, t)
	}
	return worker.Binding{}, errors.New("target has no kind")
}

func maxAttempts(oneShot bool) int {
	if oneShot {
		return 3
	}
	return 8
}

// crashPlan reads VITRINE_FAULTS, a test-only plan of named points at which
// the process SIGKILLs itself (see package fault).
func crashPlan(environ []string) (*fault.Plan, error) {
	spec := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "VITRINE_FAULTS="); ok {
			spec = v
		}
	}
	p, err := fault.Parse(spec)
	if err != nil || p == nil {
		return nil, err
	}
	p.Trigger = func(string) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns: the signal ends the process
	}
	return p, nil
}

// faultsOrNil keeps a nil plan a nil interface.
func faultsOrNil(p *fault.Plan) mirror.Faults {
	if p == nil {
		return nil
	}
	return p
}
