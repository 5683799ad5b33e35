package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"slices"
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

// TestRemovedCustomersMirrorsAreRetracted: a customer deleted from the rules
// takes its `targets:` entry along, yet its GitHub mirror is retracted (the
// target was recorded while configured). The dry run plans exactly that, the
// sync does it with an audited retract per object, and once nothing is
// left a further sync writes nothing. The customer who stays is untouched.
func TestRemovedCustomersMirrorsAreRetracted(t *testing.T) {
	gh := fakegh.New(t, fakegh.Options{})
	for _, r := range []string{"agency/site", "acme/status", "globex/status"} {
		gh.AddRepo(r)
	}
	gh.AddToken("src-token", "vitrine-reader")
	gh.AddToken("dst-token", "vitrine-bot")
	gh.SetAccess("src-token", "agency/site", fakegh.AccessRead)
	gh.SetAccess("dst-token", "acme/status", fakegh.AccessPush)
	gh.SetAccess("dst-token", "globex/status", fakegh.AccessPush)
	pub := gh.CreateIssue("agency/site", fakegh.NewIssue{Title: "Checkout", Labels: []string{"acme"}, Body: "Pay by card."})
	gh.AddComment("agency/site", pub.Number, "agency-pm", "[client] Ready for review")
	gh.CreateIssue("agency/site", fakegh.NewIssue{Title: "Search", Labels: []string{"globex"}, Body: "Find things."})

	customer := func(id string) string {
		return `  - id: ` + id + `
    name: ` + strings.ToUpper(id) + `
    sources:
      - github: {repo: agency/site}
    publish: {label: ` + id + `}
    show: {comments: marked}
    targets:
      - page: {}
      - github: {repo: ` + id + `/status, token_env: DST_TOKEN}
`
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "vitrine.yaml")
	writeFile(t, rules, "customers:\n"+customer("acme")+customer("globex"))
	env := envFor(dir, "GITHUB_TOKEN=src-token", "DST_TOKEN=dst-token", "VITRINE_GITHUB_API_URL="+gh.URL())
	mustRun(t, env, "sync")

	repo := func(name string) fakegh.RepoState {
		t.Helper()
		for _, r := range gh.Dump().Repos {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("no %s in the fake", name)
		return fakegh.RepoState{}
	}
	acme := repo("acme/status")
	if len(acme.Issues) != 1 || acme.Issues[0].State != "open" || len(acme.Issues[0].Comments) != 1 {
		t.Fatalf("acme/status after the first sync: %+v", acme.Issues)
	}
	globex := repo("globex/status")

	writeFile(t, rules, "customers:\n"+customer("globex"))
	seq := lastSeq(t, env, "acme")
	plan := []string{}
	for _, op := range plannedOps(mustRun(t, env, "sync", "--dry-run").Stdout) {
		if strings.HasPrefix(op, "acme github:") {
			plan = append(plan, op)
		}
	}
	if len(plan) != 1 || !strings.Contains(plan[0], " retract #") { // the issue, its comment with it
		t.Fatalf("the dry run plans %v in acme/status, want one retraction", plan)
	}
	mustRun(t, env, "sync")

	m := repo("acme/status").Issues[0]
	if m.State != "closed" || strings.Contains(m.Title+m.Body, "Checkout") || strings.Contains(m.Body, "Pay by card") || len(m.Comments) != 0 {
		t.Errorf("the removed customer's mirror was not retracted: %+v", m)
	}
	var made []string
	for _, op := range madeOps(t, env, "acme", seq) {
		if strings.HasPrefix(op, "acme github:") {
			made = append(made, op)
		}
	}
	// One audited retract per mirrored object: the issue (as planned, its
	// comments go with it) and its comment.
	if len(made) != 2 || !slices.Contains(made, plan[0]) {
		t.Errorf("audited in acme/status: %v; want the planned %v and its comment's", made, plan)
	}
	if g := repo("globex/status"); len(g.Issues) != 1 || g.Issues[0].Title != globex.Issues[0].Title || g.Issues[0].State != "open" {
		t.Errorf("the customer who stays was touched: %+v", g.Issues)
	}

	writes := gh.Calls().Writes
	mustRun(t, env, "sync")
	if got := gh.Calls().Writes; got != writes {
		t.Errorf("a sync after the retraction made %d writes", got-writes)
	}
}
