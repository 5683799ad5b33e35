package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/config"
	"vitrine/connectors/file"
	"vitrine/mapping"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/worker"
)

// fixture is an engine over file boards in a temp dir.
type fixture struct {
	t     *testing.T
	dir   string
	clk   *clock.Fake
	st    *sqlite.Store
	e     *worker.Engine
	rules *config.Rules
}

func newFixture(t *testing.T, rulesYAML string, boards map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, body := range boards {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rp := filepath.Join(dir, "vitrine.yaml")
	if err := os.WriteFile(rp, []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir, clk: clock.NewFake(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))}
	var err error
	f.st, err = sqlite.Open(context.Background(), filepath.Join(dir, "vitrine.db"), sqlite.WithClock(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.load()
	return f
}

// load (re)reads the rules and builds a fresh engine on the same store, as
// a restart with new rules would.
func (f *fixture) load() {
	t := f.t
	t.Helper()
	rules, err := config.Load(filepath.Join(f.dir, "vitrine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := mapping.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]worker.Source{}
	for _, c := range rules.Customers {
		for _, s := range c.Sources {
			k := mapping.SourceKey(s)
			sources[k] = file.NewSource(k, s.File.Resolved)
		}
	}
	f.rules = rules
	f.e, err = worker.New(worker.Config{Store: f.st, Rules: set, Sources: sources, Clock: f.clk, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sync() {
	f.t.Helper()
	ctx := context.Background()
	if err := f.e.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		f.t.Fatal(err)
	}
	if err := f.e.RunUntilIdle(ctx, "test"); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) view(customer string) mapping.View {
	f.t.Helper()
	rec, ok, err := f.st.GetView(context.Background(), customer)
	if err != nil || !ok {
		f.t.Fatalf("view %s: ok=%v err=%v", customer, ok, err)
	}
	var v mapping.View
	if err := json.Unmarshal(rec.Data, &v); err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) writeBoard(name, body string) {
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func titles(v mapping.View) []string {
	var out []string
	for _, it := range v.Items {
		var b strings.Builder
		for _, in := range it.Title {
			b.WriteString(in.Text)
		}
		out = append(out, b.String())
	}
	return out
}

func (f *fixture) audits(customer, action string) []store.AuditEntry {
	es, err := f.st.ListAudit(context.Background(), store.AuditQuery{Customer: customer})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

const rules = `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: pub, hide_label: hide, inherit: true}
    targets:
      - page: {}
`

const board = `items:
  - {id: a, title: Alpha, labels: [pub]}
  - {id: b, title: Beta, labels: [pub]}
  - {id: c, title: Child of beta, parent: b}
  - {id: d, title: Draft}
`

func TestSyncPublishesSelectedItemsAndRetractsEachOnce(t *testing.T) {
	f := newFixture(t, rules, map[string]string{"board.yaml": board})
	f.sync()
	if got := strings.Join(titles(f.view("acme")), ","); got != "Alpha,Beta,Child of beta" {
		t.Fatalf("published %q", got)
	}
	if n := len(f.audits("acme", "publish")); n != 3 {
		t.Errorf("%d publish audits, want 3", n)
	}
	// A second reconcile without changes changes nothing.
	before := f.view("acme").Hash
	f.sync()
	if f.view("acme").Hash != before || len(f.audits("acme", "publish")) != 3 {
		t.Errorf("a no-change reconcile changed the view or audited again")
	}
	// Label removed from b: b and its inherited child leave, audited once each.
	f.writeBoard("board.yaml", strings.Replace(board, "{id: b, title: Beta, labels: [pub]}", "{id: b, title: Beta}", 1))
	f.sync()
	if got := strings.Join(titles(f.view("acme")), ","); got != "Alpha" {
		t.Fatalf("after unpublish: %q", got)
	}
	if n := len(f.audits("acme", "retract")); n != 2 {
		t.Errorf("%d retract audits, want 2 (b and its child)", n)
	}
	// Republished: back under the same key.
	f.writeBoard("board.yaml", board)
	f.sync()
	if got := strings.Join(titles(f.view("acme")), ","); got != "Alpha,Beta,Child of beta" {
		t.Fatalf("after republish: %q", got)
	}
}

func TestRetractGuardPausesAMassRetraction(t *testing.T) {
	var b strings.Builder
	b.WriteString("items:\n")
	for i := 0; i < 30; i++ {
		b.WriteString("  - {id: i" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ", title: T, labels: [pub]}\n")
	}
	f := newFixture(t, rules, map[string]string{"board.yaml": b.String()})
	f.sync()
	if n := len(f.view("acme").Items); n != 30 {
		t.Fatalf("%d items", n)
	}
	f.writeBoard("board.yaml", "items: []\n")
	f.sync()
	if n := len(f.view("acme").Items); n != 30 {
		t.Fatalf("the guard let %d of 30 items through", 30-n)
	}
	if len(f.audits("acme", "pause")) != 1 {
		t.Errorf("want one pause audit")
	}
	// Confirming lets it through.
	if err := f.st.PutKV(context.Background(), "retract-confirm", "acme", []byte("1")); err != nil {
		t.Fatal(err)
	}
	f.sync()
	if n := len(f.view("acme").Items); n != 0 {
		t.Fatalf("after confirm %d items remain", n)
	}
}

// flakyStore answers the first fails calls to Complete with
// store.ErrUnavailable, as a Redis store does while the server restarts.
type flakyStore struct {
	store.Store
	fails, calls int
}

func (s *flakyStore) Complete(ctx context.Context, j *store.Job) error {
	s.calls++
	if s.calls <= s.fails {
		return fmt.Errorf("redis: complete %s: %w", j.Key, store.ErrUnavailable)
	}
	return s.Store.Complete(ctx, j)
}

// A pass that ends while the store cannot serve hands its key back once the
// store is back, instead of leaving it leased (and the work stalled) until
// the lease runs out. Found by the e2e Redis SIGKILL test.
func TestKeyIsHandedBackOnceTheStoreIsBack(t *testing.T) {
	f := newFixture(t, rules, map[string]string{"board.yaml": board})
	set, err := mapping.Compile(f.rules)
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyStore{Store: f.st, fails: 2}
	sources := map[string]worker.Source{}
	for _, c := range f.rules.Customers {
		for _, s := range c.Sources {
			k := mapping.SourceKey(s)
			sources[k] = file.NewSource(k, s.File.Resolved)
		}
	}
	e, err := worker.New(worker.Config{Store: flaky, Rules: set, Sources: sources, Clock: clock.Real{}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		t.Fatal(err)
	}
	did, err := e.Step(ctx, "w")
	if !did || err != nil {
		t.Fatalf("Step = %v, %v; want the reconcile handed back despite two refusals", did, err)
	}
	if flaky.calls != 3 {
		t.Errorf("Complete called %d times, want 3 (two refused, one accepted)", flaky.calls)
	}
	q, err := f.st.Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if q.InFlight != 0 {
		t.Errorf("%d keys still leased after the pass: %+v", q.InFlight, q)
	}
}
