// Package worker runs vitrine's level-triggered loop: it claims keys from the
// store's work queue (one worker per key), reads current state, curates, and
// converges the page and the mirror targets. Webhooks and reconciles only
// enqueue keys; event order never matters.
package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/store"
)

// Source is one tracker container as the engine reads it.
type Source interface {
	Key() string
	// Poll returns one page of objects changed since cursor ("" = all).
	Poll(ctx context.Context, cursor string) (connectors.Poll, error)
	// Fetch reads one item's current state: connectors.ErrGone,
	// connectors.ErrNotModified or *connectors.AccessError steer the engine.
	Fetch(ctx context.Context, id string, o connectors.FetchOptions) (item.Item, error)
	// Milestones reads the container's milestones (ErrNotModified allowed
	// when cached is true).
	Milestones(ctx context.Context, cached bool) ([]item.Milestone, error)
}

// Pacer learns about rate-limit answers so that no write goes on that
// credential before the vendor allows it again.
type Pacer interface {
	Block(ctx context.Context, cred string, until time.Time, secondary bool) error
}

// Binding is one mirror target of one customer.
type Binding struct {
	Target mirror.Target
	Delay  time.Duration // target_delay
}

// Config is everything the engine is built from.
type Config struct {
	Store     store.Store
	Rules     *mapping.Set
	Sources   map[string]Source    // by source key
	Targets   map[string][]Binding // by customer id
	Pacer     Pacer                // may be nil when no target writes
	Clock     clock.Clock
	Log       zerolog.Logger
	Metrics   *Metrics // may be nil
	KeySecret []byte
	Owner     string        // this worker's identity in leases
	Lease     time.Duration // default 2m
	Faults    mirror.Faults // tests only
	// Interval is the reconcile interval; failing retractions are retried
	// at least this often.
	Interval time.Duration
	// MaxAttempts before a failing key is parked (retractions never are).
	MaxAttempts int
	// Rand draws backoff jitter; tests pass a seeded one so a run repeats.
	// Default: a generator seeded from the system.
	Rand *rand.Rand
}

// Engine processes keys.
type Engine struct {
	cfg     Config
	st      store.Store
	applier *mirror.Applier
	log     zerolog.Logger
	m       *Metrics
	clk     clock.Clock
	wake    chan struct{}

	randMu sync.Mutex
	rnd    *rand.Rand

	views mapping.ViewCache // decoded stored views (see loadView)
}

// New validates cfg (no I/O) and returns an engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Rules == nil {
		return nil, fmt.Errorf("worker: store and rules are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Owner == "" {
		cfg.Owner = "worker"
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	for _, c := range cfg.Rules.Customers() {
		for _, s := range c.Sources() {
			if _, ok := cfg.Sources[s]; !ok {
				return nil, fmt.Errorf("worker: customer %s: source %s has no connector", c.ID(), s)
			}
		}
	}
	if len(cfg.Targets) > 0 && len(cfg.KeySecret) == 0 {
		return nil, fmt.Errorf("worker: mirror targets need VITRINE_KEY_SECRET")
	}
	e := &Engine{
		cfg: cfg, st: cfg.Store, log: cfg.Log, m: cfg.Metrics, clk: cfg.Clock,
		wake: make(chan struct{}, 1), rnd: cfg.Rand,
	}
	if e.rnd == nil {
		e.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	e.applier = &mirror.Applier{Store: cfg.Store, Clock: cfg.Clock, Secret: cfg.KeySecret, Log: cfg.Log, Faults: cfg.Faults}
	return e, nil
}

// Key kinds.
const (
	keyReconcile  = "reconcile"
	prefScan      = "scan:"
	prefVerify    = "verify:"
	prefMilestone = "milestones:"
	prefItem      = "item:"
	prefView      = "view:"
	prefIndex     = "index:"
	prefTVerify   = "tverify:"
	prefOp        = "op:"
)

// Task constructors, for webhooks and commands.

// ItemTask asks for a re-read of one item.
func ItemTask(id string) store.Task { return store.Task{Key: prefItem + id, Lane: store.LaneControl} }

// ScanTask asks for a cursor poll of a source.
func ScanTask(source string) store.Task {
	return store.Task{Key: prefScan + source, Lane: store.LaneControl}
}

// MilestonesTask asks for a re-read of a source's milestones.
func MilestonesTask(source string) store.Task {
	return store.Task{Key: prefMilestone + source, Lane: store.LaneControl}
}

// VerifyTask asks for the re-verification of a source's published items.
func VerifyTask(source string) store.Task {
	return store.Task{Key: prefVerify + source, Lane: store.LaneBackground}
}

// ViewTask asks for a customer's view to be curated again.
func ViewTask(customer string) store.Task {
	return store.Task{Key: prefView + customer, Lane: store.LaneControl}
}

// ReconcileTask asks for a full reconcile.
func ReconcileTask() store.Task { return store.Task{Key: keyReconcile, Lane: store.LaneBackground} }

func tverifyKey(customer, target string) string { return prefTVerify + customer + "|" + target }

// TargetVerifyTask asks for a drift check of one customer's target (a
// webhook from a mirror repo or project edited by someone else).
func TargetVerifyTask(customer, target string) store.Task {
	return store.Task{Key: tverifyKey(customer, target), Lane: store.LaneBackground}
}

// kindOf names a key's kind for metrics and logs.
func kindOf(key string) string {
	if key == keyReconcile {
		return "reconcile"
	}
	if i := strings.IndexByte(key, ':'); i > 0 {
		return key[:i]
	}
	return "unknown"
}

// Enqueue adds tasks and wakes a waiting worker of this process.
func (e *Engine) Enqueue(ctx context.Context, tasks ...store.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	if err := e.st.Enqueue(ctx, tasks...); err != nil {
		return err
	}
	e.Wake()
	return nil
}

// Wake nudges idle workers of this process (intake calls it after Accept).
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// customersOf lists the customers reading a source.
func (e *Engine) customersOf(source string) []string {
	var out []string
	for _, c := range e.cfg.Rules.Customers() {
		for _, s := range c.Sources() {
			if s == source {
				out = append(out, c.ID())
				break
			}
		}
	}
	return out
}

func (e *Engine) viewTasksFor(sources map[string]bool) []store.Task {
	seen := map[string]bool{}
	var tasks []store.Task
	for s := range sources {
		for _, c := range e.customersOf(s) {
			if !seen[c] {
				seen[c] = true
				tasks = append(tasks, ViewTask(c))
			}
		}
	}
	return tasks
}

// Sources lists the configured source keys, sorted.
func (e *Engine) Sources() []string {
	var out []string
	for k := range e.cfg.Sources {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jitter draws from [0, n).
func (e *Engine) jitter(n int64) int64 {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.rnd.Int64N(n)
}
