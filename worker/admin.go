package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"vitrine/store"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ConfirmRetract lets the next view pass of a customer retract what the
// retract guard held back (`vitrine sync --confirm-retract`).
func (e *Engine) ConfirmRetract(ctx context.Context, customer string) error {
	if err := e.st.PutKV(ctx, nsConfirm, customer, []byte("1")); err != nil {
		return fmt.Errorf("%s: confirm retract: %w", customer, err)
	}
	if err := e.markFullPlan(ctx, customer); err != nil {
		return err
	}
	return e.st.DeleteKV(ctx, nsGuard, customer)
}

// EmergencyRetract makes a customer (or one of its targets) show nothing,
// now and until Resume: the page empties at the next view pass and every
// mirror is retracted, retractions first. Audited.
func (e *Engine) EmergencyRetract(ctx context.Context, customer, target, actor string) error {
	key := customer
	if target != "" {
		if _, ok := e.binding(customer, target); !ok {
			return fmt.Errorf("customer %s has no target %s", customer, target)
		}
		key += "|" + target
	}
	if err := e.st.PutKV(ctx, nsEmergency, key, []byte(actor)); err != nil {
		return fmt.Errorf("%s: emergency retract: %w", key, err)
	}
	tgt := target
	if tgt == "" {
		tgt = "all"
	}
	e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: tgt, Action: "emergency-retract", Detail: "by " + actor})
	if err := e.markFullPlan(ctx, customer); err != nil {
		return err
	}
	return e.Enqueue(ctx, ViewTask(customer))
}

// Resume lifts an emergency retract; the next pass republishes.
func (e *Engine) Resume(ctx context.Context, customer, target, actor string) error {
	key := customer
	if target != "" {
		key += "|" + target
	}
	if err := e.st.DeleteKV(ctx, nsEmergency, key); err != nil {
		return err
	}
	tgt := target
	if tgt == "" {
		tgt = "all"
	}
	e.appendAudit(ctx, store.AuditEntry{Customer: customer, Target: tgt, Action: "resume", Detail: "by " + actor})
	if err := e.markFullPlan(ctx, customer); err != nil {
		return err
	}
	return e.Enqueue(ctx, ViewTask(customer))
}

// ReconcileCustomer enqueues a reconcile limited to one customer: its
// sources' polls and re-verification, a view pass that plans every object,
// and drift checks of its targets.
func (e *Engine) ReconcileCustomer(ctx context.Context, customer string) error {
	if err := e.markFullPlan(ctx, customer); err != nil {
		return err
	}
	return e.Enqueue(ctx, e.customerTasks(customer)...)
}

func (e *Engine) customerTasks(customer string) []store.Task {
	var tasks []store.Task
	for _, s := range e.cfg.Rules.SourcesFor(customer) {
		tasks = append(tasks, ScanTask(s), MilestonesTask(s), VerifyTask(s))
	}
	tasks = append(tasks, ViewTask(customer))
	for _, b := range e.cfg.Targets[customer] {
		tasks = append(tasks, TargetVerifyTask(customer, b.Target.Name()))
	}
	return tasks
}
