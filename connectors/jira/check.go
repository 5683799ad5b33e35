package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// CheckTarget is `vitrine validate --online` for a Jira target: the
// credential works, the project is readable, the issue type exists, every
// status the customer can be shown is reachable (by its configured
// transitions or through the workflow), and so is a closed status for
// neutralised mirrors. A failure names the workflow, the status and the
// issue type. It writes nothing.
func CheckTarget(ctx context.Context, o TargetOptions, statuses []string) error {
	t, err := NewTarget(o)
	if err != nil {
		return err
	}
	return t.Check(ctx, statuses)
}

// Check is CheckTarget for a built target.
func (t *Target) Check(ctx context.Context, statuses []string) error {
	if err := t.c.do(ctx, http.MethodGet, "/rest/api/2/myself", nil, nil, nil); err != nil {
		return t.wrap("", "credentials", err)
	}
	if _, _, err := t.projectIDs(ctx); err != nil {
		return err
	}
	g, err := t.graph(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	reason := t.wfReason
	t.mu.Unlock()
	words := append([]string(nil), statuses...)
	sort.Strings(words)
	var errs []error
	for _, w := range words {
		if w == "" {
			continue
		}
		path := t.pathFor(w)
		if g == nil {
			if len(path) == 0 {
				errs = append(errs, fmt.Errorf("%s: status %q (issue type %s): the workflow of project %s is not readable (%s), so the way to it cannot be checked: configure transitions for it",
					t.name, w, t.issueType, t.project, reason))
			}
			continue
		}
		dest, _, err := t.destination(ctx, w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		to, _ := g.idOf(dest)
		if _, ok := g.path(g.initial, to); !ok {
			errs = append(errs, fmt.Errorf("%s: workflow %q (issue type %s): status %q (for %q) is not reachable from %q",
				t.name, g.name, t.issueType, dest, w, g.statusName(g.initial)))
		}
	}
	if t.retract == "neutralize" {
		switch {
		case g != nil:
			if _, _, ok := g.nearestDone(g.initial); !ok {
				errs = append(errs, fmt.Errorf("%s: workflow %q (issue type %s): no closed status is reachable from %q for retracted mirrors",
					t.name, g.name, t.issueType, g.statusName(g.initial)))
			}
		case t.done == "" || len(t.pathFor(t.done)) == 0:
			errs = append(errs, fmt.Errorf("%s: retracted mirrors are moved to a closed status, but the workflow is not readable (%s): configure transitions for the done status",
				t.name, reason))
		}
	}
	return errors.Join(errs...)
}

// CheckSource is `vitrine validate --online` for a Jira source: the
// credential works, the project is readable and the customer's filter is
// valid JQL. It writes nothing.
func CheckSource(ctx context.Context, o SourceOptions) error {
	s, err := NewSource(o)
	if err != nil {
		return err
	}
	return s.Check(ctx)
}

// Check runs CheckSource's checks on a source already built.
func (s *Source) Check(ctx context.Context) error {
	if _, err := s.zone(ctx, true); err != nil {
		return err
	}
	if err := s.projectReadable(ctx); err != nil {
		return err
	}
	_, _, err := s.c.search(ctx, searchReq{jql: membership(s.project, s.jql), fields: []string{"id"}, max: 1})
	if err != nil {
		if statusOf(err) == http.StatusBadRequest {
			return fmt.Errorf("%s: jql %s: %w", s.key, strconv.Quote(s.jql), err)
		}
		return s.wrap("search", err)
	}
	return nil
}
