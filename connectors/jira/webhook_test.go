package jira_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/item"
	"vitrine/store"
	"vitrine/webhooks"
	"vitrine/worker"
)

const site = "agency.atlassian.net"

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signed(body []byte, id string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Hub-Signature", sign(hookSecret, body))
	if id != "" {
		h.Set("X-Atlassian-Webhook-Identifier", id)
	}
	return h
}

// webhookFixtures are the real deliveries: every file of the primary set
// and the webhook files of the secondary set.
func webhookFixtures(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(fixtures(t), "jira-webhooks")
	var out []string
	for _, dir := range []string{"mattermost-plugin-jira", filepath.Join("jira-to-matrix", "webhooks")} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d webhook fixtures found", len(out))
	}
	return out
}

var (
	reFixtureKey = regexp.MustCompile(`"key"\s*:\s*"([A-Z][A-Z0-9_]+)-\d+"`)
	reCommentURL = regexp.MustCompile(`/rest/api/\d+/issue/(\d+)/comment`)
)

type fixtureFacts struct {
	Event string `json:"webhookEvent"`
	Issue *struct {
		ID     string `json:"id"`
		Key    string `json:"key"`
		Fields struct {
			Project *struct {
				Key string `json:"key"`
			} `json:"project"`
		} `json:"fields"`
	} `json:"issue"`
	Comment *struct {
		Self string `json:"self"`
	} `json:"comment"`
}

func TestEveryFixturePayloadParses(t *testing.T) {
	files := webhookFixtures(t)
	sources := map[string][]string{}
	bodies := map[string][]byte{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bodies[p] = b
		for _, m := range reFixtureKey.FindAllSubmatch(b, -1) {
			k := string(m[1])
			sources[k] = []string{"jira:" + site + "/" + k}
		}
	}
	parser, err := jira.NewWebhookParser(jira.WebhookOptions{Secret: hookSecret, Site: site, Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	mapped := 0
	for _, p := range files {
		name := strings.TrimPrefix(p, fixtures(t)+string(filepath.Separator))
		b := bodies[p]
		d, err := parser.Parse(signed(b, "fixture-1"), b)
		var facts fixtureFacts
		if jerr := json.Unmarshal(b, &facts); jerr != nil {
			t.Fatalf("%s: %v", name, jerr)
		}
		issueEvent := slices.Contains([]string{"jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created", "comment_updated", "comment_deleted"}, facts.Event)
		if !issueEvent {
			if !errors.Is(err, webhooks.ErrIgnored) {
				t.Errorf("%s (%s): %v, want ignored", name, facts.Event, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.ID != "jira:"+site+":fixture-1" {
			t.Errorf("%s: delivery id %q", name, d.ID)
		}
		// The item hint expected from what the payload names.
		id, project := "", ""
		if facts.Issue != nil {
			id = facts.Issue.ID
			if facts.Issue.Fields.Project != nil {
				project = facts.Issue.Fields.Project.Key
			} else if i := strings.LastIndexByte(facts.Issue.Key, '-'); i > 0 {
				project = facts.Issue.Key[:i]
			}
		}
		if id == "" && facts.Comment != nil {
			if m := reCommentURL.FindStringSubmatch(facts.Comment.Self); m != nil {
				id = m[1]
			}
		}
		var want []string
		if project != "" {
			want = []string{worker.ItemTask(item.MakeID(sources[project][0], id)).Key}
		} else {
			for k := range sources {
				want = append(want, worker.ItemTask(item.MakeID(sources[k][0], id)).Key)
			}
		}
		var got []string
		for _, task := range d.Tasks {
			if strings.HasPrefix(task.Key, "item:") {
				got = append(got, task.Key)
				if task.Lane != store.LaneControl {
					t.Errorf("%s: item hint in lane %d", name, task.Lane)
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: item hints %v, want %v", name, got, want)
		}
		mapped++
	}
	if mapped < 50 {
		t.Errorf("only %d deliveries mapped to items", mapped)
	}
}

func TestDerivedInternalCommentEventsStayHints(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtures(t), "jira-webhooks", "mattermost-plugin-jira", "webhook-cloud-comment-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	parser, err := jira.NewWebhookParser(jira.WebhookOptions{Secret: hookSecret, Site: site, Sources: map[string][]string{"TES": {"jira:x/TES"}}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := parser.Parse(signed(raw, "a"), raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, mod := range commentVariants {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		mod(m["comment"].(map[string]any))
		b, _ := json.Marshal(m)
		d, err := parser.Parse(signed(b, "b"), b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// The payload's content is never trusted: the same re-read, whatever
		// the delivery says about visibility.
		if len(d.Tasks) != len(base.Tasks) || d.Tasks[0] != base.Tasks[0] {
			t.Errorf("%s: tasks %v, want %v", name, d.Tasks, base.Tasks)
		}
	}
}

// commentVariants derive the internal and restricted comments the
// vendors' examples lack (the REST path decodes the same shapes: see
// TestDerivedCommentVariantsAreNeverPublic).
var commentVariants = map[string]func(c map[string]any){
	"jsdPublic false": func(c map[string]any) { c["jsdPublic"] = false },
	"sd.public.comment internal": func(c map[string]any) {
		c["properties"] = []any{map[string]any{"key": "sd.public.comment", "value": map[string]any{"internal": true}}}
	},
	"role visibility":  func(c map[string]any) { c["visibility"] = map[string]any{"type": "role", "value": "Developers"} },
	"group visibility": func(c map[string]any) { c["visibility"] = map[string]any{"type": "group", "value": "agency-staff"} },
}

type countingIntake struct{ n int }

func (c *countingIntake) Accept(context.Context, store.Delivery) (bool, error) {
	c.n++
	return false, nil
}

func TestBadSignaturesAre401AndQueueNothing(t *testing.T) {
	parser, err := jira.NewWebhookParser(jira.WebhookOptions{Secret: hookSecret, Site: site, Sources: map[string][]string{"TES": {"jira:x/TES"}}})
	if err != nil {
		t.Fatal(err)
	}
	in := &countingIntake{}
	h := webhooks.New(map[string]webhooks.Parser{"jira": parser}, in, nil, zerolog.Nop(), nil)
	body, err := os.ReadFile(filepath.Join(fixtures(t), "jira-webhooks", "mattermost-plugin-jira", "webhook-issue-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(b []byte, sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/jira", bytes.NewReader(b))
		if sig != "" {
			req.Header.Set("X-Hub-Signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	m1 := hmac.New(sha1.New, []byte(hookSecret))
	m1.Write(body)
	tampered := bytes.Replace(body, []byte(`"TES-41"`), []byte(`"TES-42"`), 1)
	for name, code := range map[string]int{
		"missing":        post(body, ""),
		"wrong secret":   post(body, sign("other", body)),
		"tampered body":  post(tampered, sign(hookSecret, body)),
		"sha1":           post(body, "sha1="+hex.EncodeToString(m1.Sum(nil))),
		"not hex":        post(body, "sha256=zz"),
		"no method":      post(body, hex.EncodeToString(m1.Sum(nil))),
		"unknown method": post(body, "md5=00"),
	} {
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if in.n != 0 {
		t.Fatalf("bad signatures queued %d deliveries", in.n)
	}
	if code := post(body, sign(hookSecret, body)); code != http.StatusAccepted || in.n != 1 {
		t.Errorf("good signature: %d, %d queued", code, in.n)
	}
	if _, err := jira.NewWebhookParser(jira.WebhookOptions{Site: site}); err == nil {
		t.Error("a parser without a secret was built")
	}
}

func TestDeliveryIDsAreDeduplicatedPerSite(t *testing.T) {
	body := []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"AGY-1","fields":{"project":{"key":"AGY"}}}}`)
	p1, _ := jira.NewWebhookParser(jira.WebhookOptions{Secret: hookSecret, Site: "one.atlassian.net", Sources: map[string][]string{"AGY": {"s"}}})
	p2, _ := jira.NewWebhookParser(jira.WebhookOptions{Secret: hookSecret, Site: "two.atlassian.net", Sources: map[string][]string{"AGY": {"s"}}})
	d1, _ := p1.Parse(signed(body, "42"), body)
	d2, _ := p2.Parse(signed(body, "42"), body)
	if d1.ID != "jira:one.atlassian.net:42" || d2.ID == d1.ID {
		t.Errorf("ids %q %q", d1.ID, d2.ID)
	}
	n1, _ := p1.Parse(signed(body, ""), body)
	n2, _ := p1.Parse(signed(body, ""), body)
	if n1.ID != n2.ID || !strings.HasPrefix(n1.ID, "jira:one.atlassian.net:sha256-") {
		t.Errorf("without an identifier: %q %q", n1.ID, n2.ID)
	}
}

func TestWebhooksMapMovesSharedProjectsAndDrift(t *testing.T) {
	r := newRig(t, fakejira.Cloud, func(o *fakejira.Options) { o.WebhookSecret = hookSecret })
	f := r.f
	f.AddProject("OTHER", "Elsewhere")
	parser, err := jira.NewWebhookParser(jira.WebhookOptions{
		Secret: hookSecret, Site: r.host(),
		Sources:    map[string][]string{"AGY": {"acme-src", "globex-src"}, "OTHER": {"other-src"}},
		Targets:    map[string][]jira.TargetRef{fakejira.TargetProject: {{Customer: "acme", Target: "jira:t/ACMEP"}}},
		BotAccount: "writer@agency.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := func(d store.Delivery) []string {
		var out []string
		for _, t := range d.Tasks {
			out = append(out, t.Key)
		}
		slices.Sort(out)
		return out
	}
	k := f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "x"})
	id := r.id(k)
	dl := f.Webhook(fakejira.EventIssueUpdated, k, "")
	d, err := parser.Parse(dl.Header, dl.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(d); !slices.Equal(got, []string{"item:acme-src/" + id, "item:globex-src/" + id}) {
		t.Errorf("shared project: %v", got)
	}
	f.MoveIssue(k, "OTHER")
	dl = f.Webhook(fakejira.EventIssueUpdated, k, "")
	d, _ = parser.Parse(dl.Header, dl.Body)
	if got := keys(d); !slices.Equal(got, []string{"item:acme-src/" + id, "item:globex-src/" + id, "item:other-src/" + id}) {
		t.Errorf("moved: %v (the old project's sources must let it go)", got)
	}
	// A mirror edited by the customer is a drift hint; by vitrine, not.
	m := f.CreateIssue(fakejira.TargetProject, fakejira.Fields{Summary: "mirror"})
	f.UpdateIssueAs(m, "customer-carl", func(x *fakejira.Fields) { x.Summary = "edited" })
	dl = f.Webhook(fakejira.EventIssueUpdated, m, "")
	d, _ = parser.Parse(dl.Header, dl.Body)
	if got := keys(d); !slices.Equal(got, []string{"tverify:acme|jira:t/ACMEP"}) {
		t.Errorf("customer edit on a mirror: %v", got)
	}
	f.UpdateIssueAs(m, fakejira.WriterCred, func(x *fakejira.Fields) { x.Summary = "ours" })
	dl = f.Webhook(fakejira.EventIssueUpdated, m, "")
	if d, err := parser.Parse(dl.Header, dl.Body); !errors.Is(err, webhooks.ErrIgnored) {
		t.Errorf("vitrine's own edit: %v %v, want ignored", keys(d), err)
	}
}
