package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"vitrine/config"
)

// A customer removed from the rules takes its `targets:` entry with it, and
// with that how to reach its GitHub or Jira mirrors; yet unpublishing must
// retract (promise 3). So what reaching a target needs (repository or
// project, credential variable names, retract mode, status words: never a
// secret) is kept in the store for every configured customer, and a
// customer that left the rules keeps its targets bound, for retraction
// only, until none of its mirrors is left.

// nsTargets holds one targetRecord per customer with mirror targets.
const nsTargets = "customer-targets"

type targetRecord struct {
	Targets  []config.Target
	Statuses config.Statuses
}

// rememberTargets records each configured customer's mirror targets,
// writing only what differs from recs (the stored records).
func (rt *runtime) rememberTargets(ctx context.Context, recs map[string][]byte) error {
	for _, c := range rt.rules.Customers {
		rec := targetRecord{Statuses: c.Statuses}
		for _, t := range c.Targets {
			if t.Page == nil {
				rec.Targets = append(rec.Targets, t)
			}
		}
		if len(rec.Targets) == 0 {
			continue
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("customer %s: record its targets: %w", c.ID, err)
		}
		if old, ok := recs[c.ID]; ok && bytes.Equal(old, raw) {
			continue
		}
		if err := rt.st.PutKV(ctx, nsTargets, c.ID, raw); err != nil {
			return fmt.Errorf("customer %s: record its targets: %w", c.ID, err)
		}
	}
	return nil
}

// bindDeparted binds the recorded targets (recs) of customers no longer in
// the rules that still hold mirrors there; a record none of whose targets
// holds a mirror any more is deleted. A target that cannot be rebuilt (its
// token variable is gone) is logged and left: its mirrors stay until it can
// be.
func (rt *runtime) bindDeparted(ctx context.Context, recs map[string][]byte) error {
	configured := map[string]bool{}
	for _, c := range rt.rules.Customers {
		configured[c.ID] = true
	}
	for id, raw := range recs {
		if configured[id] {
			continue
		}
		log := rt.log.With().Str("customer", id).Logger()
		var rec targetRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			log.Error().Err(err).Msg("customer left the rules: its target record is unreadable; its mirrors stay")
			continue
		}
		c := config.Customer{ID: id, Statuses: rec.Statuses}
		mirrors, bound, unbound := 0, 0, 0
		for _, t := range rec.Targets {
			b, err := rt.buildTarget(c, t)
			if err != nil {
				unbound++
				log.Error().Err(err).Msg("customer left the rules: a target cannot be rebuilt to retract its mirrors; they stay until it can")
				continue
			}
			links, err := rt.st.ListLinks(ctx, id, b.Target.Name(), "")
			if err != nil {
				return fmt.Errorf("customer %s: list mirrors in %s: %w", id, b.Target.Name(), err)
			}
			if len(links) > 0 {
				mirrors += len(links)
				bound++
				rt.bind(id, b)
			}
		}
		if bound == 0 && unbound == 0 {
			if err := rt.st.DeleteKV(ctx, nsTargets, id); err != nil {
				return fmt.Errorf("customer %s: forget its target record: %w", id, err)
			}
			continue
		}
		if bound > 0 {
			log.Warn().Int("mirrors", mirrors).Msg("customer left the rules: its mirrors are retracted")
		}
	}
	return nil
}
