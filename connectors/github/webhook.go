package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"vitrine/item"
	"vitrine/store"
	"vitrine/webhooks"
	"vitrine/worker"
)

// TargetRef names one customer's target bound to a repository.
type TargetRef struct {
	Customer string
	Target   string // target name, "github:acme/acme-status"
}

// WebhookOptions configure the GitHub webhook parser.
type WebhookOptions struct {
	// Secret is VITRINE_GITHUB_WEBHOOK_SECRET; required (an empty secret
	// would let anyone post).
	Secret string
	// Previous is VITRINE_GITHUB_WEBHOOK_SECRET_PREVIOUS, accepted too while
	// a rotation is under way.
	Previous string
	// Sources maps lower-case "owner/name" of every configured source
	// repository to its source key.
	Sources map[string]string
	// Targets maps lower-case "owner/name" of every target repository to
	// the customers' targets written there (for drift hints).
	Targets map[string][]TargetRef
	// BotLogin is the write token's login: its own events on a target are
	// echoes and ignored. Logins of several tokens may be given.
	BotLogin []string
}

// WebhookParser verifies and maps GitHub deliveries (webhooks.Parser).
type WebhookParser struct {
	secrets [][]byte
	sources map[string]string
	targets map[string][]TargetRef
	bots    map[string]bool
}

// NewWebhookParser validates o (no I/O).
func NewWebhookParser(o WebhookOptions) (*WebhookParser, error) {
	if o.Secret == "" {
		return nil, errors.New("github webhooks: VITRINE_GITHUB_WEBHOOK_SECRET is empty: refusing to accept unsigned deliveries")
	}
	p := &WebhookParser{secrets: [][]byte{[]byte(o.Secret)}, sources: map[string]string{}, targets: map[string][]TargetRef{}, bots: map[string]bool{}}
	if o.Previous != "" {
		p.secrets = append(p.secrets, []byte(o.Previous))
	}
	for repo, key := range o.Sources {
		p.sources[strings.ToLower(repo)] = key
	}
	for repo, refs := range o.Targets {
		p.targets[strings.ToLower(repo)] = append([]TargetRef(nil), refs...)
	}
	for _, b := range o.BotLogin {
		if b != "" {
			p.bots[strings.ToLower(b)] = true
		}
	}
	return p, nil
}

// Verify checks X-Hub-Signature-256 over the raw body in constant time
// against the current and the previous secret.
func (p *WebhookParser) Verify(h http.Header, body []byte) error {
	sig := strings.TrimSpace(h.Get("X-Hub-Signature-256"))
	hexSum, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return webhooks.ErrSignature
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil || len(got) != sha256.Size {
		return webhooks.ErrSignature
	}
	match := 0
	for _, s := range p.secrets {
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// Every secret is tried, so the time taken says nothing about which.
		if hmac.Equal(m.Sum(nil), got) {
			match++
		}
	}
	if match == 0 {
		return webhooks.ErrSignature
	}
	return nil
}

// payload is the part of a delivery vitrine reads.
type payload struct {
	Action     string  `json:"action"`
	Repository *repoJ  `json:"repository"`
	Sender     *userJ  `json:"sender"`
	Issue      *issueJ `json:"issue"`
	Changes    *struct {
		NewIssue      *issueJ `json:"new_issue"`
		NewRepository *repoJ  `json:"new_repository"`
	} `json:"changes"`
	// sub_issues
	ParentIssue     *issueJ `json:"parent_issue"`
	SubIssue        *issueJ `json:"sub_issue"`
	ParentIssueRepo *repoJ  `json:"parent_issue_repo"`
	SubIssueRepo    *repoJ  `json:"sub_issue_repo"`
}

type repoJ struct {
	FullName string `json:"full_name"`
}

type userJ struct {
	Login string `json:"login"`
}

type issueJ struct {
	ID            int64           `json:"id"`
	RepositoryURL string          `json:"repository_url"`
	PullRequest   json.RawMessage `json:"pull_request"`
}

func (i *issueJ) isPR() bool {
	return len(i.PullRequest) > 0 && string(i.PullRequest) != "null"
}

// Parse verifies a delivery first, then maps it to the keys it touches.
// Events of repositories vitrine does not read or write, and events it does
// not follow, are webhooks.ErrIgnored (202). A body that is not JSON after a
// valid signature is a plain error (400).
func (p *WebhookParser) Parse(h http.Header, body []byte) (store.Delivery, error) {
	if err := p.Verify(h, body); err != nil {
		return store.Delivery{}, err
	}
	event := h.Get("X-GitHub-Event")
	id := strings.TrimSpace(h.Get("X-GitHub-Delivery"))
	if id == "" {
		return store.Delivery{}, errors.New("github webhook: no X-GitHub-Delivery header")
	}
	d := store.Delivery{ID: "github:" + id}
	switch event {
	case "issues", "issue_comment", "label", "milestone", "sub_issues":
	case "ping":
		return d, fmt.Errorf("github ping: %w", webhooks.ErrIgnored)
	default:
		return d, fmt.Errorf("github event %q: %w", clip(event, 40), webhooks.ErrIgnored)
	}
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return d, fmt.Errorf("github %s delivery %s: malformed payload: %w", event, clip(id, 64), err)
	}
	if pl.Repository == nil || pl.Repository.FullName == "" {
		return d, fmt.Errorf("github %s delivery %s: no repository in the payload", event, clip(id, 64))
	}
	repo := strings.ToLower(pl.Repository.FullName)
	tasks := map[string]store.Task{}
	add := func(ts ...store.Task) {
		for _, t := range ts {
			tasks[t.Key] = t
		}
	}
	if key, ok := p.sources[repo]; ok {
		add(p.sourceTasks(event, key, &pl)...)
	}
	// sub_issues across repositories: each issue is named by its own
	// repository, which may be another configured source.
	if event == "sub_issues" {
		for _, is := range []*issueJ{pl.ParentIssue, pl.SubIssue} {
			if t, ok := p.issueTask(is, pl.Repository.FullName); ok {
				add(t)
			}
		}
	}
	if refs, ok := p.targets[repo]; ok {
		sender := ""
		if pl.Sender != nil {
			sender = strings.ToLower(pl.Sender.Login)
		}
		if !p.bots[sender] {
			for _, r := range refs {
				add(worker.TargetVerifyTask(r.Customer, r.Target))
			}
		}
	}
	if len(tasks) == 0 {
		return d, fmt.Errorf("github %s on %s: %w", event, clip(repo, 140), webhooks.ErrIgnored)
	}
	keys := make([]string, 0, len(tasks))
	for k := range tasks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Tasks = append(d.Tasks, tasks[k])
	}
	return d, nil
}

// issueTask is the item task for an issue of any configured source, named
// by its repository_url (or the event's repository).
func (p *WebhookParser) issueTask(is *issueJ, fallbackRepo string) (store.Task, bool) {
	if is == nil || is.ID <= 0 || is.isPR() {
		return store.Task{}, false
	}
	repo := fallbackRepo
	if r, _, ok := repoOfAPIURL(is.RepositoryURL); ok {
		repo = r
	}
	key, ok := p.sources[strings.ToLower(repo)]
	if !ok {
		return store.Task{}, false
	}
	return worker.ItemTask(item.MakeID(key, strconv.FormatInt(is.ID, 10))), true
}

// sourceTasks maps an event of a source repository.
func (p *WebhookParser) sourceTasks(event, key string, pl *payload) []store.Task {
	itemTask := func(is *issueJ) []store.Task {
		if is == nil || is.ID <= 0 || is.isPR() {
			return nil
		}
		return []store.Task{worker.ItemTask(item.MakeID(key, strconv.FormatInt(is.ID, 10)))}
	}
	switch event {
	case "issues":
		ts := itemTask(pl.Issue)
		if pl.Action == "transferred" && pl.Changes != nil && pl.Changes.NewIssue != nil {
			// The issue's new home may be read by vitrine too.
			newRepo := ""
			if pl.Changes.NewRepository != nil {
				newRepo = pl.Changes.NewRepository.FullName
			}
			if t, ok := p.issueTask(pl.Changes.NewIssue, newRepo); ok {
				ts = append(ts, t)
			}
		}
		return ts
	case "issue_comment":
		return itemTask(pl.Issue)
	case "label":
		// A renamed or deleted label changes issues without touching their
		// updated time: re-read the published ones.
		if pl.Action == "edited" || pl.Action == "deleted" {
			return []store.Task{worker.VerifyTask(key)}
		}
		return nil
	case "milestone":
		// A milestone's due date is every item's due date, and changing it
		// does not touch the items: re-read milestones, the changed items,
		// and the published ones (conditional reads).
		return []store.Task{worker.MilestonesTask(key), worker.ScanTask(key), worker.VerifyTask(key)}
	}
	return nil
}

var _ webhooks.Parser = (*WebhookParser)(nil)
