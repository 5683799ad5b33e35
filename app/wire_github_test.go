package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakegh "vitrine/fake/github"
)

// TestGitHubSourceTargetAndWebhooksAreWired runs the real commands against
// a fake GitHub: sync mirrors the published issue once, a second sync
// writes nothing, and a signed webhook to a running serve brings an edit
// over; a delivery with a bad signature is refused with 401.
func TestGitHubSourceTargetAndWebhooksAreWired(t *testing.T) {
	gh := fakegh.New(t, fakegh.Options{})
	gh.AddRepo("agency/site")
	gh.AddRepo("acme/status")
	gh.AddToken("src-token", "vitrine-reader")
	gh.AddToken("dst-token", "vitrine-bot")
	gh.SetAccess("src-token", "agency/site", fakegh.AccessRead)
	gh.SetAccess("dst-token", "acme/status", fakegh.AccessPush)
	pub := gh.CreateIssue("agency/site", fakegh.NewIssue{Title: "Checkout", Labels: []string{"client-visible"},
		Body: "## Client summary\nPay by card.\n\n## Internal\ncnryINTERNAL"})
	gh.AddComment("agency/site", pub.Number, "agency-pm", "[client] Ready for review")
	gh.CreateIssue("agency/site", fakegh.NewIssue{Title: "Margins cnryHIDDEN"})

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "vitrine.yaml"), `customers:
  - id: acme
    name: ACME
    sources:
      - github: {repo: agency/site}
    publish: {label: client-visible}
    show: {body: section, body_section: Client summary, internal_marker: Internal, comments: marked}
    targets:
      - page: {}
      - github: {repo: acme/status, token_env: DST_TOKEN}
`)
	const secret = "hook-secret-for-the-test"
	env := envFor(dir, "GITHUB_TOKEN=src-token", "DST_TOKEN=dst-token",
		"VITRINE_GITHUB_API_URL="+gh.URL(), "VITRINE_GITHUB_WEBHOOK_SECRET="+secret)

	mustRun(t, env, "sync")
	mirror := func() fakegh.IssueState {
		t.Helper()
		for _, r := range gh.Dump().Repos {
			if r.Name == "acme/status" {
				if len(r.Issues) != 1 {
					t.Fatalf("acme/status holds %d issues, want 1: %+v", len(r.Issues), r.Issues)
				}
				return r.Issues[0]
			}
		}
		t.Fatal("no acme/status in the fake")
		return fakegh.IssueState{}
	}
	m := mirror()
	if !strings.Contains(m.Title, "Checkout") || !strings.Contains(m.Body, "Pay by card.") || len(m.Comments) != 1 ||
		!strings.Contains(m.Comments[0].Body, "Ready for review") {
		t.Fatalf("mirror %+v", m)
	}
	if strings.Contains(m.Body+m.Title, "cnry") {
		t.Fatalf("hidden text reached the mirror: %+v", m)
	}
	writes := gh.Calls().Writes
	mustRun(t, env, "sync")
	if got := gh.Calls().Writes; got != writes {
		t.Errorf("a second sync without changes made %d writes", got-writes)
	}

	p := startBin(t, append(env, "VITRINE_LISTEN=127.0.0.1:0", "VITRINE_ADMIN_LISTEN=127.0.0.1:0", "VITRINE_LOG_LEVEL=info"), "serve", "--drain-delay=0s")
	public, _ := p.addrs()
	gh.EditIssue("agency/site", pub.Number, func(is *fakegh.Issue) { is.Title = "Checkout, reworked" })
	d, err := gh.Delivery(secret, fakegh.Event{Name: "issues", Action: "edited", Repo: "agency/site", Issue: pub.Number})
	if err != nil {
		t.Fatal(err)
	}
	post := func(d fakegh.Delivery) int {
		t.Helper()
		resp, err := http.DefaultClient.Do(d.Request("http://" + public + "/webhooks/github"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(d); code != http.StatusAccepted {
		t.Fatalf("signed delivery answered %d", code)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(mirror().Title, "reworked") {
		if time.Now().After(deadline) {
			t.Fatalf("the edit did not reach the mirror: %+v\nlogs:\n%s", mirror(), p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bad, err := gh.Delivery("not-the-secret", fakegh.Event{Name: "issues", Action: "edited", Repo: "agency/site", Issue: pub.Number})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(bad); code != http.StatusUnauthorized {
		t.Errorf("a delivery with a bad signature answered %d, want 401", code)
	}
	if code, _ := p.stop(15 * time.Second); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}
