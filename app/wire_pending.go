package app

import (
	"context"
	"errors"

	"vitrine/config"
	"vitrine/webhooks"
	"vitrine/worker"
)

// Connectors and stores that are wired in as they land.

var errNotBuilt = errors.New("not available in this build yet")

func (rt *runtime) githubSource(s config.Source, key string) (worker.Source, error) {
	return nil, errNotBuilt
}

func (rt *runtime) githubTarget(c config.Customer, t config.Target) (worker.Binding, error) {
	return worker.Binding{}, errNotBuilt
}

func (rt *runtime) webhookParsers() (map[string]webhooks.Parser, error) {
	out := map[string]webhooks.Parser{}
	jp, err := rt.jiraParser()
	if err != nil {
		return nil, err
	}
	if jp != nil {
		out["jira"] = jp
	}
	return out, nil
}

// validateOnline checks every source and target against its tracker.
func (rt *runtime) validateOnline(ctx context.Context) error {
	return errors.Join(rt.checkJira(ctx)...)
}
