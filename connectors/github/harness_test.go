package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/config"
	"vitrine/connectors/github"
	"vitrine/connectors/httpapi"
	fake "vitrine/fake/github"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/webhooks"
	"vitrine/worker"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	srcRepo    = "agency/acme-internal"
	dstRepo    = "acme/acme-status"
	srcToken   = "ghp_SrcTokenValue0001"
	dstToken   = "ghp_DstTokenValue0002"
	reader     = "vitrine-reader"
	bot        = "vitrine-bot"
	hookSecret = "webhook-secret"
	srcKey     = "github:agency/acme-internal"
	dstName    = "github:acme/acme-status"
)

var (
	t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	bg = context.Background()
)

// baseRules is one customer reading the agency's repo and mirroring into
// its own, as the README's worked example.
const baseRules = `
reconcile: {interval: 10m}
customers:
  - id: acme
    name: ACME Corp
    timezone: Europe/Berlin
    sources:
      - github: {repo: agency/acme-internal, token_env: SRC_TOKEN}
    publish:
      label: client-visible
      hide_label: client-hidden
      inherit: false
    show:
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      comment_marker: "[client]"
      dates: true
      progress: true
    statuses:
      map: {open: In progress}
      done: Done
      cancelled: retract
    dates: {buffer_days: 5}
    targets:
      - page: {feed: full}
      - github: {repo: acme/acme-status, retract: neutralize, token_env: DST_TOKEN}
`

// world is a fake GitHub, a rules file, a SQLite store and the engine
// built from them as the app builds it.
type world struct {
	t      *testing.T
	gh     *fake.Server
	fc     *clock.Fake
	dir    string
	db     string
	rules  string
	env    map[string]string
	faults mirror.Faults
	limits fake.Limits

	st    *sqlite.Store
	set   *mapping.Set
	cfg   *config.Rules
	eng   *worker.Engine
	pacer *pace.Pacer
	hook  http.Handler

	mu    sync.Mutex
	log   []sent // every request the fake saw, in order
	fault func(*fake.Request) fake.Fault
	dbs   int
	logTo zerolog.Logger // used when set (non-Nop)
}

// sent is one request as the fake saw it, on the virtual clock.
type sent struct {
	At     time.Time
	Token  string
	Method string
	Route  string
	Path   string
	Body   string
}

type worldOpt func(*world)

func withLimits(l fake.Limits) worldOpt { return func(w *world) { w.limits = l } }

func newWorld(t *testing.T, opts ...worldOpt) *world {
	t.Helper()
	w := &world{t: t, fc: clock.NewFake(t0), dir: t.TempDir(), rules: baseRules, logTo: zerolog.Nop(),
		env: map[string]string{"SRC_TOKEN": srcToken, "DST_TOKEN": dstToken}}
	for _, o := range opts {
		o(w)
	}
	w.db = filepath.Join(w.dir, "vitrine.db")
	w.gh = fake.New(t, fake.Options{Clock: w.fc, Limits: w.limits, Fault: w.record})
	w.gh.AddRepo(srcRepo)
	w.gh.AddRepo(dstRepo)
	w.gh.AddToken(srcToken, reader)
	w.gh.AddToken(dstToken, bot)
	w.gh.SetAccess(srcToken, srcRepo, fake.AccessRead)
	w.gh.SetAccess(dstToken, dstRepo, fake.AccessPush)
	return w
}

// record keeps every request on the virtual clock; a test's own fault hook
// (setFault) runs after it.
func (w *world) record(r *fake.Request) fake.Fault {
	w.mu.Lock()
	w.log = append(w.log, sent{At: w.fc.Now(), Token: r.Token, Method: r.Method, Route: r.Route, Path: r.Path, Body: string(r.Body)})
	f := w.fault
	w.mu.Unlock()
	if f != nil {
		return f(r)
	}
	return fake.Fault{}
}

func (w *world) setFault(f func(*fake.Request) fake.Fault) {
	w.mu.Lock()
	w.fault = f
	w.mu.Unlock()
}

func (w *world) requests() []sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sent(nil), w.log...)
}

func (w *world) resetLog() {
	w.mu.Lock()
	w.log = nil
	w.mu.Unlock()
	w.gh.ResetCalls()
}

// start builds the store and the engine from the rules; a second call is a
// restart on the same SQLite file (fresh: on a new, empty one).
func (w *world) start() {
	w.t.Helper()
	if w.st != nil {
		w.st.Close()
	}
	path := filepath.Join(w.dir, "vitrine.yaml")
	if err := os.WriteFile(path, []byte(w.rules), 0o600); err != nil {
		w.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		w.t.Fatalf("rules: %v", err)
	}
	set, err := mapping.Compile(cfg)
	if err != nil {
		w.t.Fatalf("compile: %v", err)
	}
	st, err := sqlite.Open(bg, w.db, sqlite.WithClock(w.fc))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { st.Close() })
	w.st, w.set, w.cfg = st, set, cfg
	w.pacer, err = pace.New(pace.Options{Clock: w.fc})
	if err != nil {
		w.t.Fatal(err)
	}
	log := w.logTo
	if os.Getenv("VITRINE_TEST_LOG") != "" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, NoColor: true}).Level(zerolog.DebugLevel)
	}
	spread := github.NewSpread()
	sources := map[string]worker.Source{}
	targets := map[string][]worker.Binding{}
	bots := map[string]bool{}
	for _, c := range cfg.Customers {
		for _, s := range c.Sources {
			if s.GitHub == nil {
				continue
			}
			key := mapping.SourceKey(s)
			if _, ok := sources[key]; ok {
				continue
			}
			hc := w.httpClientLog("github:"+reader, key, nil, log)
			src, err := github.NewSource(github.SourceOptions{
				Key: key, Repo: s.GitHub.Repo, StatusFrom: s.GitHub.StatusFrom, HTTP: hc,
				APIURL: w.gh.URL(), Token: w.env[s.GitHub.TokenEnv], Meta: st, Clock: w.fc, Log: log, Blocker: w.pacer, Spread: spread,
			})
			if err != nil {
				w.t.Fatal(err)
			}
			sources[key] = src
		}
		for _, tc := range c.Targets {
			if tc.GitHub == nil {
				continue
			}
			g := tc.GitHub
			name := github.TargetName(*g)
			hc := w.httpClientLog("github:"+bot, name, w.pacer, log)
			tg, err := github.NewTarget(github.TargetOptions{
				Name: name, Repo: g.Repo, Retract: g.Retract, LabelPrefix: g.LabelPrefix, Bot: bot,
				HTTP: hc, APIURL: w.gh.URL(), Token: w.env[g.TokenEnv], Clock: w.fc, Log: log, Blocker: w.pacer, Spread: spread,
			})
			if err != nil {
				w.t.Fatal(err)
			}
			bots[bot] = true
			targets[c.ID] = append(targets[c.ID], worker.Binding{Target: tg, Delay: g.TargetDelay.Duration})
		}
	}
	w.eng, err = worker.New(worker.Config{
		Store: st, Rules: set, Sources: sources, Targets: targets, Pacer: w.pacer, Clock: w.fc, Log: log,
		KeySecret: []byte("test-key-secret"), Owner: "test", Faults: w.faults, Interval: cfg.Reconcile.Interval.Duration,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	srcs, tgts := github.Routes(cfg)
	var logins []string
	for b := range bots {
		logins = append(logins, b)
	}
	parser, err := github.NewWebhookParser(github.WebhookOptions{Secret: hookSecret, Sources: srcs, Targets: tgts, BotLogin: logins})
	if err != nil {
		w.t.Fatal(err)
	}
	w.hook = webhooks.New(map[string]webhooks.Parser{"github": parser}, st, w.eng.Wake, log, nil)
}

func (w *world) httpClient(cred, target string, p *pace.Pacer) *httpapi.Client {
	return w.httpClientLog(cred, target, p, zerolog.Nop())
}

func (w *world) httpClientLog(cred, target string, p *pace.Pacer, log zerolog.Logger) *httpapi.Client {
	w.t.Helper()
	o := httpapi.Options{
		Credential: cred, Target: target, Clock: w.fc, Logger: &log,
		// Retries wait on the virtual clock.
		Sleep: func(ctx context.Context, d time.Duration) error { w.fc.Advance(d); return ctx.Err() },
	}
	if p != nil {
		o.Pacer = p
		o.PaceInfo = worker.PaceLaneKey
	}
	c, err := httpapi.New(o)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// restart builds a fresh engine on the same SQLite file, after the leases
// of a crashed pass ran out.
func (w *world) restart() {
	w.t.Helper()
	w.fc.Advance(3 * time.Minute)
	w.start()
}

// loseStore starts over on an empty SQLite file.
func (w *world) loseStore() {
	w.t.Helper()
	w.st.Close()
	w.st = nil
	w.dbs++
	w.db = filepath.Join(w.dir, fmt.Sprintf("vitrine-%d.db", w.dbs))
	w.start()
}

// run processes keys until idle.
func (w *world) run() {
	w.t.Helper()
	if err := w.eng.RunUntilIdle(bg, "test"); err != nil {
		w.t.Fatalf("run: %v", err)
	}
}

// reconcile is one full pass, then idle.
func (w *world) reconcile() {
	w.t.Helper()
	if err := w.eng.Enqueue(bg, worker.ReconcileTask()); err != nil {
		w.t.Fatal(err)
	}
	w.run()
}

// deliver posts a signed webhook delivery through the intake handler.
func (w *world) deliver(ev fake.Event) int {
	w.t.Helper()
	d, err := w.gh.Delivery(hookSecret, ev)
	if err != nil {
		w.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.hook.ServeHTTP(rec, d.Request("http://vitrine.test/webhooks/github"))
	return rec.Code
}

// golden compares the fake's whole state with testdata/<name>.json.
func (w *world) golden(name string) {
	w.t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(w.gh.Dump()); err != nil {
		w.t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatalf("golden %s: %v (run with -update)", name, err)
	}
	if !bytes.Equal(got, want) {
		w.t.Errorf("fake state differs from %s:\n%s", path, diffLines(string(want), string(got)))
	}
}

// diffLines is a small line diff for failure messages.
func diffLines(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := max(len(wl), len(gl))
	shown := 0
	for i := 0; i < n && shown < 40; i++ {
		var x, y string
		if i < len(wl) {
			x = wl[i]
		}
		if i < len(gl) {
			y = gl[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d:\n  - %s\n  + %s\n", i+1, x, y)
			shown++
		}
	}
	return b.String()
}

// writes counts the write requests a token sent.
func (w *world) writes(token string) []sent {
	var out []sent
	for _, r := range w.requests() {
		if r.Token == token && r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func (w *world) sourceError() (string, bool) {
	raw, ok, err := w.st.GetKV(bg, "source-error", srcKey)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(raw), ok
}

func (w *world) links(prefix string) []store.Link {
	ls, err := w.st.ListLinks(bg, "acme", dstName, prefix)
	if err != nil {
		w.t.Fatal(err)
	}
	return ls
}
