package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/pace"
	"vitrine/store"
)

// staggerer spreads keys the pacer refused together (pace.Pacer).
type staggerer interface {
	Stagger(cred string, lane store.Lane, at time.Time) time.Time
}

// result of one pass, for the queue.
type result struct {
	after   time.Time // Defer until (pacing, waiting for another key)
	retract bool      // the pass was a retraction: never parked
	cred    string    // credential whose pacer deferred it
}

// errCrash is how an injected fault ends a pass: the lease is left to expire,
// as if the process had died.
var errCrash = errors.New("injected crash")

// IsCrash reports whether err came from a fault hook.
func IsCrash(err error) bool { return errors.Is(err, errCrash) }

// CrashError wraps a fault-hook stop.
func CrashError(point string) error { return fmt.Errorf("%w at %s", errCrash, point) }

// Run processes keys with n workers until ctx ends; in-flight passes finish
// (their own context is not cancelled mid-write), then Run returns.
func (e *Engine) Run(ctx context.Context, n int) error {
	if n <= 0 {
		n = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			owner := fmt.Sprintf("%s-%d", e.cfg.Owner, i)
			for ctx.Err() == nil {
				did, err := e.Step(ctx, owner)
				if err != nil && ctx.Err() == nil {
					e.log.Error().Err(err).Msg("worker step failed")
				}
				if !did {
					e.idle(ctx)
				}
			}
		}(i)
	}
	wg.Wait()
	return nil
}

// idle waits for a wake-up, the next scheduled key, or a short poll interval
// (other processes may enqueue into a shared store).
func (e *Engine) idle(ctx context.Context) {
	wait := 500 * time.Millisecond
	if t, ok, err := e.st.NextReady(ctx); err == nil && ok {
		if d := t.Sub(e.clk.Now()); d < wait {
			wait = max(d, time.Millisecond)
		}
	}
	if _, fake := e.clk.(*clock.Fake); fake {
		wait = time.Millisecond
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-e.wake:
	case <-t.C:
	}
}

// Step claims one ready key and processes it; did is false when none was ready.
func (e *Engine) Step(ctx context.Context, owner string) (did bool, err error) {
	now := e.clk.Now()
	job, err := e.st.Claim(ctx, owner, now, e.cfg.Lease)
	if err != nil {
		return false, fmt.Errorf("claim: %w", err)
	}
	if job == nil {
		return false, nil
	}
	return true, e.runJob(ctx, job)
}

func (e *Engine) runJob(ctx context.Context, job *store.Job) error {
	kind := kindOf(job.Key)
	start := time.Now()
	// The pass keeps its lease while it runs; a lost lease fences its writes.
	passCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	renewDone := make(chan struct{})
	go e.renew(passCtx, job, renewDone)

	res, err := e.process(passCtx, job)
	cancel()
	<-renewDone
	e.m.PassSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())

	// Store calls below must outlive a shutdown signal: hand the key back.
	handBack, err := e.finish(context.WithoutCancel(ctx), job, kind, res, err)
	if handBack == nil {
		return err
	}
	return e.handBack(ctx, job, handBack)
}

// handBack runs a pass's closing store call (Complete, Retry, Defer, Park)
// on a context that outlives a shutdown signal. When the store cannot serve
// (Redis restarting) the call is tried again with backoff: given up, it
// would leave the key leased, and the work a delivery asked for stalled,
// until the lease ran out although the pass was over. Retries stop at half
// a lease (the lease, renewed at most a third of it ago, is still ours) or
// when the worker is stopping; a fenced answer ends them at once. On a
// virtual clock there is no wall-clock wait to make: one try.
func (e *Engine) handBack(ctx context.Context, job *store.Job, call func(context.Context) error) error {
	sctx := context.WithoutCancel(ctx)
	_, virtual := e.clk.(*clock.Fake)
	deadline := time.Now().Add(e.cfg.Lease / 2)
	wait := 100 * time.Millisecond
	for {
		err := call(sctx)
		if err == nil || virtual || !errors.Is(err, store.ErrUnavailable) || time.Now().Add(wait).After(deadline) {
			return err
		}
		e.log.Warn().Err(err).Str("key", redactKey(job.Key)).Dur("retry_in", wait).Msg("store unavailable: handing the key back again")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// finish does once what a pass's outcome asks for (metrics, a pacer block,
// the retract-failing record) and returns the store call that hands the key
// back: done, deferred, retried or parked. No call: the key is not ours to
// hand back (a crash point, a lost lease).
func (e *Engine) finish(sctx context.Context, job *store.Job, kind string, res result, err error) (func(context.Context) error, error) {
	switch {
	case IsCrash(err):
		e.m.Passes.WithLabelValues(kind, "crash").Inc()
		return nil, err
	case err == nil && !res.after.IsZero():
		e.m.Passes.WithLabelValues(kind, "defer").Inc()
		if res.cred != "" {
			e.m.RateLimitWaits.WithLabelValues(res.cred).Inc()
		}
		return func(c context.Context) error { return e.st.Defer(c, job, res.after) }, nil
	case err == nil:
		e.m.Passes.WithLabelValues(kind, "ok").Inc()
		return func(c context.Context) error { return e.st.Complete(c, job) }, nil
	}

	var rl *connectors.RateLimited
	if errors.As(err, &rl) {
		e.m.Passes.WithLabelValues(kind, "defer").Inc()
		e.m.RateLimitWaits.WithLabelValues(rl.Credential).Inc()
		// A refusal by our own pacer only reschedules this key; a vendor's
		// answer blocks the whole credential.
		if e.cfg.Pacer != nil && !errors.Is(err, pace.ErrPaced) {
			if perr := e.cfg.Pacer.Block(sctx, rl.Credential, rl.Until, rl.Secondary); perr != nil {
				e.log.Error().Err(perr).Msg("pacer block failed")
			}
		}
		until := rl.Until
		if st, ok := e.cfg.Pacer.(staggerer); ok && errors.Is(err, pace.ErrPaced) {
			// Keys refused together come back one after another.
			until = st.Stagger(rl.Credential, job.Lane, until)
		}
		e.log.Debug().Str("key", redactKey(job.Key)).Str("credential", rl.Credential).Time("until", until).Msg("paced or rate limited: rescheduled")
		return func(c context.Context) error { return e.st.Defer(c, job, until) }, nil
	}
	if errors.Is(err, store.ErrFenced) {
		// Someone else holds the key now; nothing of ours to hand back.
		e.m.Passes.WithLabelValues(kind, "fenced").Inc()
		e.log.Warn().Str("key", redactKey(job.Key)).Msg("lease lost during pass; the new holder continues")
		return nil, nil
	}
	msg := err.Error()
	e.log.Warn().Str("key", redactKey(job.Key)).Int("attempt", job.Attempt+1).Str("error", msg).Msg("pass failed")
	if res.retract {
		// Kept in the store so every replica and `vitrine status` see it.
		if perr := e.st.PutKV(sctx, nsRetractFailing, job.Key, []byte(msg)); perr != nil {
			e.log.Error().Err(perr).Msg("record failing retraction")
		}
	}
	// A failing retraction is never parked silently: it stays in the
	// retract-failing record (status, metric) and the next reconcile's plan
	// enqueues it again, which unparks it. Parking it at all keeps one-shot
	// commands from waiting on it forever.
	if job.Attempt+1 >= e.cfg.MaxAttempts {
		if res.retract {
			e.log.Error().Str("key", redactKey(job.Key)).Str("error", msg).Msg("retraction keeps failing: retried at the next reconcile")
		}
		e.m.Passes.WithLabelValues(kind, "park").Inc()
		e.m.Parked.Inc()
		return func(c context.Context) error { return e.st.Park(c, job, msg) }, nil
	}
	e.m.Passes.WithLabelValues(kind, "retry").Inc()
	at := e.clk.Now().Add(e.backoff(job.Attempt, res.retract))
	return func(c context.Context) error { return e.st.Retry(c, job, at, msg) }, nil
}

// backoff is capped exponential with full jitter. A failing retraction is
// retried at least every reconcile interval, forever.
func (e *Engine) backoff(attempt int, retract bool) time.Duration {
	base := time.Second
	limit := 5 * time.Minute
	if retract && e.cfg.Interval < limit {
		limit = e.cfg.Interval
	}
	d := base << min(attempt, 20)
	if d > limit || d <= 0 {
		d = limit
	}
	// Half fixed, half jitter: spreads retries without making them instant.
	return d/2 + time.Duration(e.jitter(int64(d/2)+1))
}

func (e *Engine) renew(ctx context.Context, job *store.Job, done chan<- struct{}) {
	defer close(done)
	every := e.cfg.Lease / 3
	if _, fake := e.clk.(*clock.Fake); fake {
		return // virtual time: passes are instantaneous
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.st.Renew(ctx, job, e.clk.Now(), e.cfg.Lease); err != nil {
				e.log.Warn().Err(err).Str("key", redactKey(job.Key)).Msg("lease renewal failed")
				return
			}
		}
	}
}

// process dispatches a key to its handler.
func (e *Engine) process(ctx context.Context, job *store.Job) (result, error) {
	k := job.Key
	switch {
	case k == keyReconcile:
		return result{}, e.reconcile(ctx)
	case strings.HasPrefix(k, prefScan):
		return result{}, e.scan(ctx, job, k[len(prefScan):])
	case strings.HasPrefix(k, prefVerify):
		return result{}, e.verifySource(ctx, job, k[len(prefVerify):])
	case strings.HasPrefix(k, prefMilestone):
		return result{}, e.refreshMilestones(ctx, k[len(prefMilestone):])
	case strings.HasPrefix(k, prefComments):
		return result{}, e.fetchComments(ctx, k[len(prefComments):])
	case strings.HasPrefix(k, prefItem):
		return result{}, e.fetchItem(ctx, k[len(prefItem):])
	case strings.HasPrefix(k, prefView):
		return result{}, e.curate(ctx, job, k[len(prefView):])
	case strings.HasPrefix(k, prefOp):
		return e.op(ctx, job)
	case strings.HasPrefix(k, prefIndex):
		return e.index(ctx, job, k[len(prefIndex):])
	case strings.HasPrefix(k, prefTVerify):
		return e.tverify(ctx, job, k[len(prefTVerify):])
	}
	e.log.Warn().Str("key", redactKey(k)).Msg("unknown key dropped")
	return result{}, nil
}

// RunUntilIdle processes keys until nothing is pending, waiting for
// scheduled keys (on a fake clock it moves time forward instead). Used by
// one-shot commands and tests.
func (e *Engine) RunUntilIdle(ctx context.Context, owner string) error {
	for ctx.Err() == nil {
		did, err := e.Step(ctx, owner)
		if err != nil {
			return err
		}
		if did {
			continue
		}
		t, ok, err := e.st.NextReady(ctx)
		if err != nil {
			return err
		}
		if !ok {
			stats, err := e.st.Stats(ctx, e.clk.Now())
			if err != nil {
				return err
			}
			if stats.InFlight == 0 && stats.Intake == 0 {
				return nil
			}
			// Another process holds keys, or intake entries it read
			// are not queued yet (a dead one's are reclaimed after a
			// while); wait for them.
			t = e.clk.Now().Add(100 * time.Millisecond)
		}
		if f, fake := e.clk.(*clock.Fake); fake {
			f.Set(t)
			continue
		}
		if err := e.clk.Sleep(ctx, time.Until(t)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// redactKey keeps keys loggable: keys hold source ids and target names, never
// secrets or tokens, so this only trims their length.
func redactKey(k string) string {
	if len(k) > 200 {
		return k[:200] + "…"
	}
	return k
}
