package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
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
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/webhooks"
	"vitrine/worker"
)

const (
	reader     = "vitrine-reader"
	bot        = "vitrine-bot"
	srcToken   = "ghp_ChaosSourceToken0001"
	dstToken   = "ghp_ChaosTargetToken0002"
	hookSecret = "chaos-webhook-secret"
	keySecret  = "chaos-key-secret"
	owner      = "chaos"
)

var (
	bg = context.Background()
	t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
)

// pair is one customer: an agency repository read, a customer repository
// written. Both customers write with the same bot token, so they share one
// pacing credential; globex's target deletes on retract (GraphQL), acme's
// neutralises.
type pair struct {
	customer   string
	src, dst   string
	deleteMode bool
}

var pairs = []pair{
	{customer: "acme", src: "agency/acme-internal", dst: "acme/acme-status"},
	{customer: "globex", src: "agency/globex-internal", dst: "globex/globex-status", deleteMode: true},
}

func (p pair) srcKey() string { return "github:" + strings.ToLower(p.src) }
func (p pair) target() string { return "github:" + strings.ToLower(p.dst) }

// rules are the README's worked example for acme, and a second customer
// showing whole bodies and deleting its retracted mirrors.
const rules = `
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
      - github: {repo: acme/acme-status, retract: neutralize, token_env: DST_TOKEN}
  - id: globex
    name: Globex
    sources:
      - github: {repo: agency/globex-internal, token_env: SRC_TOKEN}
    publish:
      label: client-visible
      hide_label: client-hidden
    show:
      body: all
      internal_marker: Internal
      comments: marked
      comment_marker: "[client]"
      dates: true
      progress: true
    statuses:
      done: Done
      cancelled: retract
    targets:
      - github: {repo: globex/globex-status, retract: delete, token_env: DST_TOKEN}
`

// world is one run: a fake GitHub, a SQLite store and the engine built
// from them as the app builds it, driven on a virtual clock.
type world struct {
	t        *testing.T
	name     string
	fc       *clock.Fake
	gh       *fake.Server
	st       *sqlite.Store
	eng      *worker.Engine
	hook     http.Handler
	cfg      *config.Rules
	faults   *injector // nil: no faults
	interval time.Duration
	nextTick time.Time
	steps    int
	hooks    hookStats

	mu         sync.Mutex
	lastWrites []string // the last writes the fake saw, for failure messages
}

type hookStats struct {
	sent, dropped, delayed, redelivered int
	codes                               map[int]int
}

// worldOptions say how a run's HTTP clients behave.
type worldOptions struct {
	name   string
	faults *injector
	hook   func(*fake.Request) fake.Fault // a test's own faults (after faults')
}

// attemptTimeout is a real-time safety net: no attempt should ever come
// near it (a hung create is ended by the injector).
const attemptTimeout = 20 * time.Second

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	w := &world{t: t, name: o.name, fc: clock.NewFake(t0), faults: o.faults, hooks: hookStats{codes: map[int]int{}}}
	var inner func(*fake.Request) fake.Fault
	if o.faults != nil {
		o.faults.fc = w.fc
		inner = o.faults.fault
	}
	hookFn := func(r *fake.Request) fake.Fault {
		if r.Write {
			w.mu.Lock()
			w.lastWrites = append(w.lastWrites, fmt.Sprintf("%s %s %s %s", w.fc.Now().Format(time.TimeOnly), r.Method, r.Path, strings.TrimSpace(string(r.Body))))
			if len(w.lastWrites) > 40 {
				w.lastWrites = w.lastWrites[1:]
			}
			w.mu.Unlock()
		}
		if inner != nil {
			if f := inner(r); f.Kind != fake.NoFault || f.Wait != nil {
				return f
			}
		}
		if o.hook != nil {
			return o.hook(r)
		}
		return fake.Fault{}
	}
	// Every request is checked against GitHub's description; the fake's
	// own answers are checked by its own tests, not again here.
	w.gh = fake.New(t, fake.Options{Clock: w.fc, Fault: hookFn, Limits: fake.Limits{Mode: fake.WindowsDocumented}, NoResponseCheck: true})
	if o.faults != nil {
		o.faults.gh = w.gh
	}
	w.gh.AddToken(srcToken, reader)
	w.gh.AddToken(dstToken, bot)
	for _, p := range pairs {
		w.gh.AddRepo(p.src)
		w.gh.AddRepo(p.dst)
		w.gh.SetAccess(srcToken, p.src, fake.AccessRead)
		access := fake.AccessPush
		if p.deleteMode {
			access = fake.AccessAdmin
		}
		w.gh.SetAccess(dstToken, p.dst, access)
	}

	dir := tempDir(t)
	path := filepath.Join(dir, "vitrine.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	set, err := mapping.Compile(cfg)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	st, err := sqlite.Open(bg, filepath.Join(dir, "vitrine.db"), sqlite.WithClock(w.fc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pacer, err := pace.New(pace.Options{Clock: w.fc})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.Nop()
	if os.Getenv("VITRINE_TEST_LOG") != "" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, NoColor: true}).Level(zerolog.DebugLevel).
			With().Str("run", o.name).Logger()
	}
	client := func(cred, target string, p *pace.Pacer) *httpapi.Client {
		opts := httpapi.Options{
			Credential: cred, Target: target, Clock: w.fc, Logger: &log,
			Transport: &attempts{base: http.DefaultTransport.(*http.Transport).Clone(), timeout: attemptTimeout, injector: o.faults},
			// Retries wait on the virtual clock.
			Sleep:  func(ctx context.Context, d time.Duration) error { w.fc.Advance(d); return ctx.Err() },
			Jitter: func(d time.Duration) time.Duration { return d / 4 },
		}
		if p != nil {
			opts.Pacer = p
			opts.PaceInfo = worker.PaceLaneKey
		}
		c, err := httpapi.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	spread := github.NewSpread()
	sources := map[string]worker.Source{}
	targets := map[string][]worker.Binding{}
	env := map[string]string{"SRC_TOKEN": srcToken, "DST_TOKEN": dstToken}
	for _, c := range cfg.Customers {
		for _, s := range c.Sources {
			key := mapping.SourceKey(s)
			src, err := github.NewSource(github.SourceOptions{
				Key: key, Repo: s.GitHub.Repo, StatusFrom: s.GitHub.StatusFrom, HTTP: client("github:"+reader, key, nil),
				APIURL: w.gh.URL(), Token: env[s.GitHub.TokenEnv], Meta: st, Clock: w.fc, Log: log, Blocker: pacer, Spread: spread,
			})
			if err != nil {
				t.Fatal(err)
			}
			sources[key] = src
		}
		for _, tc := range c.Targets {
			if tc.GitHub == nil {
				continue
			}
			g := tc.GitHub
			name := github.TargetName(*g)
			tg, err := github.NewTarget(github.TargetOptions{
				Name: name, Repo: g.Repo, Retract: g.Retract, LabelPrefix: g.LabelPrefix, Bot: bot,
				HTTP: client("github:"+bot, name, pacer), APIURL: w.gh.URL(), Token: env[g.TokenEnv],
				Clock: w.fc, Log: log, Blocker: pacer, Spread: spread,
			})
			if err != nil {
				t.Fatal(err)
			}
			targets[c.ID] = append(targets[c.ID], worker.Binding{Target: tg, Delay: g.TargetDelay.Duration})
		}
	}
	for _, p := range pairs {
		if _, ok := sources[p.srcKey()]; !ok {
			t.Fatalf("source key of %s is not %s", p.src, p.srcKey())
		}
		if bs := targets[p.customer]; len(bs) != 1 || bs[0].Target.Name() != p.target() {
			t.Fatalf("target of %s is not %s", p.customer, p.target())
		}
	}
	w.interval = cfg.Reconcile.Interval.Duration
	w.eng, err = worker.New(worker.Config{
		Store: st, Rules: set, Sources: sources, Targets: targets, Pacer: pacer, Clock: w.fc, Log: log,
		KeySecret: []byte(keySecret), Owner: owner, Interval: w.interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	srcs, tgts := github.Routes(cfg)
	parser, err := github.NewWebhookParser(github.WebhookOptions{Secret: hookSecret, Sources: srcs, Targets: tgts, BotLogin: []string{bot}})
	if err != nil {
		t.Fatal(err)
	}
	w.hook = webhooks.New(map[string]webhooks.Parser{"github": parser}, st, w.eng.Wake, log, nil)
	w.st, w.cfg = st, cfg
	// serve enqueues a reconcile at start-up, then one every interval.
	w.nextTick = t0
	return w
}

// maxStepsPerDrive stops a run whose queue never drains at one instant (a
// key that defers to "now" forever would otherwise spin).
const maxStepsPerDrive = 200000

// stepReady processes every key ready at the current virtual time.
func (w *world) stepReady() {
	w.t.Helper()
	for n := 0; ; n++ {
		if n > maxStepsPerDrive {
			w.t.Fatalf("%s: %d passes at %s without draining the ready keys", w.name, n, w.fc.Now())
		}
		did, err := w.eng.Step(bg, owner)
		if err != nil {
			w.t.Fatalf("%s: step: %v", w.name, err)
		}
		if !did {
			return
		}
		w.steps++
	}
}

// tick enqueues serve's periodic reconcile when its time has come (missed
// ticks fold into one, as a time.Ticker's do).
func (w *world) tick() {
	w.t.Helper()
	now := w.fc.Now()
	if now.Before(w.nextTick) {
		return
	}
	if err := w.eng.Enqueue(bg, worker.ReconcileTask()); err != nil {
		w.t.Fatal(err)
	}
	for !w.nextTick.After(now) {
		w.nextTick = w.nextTick.Add(w.interval)
	}
}

// drive runs the engine as serve does until virtual time until: every ready
// key, then the clock moves to the next ready key or reconcile tick.
func (w *world) drive(until time.Time) {
	w.t.Helper()
	still := 0
	for {
		w.tick()
		w.stepReady()
		next, ok, err := w.st.NextReady(bg)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok || next.After(w.nextTick) {
			next = w.nextTick
		}
		if next.After(until) {
			w.fc.Set(until)
			return
		}
		if next.After(w.fc.Now()) {
			still = 0
		} else if still++; still > 1000 {
			// Ready, yet Step claims nothing: only a leased key could be
			// (there is one worker), so this would spin.
			w.t.Fatalf("%s: a key is ready at %s but nothing is claimed\n%s", w.name, next, w.queueReport())
		}
		w.fc.Set(next)
	}
}

// stepUntil processes keys one at a time, moving the clock to the next
// ready key when none is, until stop says so or nothing is left.
func (w *world) stepUntil(stop func() bool) {
	w.t.Helper()
	for n := 0; !stop(); n++ {
		if n > maxStepsPerDrive {
			w.t.Fatalf("%s: %d passes without reaching the stop condition", w.name, n)
		}
		did, err := w.eng.Step(bg, owner)
		if err != nil {
			w.t.Fatal(err)
		}
		if did {
			continue
		}
		next, ok, err := w.st.NextReady(bg)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok {
			return
		}
		w.fc.Set(next)
	}
}

// settle runs until the queue is empty (no reconcile ticks), failing when
// that takes more than limit of virtual time.
func (w *world) settle(limit time.Duration) {
	w.t.Helper()
	if err := w.settleWithin(limit); err != nil {
		w.t.Fatal(err)
	}
}

// settleWithin runs until the queue is empty; an error says it was not
// within limit of virtual time.
func (w *world) settleWithin(limit time.Duration) error {
	w.t.Helper()
	deadline := w.fc.Now().Add(limit)
	for {
		w.stepReady()
		next, ok, err := w.st.NextReady(bg)
		if err != nil {
			w.t.Fatal(err)
		}
		if !ok {
			return nil
		}
		if next.After(deadline) {
			return fmt.Errorf("%s: queue not drained within %s of virtual time: next key at %s\n%s", w.name, limit, next, w.queueReport())
		}
		w.fc.Set(next)
	}
}

// reconcile enqueues one full reconcile and settles.
func (w *world) reconcile(limit time.Duration) {
	w.t.Helper()
	if err := w.eng.Enqueue(bg, worker.ReconcileTask()); err != nil {
		w.t.Fatal(err)
	}
	w.settle(limit)
}

// converge reconciles until a whole reconcile writes nothing to any
// target, at most rounds times; it returns the rounds it took.
func (w *world) converge(rounds int, limit time.Duration) int {
	w.t.Helper()
	for i := 1; i <= rounds; i++ {
		before := w.targetWrites()
		w.reconcile(limit)
		if w.targetWrites() == before {
			return i
		}
	}
	w.t.Fatalf("%s: still writing after %d reconciles", w.name, rounds)
	return rounds
}

func (w *world) targetWrites() int {
	return w.gh.Calls().Count(dstToken, "", "", 0) - w.gh.Calls().Count(dstToken, http.MethodGet, "", 0)
}

// deliver posts a signed webhook delivery through the intake handler.
func (w *world) deliver(d fake.Delivery) {
	w.t.Helper()
	rec := httptest.NewRecorder()
	w.hook.ServeHTTP(rec, d.Request("http://vitrine.test/webhooks/github"))
	w.hooks.codes[rec.Code]++
	if rec.Code >= 300 {
		w.t.Errorf("%s: webhook %s %s answered %d: %s", w.name, d.Event, d.ID, rec.Code, rec.Body.String())
	}
}

// queueReport lists parked keys (with their last error) for failure
// messages.
func (w *world) queueReport() string {
	parked, err := w.st.Parked(bg)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	stats, _ := w.st.Stats(bg, w.fc.Now())
	fmt.Fprintf(&b, "queue: %+v\n", stats)
	if os.Getenv("CHAOS_CALLS") != "" {
		fmt.Fprintf(&b, "calls:\n%s\n", w.gh.Calls())
	}
	w.mu.Lock()
	fmt.Fprintf(&b, "last writes:\n  %s\n", strings.Join(w.lastWrites, "\n  "))
	w.mu.Unlock()
	sort.Slice(parked, func(i, j int) bool { return parked[i].Key < parked[j].Key })
	for _, j := range parked {
		fmt.Fprintf(&b, "parked %s (attempt %d): %s\n", j.Key, j.Attempt, j.LastError)
	}
	// The waiting keys, read from the file itself (the store has no
	// listing of them).
	db, err := sql.Open("sqlite", w.st.Path()+"?_pragma=query_only(1)")
	if err != nil {
		return b.String() + err.Error()
	}
	defer db.Close()
	rows, err := db.Query("SELECT key, attempt, last_error, claim_at FROM queue WHERE claim_at IS NOT NULL ORDER BY claim_at LIMIT 30")
	if err != nil {
		return b.String() + err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var key, lastErr, at string
		var attempt int
		if err := rows.Scan(&key, &attempt, &lastErr, &at); err != nil {
			return b.String() + err.Error()
		}
		fmt.Fprintf(&b, "waiting %s at %s (attempt %d) %s\n", key, at, attempt, lastErr)
	}
	return b.String()
}

// tempDir is a directory for the run's SQLite file: on tmpfs when there is
// one, since the store fsyncs every commit (synchronous=FULL) and thousands
// of passes would otherwise wait on the disk.
func tempDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "vitrine-chaos-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

func reconcileTask() store.Task { return worker.ReconcileTask() }

// explain tells what the store and the source say about the source object
// named name (an issue or a milestone of r), for failure messages.
func (w *world) explain(r *srcRepo, name string) string {
	var b strings.Builder
	object := ""
	for _, is := range r.issues {
		if is.name == name {
			object = item.MakeID(r.p.srcKey(), fmt.Sprint(is.id))
			if x, ok := w.gh.Issue(r.p.src, is.num); ok {
				fmt.Fprintf(&b, "  source: %s/%s labels %v milestone %d parent %d\n", x.State, x.StateReason, x.Labels, x.Milestone, x.ParentID)
			} else {
				fmt.Fprintf(&b, "  source: deleted\n")
			}
		}
	}
	for _, m := range r.milestones {
		if m.name == name {
			object = mirror.MilestoneObject(item.MakeID(r.p.srcKey(), fmt.Sprintf("m-%d", m.id)))
		}
	}
	if object == "" {
		return "  (no such source object)"
	}
	// What the cache holds under it (roll-ups count these).
	snaps, err := w.st.ListSnapshots(bg, r.p.srcKey())
	if err != nil {
		fmt.Fprintf(&b, "  snapshots: %v\n", err)
	}
	for _, sn := range snaps {
		var it item.Item
		if sn.Kind != store.KindItem || json.Unmarshal(sn.Data, &it) != nil {
			continue
		}
		if it.Parent == object || it.Milestone == object {
			state := "in the source"
			for _, is := range r.issues {
				if item.MakeID(r.p.srcKey(), fmt.Sprint(is.id)) == it.ID {
					if is.deleted {
						state = "DELETED in the source"
					}
					if x, ok := w.gh.Issue(r.p.src, is.num); ok && item.MakeID(r.p.srcKey(), fmt.Sprint(x.ParentID)) != object && it.Parent == object {
						state = "no longer its sub-issue in the source"
					}
				}
			}
			fmt.Fprintf(&b, "  cached child %s (%s, %s): %s\n", it.Ref, it.State, strings.Join(it.Labels, ","), state)
		}
	}
	l, ok, err := w.st.GetLink(bg, r.p.customer, r.p.target(), object)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "  link: %v\n", err)
	case !ok:
		fmt.Fprintf(&b, "  link: none\n")
	default:
		fmt.Fprintf(&b, "  link: %s ref %s hash %.24s updated %s\n", l.State, l.Ref, l.Hash, l.Updated.Format(time.DateTime))
	}
	es, err := w.st.ListAudit(bg, store.AuditQuery{Customer: r.p.customer, Object: object, Limit: 8})
	if err != nil {
		fmt.Fprintf(&b, "  audit: %v\n", err)
	}
	for _, e := range es {
		fmt.Fprintf(&b, "  audit %s %s %s %s %s\n", e.Time.Format(time.DateTime), e.Target, e.Action, e.Rule, e.Detail)
	}
	return b.String()
}
