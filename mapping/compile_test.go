package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"vitrine/config"
)

func compileErr(t *testing.T, src string) string {
	t.Helper()
	_, err := Compile(parseRules(t, "vitrine.yaml", []byte(src)))
	if err == nil {
		t.Fatal("Compile accepted bad rules")
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want Problems: %v", err, err)
	}
	return err.Error()
}

const whenRules = `customers:
  - id: acme
    name: ACME Corp
    sources:
      - file: {path: board.yaml}
    publish:
      label: client-visible
      when: %s
`

func TestCompileWhenErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, when, want string
	}{
		{"syntax", `'item.Type != '`, "unexpected token EOF"},
		{"unknown field", `'item.Typo == "bug"'`, "has no field Typo"},
		{"unknown variable", `'issue.Type == "bug"'`, "unknown name issue"},
		{"non-bool result", `'item.Title'`, "expected bool"},
		{"now() disabled", `'now().Year() > 2000'`, "now"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := compileErr(t, strings.Replace(whenRules, "%s", tc.when, 1))
			if !strings.HasPrefix(msg, "vitrine.yaml:8: customers[acme].publish.when: ") {
				t.Errorf("error %q does not start with vitrine.yaml:8: customers[acme].publish.when:", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans lines; want one file:line problem", msg)
			}
		})
	}
}

func TestCompileAcceptsWhenOverEveryDocumentedField(t *testing.T) {
	when := `'item.Type != "bug" && item.Kind != "epic" && item.Status != "x" && item.State == "open" && "a" in item.Labels && item.Title != "" && item.Ref != "" && item.Milestone != "" && len(item.Assignees) > 0 && item.Fields["cost"] == nil && item.Source != "" && !item.HasParent && item.Due < "2030-01-01"'`
	mustRules(t, strings.Replace(whenRules, "%s", when, 1))
}

func TestCompileRejectsBadSettings(t *testing.T) {
	cases := []struct{ name, extra, want string }{
		{"timezone", "    timezone: Mars/Olympus\n", "timezone"},
		{"body mode", "    show: {body: everything}\n", "show.body"},
		{"title mode", "    show: {title: heading}\n", "show.title"},
		{"comments mode", "    show: {comments: all}\n", "show.comments"},
		{"author mode", "    show: {comment_author: email}\n", "show.comment_author"},
		{"milestone description", "    show: {milestone_description: all}\n", "show.milestone_description"},
		{"section without name", "    show: {body: section}\n", "show.body_section"},
		{"negative buffer", "    dates: {buffer_days: -1}\n", "dates.buffer_days"},
	}
	base := "customers:\n  - id: acme\n    sources:\n      - file: {path: board.yaml}\n    publish: {label: v}\n"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := compileErr(t, base+tc.extra)
			if !strings.HasPrefix(msg, "vitrine.yaml:2: customers[acme]."+tc.want+": ") {
				t.Errorf("error %q: want vitrine.yaml:2: customers[acme].%s: ...", msg, tc.want)
			}
		})
	}
}

func TestCompileRejectsDuplicateCustomersAndEmptySources(t *testing.T) {
	msg := compileErr(t, `customers:
  - id: acme
    sources: [{file: {path: a.yaml}}]
  - id: acme
    sources: [{file: {path: b.yaml}}]
  - id: beta
    sources:
      - github: {}
`)
	for _, want := range []string{"vitrine.yaml:4: customers[acme].id: ", "vitrine.yaml:8: customers[beta].sources: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestSourceKeys(t *testing.T) {
	cases := []struct {
		src  config.Source
		want string
	}{
		{config.Source{GitHub: &config.GitHubSource{Repo: "Agency/ACME-internal"}}, "github:agency/acme-internal"},
		{config.Source{GitHub: &config.GitHubSource{Repo: "agency/x", APIURL: "https://api.github.com"}}, "github:agency/x"},
		{config.Source{GitHub: &config.GitHubSource{Repo: "agency/x", APIURL: "https://GHE.example.com/api/v3"}}, "github:ghe.example.com/agency/x"},
		{config.Source{Jira: &config.JiraSource{Project: "ACME"}}, "jira:default/ACME"},
		// A jql filter is a source of its own; white space does not count.
		{config.Source{Jira: &config.JiraSource{Project: "ACME", JQL: "component = Website"}}, "jira:default/ACME~" + jqlHash("component = Website")},
		{config.Source{Jira: &config.JiraSource{Project: "ACME", JQL: " component  =\nWebsite "}}, "jira:default/ACME~" + jqlHash("component = Website")},
		{config.Source{Jira: &config.JiraSource{Project: "acme", URL: "https://agency.atlassian.net/"}}, "jira:agency.atlassian.net/ACME"},
		{config.Source{File: &config.FileSource{Path: "deploy/demo/board.yaml"}}, "file:deploy/demo/board.yaml"},
		{config.Source{}, ""},
		{config.Source{GitHub: &config.GitHubSource{Repo: "a/b"}, File: &config.FileSource{Path: "x"}}, ""},
		{config.Source{Jira: &config.JiraSource{}}, ""},
	}
	for _, tc := range cases {
		if got := SourceKey(tc.src); got != tc.want {
			t.Errorf("SourceKey(%+v) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestSetListsCustomersAndTheirSources(t *testing.T) {
	set := mustRules(t, `customers:
  - id: acme
    sources:
      - file: {path: shared.yaml}
      - jira: {project: ACME}
  - id: beta
    sources:
      - file: {path: shared.yaml}
      - file: {path: beta.yaml}
  - id: gamma
    sources:
      - file: {path: gamma.yaml}
`)
	var ids []string
	for _, c := range set.Customers() {
		ids = append(ids, c.ID())
	}
	if got := strings.Join(ids, ","); got != "acme,beta,gamma" {
		t.Errorf("customers %s, want file order acme,beta,gamma", got)
	}
	acme, ok := set.Customer("acme")
	if !ok {
		t.Fatal("no customer acme")
	}
	if got := strings.Join(acme.Sources(), " "); got != "file:shared.yaml jira:default/ACME" {
		t.Errorf("acme sources %q: want one key per container", got)
	}
	if got := strings.Join(set.SourcesFor("acme"), " "); got != "file:shared.yaml jira:default/ACME file:beta.yaml" {
		t.Errorf("SourcesFor(acme) = %q", got)
	}
	if got := strings.Join(set.SourcesFor("gamma"), " "); got != "file:gamma.yaml" {
		t.Errorf("SourcesFor(gamma) = %q", got)
	}
	if _, ok := set.Customer("nobody"); ok {
		t.Error("unknown customer found")
	}
}

func TestCompileKeepsRulesIndependentOfTheCallersConfig(t *testing.T) {
	r := parseRules(t, "vitrine.yaml", []byte(`customers:
  - id: acme
    sources: [{file: {path: b.yaml}}]
    publish: {label: v, allow_security_levels: [Staff]}
    statuses: {map: {QA: Testing}}
`))
	set, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Customers[0].Statuses.Map.Values["QA"] = "Leaked"
	r.Customers[0].Publish.AllowSecurityLevels[0] = "Secret"
	c, _ := set.Customer("acme")
	if w, _ := c.Config().Statuses.Map.Get("QA"); w != "Testing" {
		t.Errorf("status map changed with the caller's config: %q", w)
	}
	if c.allowSecLevels["Secret"] || !c.allowSecLevels["Staff"] {
		t.Error("security levels changed with the caller's config")
	}
}

func jqlHash(q string) string {
	sum := sha256.Sum256([]byte(q))
	return hex.EncodeToString(sum[:6])
}
