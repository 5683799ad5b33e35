package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	fakegh "vitrine/fake/github"
	"vitrine/store"
	"vitrine/store/redis"
	"vitrine/store/redis/redistest"
	"vitrine/store/sqlite"
)

// Secrets and identities every world uses.
const (
	pageSecret = "e2e-page-secret-0123456789abcdef"
	keySecret  = "e2e-key-secret-fedcba9876543210"
	hookSecret = "e2e-webhook-secret"
	srcToken   = "ghp_e2eSourceReader0001"
	reader     = "vitrine-reader"
	bot        = "vitrine-bot"
	// The prefix the binary uses: VITRINE_STORE has no way to name another.
	redisPrefix = "vitrine:"
)

// board shapes the agency's private board: customers × items published
// issues, each customer reading its own source repository and mirroring
// into its own target repository with its own write token.
type board struct {
	customers int
	items     int // published issues per customer
}

func (b board) published() int { return b.customers * b.items }

// customer is one customer of a world.
type customer struct {
	id       string
	src, dst string // owner/name
	token    string // the target's write token
	tokenEnv string
}

type storeKind string

const (
	sqliteStore storeKind = "sqlite"
	redisStore  storeKind = "redis"
)

// world is a fake GitHub holding a board, the rules for it, and a store.
type world struct {
	t     testing.TB
	gh    *fakegh.Server
	dir   string
	b     board
	cs    []customer
	kind  storeKind
	store string // VITRINE_STORE
	redis string // redis URL (redis worlds)
	procs int    // processes started, for log names

	reqMu   sync.Mutex
	reqs    []seenRequest // every request the fake saw, for overlap reports
	running []*proc       // serve processes, to tell which one sent a request
	// fault, when set, decides the fake's answer to each request.
	fault func(*fakegh.Request) fakegh.Fault
}

// seenRequest is one request as the fake saw it arrive.
type seenRequest struct {
	At     time.Time
	Method string
	Path   string
	Remote string // the client's address: one connection of one process
	Via    string // the process that sent it (comment requests, several processes)
}

// worldOpts configures newWorld.
type worldOpts struct {
	kind  storeKind
	board board
	// redisURL, when set, is the Redis to use (a private server the test
	// controls); otherwise redistest.Start's.
	redisURL string
	// redisDB isolates a test on a shared Redis (VITRINE_TEST_REDIS): the
	// binary always uses the key prefix "vitrine:", so e2e tests keep apart
	// by database number instead.
	redisDB int
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	// The fake's clock stays at its default instant: timestamps in the
	// mirrors (comment headers) are then the same in every run, which the
	// golden states rely on. The rate-limit window never rolls over on a
	// frozen clock, hence the large primary budget.
	gh := fakegh.New(t, fakegh.Options{PrimaryLimit: 1 << 30})
	w := &world{t: t, gh: gh, dir: t.TempDir(), b: o.board, kind: o.kind}
	gh.SetFault(func(r *fakegh.Request) fakegh.Fault {
		w.reqMu.Lock()
		sr := seenRequest{At: time.Now(), Method: r.Method, Path: r.Path, Remote: r.HTTP.RemoteAddr}
		if len(w.running) > 1 && strings.Contains(r.Path, "/status/issues/") && strings.Contains(r.Path, "/comments") {
			sr.Via = w.senderOf(r.HTTP.RemoteAddr)
		}
		w.reqs = append(w.reqs, sr)
		f := w.fault
		w.reqMu.Unlock()
		if f != nil {
			return f(r)
		}
		return fakegh.Fault{}
	})
	t.Cleanup(func() {
		if o := gh.Overlaps(); len(o) > 0 {
			t.Logf("requests around the first overlap:\n%s", w.requestsOn(o[0]))
		}
	})
	gh.AddToken(srcToken, reader)
	for i := range o.board.customers {
		c := customer{
			id:       fmt.Sprintf("c%02d", i+1),
			src:      fmt.Sprintf("agency/board-%02d", i+1),
			dst:      fmt.Sprintf("client-%02d/status", i+1),
			token:    fmt.Sprintf("ghp_e2eTargetWriter%04d", i+1),
			tokenEnv: fmt.Sprintf("DST_TOKEN_%02d", i+1),
		}
		gh.AddRepo(c.src)
		gh.AddRepo(c.dst)
		gh.AddToken(c.token, bot)
		gh.SetAccess(srcToken, c.src, fakegh.AccessRead)
		gh.SetAccess(c.token, c.dst, fakegh.AccessPush)
		w.fillBoard(c, i)
		w.cs = append(w.cs, c)
	}
	w.writeRules()
	keepLogs(t, w.dir)
	switch o.kind {
	case sqliteStore:
		w.store = "sqlite://" + filepath.Join(w.dir, "vitrine.db")
	case redisStore:
		u := o.redisURL
		if u == "" {
			u, _ = redistest.Start(t)
			u = withDB(t, u, o.redisDB)
		}
		w.redis = u
		w.store = u
		// Stale keys of an earlier, killed run of this test.
		if err := redistest.DeletePrefix(context.Background(), u, redisPrefix); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = redistest.DeletePrefix(context.Background(), u, redisPrefix) })
	}
	return w
}

// keepLogs copies a failed test's process logs to $E2E_KEEP_LOGS/<test>/
// when that variable is set (the temporary directory goes with the test).
func keepLogs(t testing.TB, dir string) {
	keep := os.Getenv("E2E_KEEP_LOGS")
	if keep == "" {
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dst := filepath.Join(keep, strings.NewReplacer("/", "_").Replace(t.Name()))
		_ = os.MkdirAll(dst, 0o755)
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(dst, filepath.Base(l)), b, 0o644)
			}
		}
		t.Logf("logs kept in %s", dst)
	})
}

// withDB points a redis URL at another database. Only a shared Redis gets
// a non-zero one.
func withDB(t testing.TB, raw string, db int) string {
	t.Helper()
	if os.Getenv(redistest.EnvURL) == "" || db == 0 {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/%d", db)
	return u.String()
}

// Milestones of every source repository (due dates fixed: the mirrors show
// them buffered).
var milestones = []fakegh.NewMilestone{
	{Title: "Phase A", Description: "internal plan cnryMS", DueOn: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
	{Title: "Phase B", DueOn: time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC)},
}

// fillBoard creates one customer's source issues: every one published;
// every fourth in Phase A, the next in Phase B; every third has a marked
// and an internal comment, every fifth one more marked comment; every
// seventh is closed as completed. Two unpublished issues per repository
// (canaries) must never reach a mirror.
func (w *world) fillBoard(c customer, ci int) {
	for _, m := range milestones {
		w.gh.CreateMilestone(c.src, m)
	}
	for i := range w.b.items {
		in := fakegh.NewIssue{
			Title:  fmt.Sprintf("Board %02d item %03d", ci+1, i+1),
			Body:   fmt.Sprintf("## Client summary\nDeliverable %d of board %d.\n\n## Internal\nMargin cnryINTERNAL %d.", i+1, ci+1, i),
			Labels: []string{"client-visible"},
		}
		switch i % 4 {
		case 0:
			in.Milestone = 1
		case 1:
			in.Milestone = 2
		}
		if i%7 == 6 {
			in.State, in.StateReason = "closed", "completed"
		}
		is := w.gh.CreateIssue(c.src, in)
		if i%3 == 0 {
			w.gh.AddComment(c.src, is.Number, "pm-anna", fmt.Sprintf("[client] Progress on %d.", i+1))
			w.gh.AddComment(c.src, is.Number, "dev-ben", "cnryCOMMENT internal only")
		}
		if i%5 == 0 {
			w.gh.AddComment(c.src, is.Number, "pm-anna", fmt.Sprintf("[client] Review of %d booked.", i+1))
		}
	}
	for i := range 2 {
		w.gh.CreateIssue(c.src, fakegh.NewIssue{Title: fmt.Sprintf("cnryHIDDEN %d", i), Body: "not for customers"})
	}
}

func (w *world) writeRules() {
	var b strings.Builder
	// No periodic reconcile during a test: every pass is caused by the
	// start-up reconcile, a webhook, or work those enqueue.
	b.WriteString("reconcile: {interval: 1h}\ncustomers:\n")
	for _, c := range w.cs {
		fmt.Fprintf(&b, `  - id: %s
    name: Client %s
    sources:
      - github: {repo: %s}
    publish: {label: client-visible, hide_label: client-hidden}
    show:
      body: section
      body_section: Client summary
      internal_marker: Internal
      comments: marked
      comment_marker: "[client]"
      dates: true
      progress: true
    statuses: {done: Done, cancelled: retract}
    dates: {buffer_days: 5}
    targets:
      - page: {}
      - github: {repo: %s, token_env: %s}
`, c.id, c.id, c.src, c.dst, c.tokenEnv)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "vitrine.yaml"), []byte(b.String()), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// env is the environment of every command on this world.
func (w *world) env(extra ...string) []string {
	env := []string{
		"HOME=" + w.dir,
		"VITRINE_CONFIG=" + filepath.Join(w.dir, "vitrine.yaml"),
		"VITRINE_STORE=" + w.store,
		"VITRINE_PAGE_SECRET=" + pageSecret,
		"VITRINE_KEY_SECRET=" + keySecret,
		"VITRINE_LOG_LEVEL=info",
		"VITRINE_LISTEN=127.0.0.1:0",
		"VITRINE_ADMIN_LISTEN=127.0.0.1:0",
		"GITHUB_TOKEN=" + srcToken,
		"VITRINE_GITHUB_API_URL=" + w.gh.URL(),
		"VITRINE_GITHUB_WEBHOOK_SECRET=" + hookSecret,
	}
	for _, c := range w.cs {
		env = append(env, c.tokenEnv+"="+c.token)
	}
	return append(env, extra...)
}

// serve starts `vitrine serve` with extra environment (a crash plan).
func (w *world) serve(extra []string, args ...string) *proc {
	w.t.Helper()
	w.procs++
	name := fmt.Sprintf("serve-%02d", w.procs)
	p := start(w.t, w.dir, name, w.env(extra...), append([]string{"serve", "--drain-delay=0s"}, args...)...)
	w.reqMu.Lock()
	w.running = append(slices.DeleteFunc(w.running, (*proc).exited), p)
	w.reqMu.Unlock()
	return p
}

// waitIdle polls `vitrine status` until the queue is empty (nothing ready,
// scheduled or in flight) and fails on a parked key, a source error or a
// timeout. It returns the time it took.
func (w *world) waitIdle(timeout time.Duration, running ...*proc) time.Duration {
	w.t.Helper()
	begin := time.Now()
	deadline := begin.Add(timeout)
	var last statusReport
	for i := 0; ; i++ {
		for _, p := range running {
			if p.exited() {
				w.t.Fatalf("%s ended while converging: %v\n%s", p.name, p.err, p.tail())
			}
		}
		last = status(w.t, w.env())
		if last.Queue.Parked > 0 || len(last.Parked) > 0 || len(last.SourceErrors) > 0 || len(last.Guarded) > 0 {
			w.t.Fatalf("not converging: %s%s", last, tails(running))
		}
		if last.idle() {
			return time.Since(begin)
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("queue not empty after %s: %s%s", timeout, last, tails(running))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func tails(ps []*proc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n")
		b.WriteString(p.tail())
	}
	return b.String()
}

// ---- target state ----

// targetIssue is a mirror issue without its number (numbers depend on the
// order in which concurrent workers created the mirrors).
type targetIssue struct {
	Title       string   `json:"title"`
	Body        string   `json:"body"`
	State       string   `json:"state"`
	StateReason string   `json:"state_reason,omitempty"`
	Labels      []string `json:"labels"`
	Milestone   string   `json:"milestone,omitempty"`
	Author      string   `json:"author"`
	Comments    []string `json:"comments"` // author: body, in order
}

type targetMilestone struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	State       string `json:"state"`
	DueOn       string `json:"due_on,omitempty"`
}

type targetRepo struct {
	Name       string              `json:"name"`
	Issues     []targetIssue       `json:"issues"`
	Milestones []targetMilestone   `json:"milestones"`
	Labels     []fakegh.LabelState `json:"labels"`
	Deleted    int                 `json:"deleted,omitempty"`
	raw        []fakegh.IssueState // for duplicate reports
	rawMs      []fakegh.MilestoneState
}

// targetState is every target repository of the world, normalised.
func (w *world) targetState() []targetRepo {
	dst := map[string]bool{}
	for _, c := range w.cs {
		dst[strings.ToLower(c.dst)] = true
	}
	var out []targetRepo
	for _, r := range w.gh.Dump().Repos {
		if !dst[strings.ToLower(r.Name)] {
			continue
		}
		tr := targetRepo{Name: r.Name, Issues: []targetIssue{}, Milestones: []targetMilestone{}, Labels: r.Labels,
			Deleted: len(r.Deleted), raw: r.Issues, rawMs: r.Milestones}
		for _, is := range r.Issues {
			ti := targetIssue{Title: is.Title, Body: is.Body, State: is.State, StateReason: is.StateReason,
				Labels: is.Labels, Milestone: is.Milestone, Author: is.Author, Comments: []string{}}
			for _, c := range is.Comments {
				ti.Comments = append(ti.Comments, c.Author+": "+c.Body)
			}
			tr.Issues = append(tr.Issues, ti)
		}
		slices.SortFunc(tr.Issues, func(a, b targetIssue) int {
			return strings.Compare(a.Title+"\x00"+a.Body, b.Title+"\x00"+b.Body)
		})
		for _, m := range r.Milestones {
			tr.Milestones = append(tr.Milestones, targetMilestone{Title: m.Title, Description: m.Description, State: m.State, DueOn: m.DueOn})
		}
		slices.SortFunc(tr.Milestones, func(a, b targetMilestone) int { return strings.Compare(a.Title, b.Title) })
		out = append(out, tr)
	}
	return out
}

func stateJSON(s []targetRepo) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

var markerRE = regexp.MustCompile(`<!-- vitrine:(v1[a-z2-7]{8,80})( retracted)? -->`)

// checkNoDuplicates fails when two mirrors (issues, comments, milestones)
// of one target carry the same opaque key, or a mirror carries none.
func checkNoDuplicates(t testing.TB, s []targetRepo) {
	t.Helper()
	for _, r := range s {
		seen := map[string]string{}
		note := func(body, what string) {
			m := markerRE.FindStringSubmatch(body)
			if m == nil {
				t.Errorf("%s: %s has no vitrine marker: %q", r.Name, what, body)
				return
			}
			if prev, dup := seen[m[1]]; dup {
				t.Errorf("DUPLICATE in %s: %s and %s carry the same key %s", r.Name, prev, what, m[1])
			}
			seen[m[1]] = what
		}
		for _, is := range r.raw {
			note(is.Body, fmt.Sprintf("issue #%d %q", is.Number, is.Title))
			for i, c := range is.Comments {
				note(c.Body, fmt.Sprintf("comment %d of #%d", i+1, is.Number))
			}
		}
		for _, m := range r.rawMs {
			note(m.Description, fmt.Sprintf("milestone %d %q", m.Number, m.Title))
		}
		if r.Deleted > 0 {
			t.Errorf("%s: %d mirror issues were deleted (a duplicate retracted?)", r.Name, r.Deleted)
		}
	}
}

// checkNoLeak fails when a canary of the board reached a mirror.
func checkNoLeak(t testing.TB, s []targetRepo) {
	t.Helper()
	raw := string(stateJSON(s))
	for _, c := range []string{"cnryINTERNAL", "cnryCOMMENT", "cnryHIDDEN", "cnryMS"} {
		if strings.Contains(raw, c) {
			t.Errorf("canary %s reached a mirror", c)
		}
	}
}

// golden compares the world's target state with testdata/<name>.json, or
// writes it with -update.
func (w *world) golden(name string) {
	w.t.Helper()
	w.compareGolden(name, *update, nil)
}

// compareGolden is golden for the target repositories keep accepts (nil:
// all), writing only when write is set (a golden file owned by another
// test is only compared).
func (w *world) compareGolden(name string, write bool, keep func(repo string) bool) {
	w.t.Helper()
	s := onlyRepos(w.targetState(), keep)
	checkNoDuplicates(w.t, s)
	checkNoLeak(w.t, s)
	got := stateJSON(s)
	path := filepath.Join("testdata", name+".json")
	if write {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			w.t.Fatal(err)
		}
		w.t.Logf("wrote %s", path)
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatalf("%v (run go test ./e2e -run '%s' -update to create it)", err, w.t.Name())
	}
	var all []targetRepo
	if err := json.Unmarshal(raw, &all); err != nil {
		w.t.Fatalf("%s: %v", path, err)
	}
	want := stateJSON(onlyRepos(all, keep))
	if !bytes.Equal(got, want) {
		failed := filepath.Join(w.dir, name+".got.json")
		_ = os.WriteFile(failed, got, 0o644)
		w.t.Errorf("target state differs from %s (got: %s)\n%s", path, failed, firstDiff(string(want), string(got)))
	}
}

func onlyRepos(s []targetRepo, keep func(string) bool) []targetRepo {
	if keep == nil {
		return s
	}
	out := []targetRepo{}
	for _, r := range s {
		if keep(r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// firstDiff shows the first differing line with some context.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var a, b string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b {
			from := max(0, i-8)
			ctx := strings.Join(wl[from:min(i, len(wl))], "\n")
			return fmt.Sprintf("line %d:\n%s\n- want: %s\n+ got:  %s\n(want %d lines, got %d)", i+1, ctx, a, b, len(wl), len(gl))
		}
	}
	return "(equal)"
}

// requestsOn lists the requests the fake saw on the paths of an overlap.
func (w *world) requestsOn(o fakegh.Overlap) string {
	w.reqMu.Lock()
	defer w.reqMu.Unlock()
	paths := map[string]bool{}
	for _, s := range []string{o.First, o.Second} {
		if _, p, ok := strings.Cut(s, " "); ok {
			paths[p] = true
			if i := strings.Index(p, "/comments"); i > 0 {
				paths[p[:i]] = true
			}
		}
	}
	var b strings.Builder
	for _, r := range w.reqs {
		if paths[r.Path] || paths[strings.TrimSuffix(r.Path, "/comments")] {
			fmt.Fprintf(&b, "%s %-6s %s from %s %s\n", r.At.Format("15:04:05.000000"), r.Method, r.Path, r.Remote, r.Via)
		}
	}
	return b.String()
}

// ---- webhooks ----

// deliver posts a signed delivery to a serve process; code is 0 when the
// connection failed without an answer.
func deliver(t testing.TB, public string, d fakegh.Delivery) (int, error) {
	t.Helper()
	c := &http.Client{Timeout: 15 * time.Second}
	resp, err := c.Do(d.Request("http://" + public + "/webhooks/github"))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (w *world) edited(repo string, n int) fakegh.Delivery {
	w.t.Helper()
	d, err := w.gh.Delivery(hookSecret, fakegh.Event{Name: "issues", Action: "edited", Repo: repo, Issue: n})
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// ---- the store, between processes ----

// expireLeases does for the leases of a SIGKILLed process what two minutes
// of waiting would: `serve` leases keys for a fixed 2 minutes and offers no
// way to shorten that, so a test that restarts after a crash would otherwise
// wait out every lease the dead process held. Each leased key is taken over
// through the store's own API (Lock at a time past any lease, the way Claim
// takes over an expired one) and handed back ready now with its attempt
// count raised, as a takeover leaves it. Only call it while no vitrine
// process runs on the store.
func (w *world) expireLeases() []string {
	w.t.Helper()
	ctx := context.Background()
	keys := w.leasedKeys()
	if len(keys) == 0 {
		return nil
	}
	var st store.Queue
	var closeFn func() error
	switch w.kind {
	case sqliteStore:
		s, err := sqlite.Open(ctx, strings.TrimPrefix(w.store, "sqlite://"))
		if err != nil {
			w.t.Fatal(err)
		}
		st, closeFn = s, s.Close
	case redisStore:
		o := redisOpts(w.t, w.redis)
		s, err := redis.Open(ctx, redis.Options{Addr: o.Addr, DB: o.DB, Prefix: redisPrefix, Consumer: "e2e-lease-clock"})
		if err != nil {
			w.t.Fatal(err)
		}
		st, closeFn = s, s.Close
	}
	defer closeFn()
	later := time.Now().Add(3 * time.Minute) // past any 2-minute lease
	for _, k := range keys {
		job, ok, err := st.Lock(ctx, k, "e2e-lease-clock", later, time.Second)
		if err != nil || !ok {
			w.t.Fatalf("take over the lease of %s: ok=%v err=%v", k, ok, err)
		}
		if err := st.Defer(ctx, job, time.Now()); err != nil {
			w.t.Fatalf("hand back %s: %v", k, err)
		}
	}
	return keys
}

// leasedKeys lists the keys under a lease, read straight from the store
// (the store API lists parked keys, not leased ones).
func (w *world) leasedKeys() []string {
	w.t.Helper()
	var keys []string
	switch w.kind {
	case sqliteStore:
		db, err := sql.Open("sqlite", strings.TrimPrefix(w.store, "sqlite://"))
		if err != nil {
			w.t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query("SELECT key FROM queue WHERE owner IS NOT NULL ORDER BY key")
		if err != nil {
			w.t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				w.t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			w.t.Fatal(err)
		}
	case redisStore:
		c := goredis.NewClient(redisOpts(w.t, w.redis))
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, redisPrefix+"q:*", 500).Iterator()
		for iter.Next(ctx) {
			own, err := c.HGet(ctx, iter.Val(), "own").Result()
			if err != nil && err != goredis.Nil {
				w.t.Fatal(err)
			}
			if own != "" {
				keys = append(keys, strings.TrimPrefix(iter.Val(), redisPrefix+"q:"))
			}
		}
		if err := iter.Err(); err != nil {
			w.t.Fatal(err)
		}
		slices.Sort(keys)
	}
	return keys
}

func redisOpts(t testing.TB, u string) *goredis.Options {
	t.Helper()
	o, err := redistest.Options(u)
	if err != nil {
		t.Fatal(err)
	}
	o.DisableIdentity = true
	return o
}
