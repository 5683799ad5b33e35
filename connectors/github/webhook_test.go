package github_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/rs/zerolog"

	"vitrine/connectors/github"
	"vitrine/fake/openapi"
	"vitrine/item"
	"vitrine/store"
	"vitrine/webhooks"
	"vitrine/worker"
)

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func hookHeader(event, delivery, sig string) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", delivery)
	if sig != "" {
		h.Set("X-Hub-Signature-256", sig)
	}
	return h
}

func parser(t *testing.T, o github.WebhookOptions) *github.WebhookParser {
	t.Helper()
	if o.Secret == "" {
		o.Secret = hookSecret
	}
	p, err := github.NewWebhookParser(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// GitHub's documented example: secret "It's a Secret to Everybody",
// payload "Hello, World!".
func TestSignatureMatchesGitHubsTestVector(t *testing.T) {
	p := parser(t, github.WebhookOptions{Secret: "It's a Secret to Everybody"})
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	if err := p.Verify(h, []byte("Hello, World!")); err != nil {
		t.Fatalf("GitHub's test vector: %v", err)
	}
	if err := p.Verify(h, []byte("Hello, World?")); !errors.Is(err, webhooks.ErrSignature) {
		t.Errorf("changed body: %v, want ErrSignature", err)
	}
}

func TestEmptySecretIsRefusedAtStart(t *testing.T) {
	if _, err := github.NewWebhookParser(github.WebhookOptions{Previous: "old"}); err == nil {
		t.Fatal("a parser without a secret was built")
	}
}

func TestBadOrMissingSignatureIsRejected(t *testing.T) {
	p := parser(t, github.WebhookOptions{Previous: "previous-secret", Sources: map[string]string{"o/r": "github:o/r"}})
	body := []byte(`{"action":"edited","repository":{"full_name":"o/r"},"issue":{"id":7}}`)
	sha1Only := hookHeader("issues", "d1", "")
	sha1Only.Set("X-Hub-Signature", "sha1=0000")
	for name, h := range map[string]http.Header{
		"missing":      hookHeader("issues", "d1", ""),
		"sha1 only":    sha1Only,
		"wrong secret": hookHeader("issues", "d1", sign("nope", body)),
		"not hex":      hookHeader("issues", "d1", "sha256=zz"),
		"short":        hookHeader("issues", "d1", "sha256=abcd"),
		"no prefix":    hookHeader("issues", "d1", strings.TrimPrefix(sign(hookSecret, body), "sha256=")),
		"other body":   hookHeader("issues", "d1", sign(hookSecret, append([]byte(" "), body...))),
	} {
		if _, err := p.Parse(h, body); !errors.Is(err, webhooks.ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
	// Both secrets of a rotation verify.
	for _, s := range []string{hookSecret, "previous-secret"} {
		d, err := p.Parse(hookHeader("issues", "d1", sign(s, body)), body)
		if err != nil || len(d.Tasks) != 1 || d.Tasks[0].Key != "item:github:o/r/7" || d.ID != "github:d1" {
			t.Errorf("signed with %q: %+v %v", s, d, err)
		}
	}
}

func TestMalformedPayloadAfterAValidSignatureIsAPlainError(t *testing.T) {
	p := parser(t, github.WebhookOptions{Sources: map[string]string{"o/r": "github:o/r"}})
	body := []byte(`{"action": "edited", "repository": `)
	_, err := p.Parse(hookHeader("issues", "d1", sign(hookSecret, body)), body)
	if err == nil || errors.Is(err, webhooks.ErrSignature) || errors.Is(err, webhooks.ErrIgnored) {
		t.Errorf("malformed JSON: %v, want a plain error", err)
	}
}

// fixtureEvent names the event of a payload file of the shared fixtures.
func fixtureEvent(path string) string {
	dir := filepath.Base(filepath.Dir(path))
	if dir != "hub4j-github-api" {
		return dir
	}
	name := filepath.Base(path)
	for _, p := range []struct{ prefix, event string }{
		{"issue_comment", "issue_comment"}, {"issue", "issues"}, {"label", "label"},
		{"milestone", "milestone"}, {"ping", "ping"}, {"projectsv2item", "projects_v2_item"},
	} {
		if strings.HasPrefix(name, p.prefix) {
			return p.event
		}
	}
	return ""
}

func fixtureFiles(t *testing.T) []string {
	t.Helper()
	root, err := openapi.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, dir := range []string{"github-webhooks", "github-webhooks-extra"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 90 {
		t.Fatalf("only %d webhook fixtures found", len(files))
	}
	return files
}

// Every vendor payload goes through the signature check and parsing: issue
// events name their issue, everything else vitrine does not follow is
// ignored, and a changed byte fails the signature.
func TestEveryFixturePayloadIsVerifiedAndMapped(t *testing.T) {
	counts := map[string]int{}
	for _, path := range fixtureFiles(t) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		event := fixtureEvent(path)
		var pl struct {
			Action     string `json:"action"`
			Repository *struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
			Issue *struct {
				ID          int64           `json:"id"`
				PullRequest json.RawMessage `json:"pull_request"`
			} `json:"issue"`
			Sender *struct {
				Login string `json:"login"`
			} `json:"sender"`
		}
		if err := json.Unmarshal(body, &pl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		repo := ""
		if pl.Repository != nil {
			repo = strings.ToLower(pl.Repository.FullName)
		}
		key := "github:" + repo
		rel := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)

		// As a source repository.
		p := parser(t, github.WebhookOptions{Sources: map[string]string{repo: key}})
		h := hookHeader(event, "fixture-"+rel, sign(hookSecret, body))
		d, err := p.Parse(h, body)
		switch {
		case event == "issues" || event == "issue_comment":
			isPR := pl.Issue != nil && len(pl.Issue.PullRequest) > 0 && string(pl.Issue.PullRequest) != "null"
			want := worker.ItemTask(item.MakeID(key, strconv.FormatInt(pl.Issue.ID, 10))).Key
			if isPR {
				if !errors.Is(err, webhooks.ErrIgnored) {
					t.Errorf("%s: pull request: %v %+v, want ignored", rel, err, d.Tasks)
				}
				break
			}
			if err != nil || len(d.Tasks) == 0 || d.Tasks[0].Key != want {
				t.Errorf("%s: %+v %v, want %s", rel, d.Tasks, err, want)
			}
		case event == "milestone":
			if err != nil || !hasTask(d, worker.MilestonesTask(key).Key) || !hasTask(d, worker.ScanTask(key).Key) {
				t.Errorf("%s: %+v %v, want milestones and scan of %s", rel, d.Tasks, err, key)
			}
		case event == "label" && (pl.Action == "edited" || pl.Action == "deleted"):
			if err != nil || !hasTask(d, worker.VerifyTask(key).Key) {
				t.Errorf("%s: %+v %v, want a re-verification", rel, d.Tasks, err)
			}
		default:
			if !errors.Is(err, webhooks.ErrIgnored) {
				t.Errorf("%s (%s %s): %+v %v, want ignored", rel, event, pl.Action, d.Tasks, err)
			}
		}
		if err == nil && d.ID != "github:fixture-"+rel {
			t.Errorf("%s: delivery id %q", rel, d.ID)
		}
		counts[event]++

		// A repository vitrine does not read is ignored after the check.
		if _, err := parser(t, github.WebhookOptions{}).Parse(h, body); !errors.Is(err, webhooks.ErrIgnored) {
			t.Errorf("%s: unconfigured repository: %v, want ignored", rel, err)
		}
		// One changed byte fails the signature, whatever the event.
		bad := append([]byte(nil), body...)
		bad[len(bad)/2] ^= 1
		if _, err := p.Parse(h, bad); !errors.Is(err, webhooks.ErrSignature) {
			t.Errorf("%s: tampered body: %v, want ErrSignature", rel, err)
		}

		// As a target repository: the bot's own events are echoes, anyone
		// else's are drift hints.
		if repo == "" || event == "ping" {
			continue
		}
		sender := ""
		if pl.Sender != nil {
			sender = pl.Sender.Login
		}
		tp := parser(t, github.WebhookOptions{Targets: map[string][]github.TargetRef{repo: {{Customer: "acme", Target: dstName}}}, BotLogin: []string{sender}})
		if _, err := tp.Parse(h, body); !errors.Is(err, webhooks.ErrIgnored) {
			t.Errorf("%s: the bot's own event on a target: %v, want ignored", rel, err)
		}
		followed := map[string]bool{"issues": true, "issue_comment": true, "label": true, "milestone": true}[event]
		tp = parser(t, github.WebhookOptions{Targets: map[string][]github.TargetRef{repo: {{Customer: "acme", Target: dstName}}}, BotLogin: []string{"vitrine-bot"}})
		d, err = tp.Parse(h, body)
		if followed && (err != nil || len(d.Tasks) != 1 || d.Tasks[0].Key != "tverify:acme|"+dstName || d.Tasks[0].Lane != store.LaneBackground) {
			t.Errorf("%s: someone's event on a target: %+v %v, want one drift check", rel, d.Tasks, err)
		}
	}
	t.Logf("fixtures by event: %v", counts)
	for _, e := range []string{"issues", "issue_comment", "label", "milestone", "ping"} {
		if counts[e] == 0 {
			t.Errorf("no %s fixture was exercised", e)
		}
	}
}

func hasTask(d store.Delivery, key string) bool {
	for _, t := range d.Tasks {
		if t.Key == key {
			return true
		}
	}
	return false
}

// example builds a minimal instance of a schema: required properties only,
// the first of oneOf/anyOf, every allOf merged.
func example(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 12 {
		return nil
	}
	if len(s.AllOf) > 0 {
		out := map[string]any{}
		for _, r := range s.AllOf {
			if m, ok := example(r.Value, depth+1).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	for _, alts := range [][]*openapi3.SchemaRef{s.OneOf, s.AnyOf} {
		if len(alts) > 0 {
			return example(alts[0].Value, depth+1)
		}
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		out := map[string]any{}
		for _, name := range s.Required {
			if p := s.Properties[name]; p != nil {
				out[name] = example(p.Value, depth+1)
			}
		}
		return out
	case s.Type.Is("array"):
		return []any{}
	case s.Type.Is("integer"), s.Type.Is("number"):
		return 1
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("string"):
		switch s.Format {
		case "date-time":
			return "2026-01-05T09:00:00Z"
		case "uri":
			return "https://api.github.com/"
		}
		return "x"
	}
	if s.Nullable {
		return nil
	}
	return "x"
}

// sub_issues payloads have no upstream example: they are generated from
// the schemas in GitHub's OpenAPI file, checked against those schemas,
// signed and parsed. Both issues are named by their own repository, which
// may be another configured source.
func TestSubIssuesPayloadsFromTheSchemaTouchParentAndChild(t *testing.T) {
	if testing.Short() {
		t.Skip("parses the 13 MB description")
	}
	path, err := openapi.Fixture(openapi.GitHubFull...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := openapi.New(path, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	schemas := c.Doc().Components.Schemas
	p := parser(t, github.WebhookOptions{Sources: map[string]string{
		"agency/acme-internal": srcKey, "agency/platform": "github:agency/platform",
	}})
	for _, action := range []string{"sub-issue-added", "sub-issue-removed", "parent-issue-added", "parent-issue-removed"} {
		ref := schemas["webhook-sub-issues-"+action]
		if ref == nil || ref.Value == nil {
			t.Fatalf("no schema for sub_issues %s", action)
		}
		pl := example(ref.Value, 0).(map[string]any)
		pl["action"] = strings.ReplaceAll(action, "-", "_")
		repo := pl["repository"].(map[string]any)
		repo["full_name"] = srcRepo
		// Either issue may be optional in an action's schema: build it
		// from its property schema then.
		for _, name := range []string{"parent_issue", "sub_issue"} {
			if _, ok := pl[name].(map[string]any); !ok {
				pl[name] = example(ref.Value.Properties[name].Value, 0)
			}
		}
		parent, child := pl["parent_issue"].(map[string]any), pl["sub_issue"].(map[string]any)
		parent["id"], parent["repository_url"] = 1001, "https://api.github.com/repos/agency/acme-internal"
		child["id"], child["repository_url"] = 2002, "https://api.github.com/repos/agency/platform"
		pl["parent_issue"], pl["parent_issue_id"], pl["sub_issue_id"] = parent, 1001, 2002
		if err := ref.Value.VisitJSON(jsonRoundTrip(t, pl)); err != nil {
			t.Fatalf("%s: generated payload does not match the schema: %v", action, err)
		}
		body, _ := json.Marshal(pl)
		d, err := p.Parse(hookHeader("sub_issues", "sub-"+action, sign(hookSecret, body)), body)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		want := []string{"item:github:agency/acme-internal/1001", "item:github:agency/platform/2002"}
		if len(d.Tasks) != 2 || d.Tasks[0].Key != want[0] || d.Tasks[1].Key != want[1] {
			t.Errorf("%s: tasks %+v, want %v", action, d.Tasks, want)
		}
	}
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Through the intake handler: 401 for a bad signature, 202 for an ignored
// event, 400 for a malformed body, 202 then 200 for a delivery and its
// redelivery.
func TestIntakeAnswersFollowTheParser(t *testing.T) {
	w := newWorld(t)
	w.start()
	h := webhooks.New(map[string]webhooks.Parser{"github": parser(t, github.WebhookOptions{Sources: map[string]string{srcRepo: srcKey}})},
		w.st, nil, zerolog.Nop(), nil)
	post := func(event, id string, body []byte, sig string) int {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/github", strings.NewReader(string(body)))
		r.Header = hookHeader(event, id, sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	issue := []byte(`{"action":"edited","repository":{"full_name":"agency/acme-internal"},"issue":{"id":42}}`)
	for _, c := range []struct {
		name  string
		event string
		body  []byte
		sig   string
		want  int
	}{
		{"unsigned", "issues", issue, "", http.StatusUnauthorized},
		{"wrong secret", "issues", issue, sign("x", issue), http.StatusUnauthorized},
		{"ping", "ping", []byte(`{"zen":"x"}`), sign(hookSecret, []byte(`{"zen":"x"}`)), http.StatusAccepted},
		{"unknown event", "push", issue, sign(hookSecret, issue), http.StatusAccepted},
		{"malformed", "issues", []byte(`{`), sign(hookSecret, []byte(`{`)), http.StatusBadRequest},
		{"issue", "issues", issue, sign(hookSecret, issue), http.StatusAccepted},
		{"redelivery", "issues", issue, sign(hookSecret, issue), http.StatusOK},
	} {
		if got := post(c.event, "same-id", c.body, c.sig); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
