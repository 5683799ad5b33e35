package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	fakejira "vitrine/fake/jira"
)

// TestJiraSourceAndTargetAreWiredFromRulesAndEnvironment runs the real
// commands against a fake Jira: the reader credential comes from JIRA_EMAIL
// and JIRA_API_TOKEN, the writer's from the target's own email_env and
// token_env; a published issue gets exactly one mirror, and a second sync
// writes nothing.
func TestJiraSourceAndTargetAreWiredFromRulesAndEnvironment(t *testing.T) {
	f := fakejira.NewStandard(t, fakejira.Options{})
	f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "Launch the shop", Labels: []string{"client-visible"},
		Description: "h2. Client summary\nThe shop goes live."})
	f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "Internal cnryINTERNAL"})

	dir := t.TempDir()
	rules := `customers:
  - id: acme
    name: ACME
    sources:
      - jira: {project: AGY}
    publish: {label: client-visible}
    show: {body: section, body_section: Client summary}
    statuses: {done: Done}
    targets:
      - page: {}
      - jira: {project: ACMEP, email_env: WRITER_EMAIL, token_env: WRITER_TOKEN, transitions: {"In progress": [Start], Done: [Start, Resolve]}}
`
	if err := os.WriteFile(filepath.Join(dir, "vitrine.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"VITRINE_CONFIG=" + filepath.Join(dir, "vitrine.yaml"),
		"VITRINE_STORE=sqlite://" + filepath.Join(dir, "v.db"),
		"VITRINE_PAGE_SECRET=0123456789abcdef0123456789abcdef",
		"VITRINE_KEY_SECRET=fedcba9876543210fedcba9876543210",
		"VITRINE_LOG_LEVEL=warn",
		"JIRA_URL=" + f.URL(),
		"JIRA_EMAIL=reader@agency.example", "JIRA_API_TOKEN=reader-token",
		"WRITER_EMAIL=writer@agency.example", "WRITER_TOKEN=writer-token",
	}
	mustRun(t, env, "sync")
	var mirrors []string
	for _, p := range f.Dump().Projects {
		if p.Key != fakejira.TargetProject {
			continue
		}
		for _, is := range p.Issues {
			mirrors = append(mirrors, is.Summary+" | "+is.Description)
		}
	}
	if len(mirrors) != 1 || !strings.Contains(mirrors[0], "Launch the shop") || !strings.Contains(mirrors[0], "The shop goes live.") {
		t.Fatalf("mirrors in ACMEP: %q, want exactly the published issue", mirrors)
	}
	if strings.Contains(strings.Join(mirrors, "\n"), "cnryINTERNAL") {
		t.Fatal("an unpublished issue reached the mirror project")
	}
	writes := f.Writes(fakejira.WriterCred)
	mustRun(t, env, "sync")
	if got := f.Writes(fakejira.WriterCred); got != writes {
		t.Errorf("a second sync without changes made %d writes", got-writes)
	}
	if r := mustRun(t, env, "validate", "--online"); !strings.Contains(r.Stdout, "ok") {
		t.Errorf("validate --online: %s", r)
	}
}
