package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"vitrine/connectors"
	"vitrine/item"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/store"
)

// Collect reads the current state of sources without writing anything: the
// cached snapshots, brought up to date in memory by a cursor poll of each
// source. preview, explain and sync --dry-run use it.
func (e *Engine) Collect(ctx context.Context, sources []string) ([]item.Snapshot, error) {
	var out []item.Snapshot
	for _, key := range sources {
		src, err := e.source(key)
		if err != nil {
			return nil, err
		}
		items := map[string]item.Item{}
		ms := map[string]item.Milestone{}
		recs, err := e.st.ListSnapshots(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			switch r.Kind {
			case store.KindItem:
				it, err := decodeItem(r)
				if err != nil {
					return nil, fmt.Errorf("%s: decode snapshot: %w", r.ID, err)
				}
				items[it.ID] = it
			case store.KindMilestone:
				m, err := decodeMilestone(r)
				if err != nil {
					return nil, err
				}
				ms[m.ID] = m
			}
		}
		raw, _, err := e.st.GetKV(ctx, nsCursor, key)
		if err != nil {
			return nil, err
		}
		cursor := string(raw)
		for page := 0; ; page++ {
			p, err := src.Poll(ctx, cursor)
			if err != nil {
				return nil, fmt.Errorf("%s: poll: %w", key, err)
			}
			if p.Full {
				fresh := map[string]item.Item{}
				for _, it := range p.Items {
					fresh[it.ID] = it
				}
				for id, old := range items {
					if it, ok := fresh[id]; ok {
						o := old
						mergeComments(&it, &o)
						fresh[id] = it
					}
				}
				items = fresh
				ms = map[string]item.Milestone{}
			} else {
				for _, it := range p.Items {
					if old, ok := items[it.ID]; ok {
						mergeComments(&it, &old)
					} else {
						mergeComments(&it, nil)
					}
					items[it.ID] = it
				}
			}
			for _, m := range p.Milestones {
				ms[m.ID] = m
			}
			for _, id := range p.Gone {
				delete(items, id)
				delete(ms, id)
			}
			cursor = p.Cursor
			if !p.More || page > 100000 {
				break
			}
		}
		snap := item.Snapshot{Source: key}
		for _, it := range items {
			snap.Items = append(snap.Items, it)
		}
		for _, m := range ms {
			snap.Milestones = append(snap.Milestones, m)
		}
		sort.Slice(snap.Items, func(i, j int) bool { return snap.Items[i].ID < snap.Items[j].ID })
		sort.Slice(snap.Milestones, func(i, j int) bool { return snap.Milestones[i].ID < snap.Milestones[j].ID })
		out = append(out, snap)
	}
	return out, nil
}

func decodeMilestone(s store.Snapshot) (item.Milestone, error) {
	var m item.Milestone
	if err := jsonUnmarshal(s.Data, &m); err != nil {
		return m, fmt.Errorf("%s: decode snapshot: %w", s.ID, err)
	}
	return m, nil
}

// Preview curates a customer from freshly collected state, reading comments
// of selected items in memory; nothing is written.
func (e *Engine) Preview(ctx context.Context, customer string) (mapping.Result, error) {
	if _, ok := e.cfg.Rules.Customer(customer); !ok {
		return mapping.Result{}, fmt.Errorf("customer %s is not configured", customer)
	}
	snaps, err := e.Collect(ctx, e.cfg.Rules.SourcesFor(customer))
	if err != nil {
		return mapping.Result{}, err
	}
	return e.curateInMemory(ctx, customer, snaps)
}

func (e *Engine) curateInMemory(ctx context.Context, customer string, snaps []item.Snapshot) (mapping.Result, error) {
	now := e.clk.Now()
	res, err := e.cfg.Rules.Curate(customer, snaps, now)
	if err != nil || len(res.NeedComments) == 0 {
		return res, err
	}
	need := map[string]bool{}
	for _, id := range res.NeedComments {
		need[id] = true
	}
	for si := range snaps {
		src, err := e.source(snaps[si].Source)
		if err != nil {
			return res, err
		}
		for ii := range snaps[si].Items {
			it := &snaps[si].Items[ii]
			if !need[it.ID] {
				continue
			}
			if cr, ok := src.(CommentReader); ok {
				cs, err := cr.Comments(ctx, it.ID)
				if err != nil {
					return res, fmt.Errorf("%s: read comments: %w", it.ID, err)
				}
				it.Comments, it.CommentsLoaded = cs, true
				continue
			}
			fresh, err := src.Fetch(ctx, it.ID, connectors.FetchOptions{Comments: true})
			if errors.Is(err, connectors.ErrGone) {
				continue
			}
			if err != nil {
				return res, fmt.Errorf("%s: read: %w", it.ID, err)
			}
			*it = fresh
		}
	}
	return e.cfg.Rules.Curate(customer, snaps, now)
}

// Explain collects every source and explains one item for every customer.
func (e *Engine) Explain(ctx context.Context, ref string) ([]mapping.Explanation, error) {
	snaps, err := e.Collect(ctx, e.Sources())
	if err != nil {
		return nil, err
	}
	return e.cfg.Rules.Explain(snaps, ref, e.clk.Now())
}

// PlannedOp is one write a reconcile would make.
type PlannedOp struct {
	Customer string
	Target   string // "page" or a target name
	Object   string
	Ref      string // display ref of the source item, when known (internal)
	Action   string
}

// DryRun plans a full reconcile of customers without writing anything:
// what the view pass would do, pauses, emergency retracts and the retract
// guard included. A customer no longer in the rules (see Departed) plans
// the retraction of everything it shows.
func (e *Engine) DryRun(ctx context.Context, customers []string) ([]PlannedOp, error) {
	var out []PlannedOp
	for _, c := range customers {
		prev, hasPrev, err := e.loadView(ctx, c)
		if err != nil {
			return nil, err
		}
		cust, configured := e.cfg.Rules.Customer(c)
		if !configured {
			if hasPrev {
				for _, it := range prev.Items {
					out = append(out, PlannedOp{c, "page", it.Key, "", "retract"})
				}
			}
			if out, err = e.planTargetOps(ctx, out, c, nil, nil); err != nil {
				return nil, err
			}
			continue
		}
		_, stop, err := e.st.GetKV(ctx, nsEmergency, c)
		if err != nil {
			return nil, err
		}
		if cust.Paused() && !stop {
			continue // frozen: the sync changes nothing
		}
		res, err := e.Preview(ctx, c)
		if err != nil {
			return nil, err
		}
		if stop {
			res.View.Items, res.View.Milestones, res.View.Updates, res.View.Groups, res.View.Health = nil, nil, nil, nil, ""
		}
		refs := map[string]string{}
		for _, d := range res.Decisions {
			refs[d.Item] = d.Ref
		}
		if hasPrev && !stop {
			_, guarded, err := e.st.GetKV(ctx, nsGuard, c)
			if err != nil {
				return nil, err
			}
			_, confirmed, err := e.st.GetKV(ctx, nsConfirm, c)
			if err != nil {
				return nil, err
			}
			if gone, pause := wouldPause(&prev, &res.View); (pause || guarded) && !confirmed {
				out = append(out, PlannedOp{c, "page", "", fmt.Sprintf("(would retract %d of %d: paused)", gone, len(prev.Items)), "pause"})
				continue
			}
		}
		before := map[string]string{}
		if hasPrev {
			for _, it := range prev.Items {
				before[it.Key] = it.Hash
			}
		}
		for _, it := range res.View.Items {
			h, ok := before[it.Key]
			switch {
			case !ok:
				out = append(out, PlannedOp{c, "page", it.Key, refs[it.Key], "publish"})
			case h != it.Hash:
				out = append(out, PlannedOp{c, "page", it.Key, refs[it.Key], "update"})
			}
			delete(before, it.Key)
		}
		for k := range before {
			out = append(out, PlannedOp{c, "page", k, refs[k], "retract"})
		}
		v := res.View
		if out, err = e.planTargetOps(ctx, out, c, &v, refs); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Customer != out[j].Customer {
			return out[i].Customer < out[j].Customer
		}
		if out[i].Target != out[j].Target {
			return out[i].Target < out[j].Target
		}
		return out[i].Object < out[j].Object
	})
	return out, nil
}

// planTargetOps appends what each bound target of customer would get to
// hold v (nil: nothing, every mirror retracted).
func (e *Engine) planTargetOps(ctx context.Context, out []PlannedOp, customer string, v *mapping.View, refs map[string]string) ([]PlannedOp, error) {
	for _, b := range e.cfg.Targets[customer] {
		links, err := e.st.ListLinks(ctx, customer, b.Target.Name(), "")
		if err != nil {
			return nil, err
		}
		_, ms := b.Target.(mirror.MilestoneTarget)
		for _, op := range mirror.Plan(v, links, ms) {
			out = append(out, PlannedOp{customer, b.Target.Name(), op.Object, refs[op.Object], op.Action})
		}
	}
	return out, nil
}

// Departed lists customers no longer in the rules that still have a stored
// view, or targets bound to retract their mirrors (Config.Targets may hold
// such customers): a full reconcile retracts them.
func (e *Engine) Departed(ctx context.Context) ([]string, error) {
	ids, err := e.st.ListViews(ctx)
	if err != nil {
		return nil, err
	}
	for id := range e.cfg.Targets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []string
	for i, id := range ids {
		if _, ok := e.cfg.Rules.Customer(id); !ok && (i == 0 || ids[i-1] != id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// StatusReport is what `vitrine status` prints.
type StatusReport struct {
	Queue        store.QueueStats
	Parked       []store.Job
	SourceErrors map[string]string
	LastSync     map[string]string // customer|target -> time
	Guarded      map[string]string // customer -> reason
	Emergency    []string
	// RetractFailing: retractions whose last attempt failed (op key -> error).
	RetractFailing map[string]string
}

// Status gathers the operational state from the store.
func (e *Engine) Status(ctx context.Context) (StatusReport, error) {
	var r StatusReport
	var err error
	if r.Queue, err = e.st.Stats(ctx, e.clk.Now()); err != nil {
		return r, err
	}
	if r.Parked, err = e.st.Parked(ctx); err != nil {
		return r, err
	}
	r.SourceErrors = map[string]string{}
	kv, err := e.st.ListKV(ctx, nsSourceError)
	if err != nil {
		return r, err
	}
	for k, v := range kv {
		var se sourceError
		if jsonUnmarshal(v, &se) == nil {
			r.SourceErrors[k] = se.Time.UTC().Format(time.RFC3339) + " " + se.Message
		}
	}
	r.LastSync = map[string]string{}
	if kv, err = e.st.ListKV(ctx, nsLastSync); err != nil {
		return r, err
	}
	for k, v := range kv {
		r.LastSync[k] = string(v)
	}
	r.Guarded = map[string]string{}
	if kv, err = e.st.ListKV(ctx, nsGuard); err != nil {
		return r, err
	}
	for k, v := range kv {
		r.Guarded[k] = string(v)
	}
	r.RetractFailing = map[string]string{}
	if kv, err = e.st.ListKV(ctx, nsRetractFailing); err != nil {
		return r, err
	}
	for k, v := range kv {
		r.RetractFailing[k] = string(v)
	}
	if kv, err = e.st.ListKV(ctx, nsEmergency); err != nil {
		return r, err
	}
	for k := range kv {
		r.Emergency = append(r.Emergency, k)
	}
	sort.Strings(r.Emergency)
	return r, nil
}

// UpdateGauges refreshes the queue and retraction gauges from the store
// (serve calls it periodically; every replica sees the shared queue).
func (e *Engine) UpdateGauges(ctx context.Context) error {
	q, err := e.st.Stats(ctx, e.clk.Now())
	if err != nil {
		return err
	}
	e.m.QueueReady.Set(float64(q.Ready))
	e.m.QueueWaiting.Set(float64(q.Waiting))
	e.m.QueueInFlight.Set(float64(q.InFlight))
	e.m.QueueIntake.Set(float64(q.Intake))
	e.m.QueueParked.Set(float64(q.Parked))
	e.m.QueueOldest.Set(q.Oldest.Seconds())
	kv, err := e.st.ListKV(ctx, nsRetractFailing)
	if err != nil {
		return err
	}
	e.m.RetractFailing.Set(float64(len(kv)))
	return nil
}
