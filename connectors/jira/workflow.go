package jira

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// workflow is the status graph of the target's issue type, read from
// Jira Cloud's workflow reads (the preview needs Administer projects or
// View (read-only) workflow on the project; the bulk read needs Administer
// Jira). Data Center has no workflow read for such credentials: there the
// configured transitions are followed instead.
type workflow struct {
	name     string
	initial  string              // status id
	statuses map[string]wfStatus // by id
	edges    []wfTransition      // directed; global ones have no from
	byName   map[string]string   // lower-cased status name -> id
}

type wfStatus struct {
	id, name, category string // category: TODO, IN_PROGRESS, DONE
}

type wfTransition struct {
	id, name        string
	from            []string // status ids; empty: global (from any status)
	to              string
	needsResolution bool
}

// readWorkflow reads the graph, or returns (nil, reason) when this
// credential may not read it (not an error: configured transitions are
// used then).
func (t *Target) readWorkflow(ctx context.Context) (*workflow, string, error) {
	if t.c.dep != Cloud {
		return nil, "Data Center offers no workflow read to project credentials", nil
	}
	pid, itid, err := t.projectIDs(ctx)
	if err != nil {
		return nil, "", err
	}
	var res wfResponse
	err = t.c.do(ctx, http.MethodPost, "/rest/api/2/workflows/preview", nil,
		map[string]any{"projectId": pid, "issueTypeIds": []string{itid}}, &res)
	if st := statusOf(err); st == http.StatusForbidden || st == http.StatusNotFound || st == http.StatusBadRequest || st == http.StatusUnauthorized {
		// Try the bulk read (site administrators), then give up politely.
		res = wfResponse{}
		err2 := t.c.do(ctx, http.MethodPost, "/rest/api/2/workflows", nil,
			map[string]any{"projectAndIssueTypes": []map[string]string{{"projectId": pid, "issueTypeId": itid}}}, &res)
		if err2 != nil {
			if statusOf(err2) == 0 {
				return nil, "", err2
			}
			return nil, fmt.Sprintf("workflow not readable with this credential (%v)", err), nil
		}
	} else if err != nil {
		return nil, "", err
	}
	if len(res.Workflows) == 0 {
		return nil, "no workflow found for the issue type", nil
	}
	return res.graph(0), "", nil
}

type wfResponse struct {
	Statuses []struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		StatusReference string `json:"statusReference"`
		StatusCategory  string `json:"statusCategory"`
	} `json:"statuses"`
	Workflows []struct {
		Name     string `json:"name"`
		Statuses []struct {
			StatusReference string `json:"statusReference"`
		} `json:"statuses"`
		Transitions []struct {
			ID                string `json:"id"`
			Name              string `json:"name"`
			Type              string `json:"type"`
			ToStatusReference string `json:"toStatusReference"`
			Links             []struct {
				FromStatusReference string `json:"fromStatusReference"`
			} `json:"links"`
			TransitionScreen *struct {
				RuleKey string `json:"ruleKey"`
			} `json:"transitionScreen"`
			Validators []struct {
				RuleKey    string            `json:"ruleKey"`
				Parameters map[string]string `json:"parameters"`
			} `json:"validators"`
		} `json:"transitions"`
	} `json:"workflows"`
}

func (r *wfResponse) graph(i int) *workflow {
	wf := r.Workflows[i]
	g := &workflow{name: wf.Name, statuses: map[string]wfStatus{}, byName: map[string]string{}}
	for _, s := range r.Statuses {
		ref := s.StatusReference
		if ref == "" {
			ref = s.ID
		}
		g.statuses[ref] = wfStatus{id: ref, name: s.Name, category: strings.ToUpper(s.StatusCategory)}
		g.byName[strings.ToLower(s.Name)] = ref
	}
	for _, tr := range wf.Transitions {
		switch strings.ToUpper(tr.Type) {
		case "INITIAL":
			g.initial = tr.ToStatusReference
			continue
		}
		e := wfTransition{id: tr.ID, name: tr.Name, to: tr.ToStatusReference}
		for _, l := range tr.Links {
			if l.FromStatusReference != "" {
				e.from = append(e.from, l.FromStatusReference)
			}
		}
		if strings.ToUpper(tr.Type) == "GLOBAL" {
			e.from = nil
		}
		for _, v := range tr.Validators {
			if strings.Contains(strings.ToLower(v.Parameters["fieldsRequired"]), "resolution") {
				e.needsResolution = true
			}
		}
		g.edges = append(g.edges, e)
	}
	if g.initial == "" {
		// No INITIAL transition in the answer: issues start in the
		// to-do category.
		for _, s := range r.Statuses {
			ref := s.StatusReference
			if ref == "" {
				ref = s.ID
			}
			if strings.EqualFold(s.StatusCategory, "TODO") && g.initial == "" {
				g.initial = ref
			}
		}
	}
	return g
}

func (g *workflow) statusName(id string) string {
	if s, ok := g.statuses[id]; ok {
		return s.name
	}
	return id
}

func (g *workflow) idOf(name string) (string, bool) {
	id, ok := g.byName[strings.ToLower(strings.TrimSpace(name))]
	return id, ok
}

func (g *workflow) from(status string) []wfTransition {
	var out []wfTransition
	for _, e := range g.edges {
		if len(e.from) == 0 {
			out = append(out, e)
			continue
		}
		for _, f := range e.from {
			if f == status {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// path is the shortest list of transitions from one status to another
// (nil, true when they are the same; false when unreachable).
func (g *workflow) path(from, to string) ([]wfTransition, bool) {
	if from == to {
		return nil, true
	}
	type step struct {
		prev string
		via  wfTransition
	}
	seen := map[string]step{from: {}}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range g.from(cur) {
			if _, ok := seen[e.to]; ok {
				continue
			}
			seen[e.to] = step{prev: cur, via: e}
			if e.to == to {
				var out []wfTransition
				for at := to; at != from; at = seen[at].prev {
					out = append([]wfTransition{seen[at].via}, out...)
				}
				return out, true
			}
			queue = append(queue, e.to)
		}
	}
	return nil, false
}

// walk follows transition names from a status; it returns the status
// reached, or the first name not available on the way.
func (g *workflow) walk(from string, names []string) (string, string, bool) {
	cur := from
	for _, n := range names {
		found := false
		for _, e := range g.from(cur) {
			if strings.EqualFold(e.name, n) {
				cur, found = e.to, true
				break
			}
		}
		if !found {
			return cur, n, false
		}
	}
	return cur, "", true
}

// nearestDone is the done-category status closest to from (for a
// neutralised mirror), and the way there.
func (g *workflow) nearestDone(from string) (string, []wfTransition, bool) {
	if s, ok := g.statuses[from]; ok && s.category == "DONE" {
		return from, nil, true
	}
	best, bestPath := "", []wfTransition(nil)
	for id, s := range g.statuses {
		if s.category != "DONE" {
			continue
		}
		p, ok := g.path(from, id)
		if !ok {
			continue
		}
		if best == "" || len(p) < len(bestPath) || (len(p) == len(bestPath) && id < best) {
			best, bestPath = id, p
		}
	}
	return best, bestPath, best != ""
}
