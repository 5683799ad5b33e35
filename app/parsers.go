package app

import (
	"context"
	"errors"

	"vitrine/webhooks"
)

// webhookParsers builds the intake's parsers: a vendor's route exists only
// when it is configured and has a secret.
func (rt *runtime) webhookParsers(ctx context.Context) (map[string]webhooks.Parser, error) {
	out := map[string]webhooks.Parser{}
	gp, err := rt.githubParser(ctx)
	if err != nil {
		return nil, err
	}
	if gp != nil {
		out["github"] = gp
	}
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
	return errors.Join(append(rt.checkGitHub(ctx), rt.checkJira(ctx)...)...)
}
