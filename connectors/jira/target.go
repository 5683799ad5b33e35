package jira

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/scrub"
)

// DefaultProperty is the issue (and comment) property that carries a
// mirror's opaque key.
const DefaultProperty = "vitrine"

const (
	// workflowTTL bounds how long a read workflow is trusted.
	workflowTTL = time.Hour
	// maxRemembered bounds the creates a target remembers for FindItem.
	maxRemembered = 10000
)

// TargetOptions configure a Target.
type TargetOptions struct {
	Name      string // "jira:<host>/<PROJECT>"
	Site      string
	Project   string
	IssueType string // default "Task"
	// Transitions name, per customer status, the transitions that lead to
	// it from the workflow's initial status. Statuses without an entry are
	// reached through the workflow when the credential may read it (a
	// status of the same name), else by one transition to a status of that
	// name.
	Transitions map[string][]string
	// Done is the customer's done word: with the workflow unreadable, its
	// transitions lead a neutralised mirror to a closed status.
	Done       string
	Retract    string // "neutralize" (default) or "delete"
	Deployment Deployment
	// HTTP is the write credential's client, with the pacing gate: its
	// Options.Subject should be jira.Subject (per-issue write limits) and
	// its PaceInfo worker.PaceInfoFrom.
	HTTP *httpapi.Client
	Auth Auth
	// Property is the issue property carrying the opaque key (default
	// DefaultProperty).
	Property string
	// Neutral is the summary a neutralised mirror keeps (default "Retracted").
	Neutral string
	Clock   clock.Clock
	Log     zerolog.Logger
}

// Target mirrors one customer's published items into one Jira project
// (mirror.Target). Jira has no milestone objects of its own here, so it is
// not a mirror.MilestoneTarget.
type Target struct {
	name, project, issueType, retract, prop, neutral, done string
	transitions                                            map[string][]string
	c                                                      *conn
	hc                                                     *httpapi.Client
	clk                                                    clock.Clock
	log                                                    zerolog.Logger

	mu       sync.Mutex
	pid      string // project id
	itid     string // issue type id
	wf       *workflow
	wfReason string
	wfAt     time.Time
	dest     map[string]string // customer word (lower) -> status it reached
	created  map[string]string // opaque key -> issue id created by this process
	noDue    bool              // duedate is not on the screens
}

// NewTarget validates o and returns a target (no I/O).
func NewTarget(o TargetOptions) (*Target, error) {
	if o.Name == "" || o.Project == "" {
		return nil, errors.New("jira target: name and project are required")
	}
	if o.IssueType == "" {
		o.IssueType = "Task"
	}
	switch o.Retract {
	case "":
		o.Retract = "neutralize"
	case "neutralize", "delete":
	default:
		return nil, fmt.Errorf("jira target %s: retract %q (want neutralize or delete)", o.Name, o.Retract)
	}
	for w, names := range o.Transitions {
		if len(names) == 0 {
			return nil, fmt.Errorf("jira target %s: transitions for %q: empty list", o.Name, w)
		}
	}
	if o.Property == "" {
		o.Property = DefaultProperty
	}
	if o.Neutral == "" {
		o.Neutral = "Retracted"
	}
	c, err := newConn(o.Site, o.Deployment, o.HTTP, o.Auth)
	if err != nil {
		return nil, fmt.Errorf("jira target %s: %w", o.Name, err)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &Target{
		name: o.Name, project: strings.ToUpper(o.Project), issueType: o.IssueType, retract: o.Retract,
		prop: o.Property, neutral: o.Neutral, done: o.Done, transitions: o.Transitions,
		c: c, hc: o.HTTP, clk: o.Clock, log: o.Log.With().Str("target", o.Name).Logger(),
		dest: map[string]string{}, created: map[string]string{},
	}, nil
}

// Name is the target's name.
func (t *Target) Name() string { return t.name }

// Credential is the pacing identity of the write credential.
func (t *Target) Credential() string { return t.hc.Credential() }

func (t *Target) wrap(ref, what string, err error) error {
	if ref == "" {
		return fmt.Errorf("%s: %s: %w", t.name, what, err)
	}
	return fmt.Errorf("%s issue %s: %s: %w", t.name, ref, what, err)
}

// ---- property ----

type mirrorProp struct {
	Key   string `json:"key"`
	State string `json:"state"` // live | retracted
	// Status is the customer word last applied and At the status it
	// reached: with no readable workflow, this is how a restarted target
	// knows an issue already stands where its word leads.
	Status string `json:"status,omitempty"`
	At     string `json:"at,omitempty"`
}

const (
	stateLive      = "live"
	stateRetracted = "retracted"
)

func decodeProp(raw json.RawMessage) (mirrorProp, bool) {
	var p mirrorProp
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil || p.Key == "" {
		return mirrorProp{}, false
	}
	return p, true
}

// ---- reads ----

type mirrorIssue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary     string     `json:"summary"`
		Description *string    `json:"description"`
		DueDate     *string    `json:"duedate"`
		Status      statusJSON `json:"status"`
		Updated     string     `json:"updated"`
	} `json:"fields"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func (m *mirrorIssue) description() string {
	if m.Fields.Description == nil {
		return ""
	}
	return *m.Fields.Description
}

func (m *mirrorIssue) due() string {
	if m.Fields.DueDate == nil {
		return ""
	}
	return *m.Fields.DueDate
}

func (t *Target) read(ctx context.Context, ref string) (mirrorIssue, error) {
	var m mirrorIssue
	q := url.Values{"fields": {"summary,description,duedate,status,updated"}, "properties": {t.prop}}
	err := t.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+ref, q, nil, &m)
	return m, err
}

// etag is the mirror's validator: Jira has no ETag, so it is the issue's
// `updated` and a hash of what the mirror showed after vitrine's write.
func etagOf(m mirrorIssue) string {
	return strconv.FormatInt(timeOrZero(m.Fields.Updated).UnixMilli(), 10) + ":" + contentHash(m)
}

func contentHash(m mirrorIssue) string {
	h := sha256.New()
	for _, s := range []string{m.Fields.Summary, normText(m.description()), m.due(), strings.ToLower(m.Fields.Status.Name)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func parseETag(e string) (updated int64, hash string) {
	u, h, _ := strings.Cut(e, ":")
	n, _ := strconv.ParseInt(u, 10, 64)
	return n, h
}

func normText(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// ---- what a mirror shows ----

type wanted struct {
	summary, description, due, word string
}

func (t *Target) want(w mirror.Issue) wanted {
	it := w.Item
	summary := scrub.InlineText(it.Title, scrub.TitleJira)
	if summary == "" {
		summary = "Untitled"
	}
	if utf8.RuneCountInString(summary) > 250 {
		summary = string([]rune(summary)[:250]) + "…"
	}
	return wanted{summary: summary, description: strings.TrimRight(describe(it), "\n"), due: it.Due, word: it.Status}
}

// describe writes the mirror's description: the public body, then the
// allow-listed facts the issue has no field for.
func describe(it mapping.Item) string {
	doc := scrub.Doc{Blocks: append([]scrub.Block(nil), it.Body.Blocks...)}
	var facts []scrub.Block
	fact := func(name string, value []scrub.Inline) {
		in := []scrub.Inline{{Kind: scrub.Strong, Children: []scrub.Inline{{Kind: scrub.Text, Text: name + ":"}}}, {Kind: scrub.Text, Text: " "}}
		facts = append(facts, scrub.Block{Kind: scrub.Paragraph, Inlines: append(in, value...)})
	}
	if it.Progress != nil {
		fact("Progress", []scrub.Inline{{Kind: scrub.Text, Text: strconv.Itoa(*it.Progress) + "%"}})
	}
	if len(it.Assignees) > 0 {
		fact("Assignees", scrub.Title(strings.Join(it.Assignees, ", ")))
	}
	for _, f := range it.Fields {
		fact(f.Name, scrub.Title(f.Value))
	}
	if len(facts) > 0 {
		if len(doc.Blocks) > 0 {
			doc.Blocks = append(doc.Blocks, scrub.Block{Kind: scrub.Rule})
		}
		doc.Blocks = append(doc.Blocks, facts...)
	}
	return doc.Wiki()
}

// CommentBody is a mirror comment as Jira stores it: who and when, then
// the public text, in escaped wiki markup.
func (t *Target) CommentBody(w mirror.Comment) string {
	c := w.Comment
	head := []scrub.Inline{{Kind: scrub.Strong, Children: scrub.Title(c.Author)}}
	if !c.Time.IsZero() {
		head = append(head, scrub.Inline{Kind: scrub.Text, Text: " · " + c.Time.UTC().Format("2006-01-02")})
	}
	doc := scrub.Doc{Blocks: append([]scrub.Block{{Kind: scrub.Paragraph, Inlines: head}}, c.Body.Blocks...)}
	return strings.TrimRight(doc.Wiki(), "\n")
}

// ---- project and workflow ----

func (t *Target) projectIDs(ctx context.Context) (string, string, error) {
	t.mu.Lock()
	pid, itid := t.pid, t.itid
	t.mu.Unlock()
	if pid != "" && itid != "" {
		return pid, itid, nil
	}
	var p struct {
		ID         string `json:"id"`
		IssueTypes []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Subtask bool   `json:"subtask"`
		} `json:"issueTypes"`
	}
	if err := t.c.do(ctx, http.MethodGet, "/rest/api/2/project/"+url.PathEscape(t.project), nil, nil, &p); err != nil {
		return "", "", t.wrap("", "read project "+t.project, err)
	}
	for _, it := range p.IssueTypes {
		if strings.EqualFold(it.Name, t.issueType) || it.ID == t.issueType {
			itid = it.ID
		}
	}
	if itid == "" {
		return p.ID, "", t.wrap("", "issue type", fmt.Errorf("project %s has no issue type %q", t.project, t.issueType))
	}
	t.mu.Lock()
	t.pid, t.itid = p.ID, itid
	t.mu.Unlock()
	return p.ID, itid, nil
}

// graph is the workflow when this credential may read it (nil otherwise).
func (t *Target) graph(ctx context.Context) (*workflow, error) {
	t.mu.Lock()
	wf, reason, at := t.wf, t.wfReason, t.wfAt
	t.mu.Unlock()
	if !at.IsZero() && t.clk.Now().Sub(at) < workflowTTL {
		return wf, nil
	}
	wf, reason, err := t.readWorkflow(ctx)
	if err != nil {
		return nil, t.wrap("", "read workflow", err)
	}
	if wf == nil && reason != "" {
		t.log.Info().Str("reason", reason).Msg("workflow not readable: following configured transitions")
	}
	t.mu.Lock()
	t.wf, t.wfReason, t.wfAt = wf, reason, t.clk.Now()
	t.mu.Unlock()
	return wf, nil
}

func (t *Target) pathFor(word string) []string {
	if p, ok := t.transitions[word]; ok {
		return p
	}
	for k, p := range t.transitions {
		if strings.EqualFold(k, word) {
			return p
		}
	}
	return nil
}

// destination is the status a customer word leads to, when it can be
// known before moving: from the workflow (the configured transitions
// walked from the initial status, else the status of that name), from a
// path already followed by this process, or, with neither, the status
// named like the word when no transitions are configured for it.
func (t *Target) destination(ctx context.Context, word string) (string, bool, error) {
	g, err := t.graph(ctx)
	if err != nil {
		return "", false, err
	}
	path := t.pathFor(word)
	if g != nil {
		if len(path) > 0 {
			to, missing, ok := g.walk(g.initial, path)
			if !ok {
				return "", false, t.wrap("", "transitions for "+strconv.Quote(word), fmt.Errorf(
					"workflow %q (issue type %s): transition %q is not available from status %q",
					g.name, t.issueType, missing, g.statusName(to)))
			}
			return g.statusName(to), true, nil
		}
		if id, ok := g.idOf(word); ok {
			return g.statusName(id), true, nil
		}
		return "", false, t.wrap("", "status "+strconv.Quote(word), fmt.Errorf(
			"workflow %q (issue type %s) has no status %q: configure transitions for it", g.name, t.issueType, word))
	}
	t.mu.Lock()
	d, ok := t.dest[strings.ToLower(word)]
	t.mu.Unlock()
	if ok {
		return d, true, nil
	}
	if len(path) == 0 {
		return word, true, nil
	}
	return "", false, nil
}

func (t *Target) learn(word, status string) {
	t.mu.Lock()
	t.dest[strings.ToLower(word)] = status
	t.mu.Unlock()
}

// ---- transitions ----

type transitionJSON struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	To     statusJSON `json:"to"`
	Fields map[string]struct {
		Required      bool `json:"required"`
		AllowedValues []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"allowedValues"`
	} `json:"fields"`
}

func (t *Target) available(ctx context.Context, ref string) ([]transitionJSON, error) {
	var res struct {
		Transitions []transitionJSON `json:"transitions"`
	}
	err := t.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+ref+"/transitions", url.Values{"expand": {"transitions.fields"}}, nil, &res)
	return res.Transitions, err
}

type purpose int

const (
	forStatus purpose = iota
	forRetract
)

var (
	doneNames    = []string{"done", "fixed", "resolved", "complete", "completed"}
	retractNames = []string{"won't do", "won't fix", "cancelled", "canceled", "declined", "obsolete"}
)

// resolution picks the resolution a transition screen needs.
func resolution(tr transitionJSON, p purpose) (map[string]string, bool) {
	f, ok := tr.Fields["resolution"]
	if !ok {
		return nil, false
	}
	if !f.Required && tr.To.StatusCategory.Key != "done" {
		return nil, false
	}
	prefer := doneNames
	if p == forRetract {
		prefer = retractNames
	}
	for _, want := range prefer {
		for _, v := range f.AllowedValues {
			if strings.EqualFold(v.Name, want) {
				return map[string]string{"id": v.ID}, true
			}
		}
	}
	if len(f.AllowedValues) > 0 {
		return map[string]string{"id": f.AllowedValues[0].ID}, true
	}
	if p == forRetract {
		return map[string]string{"name": "Won't Do"}, true
	}
	return map[string]string{"name": "Done"}, true
}

func (t *Target) perform(ctx context.Context, ref string, tr transitionJSON, p purpose) error {
	body := map[string]any{"transition": map[string]string{"id": tr.ID}}
	if r, ok := resolution(tr, p); ok {
		body["fields"] = map[string]any{"resolution": r}
	}
	if err := t.c.do(ctx, http.MethodPost, "/rest/api/2/issue/"+ref+"/transitions", nil, body, nil); err != nil {
		return t.wrap(ref, fmt.Sprintf("transition %q", tr.Name), err)
	}
	return nil
}

func findTransition(ts []transitionJSON, ok func(transitionJSON) bool) (transitionJSON, bool) {
	for _, tr := range ts {
		if ok(tr) {
			return tr, true
		}
	}
	return transitionJSON{}, false
}

// errUnreachable: the customer status cannot be reached from where the
// mirror stands.
var errUnreachable = errors.New("status not reachable")

// reach moves the mirror to where the customer word leads, never by
// trying transitions: along the workflow's shortest path when it is
// readable, else along the configured transitions (read from the issue's
// available transitions one hop at a time). It returns the status reached
// and the writes made.
func (t *Target) reach(ctx context.Context, ref string, cur mirrorIssue, word string, p purpose) (string, int, error) {
	status := cur.Fields.Status.Name
	if word == "" {
		return status, 0, nil
	}
	dest, known, err := t.destination(ctx, word)
	if err != nil {
		return status, 0, err
	}
	if known && strings.EqualFold(status, dest) {
		return status, 0, nil
	}
	if prop, ok := decodeProp(cur.Properties[t.prop]); ok && !known && prop.Status == word && strings.EqualFold(prop.At, status) {
		t.learn(word, status)
		return status, 0, nil
	}
	g, err := t.graph(ctx)
	if err != nil {
		return status, 0, err
	}
	writes := 0
	if g != nil && known {
		from, ok1 := g.idOf(status)
		to, ok2 := g.idOf(dest)
		hops, ok3 := g.path(from, to)
		if !ok1 || !ok2 || !ok3 {
			return status, 0, t.wrap(ref, "move to "+strconv.Quote(word), fmt.Errorf("%w: workflow %q (issue type %s) has no way from status %q to %q",
				errUnreachable, g.name, t.issueType, status, dest))
		}
		for _, h := range hops {
			ts, err := t.available(ctx, ref)
			if err != nil {
				return status, writes, t.wrap(ref, "read transitions", err)
			}
			tr, ok := findTransition(ts, func(x transitionJSON) bool { return x.ID == h.id })
			if !ok {
				return status, writes, t.wrap(ref, "move to "+strconv.Quote(word), fmt.Errorf("%w: transition %q is not available from status %q",
					errUnreachable, h.name, status))
			}
			if err := t.perform(ctx, ref, tr, p); err != nil {
				return status, writes, err
			}
			writes++
			status = tr.To.Name
		}
		return status, writes, nil
	}

	path := t.pathFor(word)
	pos, reset := 0, false
	for step := 0; step < len(path)+4; step++ {
		ts, err := t.available(ctx, ref)
		if err != nil {
			return status, writes, t.wrap(ref, "read transitions", err)
		}
		if known {
			if tr, ok := findTransition(ts, func(x transitionJSON) bool { return strings.EqualFold(x.To.Name, dest) }); ok {
				if err := t.perform(ctx, ref, tr, p); err != nil {
					return status, writes, err
				}
				return tr.To.Name, writes + 1, nil
			}
		}
		next := -1
		var tr transitionJSON
		for j := pos; j < len(path) && next < 0; j++ {
			if x, ok := findTransition(ts, func(x transitionJSON) bool { return strings.EqualFold(x.Name, path[j]) }); ok {
				next, tr = j, x
			}
		}
		if next < 0 && pos == 0 && !reset && len(path) > 0 {
			// Not on the configured way: back to a to-do status (where the
			// configured transitions start), once.
			if x, ok := findTransition(ts, func(x transitionJSON) bool { return x.To.StatusCategory.Key == "new" }); ok {
				if err := t.perform(ctx, ref, x, p); err != nil {
					return status, writes, err
				}
				writes++
				status, reset = x.To.Name, true
				continue
			}
		}
		if next < 0 {
			what := "no transition to a status named " + strconv.Quote(dest)
			if len(path) > 0 {
				what = fmt.Sprintf("none of the configured transitions %q is available", path[pos:])
			}
			return status, writes, t.wrap(ref, "move to "+strconv.Quote(word), fmt.Errorf("%w from status %q (issue type %s): %s",
				errUnreachable, status, t.issueType, what))
		}
		if err := t.perform(ctx, ref, tr, p); err != nil {
			return status, writes, err
		}
		writes++
		status, pos = tr.To.Name, next+1
		if pos == len(path) {
			t.learn(word, status)
			return status, writes, nil
		}
	}
	return status, writes, t.wrap(ref, "move to "+strconv.Quote(word), fmt.Errorf("%w: too many hops", errUnreachable))
}

// ---- writes ----

// edit sends one PUT with the fields that differ and the property, when
// either needs it; the property's status memory counts only when the
// workflow is not readable (and not with ignoreStatus). It reports whether
// it wrote.
func (t *Target) edit(ctx context.Context, ref string, cur mirrorIssue, w wanted, prop mirrorProp, ignoreStatus bool) (bool, error) {
	fields := map[string]any{}
	if cur.Fields.Summary != w.summary {
		fields["summary"] = w.summary
	}
	if normText(cur.description()) != normText(w.description) {
		fields["description"] = w.description // "" clears it (the v3 description refuses null)
	}
	t.mu.Lock()
	noDue := t.noDue
	t.mu.Unlock()
	if !noDue && cur.due() != w.due {
		if w.due == "" {
			fields["duedate"] = nil
		} else {
			fields["duedate"] = w.due
		}
	}
	have, _ := decodeProp(cur.Properties[t.prop])
	propChanged := have.Key != prop.Key || have.State != prop.State
	if !ignoreStatus {
		if g, _ := t.graph(ctx); g == nil {
			propChanged = propChanged || have.Status != prop.Status || have.At != prop.At
		}
	}
	if len(fields) == 0 && !propChanged {
		return false, nil
	}
	body := map[string]any{"fields": fields, "properties": []map[string]any{{"key": t.prop, "value": prop}}}
	err := t.c.do(ctx, http.MethodPut, "/rest/api/2/issue/"+ref, nil, body, nil)
	if _, had := fields["duedate"]; had && statusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "duedate") {
		// The due date is not on this project's edit screen: mirror without it.
		t.mu.Lock()
		t.noDue = true
		t.mu.Unlock()
		delete(fields, "duedate")
		err = t.c.do(ctx, http.MethodPut, "/rest/api/2/issue/"+ref, nil, body, nil)
	}
	if err != nil {
		return false, t.wrap(ref, "edit", err)
	}
	return true, nil
}

// CreateItem creates the mirror issue (its key as an issue property, in
// the same request) and moves it to the customer's status.
func (t *Target) CreateItem(ctx context.Context, w mirror.Issue) (mirror.Remote, error) {
	want := t.want(w)
	fields := map[string]any{
		"project":   map[string]string{"key": t.project},
		"issuetype": map[string]string{"name": t.issueType},
		"summary":   want.summary,
	}
	if want.description != "" {
		fields["description"] = want.description
	}
	t.mu.Lock()
	noDue := t.noDue
	t.mu.Unlock()
	if want.due != "" && !noDue {
		fields["duedate"] = want.due
	}
	prop := mirrorProp{Key: w.Key, State: stateLive}
	if g, err := t.graph(ctx); err == nil && g == nil {
		// Without a readable workflow, where the word leads is kept with
		// the key (when this process already knows it, in this request).
		if d, known, err := t.destination(ctx, want.word); err == nil && known {
			prop.Status, prop.At = want.word, d
		}
	}
	body := map[string]any{"fields": fields, "properties": []map[string]any{{"key": t.prop, "value": prop}}}
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	err := t.c.do(httpapi.WithRetry(ctx, false), http.MethodPost, "/rest/api/2/issue", nil, body, &created)
	if _, had := fields["duedate"]; had && statusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "duedate") {
		// A 400 created nothing: send it again without the due date.
		t.mu.Lock()
		t.noDue = true
		t.mu.Unlock()
		delete(fields, "duedate")
		err = t.c.do(httpapi.WithRetry(ctx, false), http.MethodPost, "/rest/api/2/issue", nil, body, &created)
	}
	if err != nil {
		return mirror.Remote{}, t.wrap("", "create", err)
	}
	if !isDigits(created.ID) {
		return mirror.Remote{}, t.wrap("", "create", fmt.Errorf("answer without an issue id"))
	}
	// Remembered so that a pass stopped before its link was stored (a
	// paced transition below) finds it again without the search index.
	t.mu.Lock()
	if len(t.created) >= maxRemembered {
		clear(t.created)
	}
	t.created[w.Key] = created.ID
	t.mu.Unlock()
	rem, err := t.converge(ctx, created.ID, w, want)
	rem.Ref = created.ID
	return rem, err
}

// UpdateItem brings the mirror to what w shows: one PUT for the fields
// (when any differs), then the transitions to the customer's status.
func (t *Target) UpdateItem(ctx context.Context, ref string, w mirror.Issue) (mirror.Remote, error) {
	return t.converge(ctx, ref, w, t.want(w))
}

func (t *Target) converge(ctx context.Context, ref string, w mirror.Issue, want wanted) (mirror.Remote, error) {
	cur, err := t.read(ctx, ref)
	if err != nil {
		return mirror.Remote{Ref: ref}, t.wrap(ref, "read", err)
	}
	prop := mirrorProp{Key: w.Key, State: stateLive}
	if have, ok := decodeProp(cur.Properties[t.prop]); ok && have.Key == w.Key {
		prop.Status, prop.At = have.Status, have.At
	}
	wrote, err := t.edit(ctx, ref, cur, want, prop, true)
	if err != nil {
		return mirror.Remote{Ref: ref}, err
	}
	if wrote {
		if cur, err = t.read(ctx, ref); err != nil {
			return mirror.Remote{Ref: ref}, t.wrap(ref, "read", err)
		}
	}
	reached, hops, err := t.reach(ctx, ref, cur, want.word, forStatus)
	if err != nil {
		return mirror.Remote{Ref: ref}, err
	}
	if hops > 0 { // a field edit alone was read back above
		if cur, err = t.read(ctx, ref); err != nil {
			return mirror.Remote{Ref: ref}, t.wrap(ref, "read", err)
		}
	}
	// Where the word led is kept with the key when the workflow cannot be
	// read, so a restarted target does not walk the path again.
	prop.Status, prop.At = want.word, reached
	if more, err := t.edit(ctx, ref, cur, want, prop, false); err != nil {
		return mirror.Remote{Ref: ref}, err
	} else if more {
		if cur, err = t.read(ctx, ref); err != nil {
			return mirror.Remote{Ref: ref}, t.wrap(ref, "read", err)
		}
	}
	return mirror.Remote{Ref: ref, ETag: etagOf(cur)}, nil
}

// RetractItem neutralises the mirror (neutral summary, no description or
// due date, key kept and marked retracted, moved to a closed status), or
// deletes it when configured to and permitted.
func (t *Target) RetractItem(ctx context.Context, ref string) error {
	cur, err := t.read(ctx, ref)
	if statusOf(err) == http.StatusNotFound {
		return nil // already gone
	}
	if err != nil {
		return t.wrap(ref, "read", err)
	}
	if t.retract == "delete" {
		err := t.c.do(ctx, http.MethodDelete, "/rest/api/2/issue/"+ref, nil, nil, nil)
		switch statusOf(err) {
		case 0:
			if err == nil {
				return nil
			}
			return t.wrap(ref, "delete", err)
		case http.StatusNotFound:
			return nil
		case http.StatusForbidden:
			t.log.Warn().Str("issue", ref).Msg("delete not permitted: neutralising instead")
		default:
			return t.wrap(ref, "delete", err)
		}
	}
	have, _ := decodeProp(cur.Properties[t.prop])
	prop := mirrorProp{Key: have.Key, State: stateRetracted}
	if _, err := t.edit(ctx, ref, cur, wanted{summary: t.neutral}, prop, true); err != nil {
		return err
	}
	if cur.Fields.Status.StatusCategory.Key == "done" {
		return nil
	}
	return t.close(ctx, ref, cur)
}

// close moves a neutralised mirror to a done-category status.
func (t *Target) close(ctx context.Context, ref string, cur mirrorIssue) error {
	g, err := t.graph(ctx)
	if err != nil {
		return err
	}
	if g != nil {
		from, ok := g.idOf(cur.Fields.Status.Name)
		if ok {
			if _, hops, ok := g.nearestDone(from); ok {
				for _, h := range hops {
					ts, err := t.available(ctx, ref)
					if err != nil {
						return t.wrap(ref, "read transitions", err)
					}
					tr, ok := findTransition(ts, func(x transitionJSON) bool { return x.ID == h.id })
					if !ok {
						break
					}
					if err := t.perform(ctx, ref, tr, forRetract); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	ts, err := t.available(ctx, ref)
	if err != nil {
		return t.wrap(ref, "read transitions", err)
	}
	if tr, ok := findTransition(ts, func(x transitionJSON) bool { return x.To.StatusCategory.Key == "done" }); ok {
		return t.perform(ctx, ref, tr, forRetract)
	}
	if t.done != "" {
		if _, _, err := t.reach(ctx, ref, cur, t.done, forRetract); err != nil {
			return err
		}
		return nil
	}
	return t.wrap(ref, "close", fmt.Errorf("%w: no transition to a closed status from %q; configure transitions for the done status", errUnreachable, cur.Fields.Status.Name))
}

// ---- finding mirrors ----

// scan lists the project's issues carrying the key property.
func (t *Target) scan(ctx context.Context, stop func(mirror.Found) bool) ([]mirror.Found, error) {
	req := searchReq{jql: "project = " + jqlString(t.project) + " ORDER BY id ASC", fields: []string{"id"}, properties: []string{t.prop}, max: 1000}
	var out []mirror.Found
	for page := 0; page < 10000; page++ {
		res, more, err := t.c.search(ctx, req)
		if err != nil {
			return nil, t.wrap("", "scan project "+t.project, err)
		}
		for _, is := range res.Issues {
			p, ok := decodeProp(is.Properties[t.prop])
			if !ok || !isDigits(is.ID) {
				continue
			}
			f := mirror.Found{Kind: mirror.KindItem, Key: p.Key, Ref: is.ID, Retracted: p.State == stateRetracted}
			out = append(out, f)
			if stop != nil && stop(f) {
				return out, nil
			}
		}
		if !more {
			return out, nil
		}
		req.token, req.startAt = res.NextPageToken, res.StartAt+len(res.Issues)
	}
	return out, nil
}

// Index lists every mirror issue of the project by its key (a scan of the
// project: JQL cannot search issue properties that no app indexes).
func (t *Target) Index(ctx context.Context) ([]mirror.Found, error) { return t.scan(ctx, nil) }

// FindItem finds the mirror carrying key: one this process created, else
// by scanning the project.
func (t *Target) FindItem(ctx context.Context, key string) (string, bool, error) {
	t.mu.Lock()
	ref, ok := t.created[key]
	delete(t.created, key)
	t.mu.Unlock()
	if ok {
		return ref, true, nil
	}
	found, err := t.scan(ctx, func(f mirror.Found) bool { return f.Key == key })
	if err != nil {
		return "", false, err
	}
	for _, f := range found {
		if f.Key == key {
			return f.Ref, true, nil
		}
	}
	return "", false, nil
}

// CheckItem re-reads the mirror: unchanged since vitrine's write when its
// `updated` is the one recorded; else drifted when its fields, status or
// key property differ both from what w shows and from what the mirror
// showed after vitrine's write (Jira may normalise markup it stores).
func (t *Target) CheckItem(ctx context.Context, ref, etag string, w mirror.Issue) (mirror.Check, error) {
	cur, err := t.read(ctx, ref)
	if statusOf(err) == http.StatusNotFound {
		return mirror.Check{Exists: false}, nil
	}
	if err != nil {
		return mirror.Check{}, t.wrap(ref, "read", err)
	}
	now := etagOf(cur)
	u, h := parseETag(etag)
	if u != 0 && u == timeOrZero(cur.Fields.Updated).UnixMilli() {
		return mirror.Check{Exists: true, ETag: etag}, nil
	}
	prop, ok := decodeProp(cur.Properties[t.prop])
	drifted := !ok || prop.Key != w.Key || prop.State != stateLive
	if !drifted {
		want := t.want(w)
		same := cur.Fields.Summary == want.summary && normText(cur.description()) == normText(want.description)
		t.mu.Lock()
		noDue := t.noDue
		t.mu.Unlock()
		if !noDue {
			same = same && cur.due() == want.due
		}
		dest, known, err := t.destination(ctx, want.word)
		if err != nil {
			return mirror.Check{}, err
		}
		if !known && prop.Status == want.word && prop.At != "" {
			dest, known = prop.At, true
		}
		if known && !strings.EqualFold(cur.Fields.Status.Name, dest) {
			same = false
		}
		drifted = !same && contentHash(cur) != h
	}
	return mirror.Check{Exists: true, Drifted: drifted, ETag: now}, nil
}

// ---- comments ----

// ListComments lists the comments vitrine wrote on a mirror (those
// carrying the key property).
func (t *Target) ListComments(ctx context.Context, itemRef string) ([]mirror.RemoteComment, error) {
	var out []mirror.RemoteComment
	start := 0
	for page := 0; page < 1000; page++ {
		q := url.Values{"expand": {"properties"}, "startAt": {strconv.Itoa(start)}, "maxResults": {"100"}}
		var cp commentPageJSON
		if err := t.c.do(ctx, http.MethodGet, "/rest/api/2/issue/"+itemRef+"/comment", q, nil, &cp); err != nil {
			return nil, t.wrap(itemRef, "list comments", err)
		}
		for _, c := range cp.Comments {
			for _, p := range c.Properties {
				if p.Key != t.prop {
					continue
				}
				mp, ok := decodeProp(p.Value)
				if !ok {
					continue
				}
				body, _ := bodyText(c.Body)
				out = append(out, mirror.RemoteComment{Ref: c.ID, Key: mp.Key, Body: body})
			}
		}
		start += len(cp.Comments)
		if len(cp.Comments) == 0 || start >= cp.Total {
			break
		}
	}
	return out, nil
}

// CreateComment writes a comment with its key as a comment property.
func (t *Target) CreateComment(ctx context.Context, itemRef string, w mirror.Comment) (mirror.Remote, error) {
	body := map[string]any{
		"body":       t.CommentBody(w),
		"properties": []map[string]any{{"key": t.prop, "value": mirrorProp{Key: w.Key, State: stateLive}}},
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := t.c.do(httpapi.WithRetry(ctx, false), http.MethodPost, "/rest/api/2/issue/"+itemRef+"/comment", nil, body, &c); err != nil {
		return mirror.Remote{}, t.wrap(itemRef, "create comment", err)
	}
	return mirror.Remote{Ref: c.ID}, nil
}

// UpdateComment rewrites a comment's text (its property stays).
func (t *Target) UpdateComment(ctx context.Context, itemRef, ref string, w mirror.Comment) (mirror.Remote, error) {
	if err := t.c.do(ctx, http.MethodPut, "/rest/api/2/issue/"+itemRef+"/comment/"+ref, nil, map[string]any{"body": t.CommentBody(w)}, nil); err != nil {
		if statusOf(err) == http.StatusNotFound {
			// Deleted in the target: the applier writes it again.
			return mirror.Remote{}, t.wrap(itemRef, "comment "+ref, connectors.ErrGone)
		}
		return mirror.Remote{}, t.wrap(itemRef, "update comment "+ref, err)
	}
	return mirror.Remote{Ref: ref}, nil
}

// DeleteComment deletes a comment (already gone is fine).
func (t *Target) DeleteComment(ctx context.Context, itemRef, ref string) error {
	err := t.c.do(ctx, http.MethodDelete, "/rest/api/2/issue/"+itemRef+"/comment/"+ref, nil, nil, nil)
	if err == nil || statusOf(err) == http.StatusNotFound {
		return nil
	}
	return t.wrap(itemRef, "delete comment "+ref, err)
}

var _ mirror.Target = (*Target)(nil)
