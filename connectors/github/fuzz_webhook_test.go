package github_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"vitrine/connectors/github"
	"vitrine/webhooks"
)

const (
	fuzzSecret   = "fuzz-current-secret"
	fuzzPrevious = "fuzz-previous-secret"
	fuzzBot      = "vitrine-bot"
)

// fuzzSources are the repositories of the vendor's example payloads, so
// that valid deliveries reach the mapping and not only "not followed".
var fuzzSources = map[string]string{
	"codertocat/hello-world":            "github:codertocat/hello-world",
	"octocoders/hello-world":            "github:octocoders/hello-world",
	"gsmet/quarkus-bot-java-playground": "github:gsmet/quarkus-bot-java-playground",
	"octo-org/octo-repo":                "github:octo-org/octo-repo",
	"baxterthehacker/public-repo":       "github:baxterthehacker/public-repo",
}

var fuzzTargets = map[string][]github.TargetRef{
	// A repository both read and written (drift hints), and a mirror only.
	"octocoders/hello-world": {{Customer: "acme", Target: "github:octocoders/hello-world"}},
	"particular/samplewebhooks": {{Customer: "acme", Target: "github:particular/samplewebhooks"},
		{Customer: "globex", Target: "github:particular/samplewebhooks"}},
}

// fuzzModes say how a fuzzed delivery is signed.
const (
	signCurrent  = iota // X-Hub-Signature-256 over the body with the current secret
	signPrevious        // ... with the previous secret (rotation)
	signWrong           // a valid signature with one bit flipped
	signAsGiven         // whatever the fuzzed headers say
	signModes
)

func fuzzMAC(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// fuzzHeaders reads "Name: value" lines.
func fuzzHeaders(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(k, strings.TrimSpace(v))
		}
	}
	return h
}

// validSignature is GitHub's rule: "sha256=" and the hex HMAC of the body
// with one of the secrets.
func validSignature(h http.Header, body []byte) bool {
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(h.Get("X-Hub-Signature-256")), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	return hmac.Equal(got, fuzzMAC(fuzzSecret, body)) || hmac.Equal(got, fuzzMAC(fuzzPrevious, body))
}

// allowedTask reports whether key is a task the parser may derive: an
// item of a configured source, one of its source-wide keys, or a drift
// check of a configured target.
var itemKeyRE = regexp.MustCompile(`^item:(github:[^/]+/[^/]+)/[1-9][0-9]*$`)

func allowedTask(key string) bool {
	sources := map[string]bool{}
	for _, k := range fuzzSources {
		sources[k] = true
	}
	if m := itemKeyRE.FindStringSubmatch(key); m != nil {
		return sources[m[1]]
	}
	for _, p := range []string{"scan:", "verify:", "milestones:"} {
		if k, ok := strings.CutPrefix(key, p); ok {
			return sources[k]
		}
	}
	for _, refs := range fuzzTargets {
		for _, r := range refs {
			if key == "tverify:"+r.Customer+"|"+r.Target {
				return true
			}
		}
	}
	return false
}

// FuzzGitHubWebhook sends arbitrary bodies and headers through the GitHub
// parser (go test -fuzz FuzzGitHubWebhook -fuzztime 30s). It never panics; a delivery that GitHub's rule does not verify
// (current or previous secret) is always ErrSignature; a verified one is
// mapped to tasks of configured sources and targets, ignored, or a
// malformed-payload error, and the same every time.
func FuzzGitHubWebhook(f *testing.F) {
	// Seeds: a handful of the vendor's payloads in testdata/fuzz (copied
	// from ../shared/fixtures; every fixture is checked by
	// TestEveryFixturePayloadIsVerifiedAndMapped), and these.
	f.Add("issues", "d1", []byte(`{"action":"edited","repository":{"full_name":"Codertocat/Hello-World"},"issue":{"id":7}}`), uint8(signAsGiven),
		"X-Hub-Signature-256: sha256=0000\nX-Hub-Signature: sha1=0000")
	f.Add("sub_issues", "d2", []byte(`{"action":"sub_issue_added","repository":{"full_name":"octo-org/octo-repo"},`+
		`"parent_issue":{"id":1,"repository_url":"https://api.github.com/repos/Codertocat/Hello-World"},"sub_issue":{"id":2}}`), uint8(signPrevious), "")
	f.Add("issues", "", []byte(`{"action": "edited", "repository": `), uint8(signCurrent), "")

	p, err := github.NewWebhookParser(github.WebhookOptions{Secret: fuzzSecret, Previous: fuzzPrevious,
		Sources: fuzzSources, Targets: fuzzTargets, BotLogin: []string{fuzzBot}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte, mode uint8, headers string) {
		h := fuzzHeaders(headers)
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", delivery)
		switch mode % signModes {
		case signCurrent:
			h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(fuzzMAC(fuzzSecret, body)))
		case signPrevious:
			h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(fuzzMAC(fuzzPrevious, body)))
		case signWrong:
			sum := fuzzMAC(fuzzSecret, body)
			bit := int(mode/signModes) % (8 * len(sum))
			sum[bit/8] ^= 1 << (bit % 8)
			h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sum))
		}
		valid := validSignature(h, body)
		if m := mode % signModes; (m == signCurrent || m == signPrevious) != valid && m != signAsGiven {
			t.Fatalf("mode %d: the test's own signature check says %v", m, valid)
		}

		d, err := p.Parse(h, body)
		if !valid {
			if !errors.Is(err, webhooks.ErrSignature) {
				t.Fatalf("unverified delivery: %v (tasks %v), want ErrSignature", err, d.Tasks)
			}
			if len(d.Tasks) != 0 {
				t.Fatalf("unverified delivery has tasks: %v", d.Tasks)
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
			if want := "github:" + strings.TrimSpace(delivery); d.ID != want || d.ID == "github:" {
				t.Fatalf("delivery id %q, want %q", d.ID, want)
			}
			for _, task := range d.Tasks {
				if !allowedTask(task.Key) {
					t.Fatalf("task %q is not for a configured source or target", task.Key)
				}
			}
		} else if len(d.Tasks) != 0 {
			t.Fatalf("%v, yet tasks %v", err, d.Tasks)
		}
		// Level-triggered and deterministic: the same delivery maps the same.
		d2, err2 := p.Parse(h, bytes.Clone(body))
		if !reflect.DeepEqual(d, d2) || (err == nil) != (err2 == nil) {
			t.Fatalf("parsed twice: %+v %v, then %+v %v", d, err, d2, err2)
		}
	})
}
