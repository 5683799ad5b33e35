package worker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/store"
)

// paceKey carries the lane and key of a pass to the pacing transport.
type paceKey struct{}

// PaceInfo is what the pacing transport learns about the write it gates.
type PaceInfo struct {
	Lane store.Lane
	Key  string
}

// PaceInfoFrom returns the pass's lane and key, if any.
func PaceInfoFrom(ctx context.Context) (PaceInfo, bool) {
	p, ok := ctx.Value(paceKey{}).(PaceInfo)
	return p, ok
}

// PaceLaneKey is PaceInfoFrom in the shape httpapi.Options.PaceInfo takes.
func PaceLaneKey(ctx context.Context) (store.Lane, string, bool) {
	p, ok := PaceInfoFrom(ctx)
	return p.Lane, p.Key, ok
}

func withPace(ctx context.Context, lane store.Lane, key string) context.Context {
	return context.WithValue(ctx, paceKey{}, PaceInfo{Lane: lane, Key: key})
}

// readier is a pacer that can say whether a write could go now without
// using the slot up.
type readier interface {
	Ready(ctx context.Context, cred string, lane store.Lane, key string) (bool, time.Time, error)
}

func (e *Engine) binding(customer, target string) (Binding, bool) {
	for _, b := range e.cfg.Targets[customer] {
		if b.Target.Name() == target {
			return b, true
		}
	}
	return Binding{}, false
}

// viewFor loads what a target of the customer must hold: nil when the
// customer or this target is under an emergency retract, or is gone.
func (e *Engine) viewFor(ctx context.Context, customer, target string) (*mapping.View, bool, error) {
	c, ok := e.cfg.Rules.Customer(customer)
	if !ok {
		return nil, false, nil
	}
	// An emergency retract beats a pause: the operator's stop retracts
	// even what the rules froze.
	for _, k := range []string{customer, customer + "|" + target} {
		if _, stop, err := e.st.GetKV(ctx, nsEmergency, k); err != nil {
			return nil, false, err
		} else if stop {
			return nil, false, nil
		}
	}
	if c.Paused() {
		return nil, true, nil
	}
	if _, guarded, err := e.st.GetKV(ctx, nsGuard, customer); err != nil {
		return nil, false, err
	} else if guarded {
		return nil, true, nil
	}
	v, ok, err := e.loadView(ctx, customer)
	if err != nil || !ok {
		return nil, false, err
	}
	return &v, false, nil
}

// op converges one mirror object in one target.
func (e *Engine) op(ctx context.Context, job *store.Job) (result, error) {
	customer, target, object, ok := mirror.ParseOpKey(job.Key)
	if !ok {
		return result{}, nil
	}
	b, ok := e.binding(customer, target)
	if !ok {
		e.log.Warn().Str("customer", customer).Str("target", target).Msg("op for a target that is not configured: dropped")
		return result{}, nil
	}
	v, frozen, err := e.viewFor(ctx, customer, target)
	if err != nil {
		return result{}, err
	}
	if frozen {
		return result{}, nil // paused or guarded: no target writes
	}
	retract := v == nil || !inView(v, object)
	lane := store.LaneUpdate
	if retract {
		lane = store.LaneRetract
	} else if _, linked, err := e.st.GetLink(ctx, customer, target, object); err != nil {
		return result{}, err
	} else if !linked {
		lane = store.LaneCreate
	}
	// Ask the credential's pacer first: a pass that would only be refused
	// its write reads nothing (targets read a mirror before they write it).
	if rd, ok := e.cfg.Pacer.(readier); ok {
		go_, at, err := rd.Ready(ctx, b.Target.Credential(), lane, job.Key)
		if err != nil {
			return result{retract: retract}, err
		}
		if !go_ {
			return result{after: at, retract: retract, cred: b.Target.Credential()}, nil
		}
	}
	pctx := withPace(ctx, lane, job.Key)
	out, err := e.applier.Apply(pctx, mirror.Request{
		Fence: job.Fence(), Customer: customer, Target: b.Target, Object: object, View: v, Delay: b.Delay,
	})
	if out.Writes > 0 {
		e.m.Writes.WithLabelValues(target, b.Target.Credential()).Add(float64(out.Writes))
	}
	if err != nil {
		return result{retract: retract}, crashOr(err)
	}
	if len(out.Enqueue) > 0 {
		if err := e.Enqueue(ctx, out.Enqueue...); err != nil {
			return result{}, err
		}
	}
	if retract {
		if err := e.st.DeleteKV(ctx, nsRetractFailing, job.Key); err != nil {
			return result{}, err
		}
	}
	if out.Action != "" {
		_ = e.st.PutKV(ctx, nsLastSync, customer+"|"+target, []byte(e.clk.Now().UTC().Format(timeFormat)))
	}
	return result{after: out.After, retract: retract}, nil
}

func inView(v *mapping.View, object string) bool {
	if mirror.IsMilestoneObject(object) {
		key := strings.TrimPrefix(object, "ms:")
		for _, m := range v.Milestones {
			if m.Key == key {
				return true
			}
		}
		return false
	}
	for _, it := range v.Items {
		if it.Key == object {
			return true
		}
	}
	return false
}

// crashOr turns an injected fault into the crash marker the loop knows.
func crashOr(err error) error {
	var f interface{ FaultPoint() string }
	if errors.As(err, &f) {
		return CrashError(f.FaultPoint())
	}
	return err
}

func splitPair(s string) (string, string, bool) {
	i := strings.IndexByte(s, '|')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// index rebuilds a target's links from its mirrors (once per target).
func (e *Engine) index(ctx context.Context, job *store.Job, rest string) (result, error) {
	customer, target, ok := splitPair(rest)
	if !ok {
		return result{}, nil
	}
	b, ok := e.binding(customer, target)
	if !ok {
		return result{}, nil
	}
	v, frozen, err := e.viewFor(ctx, customer, target)
	if err != nil || frozen {
		return result{}, err
	}
	out, err := e.applier.Index(withPace(ctx, store.LaneRetract, job.Key), mirror.Request{
		Fence: job.Fence(), Customer: customer, Target: b.Target, View: v,
	})
	if out.Writes > 0 {
		e.m.Writes.WithLabelValues(target, b.Target.Credential()).Add(float64(out.Writes))
	}
	if err != nil {
		return result{}, crashOr(err)
	}
	if err := e.markFullPlan(ctx, customer); err != nil {
		return result{}, err
	}
	return result{}, e.Enqueue(ctx, ViewTask(customer))
}

// tverify checks a target's mirrors for drift.
func (e *Engine) tverify(ctx context.Context, job *store.Job, rest string) (result, error) {
	customer, target, ok := splitPair(rest)
	if !ok {
		return result{}, nil
	}
	b, ok := e.binding(customer, target)
	if !ok {
		return result{}, nil
	}
	v, frozen, err := e.viewFor(ctx, customer, target)
	if err != nil || frozen || v == nil {
		return result{}, err
	}
	out, err := e.applier.Verify(ctx, mirror.Request{Fence: job.Fence(), Customer: customer, Target: b.Target, View: v})
	if err != nil {
		return result{}, err
	}
	return result{}, e.Enqueue(ctx, out.Enqueue...)
}

// reconcile enqueues a full pass: every source's cursor poll, milestones and
// re-verification, every customer's view, and drift checks of every target.
// Failing retractions come back with the views' plans.
func (e *Engine) reconcile(ctx context.Context) error {
	// Items the scans of this reconcile read need no second read by its
	// re-verification.
	if err := e.st.PutKV(ctx, nsReconcileAt, "", []byte(strconv.FormatInt(e.clk.Now().UnixNano(), 10))); err != nil {
		return err
	}
	var tasks []store.Task
	for _, s := range e.Sources() {
		tasks = append(tasks, ScanTask(s), MilestonesTask(s), VerifyTask(s))
	}
	for _, c := range e.cfg.Rules.Customers() {
		if err := e.markFullPlan(ctx, c.ID()); err != nil {
			return err
		}
		tasks = append(tasks, ViewTask(c.ID()))
		for _, b := range e.cfg.Targets[c.ID()] {
			tasks = append(tasks, TargetVerifyTask(c.ID(), b.Target.Name()))
		}
	}
	// Customers that left the rules but still have a stored view, or
	// mirrors in targets still bound to retract them.
	ids, err := e.Departed(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		tasks = append(tasks, ViewTask(id))
	}
	return e.Enqueue(ctx, tasks...)
}
