package jira_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"vitrine/connectors/jira"
	"vitrine/fake/openapi"
	"vitrine/webhooks"
	"vitrine/worker"
)

const (
	fuzzJiraSecret = "fuzz-jira-secret"
	fuzzJiraSite   = "agency.atlassian.net"
	fuzzJiraBot    = "557058:bot-account"
)

// fuzzJiraModes say how a fuzzed delivery is signed.
const (
	jiraSignValid   = iota // X-Hub-Signature: <method>=<hex HMAC>, method sha256/384/512 (any case)
	jiraSignWrong          // a valid signature with one bit flipped
	jiraSignSHA1           // a correct HMAC, but with a method Jira does not use
	jiraSignAsGiven        // whatever the fuzzed headers say
	jiraSignModes
)

var jiraMethods = []struct {
	name string
	mk   func() hash.Hash
}{{"sha256", sha256.New}, {"sha384", sha512.New384}, {"sha512", sha512.New}, {"SHA256", sha256.New}}

func jiraMAC(mk func() hash.Hash, body []byte) []byte {
	m := hmac.New(mk, []byte(fuzzJiraSecret))
	m.Write(body)
	return m.Sum(nil)
}

// jiraValid is the X-Hub-Signature rule: method=hex, the method one of
// sha256, sha384, sha512 in any case.
func jiraValid(h http.Header, body []byte) bool {
	method, hexSig, ok := strings.Cut(strings.TrimSpace(h.Get("X-Hub-Signature")), "=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	for _, m := range jiraMethods {
		if strings.EqualFold(method, m.name) && hmac.Equal(got, jiraMAC(m.mk, body)) {
			return true
		}
	}
	return false
}

func jiraFuzzHeaders(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(k, strings.TrimSpace(v))
		}
	}
	return h
}

var (
	fixtureProjectRE = regexp.MustCompile(`"key"\s*:\s*"([A-Z][A-Z0-9_]+)-\d+"`)
	jiraItemTaskRE   = regexp.MustCompile(`^item:(.+)/[0-9]+$`)
)

// jiraFuzzSources makes every project the vendor payloads in
// ../shared/fixtures name a source, so that valid deliveries reach the
// mapping.
func jiraFuzzSources(f *testing.F) map[string][]string {
	f.Helper()
	root, err := openapi.Fixture("jira-webhooks")
	if err != nil {
		f.Fatal(err)
	}
	sources := map[string][]string{}
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range fixtureProjectRE.FindAllSubmatch(b, -1) {
			sources[string(m[1])] = []string{"jira:" + fuzzJiraSite + "/" + string(m[1])}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if len(sources) < 3 {
		f.Fatalf("only %d projects in the webhook fixtures", len(sources))
	}
	return sources
}

// FuzzJiraWebhook sends arbitrary bodies and headers through the Jira
// parser (go test -fuzz FuzzJiraWebhook -fuzztime 30s). It never panics; a delivery whose X-Hub-Signature does not
// verify (sha256, sha384 or sha512, method in any case) is always
// ErrSignature; a verified one is mapped to tasks of configured sources
// and targets, ignored, or a malformed-payload error, the same every time;
// every answer carries a delivery id of the site.
func FuzzJiraWebhook(f *testing.F) {
	// Seeds: a handful of the vendor's payloads in testdata/fuzz (copied
	// from ../shared/fixtures; every fixture is checked by
	// TestEveryFixturePayloadParses), and these.
	sources := jiraFuzzSources(f)
	f.Add([]byte(`{"webhookEvent":"comment_created","comment":{"id":"1","self":"https://x/rest/api/2/issue/10001/comment/1"}}`),
		uint8(jiraSignValid), "", "")
	f.Add([]byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":10002,"key":"TES-2"}}`), uint8(jiraSignAsGiven), "",
		"X-Hub-Signature: sha256=00\nX-Hub-Signature: sha512=zz")
	f.Add([]byte(`{"webhookEvent":`), uint8(jiraSignValid), "", "")

	targets := map[string][]jira.TargetRef{}
	allowed := map[string]bool{}
	projects := make([]string, 0, len(sources))
	for proj := range sources {
		projects = append(projects, proj)
	}
	sort.Strings(projects)
	for _, proj := range projects {
		keys := sources[proj]
		for _, k := range keys {
			allowed["milestones:"+k] = true
		}
		if len(targets) < 3 {
			ref := jira.TargetRef{Customer: "acme", Target: "jira:" + fuzzJiraSite + "/" + proj}
			targets[proj] = []jira.TargetRef{ref}
			allowed[worker.TargetVerifyTask(ref.Customer, ref.Target).Key] = true
		}
	}
	p, err := jira.NewWebhookParser(jira.WebhookOptions{Secret: fuzzJiraSecret, Site: fuzzJiraSite,
		Sources: sources, Targets: targets, BotAccount: fuzzJiraBot})
	if err != nil {
		f.Fatal(err)
	}
	sourceKeys := map[string]bool{}
	for _, keys := range sources {
		for _, k := range keys {
			sourceKeys[k] = true
		}
	}

	f.Fuzz(func(t *testing.T, body []byte, mode uint8, identifier, headers string) {
		h := jiraFuzzHeaders(headers)
		if identifier != "" {
			h.Set("X-Atlassian-Webhook-Identifier", identifier)
		}
		m := jiraMethods[int(mode/jiraSignModes)%len(jiraMethods)]
		switch mode % jiraSignModes {
		case jiraSignValid:
			h.Set("X-Hub-Signature", m.name+"="+hex.EncodeToString(jiraMAC(m.mk, body)))
		case jiraSignWrong:
			sum := jiraMAC(m.mk, body)
			bit := int(mode) % (8 * len(sum))
			sum[bit/8] ^= 1 << (bit % 8)
			h.Set("X-Hub-Signature", m.name+"="+hex.EncodeToString(sum))
		case jiraSignSHA1:
			h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(jiraMAC(sha1.New, body)))
		}
		valid := jiraValid(h, body)
		if md := mode % jiraSignModes; md != jiraSignAsGiven && (md == jiraSignValid) != valid {
			t.Fatalf("mode %d: the test's own signature check says %v", md, valid)
		}

		d, err := p.Parse(h, body)
		if rest, ok := strings.CutPrefix(d.ID, "jira:"+fuzzJiraSite+":"); !ok || rest == "" {
			t.Fatalf("delivery id %q is not one of site %s", d.ID, fuzzJiraSite)
		}
		if !valid {
			if !errors.Is(err, webhooks.ErrSignature) || len(d.Tasks) != 0 {
				t.Fatalf("unverified delivery: %v (tasks %v), want ErrSignature", err, d.Tasks)
			}
			return
		}
		if errors.Is(err, webhooks.ErrSignature) {
			t.Fatalf("verified delivery rejected: %v", err)
		}
		if err == nil {
			if len(d.Tasks) == 0 {
				t.Fatal("accepted delivery without tasks")
			}
			for _, task := range d.Tasks {
				if mm := jiraItemTaskRE.FindStringSubmatch(task.Key); mm != nil && sourceKeys[mm[1]] {
					continue
				}
				if !allowed[task.Key] {
					t.Fatalf("task %q is not for a configured source or target", task.Key)
				}
			}
		} else if len(d.Tasks) != 0 {
			t.Fatalf("%v, yet tasks %v", err, d.Tasks)
		}
		d2, err2 := p.Parse(h, bytes.Clone(body))
		if !reflect.DeepEqual(d, d2) || (err == nil) != (err2 == nil) {
			t.Fatalf("parsed twice: %+v %v, then %+v %v", d, err, d2, err2)
		}
	})
}
