package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/store"
)

// The retract guard: a pass that would retract more than both of these
// pauses the customer until `vitrine sync --confirm-retract`.
const (
	guardMinItems = 20
	guardFraction = 0.5
)

// CommentReader is a source that can read an item's comments alone, when
// the item itself is fresh from a poll (one call instead of two).
type CommentReader interface {
	Comments(ctx context.Context, id string) ([]item.Comment, error)
}

const prefComments = "comments:"

func commentsTask(id string) store.Task {
	return store.Task{Key: prefComments + id, Lane: store.LaneControl}
}

// loadView reads a customer's stored view. Decoding a large view costs more
// than reading it, and every op pass needs it: decoded views are kept by
// their hash (read-only for callers).
func (e *Engine) loadView(ctx context.Context, customer string) (mapping.View, bool, error) {
	rec, ok, err := e.st.GetView(ctx, customer)
	if err != nil || !ok {
		return mapping.View{}, ok, err
	}
	v, err := e.views.Decode(customer, rec.Hash, rec.Data)
	if err != nil {
		return mapping.View{}, false, fmt.Errorf("%s: decode stored view: %w", customer, err)
	}
	return v, true, nil
}

// snapshots loads the cached state of a customer's sources.
func (e *Engine) snapshots(ctx context.Context, sources []string) ([]item.Snapshot, error) {
	var out []item.Snapshot
	for _, s := range sources {
		recs, err := e.st.ListSnapshots(ctx, s)
		if err != nil {
			return nil, err
		}
		snap := item.Snapshot{Source: s}
		for _, r := range recs {
			switch r.Kind {
			case store.KindItem:
				var it item.Item
				if err := json.Unmarshal(r.Data, &it); err != nil {
					return nil, fmt.Errorf("%s: decode snapshot: %w", r.ID, err)
				}
				snap.Items = append(snap.Items, it)
			case store.KindMilestone:
				var m item.Milestone
				if err := json.Unmarshal(r.Data, &m); err != nil {
					return nil, fmt.Errorf("%s: decode snapshot: %w", r.ID, err)
				}
				snap.Milestones = append(snap.Milestones, m)
			}
		}
		out = append(out, snap)
	}
	return out, nil
}

// rehash recomputes a view's hash after the engine edited it.
func rehash(v *mapping.View) {
	v.Hash = ""
	v.Hash = item.Hash(v)
}

// CurateNow computes a customer's view from the cache without storing it,
// holding back items whose comments are not read yet. It returns the ids
// that need their comments read.
func (e *Engine) CurateNow(ctx context.Context, customer string, prev *mapping.View) (mapping.Result, []string, error) {
	if _, ok := e.cfg.Rules.Customer(customer); !ok {
		return mapping.Result{}, nil, fmt.Errorf("customer %s is not configured", customer)
	}
	// Customers sharing a source are curated with each other's sources too,
	// so an item both select is found and withheld from both.
	snaps, err := e.snapshots(ctx, e.cfg.Rules.SourcesFor(customer))
	if err != nil {
		return mapping.Result{}, nil, err
	}
	res, err := e.cfg.Rules.Curate(customer, snaps, e.clk.Now())
	if err != nil {
		return res, nil, fmt.Errorf("%s: curate: %w", customer, err)
	}
	need := res.NeedComments
	stale := map[string]bool{}
	for _, id := range need {
		stale[id] = true
	}
	if len(stale) > 0 {
		// Hold items whose comments are stale at what the customer already
		// sees: no churn in the targets, and nothing new leaves before its
		// comments are known.
		prevBy := map[string]mapping.Item{}
		if prev != nil {
			for _, it := range prev.Items {
				prevBy[it.Key] = it
			}
		}
		kept := res.View.Items[:0]
		for _, it := range res.View.Items {
			if stale[it.Key] {
				if p, ok := prevBy[it.Key]; ok {
					kept = append(kept, p)
				}
				continue
			}
			kept = append(kept, it)
		}
		res.View.Items = kept
		rehash(&res.View)
	}
	return res, need, nil
}

// curate is the view pass of one customer.
func (e *Engine) curate(ctx context.Context, job *store.Job, customer string) error {
	c, ok := e.cfg.Rules.Customer(customer)
	if !ok {
		return e.removeCustomer(ctx, customer)
	}
	_, stop, err := e.st.GetKV(ctx, nsEmergency, customer)
	if err != nil {
		return err
	}
	if c.Paused() && !stop {
		return nil // the page stays frozen at its last state; no target writes
	}
	prev, hasPrev, err := e.loadView(ctx, customer)
	if err != nil {
		return err
	}
	var prevPtr *mapping.View
	if hasPrev {
		prevPtr = &prev
	}
	res, need, err := e.CurateNow(ctx, customer, prevPtr)
	if err != nil {
		return err
	}
	if len(need) > 0 {
		tasks := make([]store.Task, 0, len(need))
		for _, id := range need {
			tasks = append(tasks, commentsTask(id))
		}
		if err := e.Enqueue(ctx, tasks...); err != nil {
			return err
		}
	}
	v := res.View
	if stop {
		v.Items, v.Milestones, v.Updates, v.Groups, v.Health = nil, nil, nil, nil, ""
		rehash(&v)
	}

	// An operator's emergency retract is deliberate: no guard.
	if hasPrev && prev.Hash != v.Hash && !stop {
		paused, err := e.guard(ctx, customer, &prev, &v)
		if err != nil || paused {
			return err
		}
	}
	now := e.clk.Now()
	if !hasPrev || prev.Hash != v.Hash {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: encode view: %w", customer, err)
		}
		if err := e.st.PutView(ctx, store.ViewRecord{Customer: customer, Hash: v.Hash, Data: data, Changed: now}); err != nil {
			return fmt.Errorf("%s: store view: %w", customer, err)
		}
		e.m.ViewsChanged.WithLabelValues(customer).Inc()
		e.auditPage(ctx, customer, prevPtr, &v, res.Decisions)
	}
	if err := e.st.PutKV(ctx, nsLastSync, customer+"|page", []byte(now.UTC().Format(timeFormat))); err != nil {
		return err
	}
	// A reconcile (or an operator) asks for a full plan; an ordinary pass
	// plans only what changed since the last view. Re-enqueuing every object
	// that still waits for its write would pull ops the pacer deferred back
	// to now on every webhook, each to be refused again.
	_, full, err := e.st.GetKV(ctx, nsFullPlan, customer)
	if err != nil {
		return err
	}
	var only map[string]bool
	if hasPrev && !full {
		only = changedObjects(&prev, &v)
	}
	if err := e.planTargets(ctx, customer, &v, only); err != nil {
		return err
	}
	if full {
		return e.st.DeleteKV(ctx, nsFullPlan, customer)
	}
	return nil
}

// changedObjects lists the mirror objects (items, "ms:" milestones) whose
// curated hash differs between two views, or that only one of them holds.
func changedObjects(prev, next *mapping.View) map[string]bool {
	out := map[string]bool{}
	mark := func(a, b map[string]string) {
		for k, h := range a {
			if b[k] != h {
				out[k] = true
			}
		}
	}
	items := func(v *mapping.View) map[string]string {
		m := map[string]string{}
		for _, it := range v.Items {
			m[it.Key] = it.Hash
		}
		for _, ms := range v.Milestones {
			m[mirror.MilestoneObject(ms.Key)] = ms.Hash
		}
		return m
	}
	p, n := items(prev), items(next)
	mark(p, n)
	mark(n, p)
	return out
}

// markFullPlan makes the next view pass of customers plan every object.
func (e *Engine) markFullPlan(ctx context.Context, customers ...string) error {
	for _, c := range customers {
		if err := e.st.PutKV(ctx, nsFullPlan, c, []byte("1")); err != nil {
			return err
		}
	}
	return nil
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// planTargets enqueues an op for every mirror object that differs (only
// those in only, when it is not nil).
func (e *Engine) planTargets(ctx context.Context, customer string, v *mapping.View, only map[string]bool) error {
	if only != nil && len(only) == 0 {
		return nil // nothing changed: no link needs reading
	}
	var tasks []store.Task
	for _, b := range e.cfg.Targets[customer] {
		tname := b.Target.Name()
		links, err := e.st.ListLinks(ctx, customer, tname, "")
		if err != nil {
			return err
		}
		view := v
		if _, stop, err := e.st.GetKV(ctx, nsEmergency, customer+"|"+tname); err != nil {
			return err
		} else if stop {
			view = nil
		}
		_, ms := b.Target.(mirror.MilestoneTarget)
		for _, op := range mirror.Plan(view, links, ms) {
			if only != nil && !only[op.Object] {
				continue
			}
			tasks = append(tasks, store.Task{Key: mirror.OpKey(customer, tname, op.Object), Lane: op.Lane})
		}
	}
	return e.Enqueue(ctx, tasks...)
}

// guard pauses a customer whose pass would retract more than both
// guardMinItems items and guardFraction of them: a source glitch must not
// empty a customer's page and mirrors.
func (e *Engine) guard(ctx context.Context, customer string, prev, next *mapping.View) (bool, error) {
	gone, pause := wouldPause(prev, next)
	if !pause {
		return false, nil
	}
	if _, ok, err := e.st.GetKV(ctx, nsConfirm, customer); err != nil {
		return false, err
	} else if ok {
		if err := e.st.DeleteKV(ctx, nsConfirm, customer); err != nil {
			return false, err
		}
		_ = e.st.DeleteKV(ctx, nsGuard, customer)
		e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Action: "resume",
			Detail: fmt.Sprintf("retraction of %d of %d items confirmed", gone, len(prev.Items))})
		return false, nil
	}
	if _, already, err := e.st.GetKV(ctx, nsGuard, customer); err != nil {
		return false, err
	} else if !already {
		msg := fmt.Sprintf("would retract %d of %d items: paused until `vitrine sync --customer %s --confirm-retract`", gone, len(prev.Items), customer)
		if err := e.st.PutKV(ctx, nsGuard, customer, []byte(msg)); err != nil {
			return false, err
		}
		e.m.RetractsGuarded.WithLabelValues(customer).Inc()
		e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Action: "pause", Detail: msg})
		e.log.Warn().Str("customer", customer).Int("retract", gone).Int("of", len(prev.Items)).Msg("retract guard: customer paused")
	}
	return true, nil
}

// wouldPause counts the items of prev that next drops and says whether
// that is more than both guard thresholds.
func wouldPause(prev, next *mapping.View) (gone int, pause bool) {
	keep := map[string]bool{}
	for _, it := range next.Items {
		keep[it.Key] = true
	}
	for _, it := range prev.Items {
		if !keep[it.Key] {
			gone++
		}
	}
	return gone, gone > guardMinItems && float64(gone) > guardFraction*float64(len(prev.Items))
}

func (e *Engine) appendAudit(ctx context.Context, a store.AuditEntry) {
	if a.Time.IsZero() {
		a.Time = e.clk.Now()
	}
	if err := e.st.AppendAudit(ctx, a); err != nil {
		e.log.Error().Err(err).Str("customer", a.Customer).Msg("audit append failed")
	}
}

// auditPage records what the page started, changed or stopped showing.
func (e *Engine) auditPage(ctx context.Context, customer string, prev, next *mapping.View, decisions []mapping.Decision) {
	why := map[string]string{}
	for _, d := range decisions {
		why[d.Item] = d.Rule
	}
	before := map[string]string{}
	if prev != nil {
		for _, it := range prev.Items {
			before[it.Key] = it.Hash
		}
	}
	for _, it := range next.Items {
		h, ok := before[it.Key]
		switch {
		case !ok:
			e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Object: it.Key, Action: "publish", Rule: why[it.Key], Hash: it.Hash})
		case h != it.Hash:
			e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Object: it.Key, Action: "update", Rule: why[it.Key], Hash: it.Hash})
		}
		delete(before, it.Key)
	}
	gone := make([]string, 0, len(before))
	for k := range before {
		gone = append(gone, k)
	}
	sort.Strings(gone)
	for _, k := range gone {
		cause := why[k]
		if cause == "" {
			cause = "gone from source"
		}
		e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Object: k, Action: "retract", Rule: cause})
	}
}

// removeCustomer retracts everything of a customer that left the rules: the
// page disappears with the view, and targets still bound (a target kept
// for the retraction) retract their mirrors.
func (e *Engine) removeCustomer(ctx context.Context, customer string) error {
	prev, ok, err := e.loadView(ctx, customer)
	if err != nil {
		return err
	}
	if ok {
		if err := e.st.DeleteView(ctx, customer); err != nil {
			return err
		}
		for _, it := range prev.Items {
			e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: "page", Object: it.Key, Action: "retract", Rule: "customer removed from the rules"})
		}
	}
	return e.planTargets(ctx, customer, nil, nil)
}

// fetchComments reads the comments of a selected item whose cached comments
// are stale.
func (e *Engine) fetchComments(ctx context.Context, id string) error {
	source, _ := item.SplitID(id)
	src, err := e.source(source)
	if err != nil {
		return nil
	}
	snap, ok, err := e.st.GetSnapshot(ctx, id)
	if err != nil {
		return err
	}
	cr, can := src.(CommentReader)
	if !ok || !can {
		return e.fetchItem(ctx, id)
	}
	it, err := decodeItem(snap)
	if err != nil {
		return err
	}
	if it.CommentsLoaded {
		return nil
	}
	cs, err := cr.Comments(ctx, id)
	if err != nil {
		return e.handleReadErr(ctx, source, id, err)
	}
	it.Comments, it.CommentsLoaded = cs, true
	changed, err := e.putItem(ctx, it)
	if err != nil {
		return err
	}
	if changed {
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{source: true})...)
	}
	return nil
}
