package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/item"
	"vitrine/store"
)

// SourceMeta is the part of the store a Source keeps its validators in
// (ETags of issues, comment lists, milestones and the repository) and
// checks them against. A 304 only says "the same as the last answer you
// got"; the snapshot check makes sure the engine actually stored that
// answer (it may have crashed or failed in between), so a 304 is never
// taken for state the engine does not hold. *sqlite.Store and the Redis
// store implement it.
type SourceMeta interface {
	GetKV(ctx context.Context, ns, key string) ([]byte, bool, error)
	PutKV(ctx context.Context, ns, key string, val []byte) error
	GetSnapshot(ctx context.Context, id string) (store.Snapshot, bool, error)
	ListSnapshots(ctx context.Context, source string) ([]store.Snapshot, error)
}

// KV namespaces the source owns.
const (
	nsValidator = "github-validator" // item ID -> validator JSON
	nsETag      = "github-etag"      // "<source>|repo", "<source>|milestones" -> listValidator JSON
	nsIssueID   = "github-issue-id"  // "owner/name#n" (lower case) -> issue id, for parents
)

// DefaultOverlap is how far behind the newest change a resting poll cursor
// starts, for changes that become visible in the listing late.
const DefaultOverlap = 2 * time.Minute

// SourceOptions configure a Source.
type SourceOptions struct {
	// Key is the source key, mapping.SourceKey of the configuration
	// ("github:agency/acme-internal").
	Key string
	// Repo is owner/name.
	Repo string
	// StatusFrom is "state" (default) or "label_prefix:<prefix>".
	StatusFrom string
	// HTTP is the policy client (read-only credential; no pacer needed).
	HTTP *httpapi.Client
	// APIURL is the REST base (default https://api.github.com; Enterprise
	// Server: https://HOST/api/v3).
	APIURL string
	// Token authenticates the requests (read access to Repo is enough).
	Token string
	// Meta holds validators and is checked against the snapshots; the app
	// passes the store. Required.
	Meta SourceMeta
	// Overlap: see DefaultOverlap.
	Overlap time.Duration
	// Blocker, when set, holds reads back while the credential is blocked
	// after a rate-limit answer (the app passes its *pace.Pacer).
	Blocker Blocker
	// Spread staggers keys the pacer refuses together (see Spread); share
	// one across the app. Default: one of its own.
	Spread *Spread
	Clock  clock.Clock
	Log    zerolog.Logger
}

// Source reads one GitHub repository. It implements worker.Source and
// worker.CommentReader.
type Source struct {
	key, repo    string
	prefix       string // source key prefix of this site: "github:" or "github:<host>/"
	statusPrefix string // label prefix when status comes from labels
	byLabel      bool
	api          *api
	meta         SourceMeta
	clk          clock.Clock
	log          zerolog.Logger
	overlap      time.Duration

	mu      sync.Mutex
	numbers map[int64]int    // issue id -> number in this repository
	ids     map[string]int64 // "owner/name#n" (lower case) -> issue id
}

// NewSource validates o and returns a Source (no I/O).
func NewSource(o SourceOptions) (*Source, error) {
	repo := strings.TrimSpace(o.Repo)
	if o.Key == "" {
		return nil, fmt.Errorf("github source %s: key is required", repo)
	}
	lrepo := strings.ToLower(repo)
	prefix, ok := strings.CutSuffix(o.Key, lrepo)
	if !ok || !strings.HasPrefix(prefix, "github:") {
		return nil, fmt.Errorf("github source %s: key %q does not end in the repository", repo, o.Key)
	}
	if o.Meta == nil {
		return nil, fmt.Errorf("github source %s: meta store is required", repo)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	a, err := newAPI(o.HTTP, o.APIURL, o.Token, repo, o.Clock, o.Blocker, spreadOr(o.Spread))
	if err != nil {
		return nil, err
	}
	s := &Source{key: o.Key, repo: a.repo, prefix: prefix, api: a, meta: o.Meta, clk: o.Clock,
		log: o.Log.With().Str("source", o.Key).Logger(), overlap: o.Overlap,
		numbers: map[int64]int{}, ids: map[string]int64{}}
	switch sf := o.StatusFrom; {
	case sf == "" || sf == "state":
	case strings.HasPrefix(sf, "label_prefix:"):
		s.statusPrefix = strings.TrimPrefix(sf, "label_prefix:")
		if strings.TrimSpace(s.statusPrefix) == "" {
			return nil, fmt.Errorf("github source %s: status_from label_prefix needs a prefix", repo)
		}
		s.byLabel = true
	default:
		return nil, fmt.Errorf("github source %s: unknown status_from %q", repo, sf)
	}
	if s.overlap <= 0 {
		s.overlap = DefaultOverlap
	}
	return s, nil
}

// Key is the source key.
func (s *Source) Key() string { return s.key }

func (s *Source) errf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{s.key}, args...)...)
}

// accessError reports a container-level failure.
func (s *Source) accessError(status int, err error) error {
	return &connectors.AccessError{Source: s.key, Status: status, Err: err}
}

// containerStatus: answers that say the repository itself cannot be read
// (or has moved: a renamed repository answers 301 everywhere).
func containerStatus(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone,
		http.StatusMovedPermanently, http.StatusUnavailableForLegalReasons:
		return true
	}
	return false
}

func (s *Source) remember(is *issueJSON) {
	if is.GetID() == 0 || is.GetNumber() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[is.GetID()] = is.GetNumber()
	s.ids[strings.ToLower(s.repo)+"#"+strconv.Itoa(is.GetNumber())] = is.GetID()
}

// convert turns an issue into the canonical item (comments not loaded).
func (s *Source) convert(ctx context.Context, is *issueJSON) (item.Item, error) {
	n := is.GetNumber()
	it := item.Item{
		ID:           item.MakeID(s.key, strconv.FormatInt(is.GetID(), 10)),
		Source:       s.key,
		Ref:          s.repo + "#" + strconv.Itoa(n),
		URL:          is.GetHTMLURL(),
		Kind:         item.KindIssue,
		Title:        is.GetTitle(),
		Body:         is.GetBody(),
		State:        state(is.GetState(), is.GetStateReason()),
		Reporter:     is.GetUser().GetLogin(),
		Created:      ts(is.CreatedAt),
		Updated:      ts(is.UpdatedAt),
		CommentCount: is.GetComments(),
	}
	if is.Type != nil {
		it.Type = is.Type.Name
	}
	if is.GetState() == "closed" {
		it.Resolution = is.GetStateReason()
		if is.ClosedAt != nil {
			t := ts(is.ClosedAt)
			it.Completed = &t
		}
	}
	for _, l := range is.Labels {
		if name := l.GetName(); name != "" {
			it.Labels = append(it.Labels, name)
		}
	}
	for _, a := range is.Assignees {
		if login := a.GetLogin(); login != "" {
			it.Assignees = append(it.Assignees, login)
		}
	}
	if s.byLabel {
		lp := strings.ToLower(s.statusPrefix)
		for _, l := range it.Labels {
			if strings.HasPrefix(strings.ToLower(l), lp) {
				it.Status = strings.TrimSpace(l[len(s.statusPrefix):])
				break
			}
		}
	} else {
		it.Status = is.GetState()
	}
	if m := is.Milestone; m != nil && m.GetID() != 0 {
		it.Milestone = item.MakeID(s.key, milestoneNative(m.GetID()))
		if m.DueOn != nil && !m.DueOn.Time.IsZero() {
			it.Due = &item.Due{At: m.DueOn.Time.UTC()}
		}
	}
	parent, err := s.parentOf(ctx, is)
	if err != nil {
		return item.Item{}, err
	}
	if parent != "" {
		it.Parent = parent
		it.Kind = item.KindSubtask
	}
	return it, nil
}

// parentOf resolves a sub-issue's parent to its item ID. The issue gives
// the parent's URL (repository and number); the ID needs the parent's
// immutable id: known from listings of this repository, from earlier
// lookups, or read once through the sub-issues REST endpoint
// (GET .../issues/{n}/parent), which v62 has no service for.
func (s *Source) parentOf(ctx context.Context, is *issueJSON) (string, error) {
	if is.ParentIssueURL == nil || *is.ParentIssueURL == "" {
		return "", nil
	}
	prepo, pn, ok := repoOfAPIURL(*is.ParentIssueURL)
	if !ok || pn == 0 {
		return "", nil
	}
	ref := strings.ToLower(prepo) + "#" + strconv.Itoa(pn)
	s.mu.Lock()
	id := s.ids[ref]
	s.mu.Unlock()
	if id == 0 {
		if raw, found, err := s.meta.GetKV(ctx, nsIssueID, ref); err != nil {
			return "", s.errf("read parent id of %s#%d: %w", s.repo, is.GetNumber(), err)
		} else if found {
			id, _ = strconv.ParseInt(string(raw), 10, 64)
		}
	}
	if id == 0 {
		var p issueJSON
		_, err := s.api.call(ctx, http.MethodGet, s.api.path("issues", strconv.Itoa(is.GetNumber()), "parent"), nil, nil, "", &p)
		switch st := statusOf(err); {
		case st == http.StatusNotFound || st == http.StatusForbidden:
			// The parent sits where this credential cannot read: no parent
			// vitrine could know of.
			s.log.Debug().Str("issue", s.repo+"#"+strconv.Itoa(is.GetNumber())).Msg("parent not readable")
			return "", nil
		case err != nil:
			return "", s.errf("read parent of %s#%d: %w", s.repo, is.GetNumber(), err)
		}
		id = p.GetID()
		if r, _, ok := repoOfAPIURL(p.GetRepositoryURL()); ok {
			prepo = r
		}
		if id == 0 {
			return "", nil
		}
		ref = strings.ToLower(prepo) + "#" + strconv.Itoa(p.GetNumber())
		if err := s.meta.PutKV(ctx, nsIssueID, ref, []byte(strconv.FormatInt(id, 10))); err != nil {
			return "", s.errf("store parent id: %w", err)
		}
		s.mu.Lock()
		s.ids[ref] = id
		s.mu.Unlock()
	}
	return item.MakeID(s.prefix+strings.ToLower(prepo), strconv.FormatInt(id, 10)), nil
}

// cursor is the poll position. Pages are keyset pages: each starts at the
// newest updated time seen (since is inclusive), so an item updated during
// a pass moves behind the cursor and is read again, never skipped; page
// numbers are used only inside a run of items sharing one updated second.
//
// A pass ends by resting: the cursor names one request whose window
// [since, ∞) reaches back at least the overlap window before the time of
// the listing (a change may show up in the listing late, but not later
// than that), and holds its ETag when it fit one page. A quiet repository
// then costs one free 304 per poll. When the window must first be read
// (the pass ended inside the overlap window), the pass reads it at once
// (Adjusted), so the next poll is conditional again.
type cursor struct {
	Since    time.Time `json:"since,omitzero"`
	Page     int       `json:"page,omitempty"`
	ETag     string    `json:"etag,omitempty"`
	Adjusted bool      `json:"adjusted,omitempty"` // this pass is re-reading the window it will rest on
	Floor    time.Time `json:"floor,omitzero"`     // that window's since
}

func decodeCursor(s string) cursor {
	var c cursor
	if s != "" {
		_ = json.Unmarshal([]byte(s), &c)
	}
	if c.Page < 1 {
		c.Page = 1
	}
	return c
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Poll lists issues changed since the cursor, oldest change first, one
// page at a time. Pull requests are skipped.
func (s *Source) Poll(ctx context.Context, raw string) (connectors.Poll, error) {
	c := decodeCursor(raw)
	listed := s.clk.Now()
	q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"asc"}, "per_page": {strconv.Itoa(perPage)}}
	if !c.Since.IsZero() {
		q.Set("since", c.Since.UTC().Format(time.RFC3339))
	}
	if c.Page > 1 {
		q.Set("page", strconv.Itoa(c.Page))
	}
	etag := ""
	if c.Page == 1 {
		etag = c.ETag
	}
	var list []*issueJSON
	ans, err := s.api.call(ctx, http.MethodGet, s.api.path("issues"), q, nil, etag, &list)
	if st := statusOf(err); containerStatus(st) {
		return connectors.Poll{}, s.accessError(st, s.errf("list issues: %w", err))
	}
	if err != nil {
		return connectors.Poll{}, s.errf("list issues: %w", err)
	}
	if ans.NotMod {
		return connectors.Poll{Cursor: raw}, nil
	}
	var out connectors.Poll
	newest := c.Since
	for _, is := range list {
		if is == nil {
			continue
		}
		if u := ts(is.UpdatedAt); u.After(newest) {
			newest = u
		}
		if !is.isPR() {
			s.remember(is)
		}
	}
	for _, is := range list {
		if is == nil || is.isPR() {
			continue
		}
		it, err := s.convert(ctx, is)
		if err != nil {
			return connectors.Poll{}, err
		}
		out.Items = append(out.Items, it)
	}
	var next cursor
	switch {
	case ans.Next && newest.Equal(c.Since):
		// A whole page of one second: page through that second.
		next = cursor{Since: c.Since, Page: c.Page + 1, Adjusted: c.Adjusted, Floor: c.Floor}
		out.More = true
	case ans.Next:
		next = cursor{Since: newest, Page: 1, Adjusted: c.Adjusted, Floor: c.Floor}
		out.More = true
	default:
		next, out.More = s.rest(c, newest, listed, len(list) < perPage, ans.ETag)
	}
	out.Cursor = next.encode()
	return out, nil
}

// rest picks the cursor a pass ends on (see cursor).
func (s *Source) rest(c cursor, newest, listed time.Time, short bool, etag string) (cursor, bool) {
	floor := listed.Add(-s.overlap)
	switch {
	case c.Page == 1 && !c.Since.After(floor):
		// This request's window covers the overlap: repeat it next time.
		next := cursor{Since: c.Since, Page: 1}
		if short {
			// A full page could hide a next one behind an unchanged ETag.
			next.ETag = etag
		}
		return next, false
	case c.Adjusted:
		// The window read for resting held more than a page: rest on it
		// without a validator; it fits a page once the burst has settled.
		return cursor{Since: c.Floor, Page: 1}, false
	case newest.Before(floor):
		// Paged through one second; everything read has settled: rest
		// just after it.
		r := newest.Add(time.Second)
		return cursor{Since: r, Page: 1, Adjusted: true, Floor: r}, true
	}
	r := floor
	if c.Since.Before(r) {
		r = c.Since
	}
	return cursor{Since: r, Page: 1, Adjusted: true, Floor: r}, true
}

// validator is what the source knows about its last answers for one item.
type validator struct {
	N  int    `json:"n,omitempty"`  // issue number
	E  string `json:"e,omitempty"`  // ETag of GET issue
	H  string `json:"h,omitempty"`  // issueHash of the item that answer gave
	CE string `json:"ce,omitempty"` // ETag of the comment list (one page)
	CH string `json:"ch,omitempty"` // commentsHash of that list
}

func (s *Source) validator(ctx context.Context, id string) (validator, error) {
	var v validator
	raw, ok, err := s.meta.GetKV(ctx, nsValidator, id)
	if err != nil {
		return v, s.errf("%s: read validator: %w", id, err)
	}
	if ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v, nil
}

func (s *Source) putValidator(ctx context.Context, id string, v validator) error {
	b, _ := json.Marshal(v)
	if err := s.meta.PutKV(ctx, nsValidator, id, b); err != nil {
		return s.errf("%s: store validator: %w", id, err)
	}
	return nil
}

// cached returns the engine's stored state of an item, if any.
func (s *Source) cached(ctx context.Context, id string) (*item.Item, error) {
	snap, ok, err := s.meta.GetSnapshot(ctx, id)
	if err != nil {
		return nil, s.errf("%s: read snapshot: %w", id, err)
	}
	if !ok {
		return nil, nil
	}
	var it item.Item
	if err := json.Unmarshal(snap.Data, &it); err != nil {
		return nil, nil
	}
	return &it, nil
}

// numberOf finds an issue's number from its immutable id: numbers change
// on transfer and are not in the item ID.
func (s *Source) numberOf(ctx context.Context, iid int64, v validator, snap *item.Item) (int, error) {
	s.mu.Lock()
	n := s.numbers[iid]
	s.mu.Unlock()
	if n != 0 {
		return n, nil
	}
	if v.N != 0 {
		return v.N, nil
	}
	if snap != nil {
		if i := strings.LastIndexByte(snap.Ref, '#'); i >= 0 {
			if n, err := strconv.Atoi(snap.Ref[i+1:]); err == nil && n > 0 {
				return n, nil
			}
		}
	}
	// Never listed yet (a webhook about a new issue): the recently updated
	// issues hold it.
	q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {strconv.Itoa(perPage)}}
	for page := 1; page <= 3; page++ {
		q.Set("page", strconv.Itoa(page))
		var list []*issueJSON
		ans, err := s.api.call(ctx, http.MethodGet, s.api.path("issues"), q, nil, "", &list)
		if st := statusOf(err); containerStatus(st) {
			return 0, s.accessError(st, s.errf("list issues: %w", err))
		}
		if err != nil {
			return 0, s.errf("list issues: %w", err)
		}
		for _, is := range list {
			if is != nil && !is.isPR() {
				s.remember(is)
			}
		}
		s.mu.Lock()
		n = s.numbers[iid]
		s.mu.Unlock()
		if n != 0 || !ans.Next {
			return n, nil
		}
	}
	return 0, nil
}

// Fetch reads one item (and its comments when asked). With o.Cached, the
// reads are conditional; both answering 304 is connectors.ErrNotModified.
// A 404 or 410 is a deletion only if the repository answers in the same
// pass, and a 301 is a transfer away (the new repository's own poll finds
// it); otherwise the repository itself is unreadable: *connectors.AccessError.
func (s *Source) Fetch(ctx context.Context, id string, o connectors.FetchOptions) (item.Item, error) {
	src, native := item.SplitID(id)
	iid, perr := strconv.ParseInt(native, 10, 64)
	if src != s.key || perr != nil || iid <= 0 {
		return item.Item{}, fmt.Errorf("%s: %s is not an issue of this source: %w", s.key, id, connectors.ErrGone)
	}
	v, err := s.validator(ctx, id)
	if err != nil {
		return item.Item{}, err
	}
	snap, err := s.cached(ctx, id)
	if err != nil {
		return item.Item{}, err
	}
	n, err := s.numberOf(ctx, iid, v, snap)
	if err != nil {
		return item.Item{}, err
	}
	if n == 0 {
		return item.Item{}, fmt.Errorf("%s: %s not found in the repository's listing: %w", s.key, id, connectors.ErrGone)
	}
	what := s.repo + "#" + strconv.Itoa(n)
	before := v

	etag := ""
	if o.Cached && v.E != "" && snap != nil && issueHash(*snap) == v.H {
		etag = v.E
	}
	var is issueJSON
	ans, err := s.api.call(ctx, http.MethodGet, s.api.path("issues", strconv.Itoa(n)), nil, nil, etag, &is)
	if err != nil {
		return item.Item{}, s.readErr(ctx, what, err)
	}
	var it item.Item
	if ans.NotMod {
		it = issuePart(*snap)
	} else {
		if is.GetID() != iid || is.isPR() {
			return item.Item{}, fmt.Errorf("%s: %s is not issue %s: %w", s.key, what, native, connectors.ErrGone)
		}
		s.remember(&is)
		if it, err = s.convert(ctx, &is); err != nil {
			return item.Item{}, err
		}
		v.N, v.E, v.H = n, ans.ETag, issueHash(it)
	}
	commentsSame := true
	if o.Comments {
		switch {
		case it.CommentCount == 0:
			it.Comments = nil
			commentsSame = snap != nil && snap.CommentsLoaded && len(snap.Comments) == 0
		default:
			cetag := ""
			if o.Cached && v.CE != "" && snap != nil && snap.CommentsLoaded && commentsHash(snap.Comments) == v.CH {
				cetag = v.CE
			}
			cs, cans, err := s.comments(ctx, n, cetag)
			if err != nil {
				return item.Item{}, s.readErr(ctx, what, err)
			}
			if cans.NotMod {
				it.Comments = snap.Comments
			} else {
				commentsSame = false
				it.Comments = cs
				v.CE, v.CH = cans.ETag, commentsHash(cs)
			}
		}
		it.CommentsLoaded = true
	}
	if v != before {
		if err := s.putValidator(ctx, id, v); err != nil {
			return item.Item{}, err
		}
	}
	if o.Cached && ans.NotMod && commentsSame {
		return item.Item{}, connectors.ErrNotModified
	}
	return it, nil
}

// readErr sorts a failed item read.
func (s *Source) readErr(ctx context.Context, what string, err error) error {
	switch st := statusOf(err); st {
	case http.StatusNotFound, http.StatusGone, http.StatusMovedPermanently:
		return s.goneOrAccess(ctx, what, st, err)
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusUnavailableForLegalReasons:
		return s.accessError(st, s.errf("%s: %w", what, err))
	}
	return s.errf("%s: %w", what, err)
}

// goneOrAccess checks, in the same pass, whether the repository itself is
// readable: only then is an item's 404, 410 or 301 about the item.
func (s *Source) goneOrAccess(ctx context.Context, what string, status int, cause error) error {
	ok, rst, err := s.repoReadable(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return s.accessError(rst, s.errf("%s answered %d and the repository answers %d: %w", what, status, rst, cause))
	}
	kind := "deleted"
	if status == http.StatusMovedPermanently {
		kind = "transferred"
	}
	return fmt.Errorf("%s: %s %s (HTTP %d): %w", s.key, what, kind, status, connectors.ErrGone)
}

// listValidator is the validator of a list answer.
type listValidator struct {
	E string `json:"e,omitempty"`
	H string `json:"h,omitempty"`
}

func (s *Source) listValidator(ctx context.Context, name string) (listValidator, error) {
	var v listValidator
	raw, ok, err := s.meta.GetKV(ctx, nsETag, s.key+"|"+name)
	if err != nil {
		return v, s.errf("read %s validator: %w", name, err)
	}
	if ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v, nil
}

func (s *Source) putListValidator(ctx context.Context, name string, v listValidator) error {
	b, _ := json.Marshal(v)
	if err := s.meta.PutKV(ctx, nsETag, s.key+"|"+name, b); err != nil {
		return s.errf("store %s validator: %w", name, err)
	}
	return nil
}

// repoReadable reads the repository (conditionally: a 304 is free).
func (s *Source) repoReadable(ctx context.Context) (bool, int, error) {
	v, err := s.listValidator(ctx, "repo")
	if err != nil {
		return false, 0, err
	}
	ans, err := s.api.call(ctx, http.MethodGet, s.api.path(), nil, nil, v.E, nil)
	if st := statusOf(err); containerStatus(st) {
		return false, st, nil
	}
	if err != nil {
		return false, 0, s.errf("read repository: %w", err)
	}
	if !ans.NotMod && ans.ETag != "" && ans.ETag != v.E {
		if err := s.putListValidator(ctx, "repo", listValidator{E: ans.ETag}); err != nil {
			return false, 0, err
		}
	}
	return true, ans.Status, nil
}

// comments lists an issue's comments, oldest first. etag applies to the
// first page; answer.ETag is set only when the list fits one page (an
// unchanged first page says nothing about the next).
func (s *Source) comments(ctx context.Context, n int, etag string) ([]item.Comment, answer, error) {
	q := url.Values{"per_page": {strconv.Itoa(perPage)}}
	var all []*gh.IssueComment
	var first answer
	for page := 1; ; page++ {
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
			etag = ""
		}
		var cs []*gh.IssueComment
		ans, err := s.api.call(ctx, http.MethodGet, s.api.path("issues", strconv.Itoa(n), "comments"), q, nil, etag, &cs)
		if err != nil {
			return nil, answer{}, fmt.Errorf("list comments: %w", err)
		}
		if page == 1 {
			first = ans
			if ans.NotMod {
				return nil, ans, nil
			}
		}
		all = append(all, cs...)
		if !ans.Next {
			break
		}
		if page >= 100 {
			return nil, answer{}, fmt.Errorf("list comments: more than 100 pages")
		}
	}
	if len(all) >= perPage {
		first.ETag = ""
	}
	return commentsOf(all), first, nil
}

// Comments reads an item's comments alone (worker.CommentReader): the item
// itself is fresh from a poll.
func (s *Source) Comments(ctx context.Context, id string) ([]item.Comment, error) {
	src, native := item.SplitID(id)
	iid, perr := strconv.ParseInt(native, 10, 64)
	if src != s.key || perr != nil {
		return nil, fmt.Errorf("%s: %s is not an issue of this source: %w", s.key, id, connectors.ErrGone)
	}
	v, err := s.validator(ctx, id)
	if err != nil {
		return nil, err
	}
	snap, err := s.cached(ctx, id)
	if err != nil {
		return nil, err
	}
	n, err := s.numberOf(ctx, iid, v, snap)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %s not found in the repository's listing: %w", s.key, id, connectors.ErrGone)
	}
	what := s.repo + "#" + strconv.Itoa(n)
	cs, ans, err := s.comments(ctx, n, "")
	if err != nil {
		return nil, s.readErr(ctx, what, err)
	}
	if cs == nil {
		cs = []item.Comment{}
	}
	nv := v
	nv.N, nv.CE, nv.CH = n, ans.ETag, commentsHash(cs)
	if nv != v {
		if err := s.putValidator(ctx, id, nv); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// Milestones reads every milestone of the repository (open and closed).
// With cached, an unchanged list is connectors.ErrNotModified.
func (s *Source) Milestones(ctx context.Context, cached bool) ([]item.Milestone, error) {
	v, err := s.listValidator(ctx, "milestones")
	if err != nil {
		return nil, err
	}
	// The engine says cached only when it holds milestones; a repository
	// without any would never be read conditionally. The snapshot check
	// says what the engine holds either way.
	etag := ""
	var stored []item.Milestone
	if v.E != "" {
		h, ms, err := s.storedMilestones(ctx)
		if err != nil {
			return nil, err
		}
		if h == v.H {
			etag, stored = v.E, ms
		}
	}
	q := url.Values{"state": {"all"}, "per_page": {strconv.Itoa(perPage)}}
	var all []*gh.Milestone
	var first answer
	for page := 1; ; page++ {
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
			etag = ""
		}
		var ms []*gh.Milestone
		ans, err := s.api.call(ctx, http.MethodGet, s.api.path("milestones"), q, nil, etag, &ms)
		if st := statusOf(err); containerStatus(st) {
			return nil, s.accessError(st, s.errf("list milestones: %w", err))
		}
		if err != nil {
			return nil, s.errf("list milestones: %w", err)
		}
		if page == 1 {
			if ans.NotMod {
				if cached {
					return nil, connectors.ErrNotModified
				}
				return stored, nil
			}
			first = ans
		}
		all = append(all, ms...)
		if !ans.Next {
			break
		}
		if page >= 100 {
			return nil, s.errf("list milestones: more than 100 pages")
		}
	}
	out := make([]item.Milestone, 0, len(all))
	for _, m := range all {
		if m != nil {
			out = append(out, convertMilestone(s.key, m))
		}
	}
	nv := listValidator{H: milestonesHash(out)}
	if len(all) < perPage {
		nv.E = first.ETag
	}
	if nv != v {
		if err := s.putListValidator(ctx, "milestones", nv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type msHash struct {
	ID   string `json:"id"`
	Hash string `json:"h"`
}

func milestonesHash(ms []item.Milestone) string {
	hs := make([]msHash, 0, len(ms))
	for _, m := range ms {
		hs = append(hs, msHash{m.ID, item.Hash(m)})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	return item.Hash(hs)
}

// storedMilestones is what the engine holds, with its milestonesHash.
func (s *Source) storedMilestones(ctx context.Context) (string, []item.Milestone, error) {
	snaps, err := s.meta.ListSnapshots(ctx, s.key)
	if err != nil {
		return "", nil, s.errf("list snapshots: %w", err)
	}
	hs := []msHash{}
	ms := []item.Milestone{}
	for _, sn := range snaps {
		if sn.Kind != store.KindMilestone {
			continue
		}
		var m item.Milestone
		if err := json.Unmarshal(sn.Data, &m); err != nil {
			return "", nil, nil // unreadable: read fully
		}
		hs = append(hs, msHash{sn.ID, sn.Hash})
		ms = append(ms, m)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	return item.Hash(hs), ms, nil
}
