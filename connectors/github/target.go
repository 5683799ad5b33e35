package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/mapping"
	"vitrine/mirror"
	"vitrine/pace"
)

// Retract modes of a target.
const (
	RetractNeutralize = "neutralize"
	RetractDelete     = "delete"
)

// DefaultLabelPrefix starts every managed status label.
const DefaultLabelPrefix = "status: "

// TargetOptions configure a Target.
type TargetOptions struct {
	// Name is the target's name in links and op keys; default
	// "github:<owner/name>" (lower case). It goes into every opaque key:
	// never change it for a target that has mirrors.
	Name string
	// Repo is owner/name of the customer-facing repository.
	Repo string
	// Retract is neutralize (default) or delete (GraphQL deleteIssue,
	// needs admin on the repository).
	Retract string
	// LabelPrefix starts the managed status labels (default "status: ").
	LabelPrefix string
	// Bot is the login the token belongs to. Empty: read once from
	// GET /user (Connect, or the first call that needs it).
	Bot string
	// HTTP is the policy client with the credential's pacing gate (write
	// credential). Its Credential label is the pacing identity.
	HTTP *httpapi.Client
	// APIURL and Token as for SourceOptions.
	APIURL string
	Token  string
	// Blocker, when set, holds reads back while the credential is blocked
	// after a rate-limit answer (the app passes the same *pace.Pacer as
	// the HTTP client's gate).
	Blocker Blocker
	// Spread staggers keys the pacer refuses together (see Spread); share
	// one across the app. Default: one of its own.
	Spread *Spread
	// FindPages bounds FindItem's search when the time of the lost create
	// is not known (default 10 pages of 100).
	FindPages int
	Clock     clock.Clock
	Log       zerolog.Logger
}

// Target writes one customer's curated mirror into a GitHub repository. It
// implements mirror.Target and mirror.MilestoneTarget. It changes only what
// vitrine wrote: its own issues, comments and milestones (found by marker
// and author), and the managed status labels (added and removed one by
// one, never replacing the label set).
type Target struct {
	name        string
	api         *api
	deleteMode  bool
	labelPrefix string
	findPages   int
	clk         clock.Clock
	log         zerolog.Logger

	mu     sync.Mutex
	bot    string
	labels map[string]bool      // label names (lower case) known to exist
	sent   map[string]time.Time // opaque key -> when its create was sent
	// unsent: opaque keys whose last create this process knows never
	// landed (refused by the pacer before sending, or answered 4xx), so
	// FindItem need not search for them.
	unsent map[string]bool
}

// NewTarget validates o and returns a Target (no I/O).
func NewTarget(o TargetOptions) (*Target, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	a, err := newAPI(o.HTTP, o.APIURL, o.Token, o.Repo, o.Clock, o.Blocker, spreadOr(o.Spread))
	if err != nil {
		return nil, err
	}
	t := &Target{name: o.Name, api: a, labelPrefix: o.LabelPrefix, findPages: o.FindPages, clk: o.Clock,
		bot: o.Bot, labels: map[string]bool{}, sent: map[string]time.Time{}, unsent: map[string]bool{}}
	if t.name == "" {
		t.name = "github:" + strings.ToLower(a.repo)
	}
	switch o.Retract {
	case "", RetractNeutralize:
	case RetractDelete:
		t.deleteMode = true
	default:
		return nil, fmt.Errorf("github target %s: retract %q is not neutralize or delete", a.repo, o.Retract)
	}
	if t.labelPrefix == "" {
		t.labelPrefix = DefaultLabelPrefix
	}
	if strings.TrimSpace(t.labelPrefix) == "" {
		return nil, fmt.Errorf("github target %s: a blank label prefix would manage every label", a.repo)
	}
	if t.findPages <= 0 {
		t.findPages = 10
	}
	t.log = o.Log.With().Str("target", t.name).Logger()
	return t, nil
}

// Name is the target's name ("github:acme/acme-status").
func (t *Target) Name() string { return t.name }

// Credential is the pacing identity of the write token.
func (t *Target) Credential() string { return t.api.cred }

// DeletesOnRetract reports whether a retraction deletes the mirror (so a
// republish must create it again rather than update it).
func (t *Target) DeletesOnRetract() bool { return t.deleteMode }

// Connect learns the bot's login when it was not configured.
func (t *Target) Connect(ctx context.Context) error {
	_, err := t.Login(ctx)
	return err
}

// Login is the write token's login (configured, or read once from
// GET /user): the webhook parser ignores its events as echoes.
func (t *Target) Login(ctx context.Context) (string, error) {
	t.mu.Lock()
	bot := t.bot
	t.mu.Unlock()
	if bot != "" {
		return bot, nil
	}
	var u gh.User
	if _, err := t.api.call(ctx, http.MethodGet, "user", nil, nil, "", &u); err != nil {
		return "", t.errf("read the token's login: %w", err)
	}
	if u.GetLogin() == "" {
		return "", t.errf("the token has no login")
	}
	t.mu.Lock()
	t.bot = u.GetLogin()
	t.mu.Unlock()
	return u.GetLogin(), nil
}

func (t *Target) errf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{t.api.repo}, args...)...)
}

func refNumber(ref string) (int, error) {
	n, err := strconv.Atoi(ref)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("mirror ref %q is not an issue number", ref)
	}
	return n, nil
}

func (t *Target) issuePath(n int, more ...string) string {
	return t.api.path(append([]string{"issues", strconv.Itoa(n)}, more...)...)
}

// gone: the mirror is not in this repository any more.
func gone(err error) bool {
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusGone, http.StatusMovedPermanently:
		return true
	}
	return false
}

func (t *Target) getIssue(ctx context.Context, n int, etag string) (*issueJSON, answer, error) {
	var is issueJSON
	ans, err := t.api.call(ctx, http.MethodGet, t.issuePath(n), nil, nil, etag, &is)
	if err != nil {
		return nil, ans, err
	}
	return &is, ans, nil
}

// want is what a mirror issue must hold.
type want struct {
	title, body string
	closed      bool
	reason      string // state_reason when closed
	milestone   int    // 0: none
	label       string // managed label, "" for none
	done        bool
}

func (t *Target) wantOf(w mirror.Issue) (want, error) {
	x := want{title: issueTitle(w.Item), body: issueBody(w), closed: w.Item.Done, label: statusLabel(t.labelPrefix, w.Item.Status), done: w.Item.Done}
	if x.closed {
		x.reason = "completed"
	}
	if w.MilestoneRef != "" {
		n, err := strconv.Atoi(w.MilestoneRef)
		if err != nil {
			return x, t.errf("milestone ref %q is not a number", w.MilestoneRef)
		}
		x.milestone = n
	}
	return x, nil
}

// patchFor lists the fields of cur that differ from x.
func patchFor(cur *issueJSON, x want) map[string]any {
	p := map[string]any{}
	if cur.GetTitle() != x.title {
		p["title"] = x.title
	}
	if cur.GetBody() != x.body {
		p["body"] = x.body
	}
	closed := cur.GetState() == "closed"
	switch {
	case x.closed && !closed:
		// GitHub ignores state_reason unless the state changes: a closed
		// mirror keeps the reason it was closed with.
		p["state"], p["state_reason"] = "closed", x.reason
	case !x.closed && closed:
		p["state"] = "open"
	}
	if cur.GetMilestone().GetNumber() != x.milestone {
		if x.milestone == 0 {
			p["milestone"] = nil
		} else {
			p["milestone"] = x.milestone
		}
	}
	return p
}

// managed lists the issue's managed labels.
func (t *Target) managed(cur *issueJSON) []string {
	var out []string
	lp := strings.ToLower(t.labelPrefix)
	for _, l := range cur.Labels {
		if strings.HasPrefix(strings.ToLower(l.GetName()), lp) {
			out = append(out, l.GetName())
		}
	}
	return out
}

// labelDiff says which managed labels go and whether the wanted one is
// missing.
func (t *Target) labelDiff(cur *issueJSON, label string) (remove []string, add bool) {
	have := false
	for _, l := range t.managed(cur) {
		if label != "" && strings.EqualFold(l, label) {
			have = true
			continue
		}
		remove = append(remove, l)
	}
	return remove, label != "" && !have
}

// ensureLabel creates a managed label that does not exist yet, so it gets
// vitrine's color and description rather than GitHub's defaults.
func (t *Target) ensureLabel(ctx context.Context, name string, done bool) error {
	lower := strings.ToLower(name)
	t.mu.Lock()
	known := t.labels[lower]
	t.mu.Unlock()
	if known {
		return nil
	}
	_, err := t.api.call(ctx, http.MethodGet, t.api.path("labels", name), nil, nil, "", nil)
	if statusOf(err) == http.StatusNotFound {
		color := "1d76db"
		if done {
			color = "0e8a16"
		}
		_, err = t.api.call(ctx, http.MethodPost, t.api.path("labels"), nil,
			map[string]any{"name": name, "color": color, "description": "Status, kept up to date by vitrine"}, "", nil)
		if hasCode(err, "already_exists") {
			err = nil
		}
	}
	if err != nil {
		return t.errf("label %q: %w", name, err)
	}
	t.mu.Lock()
	t.labels[lower] = true
	t.mu.Unlock()
	return nil
}

// syncLabels removes managed labels other than label and adds label, one
// by one: the customer's own labels are never touched.
func (t *Target) syncLabels(ctx context.Context, n int, cur *issueJSON, label string, done bool) (int, error) {
	writes := 0
	remove, add := t.labelDiff(cur, label)
	for _, l := range remove {
		_, err := t.api.call(ctx, http.MethodDelete, t.issuePath(n, "labels", l), nil, nil, "", nil)
		if err != nil && statusOf(err) != http.StatusNotFound {
			return writes, t.errf("#%d: remove label %q: %w", n, l, err)
		}
		writes++
	}
	if add {
		if err := t.ensureLabel(ctx, label, done); err != nil {
			return writes, err
		}
		var got []*gh.Label
		_, err := t.api.call(ctx, http.MethodPost, t.issuePath(n, "labels"), nil, map[string]any{"labels": []string{label}}, "", &got)
		if err != nil {
			return writes, t.errf("#%d: add label %q: %w", n, label, err)
		}
		writes++
		if !hasLabel(got, label) {
			return writes, t.errf("#%d: label %q was not applied: the token needs push access", n, label)
		}
	}
	return writes, nil
}

func hasLabel(ls []*gh.Label, name string) bool {
	for _, l := range ls {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

// patchIssue sends one PATCH and checks GitHub applied the milestone (it
// drops it silently without push access). It returns the answer's ETag,
// when GitHub sends one, for the next drift check.
func (t *Target) patchIssue(ctx context.Context, n int, p map[string]any) (string, error) {
	var is issueJSON
	ans, err := t.api.call(ctx, http.MethodPatch, t.issuePath(n), nil, p, "", &is)
	if err != nil {
		return "", t.errf("#%d: update: %w", n, err)
	}
	if v, ok := p["milestone"]; ok {
		wantN, _ := v.(int)
		if is.GetMilestone().GetNumber() != wantN {
			return "", t.errf("#%d: milestone was not applied: the token needs push access", n)
		}
	}
	return ans.ETag, nil
}

// CreateItem opens the mirror issue. The opaque key goes into the body
// before anything is sent, so a create whose answer is lost is found by
// FindItem. GitHub silently drops labels and milestone without push
// access: that is an error here.
func (t *Target) CreateItem(ctx context.Context, w mirror.Issue) (mirror.Remote, error) {
	x, err := t.wantOf(w)
	if err != nil {
		return mirror.Remote{}, err
	}
	t.mu.Lock()
	t.unsent[w.Key] = true
	t.mu.Unlock()
	if x.label != "" {
		if err := t.ensureLabel(ctx, x.label, x.done); err != nil {
			return mirror.Remote{}, err
		}
	}
	body := map[string]any{"title": x.title, "body": x.body}
	if x.label != "" {
		body["labels"] = []string{x.label}
	}
	if x.milestone != 0 {
		body["milestone"] = x.milestone
	}
	t.mu.Lock()
	t.sent[w.Key] = t.clk.Now()
	delete(t.unsent, w.Key)
	t.mu.Unlock()
	var is issueJSON
	ans, err := t.api.call(ctx, http.MethodPost, t.api.path("issues"), nil, body, "", &is)
	if err != nil {
		if notSent(err) {
			t.mu.Lock()
			t.unsent[w.Key] = true
			t.mu.Unlock()
		}
		return mirror.Remote{}, t.errf("create issue: %w", err)
	}
	n := is.GetNumber()
	ref := strconv.Itoa(n)
	if n == 0 {
		return mirror.Remote{}, t.errf("create issue: no number in the answer")
	}
	if x.label != "" && !hasLabel(is.Labels, x.label) || is.GetMilestone().GetNumber() != x.milestone {
		return mirror.Remote{Ref: ref}, t.errf("#%d: labels or milestone were silently dropped: the token needs push access", n)
	}
	etag := ans.ETag
	if x.closed {
		if etag, err = t.patchIssue(ctx, n, map[string]any{"state": "closed", "state_reason": x.reason}); err != nil {
			return mirror.Remote{Ref: ref}, err
		}
	}
	return mirror.Remote{Ref: ref, ETag: etag}, nil
}

// UpdateItem brings the mirror to w, writing only what differs from what it
// holds now: one PATCH for title, body, state and milestone, and the
// managed label's add and remove.
func (t *Target) UpdateItem(ctx context.Context, ref string, w mirror.Issue) (mirror.Remote, error) {
	n, err := refNumber(ref)
	if err != nil {
		return mirror.Remote{}, t.errf("%w", err)
	}
	x, err := t.wantOf(w)
	if err != nil {
		return mirror.Remote{}, err
	}
	cur, ans, err := t.getIssue(ctx, n, "")
	if err != nil {
		if gone(err) {
			return mirror.Remote{}, t.errf("#%d: the mirror is gone (HTTP %d); it is created again once the link is dropped", n, statusOf(err))
		}
		return mirror.Remote{}, t.errf("#%d: read: %w", n, err)
	}
	etag := ans.ETag
	if p := patchFor(cur, x); len(p) > 0 {
		if etag, err = t.patchIssue(ctx, n, p); err != nil {
			return mirror.Remote{Ref: ref}, err
		}
	}
	writes, err := t.syncLabels(ctx, n, cur, x.label, x.done)
	if err != nil {
		return mirror.Remote{Ref: ref}, err
	}
	if writes > 0 {
		etag = ""
	}
	return mirror.Remote{Ref: ref, ETag: etag}, nil
}

// RetractItem neutralises the mirror (title and body replaced, managed
// labels and milestone dropped, closed as not planned; the marker stays) or
// deletes it (GraphQL deleteIssue, needs admin). Comments were removed by
// the caller. A mirror that is already gone is retracted.
func (t *Target) RetractItem(ctx context.Context, ref string) error {
	n, err := refNumber(ref)
	if err != nil {
		return t.errf("%w", err)
	}
	cur, _, err := t.getIssue(ctx, n, "")
	if gone(err) {
		t.log.Info().Int("issue", n).Msg("mirror already gone: nothing to retract")
		return nil
	}
	if err != nil {
		return t.errf("#%d: read: %w", n, err)
	}
	if t.deleteMode {
		return t.deleteIssue(ctx, n, cur.GetNodeID())
	}
	key, _, _ := parseMarker(cur.GetBody())
	x := want{title: retractTitle, body: retractedBody(key), closed: true, reason: "not_planned"}
	if p := patchFor(cur, x); len(p) > 0 {
		if _, err := t.patchIssue(ctx, n, p); err != nil {
			return err
		}
	}
	_, err = t.syncLabels(ctx, n, cur, "", false)
	return err
}

func (t *Target) deleteIssue(ctx context.Context, n int, nodeID string) error {
	if nodeID == "" {
		return t.errf("#%d: no node id to delete", n)
	}
	err := t.api.graphql(ctx, `mutation($id: ID!) { deleteIssue(input: {issueId: $id}) { clientMutationId } }`,
		map[string]any{"id": nodeID}, nil)
	var ge *gqlErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ge) && ge.has("NOT_FOUND"):
		return nil
	case errors.As(err, &ge) && ge.has("FORBIDDEN"):
		return t.errf("#%d: delete: retract: delete needs admin on the repository: %w", n, err)
	}
	return t.errf("#%d: delete: %w", n, err)
}

// CheckItem re-reads the mirror conditionally: 304 is no drift; otherwise
// title, body, state, milestone and the managed label are compared with
// what w would write. Labels the customer added are not drift.
func (t *Target) CheckItem(ctx context.Context, ref, etag string, w mirror.Issue) (mirror.Check, error) {
	n, err := refNumber(ref)
	if err != nil {
		return mirror.Check{}, t.errf("%w", err)
	}
	cur, ans, err := t.getIssue(ctx, n, etag)
	if gone(err) {
		return mirror.Check{Exists: false}, nil
	}
	if err != nil {
		return mirror.Check{}, t.errf("#%d: read: %w", n, err)
	}
	if ans.NotMod {
		return mirror.Check{Exists: true, ETag: etag}, nil
	}
	x, err := t.wantOf(w)
	if err != nil {
		return mirror.Check{}, err
	}
	remove, add := t.labelDiff(cur, x.label)
	drift := len(patchFor(cur, x)) > 0 || len(remove) > 0 || add
	return mirror.Check{Exists: true, Drifted: drift, ETag: ans.ETag}, nil
}

// listIssues walks the bot's issues page by page until fn says stop.
func (t *Target) listIssues(ctx context.Context, q url.Values, maxPages int, fn func(*issueJSON) bool) error {
	q.Set("per_page", strconv.Itoa(perPage))
	for page := 1; maxPages <= 0 || page <= maxPages; page++ {
		q.Set("page", strconv.Itoa(page))
		var list []*issueJSON
		ans, err := t.api.call(ctx, http.MethodGet, t.api.path("issues"), q, nil, "", &list)
		if err != nil {
			return t.errf("list issues: %w", err)
		}
		for _, is := range list {
			if is == nil || is.isPR() {
				continue
			}
			if !fn(is) {
				return nil
			}
		}
		if !ans.Next {
			return nil
		}
	}
	return nil
}

// Index lists every mirror issue and milestone vitrine wrote here, by the
// key in its marker.
func (t *Target) Index(ctx context.Context) ([]mirror.Found, error) {
	bot, err := t.Login(ctx)
	if err != nil {
		return nil, err
	}
	var out []mirror.Found
	q := url.Values{"creator": {bot}, "state": {"all"}, "sort": {"created"}, "direction": {"asc"}}
	err = t.listIssues(ctx, q, 0, func(is *issueJSON) bool {
		if !strings.EqualFold(is.GetUser().GetLogin(), bot) {
			return true
		}
		if key, retracted, ok := parseMarker(is.GetBody()); ok {
			out = append(out, mirror.Found{Kind: mirror.KindItem, Key: key, Ref: strconv.Itoa(is.GetNumber()), Retracted: retracted})
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	ms, err := t.milestones(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if key, retracted, ok := parseMarker(m.GetDescription()); ok {
			out = append(out, mirror.Found{Kind: mirror.KindMilestone, Key: key, Ref: strconv.Itoa(m.GetNumber()), Retracted: retracted})
		}
	}
	return out, nil
}

// findSlack is how much older than the lost create a mirror may look
// (clock skew between vitrine and GitHub).
const findSlack = 2 * time.Minute

// notSent reports a create that certainly did not land: refused before
// sending (our pacer or read gate), or answered with a client error or a
// rate limit. A 5xx or a lost connection may have landed.
func notSent(err error) bool {
	if errors.Is(err, pace.ErrPaced) {
		return true
	}
	var rl *connectors.RateLimited
	if errors.As(err, &rl) {
		return true
	}
	st := statusOf(err)
	return st >= 400 && st < 500
}

// FindItem looks for the mirror carrying key among the bot's issues, newest
// first, after a create whose answer was lost. It stops at a match, at
// issues older than the create could be, or after a bounded number of
// pages when this process did not send the create.
func (t *Target) FindItem(ctx context.Context, key string) (string, bool, error) {
	bot, err := t.Login(ctx)
	if err != nil {
		return "", false, err
	}
	t.mu.Lock()
	sent, known := t.sent[key]
	unsent := t.unsent[key]
	t.mu.Unlock()
	if unsent {
		return "", false, nil
	}
	ref := ""
	q := url.Values{"creator": {bot}, "state": {"all"}, "sort": {"created"}, "direction": {"desc"}}
	err = t.listIssues(ctx, q, t.findPages, func(is *issueJSON) bool {
		if k, _, ok := parseMarker(is.GetBody()); ok && k == key && strings.EqualFold(is.GetUser().GetLogin(), bot) {
			ref = strconv.Itoa(is.GetNumber())
			return false
		}
		return !(known && ts(is.CreatedAt).Before(sent.Add(-findSlack)))
	})
	if err != nil {
		return "", false, err
	}
	return ref, ref != "", nil
}

// ListComments lists the comments vitrine wrote on a mirror (by author and
// marker); the customer's comments are not listed.
func (t *Target) ListComments(ctx context.Context, itemRef string) ([]mirror.RemoteComment, error) {
	n, err := refNumber(itemRef)
	if err != nil {
		return nil, t.errf("%w", err)
	}
	bot, err := t.Login(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"per_page": {strconv.Itoa(perPage)}}
	var out []mirror.RemoteComment
	for page := 1; ; page++ {
		q.Set("page", strconv.Itoa(page))
		var cs []*gh.IssueComment
		ans, err := t.api.call(ctx, http.MethodGet, t.issuePath(n, "comments"), q, nil, "", &cs)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, t.errf("#%d: list comments: %w", n, err)
		}
		for _, c := range cs {
			if c == nil || !strings.EqualFold(c.GetUser().GetLogin(), bot) {
				continue
			}
			if key, _, ok := parseMarker(c.GetBody()); ok {
				out = append(out, mirror.RemoteComment{Ref: strconv.FormatInt(c.GetID(), 10), Key: key, Body: c.GetBody()})
			}
		}
		if !ans.Next || page >= 100 {
			return out, nil
		}
	}
}

// CommentBody is what CreateComment writes for w.
func (t *Target) CommentBody(w mirror.Comment) string { return commentBody(w) }

// CreateComment posts a public comment with its marker.
func (t *Target) CreateComment(ctx context.Context, itemRef string, w mirror.Comment) (mirror.Remote, error) {
	n, err := refNumber(itemRef)
	if err != nil {
		return mirror.Remote{}, t.errf("%w", err)
	}
	var c gh.IssueComment
	if _, err := t.api.call(ctx, http.MethodPost, t.issuePath(n, "comments"), nil, map[string]any{"body": commentBody(w)}, "", &c); err != nil {
		return mirror.Remote{}, t.errf("#%d: create comment: %w", n, err)
	}
	return mirror.Remote{Ref: strconv.FormatInt(c.GetID(), 10)}, nil
}

// UpdateComment rewrites a comment of ours, unless it already reads so (a
// rebuilt link does not know what the comment holds).
func (t *Target) UpdateComment(ctx context.Context, itemRef, ref string, w mirror.Comment) (mirror.Remote, error) {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return mirror.Remote{}, t.errf("comment ref %q is not a comment id", ref)
	}
	body := commentBody(w)
	p := t.api.path("issues", "comments", strconv.FormatInt(id, 10))
	var cur gh.IssueComment
	ans, err := t.api.call(ctx, http.MethodGet, p, nil, nil, "", &cur)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			// Deleted in the target: the applier writes it again.
			return mirror.Remote{}, t.errf("#%s: comment %d: %w", itemRef, id, connectors.ErrGone)
		}
		return mirror.Remote{}, t.errf("#%s: read comment %d: %w", itemRef, id, err)
	}
	if cur.GetBody() == body {
		return mirror.Remote{Ref: ref, ETag: ans.ETag}, nil
	}
	if _, err := t.api.call(ctx, http.MethodPatch, p, nil, map[string]any{"body": body}, "", nil); err != nil {
		return mirror.Remote{}, t.errf("#%s: update comment %d: %w", itemRef, id, err)
	}
	return mirror.Remote{Ref: ref}, nil
}

// DeleteComment removes a comment of ours; one already gone is fine.
func (t *Target) DeleteComment(ctx context.Context, itemRef, ref string) error {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return t.errf("comment ref %q is not a comment id", ref)
	}
	_, err = t.api.call(ctx, http.MethodDelete, t.api.path("issues", "comments", strconv.FormatInt(id, 10)), nil, nil, "", nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return t.errf("#%s: delete comment %d: %w", itemRef, id, err)
	}
	return nil
}

// allMilestones lists every milestone of the repository, open and closed.
func (t *Target) allMilestones(ctx context.Context) ([]*gh.Milestone, error) {
	q := url.Values{"state": {"all"}, "per_page": {strconv.Itoa(perPage)}}
	var out []*gh.Milestone
	for page := 1; ; page++ {
		q.Set("page", strconv.Itoa(page))
		var ms []*gh.Milestone
		ans, err := t.api.call(ctx, http.MethodGet, t.api.path("milestones"), q, nil, "", &ms)
		if err != nil {
			return nil, t.errf("list milestones: %w", err)
		}
		for _, m := range ms {
			if m != nil {
				out = append(out, m)
			}
		}
		if !ans.Next || page >= 100 {
			return out, nil
		}
	}
}

// milestones lists the milestones the bot wrote.
func (t *Target) milestones(ctx context.Context) ([]*gh.Milestone, error) {
	bot, err := t.Login(ctx)
	if err != nil {
		return nil, err
	}
	all, err := t.allMilestones(ctx)
	if err != nil {
		return nil, err
	}
	var out []*gh.Milestone
	for _, m := range all {
		if strings.EqualFold(m.GetCreator().GetLogin(), bot) {
			out = append(out, m)
		}
	}
	return out, nil
}

// FindMilestone looks for the mirrored milestone carrying key.
func (t *Target) FindMilestone(ctx context.Context, key string) (string, bool, error) {
	ms, err := t.milestones(ctx)
	if err != nil {
		return "", false, err
	}
	for _, m := range ms {
		if k, _, ok := parseMarker(m.GetDescription()); ok && k == key {
			return strconv.Itoa(m.GetNumber()), true, nil
		}
	}
	return "", false, nil
}

// freeTitle is base, or "base (n)" for the first n no other milestone
// uses: titles are unique in a repository, and the customer's own
// milestones keep theirs.
func freeTitle(base string, others []*gh.Milestone, self int) string {
	taken := map[string]bool{}
	for _, m := range others {
		if m.GetNumber() != self {
			taken[strings.ToLower(m.GetTitle())] = true
		}
	}
	title := base
	for n := 2; taken[strings.ToLower(title)] && n < 1000; n++ {
		title = fmt.Sprintf("%s (%d)", base, n)
	}
	return title
}

func milestoneBody(key string, m mapping.Milestone) (map[string]any, error) {
	due, err := dueOn(m.Due)
	if err != nil {
		return nil, err
	}
	state := "open"
	if m.Done {
		state = "closed"
	}
	body := map[string]any{"title": milestoneTitle(m), "description": milestoneDescription(key, m), "state": state}
	if due != nil {
		body["due_on"] = due
	}
	return body, nil
}

// CreateMilestone mirrors a milestone under a title no other milestone of
// the repository uses. One of ours already carrying key (a create whose
// answer was lost) is brought up to date instead.
func (t *Target) CreateMilestone(ctx context.Context, key string, m mapping.Milestone) (mirror.Remote, error) {
	body, err := milestoneBody(key, m)
	if err != nil {
		return mirror.Remote{}, t.errf("milestone: %w", err)
	}
	bot, err := t.Login(ctx)
	if err != nil {
		return mirror.Remote{}, err
	}
	all, err := t.allMilestones(ctx)
	if err != nil {
		return mirror.Remote{}, err
	}
	for _, x := range all {
		if k, _, ok := parseMarker(x.GetDescription()); ok && k == key && strings.EqualFold(x.GetCreator().GetLogin(), bot) {
			return t.patchMilestone(ctx, x, body, all)
		}
	}
	body["title"] = freeTitle(body["title"].(string), all, 0)
	var out gh.Milestone
	if _, err := t.api.call(ctx, http.MethodPost, t.api.path("milestones"), nil, body, "", &out); err != nil {
		return mirror.Remote{}, t.errf("create milestone: %w", err)
	}
	return mirror.Remote{Ref: strconv.Itoa(out.GetNumber())}, nil
}

// UpdateMilestone brings a mirrored milestone to m, writing only what
// differs.
func (t *Target) UpdateMilestone(ctx context.Context, ref, key string, m mapping.Milestone) (mirror.Remote, error) {
	body, err := milestoneBody(key, m)
	if err != nil {
		return mirror.Remote{}, t.errf("milestone %s: %w", ref, err)
	}
	cur, err := t.getMilestone(ctx, ref)
	if err != nil {
		return mirror.Remote{}, err
	}
	return t.patchMilestone(ctx, cur, body, nil)
}

func (t *Target) getMilestone(ctx context.Context, ref string) (*gh.Milestone, error) {
	if _, err := refNumber(ref); err != nil {
		return nil, t.errf("%w", err)
	}
	var cur gh.Milestone
	if _, err := t.api.call(ctx, http.MethodGet, t.api.path("milestones", ref), nil, nil, "", &cur); err != nil {
		return nil, t.errf("milestone %s: read: %w", ref, err)
	}
	return &cur, nil
}

// patchMilestone writes what of body differs from cur. A title another
// milestone holds is numbered (all lists the repository's milestones when
// the caller has them).
func (t *Target) patchMilestone(ctx context.Context, cur *gh.Milestone, body map[string]any, all []*gh.Milestone) (mirror.Remote, error) {
	n := cur.GetNumber()
	ref := strconv.Itoa(n)
	patch := map[string]any{}
	if want, _ := body["title"].(string); cur.GetTitle() != want {
		if all == nil {
			var err error
			if all, err = t.allMilestones(ctx); err != nil {
				return mirror.Remote{}, err
			}
		}
		if want = freeTitle(want, all, n); cur.GetTitle() != want {
			patch["title"] = want
		}
	}
	if d, _ := body["description"].(string); cur.GetDescription() != d {
		patch["description"] = d
	}
	if st, _ := body["state"].(string); cur.GetState() != st {
		patch["state"] = st
	}
	// GitHub's description has no way to clear a due date (due_on is not
	// nullable on update): a date that went away stays until it changes.
	curDue := ""
	if cur.DueOn != nil {
		curDue = dateOf(cur.DueOn.Time)
	}
	if due, _ := body["due_on"].(string); due != "" && curDue != due[:10] {
		patch["due_on"] = due
	}
	if len(patch) == 0 {
		return mirror.Remote{Ref: ref}, nil
	}
	if _, err := t.api.call(ctx, http.MethodPatch, t.api.path("milestones", ref), nil, patch, "", nil); err != nil {
		return mirror.Remote{}, t.errf("milestone %d: update: %w", n, err)
	}
	return mirror.Remote{Ref: ref}, nil
}

// RetractMilestone neutralises a mirrored milestone: a neutral title, the
// description replaced, closed; the marker stays for a republish. (Its due
// date stays too: GitHub's description offers no way to clear it.)
func (t *Target) RetractMilestone(ctx context.Context, ref string) error {
	var cur gh.Milestone
	if _, err := refNumber(ref); err != nil {
		return t.errf("%w", err)
	}
	_, err := t.api.call(ctx, http.MethodGet, t.api.path("milestones", ref), nil, nil, "", &cur)
	if gone(err) {
		return nil
	}
	if err != nil {
		return t.errf("milestone %s: read: %w", ref, err)
	}
	key, _, _ := parseMarker(cur.GetDescription())
	body := map[string]any{"title": "Retracted milestone", "description": retractedBody(key), "state": "closed"}
	_, err = t.patchMilestone(ctx, &cur, body, nil)
	return err
}

var (
	_ mirror.Target          = (*Target)(nil)
	_ mirror.MilestoneTarget = (*Target)(nil)
)
