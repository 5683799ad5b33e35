package jira

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"vitrine/item"
	"vitrine/store"
	"vitrine/webhooks"
	"vitrine/worker"
)

// TargetRef is one customer's mirror target in a Jira project.
type TargetRef struct {
	Customer string
	Target   string // target name, "jira:<host>/<PROJECT>"
}

// WebhookOptions configure the parser of /webhooks/jira.
type WebhookOptions struct {
	// Secret is the webhook's secret (VITRINE_JIRA_WEBHOOK_SECRET): every
	// delivery must carry X-Hub-Signature: <method>=<hex HMAC of the body>.
	Secret string
	// Site is the Jira host the webhook is registered on
	// ("agency.atlassian.net"): delivery ids are deduplicated per site.
	Site string
	// Sources maps a project key to the source keys that read it (several
	// customer filters may share a project: the item is re-read for each).
	Sources map[string][]string
	// Targets maps a project key to the mirror targets written into it:
	// someone else's edit there is a drift hint.
	Targets map[string][]TargetRef
	// BotAccount is the target credential's Jira account (Cloud accountId,
	// Data Center user name or key): its own edits are not drift.
	BotAccount string
}

// WebhookParser verifies and maps Jira deliveries (webhooks.Parser).
type WebhookParser struct {
	secret  []byte
	site    string
	sources map[string][]string
	targets map[string][]TargetRef
	bot     string
	all     []string // every source key, for events that name no project
}

// NewWebhookParser validates o (no I/O). A webhook without a secret is
// refused: an unsigned delivery could make vitrine read anything, often.
func NewWebhookParser(o WebhookOptions) (*WebhookParser, error) {
	if o.Secret == "" {
		return nil, errors.New("jira webhooks: a secret is required (VITRINE_JIRA_WEBHOOK_SECRET)")
	}
	if o.Site == "" {
		return nil, errors.New("jira webhooks: the site is required")
	}
	p := &WebhookParser{
		secret: []byte(o.Secret), site: strings.ToLower(o.Site), bot: o.BotAccount,
		sources: map[string][]string{}, targets: map[string][]TargetRef{},
	}
	seen := map[string]bool{}
	for proj, keys := range o.Sources {
		p.sources[strings.ToUpper(proj)] = append(p.sources[strings.ToUpper(proj)], keys...)
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				p.all = append(p.all, k)
			}
		}
	}
	sort.Strings(p.all)
	for proj, ts := range o.Targets {
		p.targets[strings.ToUpper(proj)] = append(p.targets[strings.ToUpper(proj)], ts...)
	}
	return p, nil
}

// verify checks X-Hub-Signature (WebSub's method=signature; Jira signs
// with sha256) over the raw body, in constant time.
func (p *WebhookParser) verify(h http.Header, body []byte) error {
	sig := strings.TrimSpace(h.Get("X-Hub-Signature"))
	method, hexSig, ok := strings.Cut(sig, "=")
	if !ok {
		return webhooks.ErrSignature
	}
	var mk func() hash.Hash
	switch strings.ToLower(method) {
	case "sha256":
		mk = sha256.New
	case "sha384":
		mk = sha512.New384
	case "sha512":
		mk = sha512.New
	default:
		return webhooks.ErrSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return webhooks.ErrSignature
	}
	m := hmac.New(mk, p.secret)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), got) {
		return webhooks.ErrSignature
	}
	return nil
}

type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		*f = flexID(n.String())
		return nil
	}
	*f = ""
	return nil
}

type hookPayload struct {
	WebhookEvent string    `json:"webhookEvent"`
	EventType    string    `json:"issue_event_type_name"`
	User         *userJSON `json:"user"`
	Issue        *struct {
		ID     flexID `json:"id"`
		Key    string `json:"key"`
		Self   string `json:"self"`
		Fields struct {
			Project *struct {
				Key string `json:"key"`
			} `json:"project"`
			IssueType *issueTypeJSON `json:"issuetype"`
		} `json:"fields"`
	} `json:"issue"`
	Comment *struct {
		ID           flexID    `json:"id"`
		Self         string    `json:"self"`
		Author       *userJSON `json:"author"`
		UpdateAuthor *userJSON `json:"updateAuthor"`
	} `json:"comment"`
	Changelog *struct {
		Items []struct {
			Field      string `json:"field"`
			FieldID    string `json:"fieldId"`
			FromString any    `json:"fromString"`
			ToString   any    `json:"toString"`
		} `json:"items"`
	} `json:"changelog"`
	Version *struct {
		ID        flexID `json:"id"`
		ProjectID flexID `json:"projectId"`
	} `json:"version"`
}

var (
	reIssueInURL = regexp.MustCompile(`/rest/api/\d+/issue/(\d+)(?:/|$)`)
	reKey        = regexp.MustCompile(`^([A-Z][A-Z0-9_]+)-\d+$`)
)

// driftFields are the mirror fields vitrine writes: someone else changing
// one of them is drift.
var driftFields = map[string]bool{"summary": true, "description": true, "status": true, "duedate": true, "resolution": true}

// Parse verifies a delivery and maps it to level-triggered hints: the item
// of every source reading the issue's project is re-read (order is not
// trusted, so the payload's content never is), milestones are re-read for
// epics and versions, and a mirror edited by someone else gets a drift
// check.
func (p *WebhookParser) Parse(h http.Header, body []byte) (store.Delivery, error) {
	d := store.Delivery{ID: p.deliveryID(h, body)}
	if err := p.verify(h, body); err != nil {
		return d, err
	}
	var pl hookPayload
	if err := json.Unmarshal(body, &pl); err != nil {
		return d, fmt.Errorf("jira webhook: %w", err)
	}
	ev := pl.WebhookEvent
	switch {
	case ev == "jira:issue_created" || ev == "jira:issue_updated" || ev == "jira:issue_deleted" ||
		ev == "comment_created" || ev == "comment_updated" || ev == "comment_deleted":
		d.Tasks = p.issueTasks(&pl)
	case strings.HasPrefix(ev, "jira:version_"):
		for _, k := range p.all {
			d.Tasks = append(d.Tasks, worker.MilestonesTask(k))
		}
	default:
		return d, fmt.Errorf("%w: event %q", webhooks.ErrIgnored, ev)
	}
	if len(d.Tasks) == 0 {
		return d, fmt.Errorf("%w: no followed source or target", webhooks.ErrIgnored)
	}
	return d, nil
}

func (p *WebhookParser) deliveryID(h http.Header, body []byte) string {
	if id := strings.TrimSpace(h.Get("X-Atlassian-Webhook-Identifier")); id != "" && len(id) <= 200 {
		return "jira:" + p.site + ":" + id
	}
	sum := sha256.Sum256(body)
	return "jira:" + p.site + ":sha256-" + hex.EncodeToString(sum[:16])
}

func (p *WebhookParser) issueTasks(pl *hookPayload) []store.Task {
	issueID, project := "", ""
	epic := false
	if is := pl.Issue; is != nil {
		issueID = string(is.ID)
		if is.Fields.Project != nil {
			project = is.Fields.Project.Key
		}
		if m := reKey.FindStringSubmatch(is.Key); project == "" && m != nil {
			project = m[1]
		}
		if issueID == "" {
			if m := reIssueInURL.FindStringSubmatch(is.Self); m != nil {
				issueID = m[1]
			}
		}
		if is.Fields.IssueType != nil && is.Fields.IssueType.isEpic() {
			epic = true
		}
	}
	if issueID == "" && pl.Comment != nil {
		// Server's comment events carry no issue: its id is in the
		// comment's own URL.
		if m := reIssueInURL.FindStringSubmatch(pl.Comment.Self); m != nil {
			issueID = m[1]
		}
	}
	if !isDigits(issueID) {
		return nil
	}
	projects := map[string]bool{}
	if project != "" {
		projects[strings.ToUpper(project)] = true
	}
	if pl.Changelog != nil {
		// A move names the issue's old key: its old project's sources
		// must let it go.
		for _, it := range pl.Changelog.Items {
			if strings.EqualFold(it.Field, "Key") || it.FieldID == "key" {
				if s, ok := it.FromString.(string); ok {
					if m := reKey.FindStringSubmatch(s); m != nil {
						projects[m[1]] = true
					}
				}
			}
		}
	}
	var srcs []string
	if project == "" {
		srcs = p.all
	} else {
		seen := map[string]bool{}
		for proj := range projects {
			for _, k := range p.sources[proj] {
				if !seen[k] {
					seen[k] = true
					srcs = append(srcs, k)
				}
			}
		}
		sort.Strings(srcs)
	}
	var tasks []store.Task
	for _, k := range srcs {
		tasks = append(tasks, worker.ItemTask(item.MakeID(k, issueID)))
		if epic || pl.WebhookEvent == "jira:issue_deleted" {
			tasks = append(tasks, worker.MilestonesTask(k))
		}
	}
	tasks = append(tasks, p.driftTasks(pl, projects)...)
	return tasks
}

// driftTasks hint a drift check of the mirrors in a target project when
// someone other than vitrine changed what vitrine writes there.
func (p *WebhookParser) driftTasks(pl *hookPayload, projects map[string]bool) []store.Task {
	if pl.Issue == nil || len(p.targets) == 0 {
		return nil
	}
	actor := pl.User
	if pl.Comment != nil {
		return nil // comments of others on a mirror are theirs to keep
	}
	if p.isBot(actor) {
		return nil
	}
	relevant := pl.WebhookEvent == "jira:issue_deleted"
	if pl.Changelog != nil {
		for _, it := range pl.Changelog.Items {
			if driftFields[strings.ToLower(it.Field)] || driftFields[it.FieldID] {
				relevant = true
			}
		}
	}
	if !relevant {
		return nil
	}
	var tasks []store.Task
	for proj := range projects {
		for _, t := range p.targets[proj] {
			tasks = append(tasks, worker.TargetVerifyTask(t.Customer, t.Target))
		}
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Key < tasks[j].Key })
	return tasks
}

func (p *WebhookParser) isBot(u *userJSON) bool {
	if u == nil || p.bot == "" {
		return false
	}
	for _, v := range []string{u.AccountID, u.Name, u.Key, u.EmailAddress} {
		if v != "" && strings.EqualFold(v, p.bot) {
			return true
		}
	}
	return false
}

var _ webhooks.Parser = (*WebhookParser)(nil)

var (
	_ worker.Source        = (*Source)(nil)
	_ worker.CommentReader = (*Source)(nil)
)
