package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// base is a small valid rules file that the error tests vary.
const base = `customers:
  - id: acme
    sources:
      - github: {repo: agency/acme-internal}
    publish: {label: client-visible}
    show: {body: all}
    targets:
      - page: {}
      - github: {repo: acme/acme-status}
`

// writeFiles writes files (name -> content) into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadErr loads main.yaml and returns its problems as printed, with the
// directory taken off file names. It fails the test when Load succeeds.
func loadErr(t *testing.T, files map[string]string) []string {
	t.Helper()
	dir := writeFiles(t, files)
	r, err := Load(filepath.Join(dir, "main.yaml"))
	if err == nil {
		t.Fatalf("Load succeeded, want problems; customers: %d", len(r.Customers))
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load error is %T (%v), want Problems", err, err)
	}
	if r != nil {
		t.Errorf("Load returned rules along with problems")
	}
	out := strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
	for _, line := range out {
		if !problemLine.MatchString(line) {
			t.Errorf("problem %q is not file:line: field: problem", line)
		}
	}
	return out
}

func loadOK(t *testing.T, files map[string]string) *Rules {
	t.Helper()
	dir := writeFiles(t, files)
	r, err := Load(filepath.Join(dir, "main.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

var problemLine = regexp.MustCompile(`^[^:]+:\d+: [^:]+: .+`)

// wantProblem fails unless one of got is exactly want.
func wantProblem(t *testing.T, got []string, want string) {
	t.Helper()
	if !slices.Contains(got, want) {
		t.Errorf("missing problem\n  want %s\n  got:\n    %s", want, strings.Join(got, "\n    "))
	}
}

// wantProblemLike fails unless one of got starts with prefix and contains
// every one of parts.
func wantProblemLike(t *testing.T, got []string, prefix string, parts ...string) {
	t.Helper()
	for _, g := range got {
		if !strings.HasPrefix(g, prefix) {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(g, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("missing problem %s ... %q\n  got:\n    %s", prefix, parts, strings.Join(got, "\n    "))
}

func TestFullSampleLoads(t *testing.T) {
	r, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load(testdata/full.yaml): %v", err)
	}
	if want := []string{"testdata/full.yaml", "testdata/customers.d/globex.yaml"}; !slices.Equal(r.Files, want) {
		t.Errorf("Files = %q, want %q", r.Files, want)
	}
	if r.Reconcile.Interval.Duration != 10*time.Minute {
		t.Errorf("interval = %v", r.Reconcile.Interval)
	}
	if len(r.Customers) != 2 || r.Customers[0].ID != "acme" || r.Customers[1].ID != "globex" {
		t.Fatalf("customers: %+v", r.Customers)
	}
	c := r.Customers[0]
	abs, _ := filepath.Abs("testdata/board.yaml")
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", c.Name, "ACME Corp"},
		{"timezone", c.Timezone, "Europe/Berlin"},
		{"pos", c.Pos, Pos{"testdata/full.yaml", 6}},
		{"github source", *c.Sources[0].GitHub, GitHubSource{Repo: "agency/acme-internal", StatusFrom: "label_prefix:status: ", APIURL: "https://api.github.com", TokenEnv: "GITHUB_TOKEN"}},
		{"github source pos", c.Sources[0].Pos, Pos{"testdata/full.yaml", 11}},
		{"jira source", *c.Sources[1].Jira, JiraSource{Project: "ACME", JQL: "component = Website", Milestones: "versions", URL: "https://agency.atlassian.net", EmailEnv: "JIRA_EMAIL", TokenEnv: "JIRA_API_TOKEN", Fields: map[string]string{"Budget": "customfield_10010", "Sprint": "customfield_10020"}}},
		{"file source", *c.Sources[2].File, FileSource{Path: "board.yaml", Resolved: abs, Key: "board.yaml"}},
		{"file source pos", c.Sources[2].Pos, Pos{"testdata/full.yaml", 24}},
		{"publish", c.Publish, Publish{Label: "client-visible", HideLabel: "client-hidden", When: `item.Type != "bug"`, StatusAuthors: []string{"pm-anna"}, StatusItem: "ACME-1", AllowSecurityLevels: []string{"Client"}, WhenPos: Pos{"testdata/full.yaml", 29}}},
		{"show", c.Show, Show{Title: "source", Body: "section", BodySection: "Client summary", InternalMarker: "Internal", Comments: "marked", CommentMarker: "[client]", CommentAuthor: "team", TeamName: "ACME team", Dates: true, Progress: true, MilestoneDescription: "none", LinkDomains: []string{"acme.example"}, Fields: []string{"Budget"}}},
		{"status map order", c.Statuses.Map.Keys, []string{"In Review", "QA", "Blocked"}},
		{"status map", c.Statuses.Map.Values, map[string]string{"In Review": "In progress", "QA": "In progress", "Blocked": "On hold"}},
		{"statuses", [3]string{c.Statuses.Default, c.Statuses.Done, c.Statuses.Cancelled}, [3]string{"In progress", "Done", "retract"}},
		{"buffer", c.Dates.BufferDays, 5},
		{"page", *c.Targets[0].Page, PageTarget{Feed: "full"}},
		{"page pos", c.Targets[0].Pos, Pos{"testdata/full.yaml", 56}},
		{"github target", *c.Targets[1].GitHub, GitHubTarget{Repo: "acme/acme-status", Retract: "neutralize", APIURL: "https://api.github.com", TokenEnv: "GITHUB_TOKEN", LabelPrefix: "status: "}},
		{"jira target", *c.Targets[2].Jira, JiraTarget{Project: "ACMEP", IssueType: "Task", Transitions: map[string][]string{"Done": {"Start", "Resolve"}, "On hold": {"Pause"}}, Retract: "neutralize", TargetDelay: Duration{time.Hour}, URL: "https://acme.atlassian.net", EmailEnv: "ACME_JIRA_EMAIL", TokenEnv: "ACME_JIRA_TOKEN"}},
		{"jira target pos", c.Targets[2].Pos, Pos{"testdata/full.yaml", 64}},
		{"field pos", c.PosOf("show.body"), Pos{"testdata/full.yaml", 35}},
		{"map entry pos", c.PosOf("targets[2].jira.transitions[On hold]"), Pos{"testdata/full.yaml", 67}},
		{"included customer pos", r.Customers[1].Pos, Pos{"testdata/customers.d/globex.yaml", 3}},
		{"include pos", r.PosOf("include[0]"), Pos{"testdata/full.yaml", 4}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", ch.name, ch.got, ch.want)
		}
	}
	if p, ok := c.Sources[0].GitHub.StatusLabelPrefix(); !ok || p != "status: " {
		t.Errorf("StatusLabelPrefix = %q, %v", p, ok)
	}
}

// yamlKeys lists the keys a type accepts, as dotted paths without indices.
func yamlKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == durationType || t == orderedMapType {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		out[prefix+name] = true
		yamlKeys(f.Type, prefix+name+".", out)
	}
}

// usedKeys lists the keys a YAML tree writes, as yamlKeys names them.
func usedKeys(n *yaml.Node, prefix string, dataAt map[string]bool, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			usedKeys(c, prefix, dataAt, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			out[k] = true
			if !dataAt[k] {
				usedKeys(n.Content[i+1], k+".", dataAt, out)
			}
		}
	}
}

// The sample is what the docs point to: it must show every key there is,
// so a new field fails here until the sample names it.
func TestFullSampleUsesEveryKey(t *testing.T) {
	want := map[string]bool{}
	yamlKeys(reflect.TypeFor[Rules](), "", want)
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// Below these keys the YAML holds data (names, statuses), not keys.
	dataAt := map[string]bool{"customers.statuses.map": true, "customers.sources.jira.fields": true, "customers.targets.jira.transitions": true}
	used := map[string]bool{}
	usedKeys(&doc, "", dataAt, used)
	for k := range want {
		if !used[k] {
			t.Errorf("testdata/full.yaml does not use key %s", k)
		}
	}
	if len(want) < 70 {
		t.Errorf("only %d keys found in the types: the walk is broken", len(want))
	}
}

func TestDefaultsAreApplied(t *testing.T) {
	r := loadOK(t, map[string]string{"main.yaml": `customers:
  - id: acme
    sources:
      - github: {repo: agency/acme-internal}
      - jira: {project: ACME}
    publish: {label: client-visible}
    targets:
      - page:
      - github: {repo: acme/acme-status}
      - jira: {project: ACMEP}
`})
	c := r.Customers[0]
	got := map[string]any{
		"interval":              r.Reconcile.Interval.Duration,
		"name":                  c.Name,
		"timezone":              c.Timezone,
		"title":                 c.Show.Title,
		"body":                  c.Show.Body,
		"comments":              c.Show.Comments,
		"comment_marker":        c.Show.CommentMarker,
		"comment_author":        c.Show.CommentAuthor,
		"milestone_description": c.Show.MilestoneDescription,
		"default":               c.Statuses.Default,
		"done":                  c.Statuses.Done,
		"cancelled":             c.Statuses.Cancelled,
		"status_from":           c.Sources[0].GitHub.StatusFrom,
		"source token_env":      c.Sources[0].GitHub.TokenEnv,
		"milestones":            c.Sources[1].Jira.Milestones,
		"feed":                  c.Targets[0].Page.Feed,
		"github retract":        c.Targets[1].GitHub.Retract,
		"label_prefix":          c.Targets[1].GitHub.LabelPrefix,
		"target token_env":      c.Targets[1].GitHub.TokenEnv,
		"jira retract":          c.Targets[2].Jira.Retract,
		"issue_type":            c.Targets[2].Jira.IssueType,
	}
	want := map[string]any{
		"interval":              10 * time.Minute,
		"name":                  "", // no default: the page then says "Project status", never the id
		"timezone":              "UTC",
		"title":                 "source",
		"body":                  "none",
		"comments":              "none",
		"comment_marker":        "[client]",
		"comment_author":        "team",
		"milestone_description": "none",
		"default":               "In progress",
		"done":                  "Done",
		"cancelled":             "retract",
		"status_from":           "state",
		"source token_env":      "GITHUB_TOKEN",
		"milestones":            "versions",
		"feed":                  "full",
		"github retract":        "neutralize",
		"label_prefix":          "status: ",
		"target token_env":      "GITHUB_TOKEN",
		"jira retract":          "neutralize",
		"issue_type":            "Task",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	before := r.Customers[0]
	r.ApplyDefaults()
	if !reflect.DeepEqual(before, r.Customers[0]) {
		t.Errorf("ApplyDefaults twice changed the customer")
	}
}

func TestIncludeErrorNamesIncludedFileAndLine(t *testing.T) {
	_, err := Load("testdata/include-error/main.yaml")
	want := `testdata/include-error/customers.d/globex.yaml:7: customers[globex].show.bdy: unknown key (did you mean "body"?)`
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
}

func TestIncludeCycleIsAnError(t *testing.T) {
	_, err := Load("testdata/include-cycle/a.yaml")
	want := "testdata/include-cycle/b.yaml:1: include[0]: include cycle: a.yaml -> b.yaml -> a.yaml"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
}

func TestNestedIncludesResolveRelativeToTheirFile(t *testing.T) {
	r, err := Load("testdata/include-nested/main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testdata/include-nested/main.yaml", "testdata/include-nested/teams/one.yaml", "testdata/include-nested/teams/more/two.yaml"}
	if !slices.Equal(r.Files, want) {
		t.Errorf("Files = %q, want %q", r.Files, want)
	}
	board, _ := filepath.Abs("testdata/include-nested/boards/board.yaml")
	for _, c := range r.Customers {
		if got := c.Sources[0].File.Resolved; got != board {
			t.Errorf("%s: board resolved to %s, want %s", c.ID, got, board)
		}
	}
}

func TestIncludedFileHoldsOnlyCustomers(t *testing.T) {
	got := loadErr(t, map[string]string{
		"main.yaml":  "include: [more.yaml]\n" + base,
		"more.yaml":  "reconcile: {interval: 1m}\n",
		"other.yaml": "",
	})
	wantProblem(t, got, "more.yaml:1: reconcile: unknown key (want one of customers, include)")
}

func TestIncludeThatMatchesNothingIsAnError(t *testing.T) {
	got := loadErr(t, map[string]string{"main.yaml": "include:\n  - customers.d/*.yaml\n  - extra.yaml\n" + base})
	wantProblemLike(t, got, `main.yaml:2: include[0]: "customers.d/*.yaml" matches no file`)
	wantProblemLike(t, got, `main.yaml:3: include[1]: no such file "extra.yaml"`)
}

func TestFileIncludedTwiceIsAnError(t *testing.T) {
	got := loadErr(t, map[string]string{
		"main.yaml": "include: [a.yaml, ./a.yaml]\n" + base,
		"a.yaml":    "customers: []\n",
	})
	wantProblemLike(t, got, "main.yaml:1: include[1]: ", "a.yaml is already included")
}

func TestMainFileMissingIsAPlainError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var ps Problems
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ps) {
		t.Errorf("Load(missing) = %v, want a not-exist error that is not Problems", err)
	}
}

func TestMalformedYAMLReportsTheParsersLine(t *testing.T) {
	_, err := Load("testdata/malformed.yaml")
	want := "testdata/malformed.yaml:4: yaml: did not find expected ',' or '}'"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
	cases := []struct{ src, want string }{
		{"customers:\n  - id: acme\n    name: a: b\n", "main.yaml:3: yaml: mapping values are not allowed in this context"},
		{"customers:\n  - id: acme\n  name: x\n", "main.yaml:2: yaml: did not find expected '-' indicator"},
		{"reconcile: {}\ncustomers: [\n", "main.yaml:3: yaml: did not find expected node content"},
		{"customers:\n- id: acme\n  name: *nope\n", "main.yaml:3: yaml: unknown anchor 'nope' referenced"},
		{"customers:\n  - id: acme\n    name: \"\x01\"\n", "main.yaml:3: yaml: control characters are not allowed"},
		{"customers: []\n---\ncustomers: []\n", "main.yaml:3: yaml: a second YAML document (---) is not allowed: use include for more files"},
	}
	for _, c := range cases {
		got := loadErr(t, map[string]string{"main.yaml": c.src})
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%q:\n got  %q\n want %q", c.src, got, c.want)
		}
	}
}

func TestTabIndentationIsReportedOnItsLine(t *testing.T) {
	_, err := Load("testdata/tabs.yaml")
	want := "testdata/tabs.yaml:3: yaml: found a tab character that violates indentation"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
}

func TestUnknownKeysAreAllReported(t *testing.T) {
	got := loadErr(t, map[string]string{"main.yaml": `reconcile: {interval: 5m, jitter: 1m}
custmers: []
customers:
  - id: acme
    sources:
      - github: {repo: agency/acme-internal, branch: main}
    publish: {label: client-visible, lable: x}
    show:
      bdy: all
    targets:
      - page: {feeds: off}
`})
	for _, w := range []string{
		`main.yaml:1: reconcile.jitter: unknown key (want one of interval)`,
		`main.yaml:2: custmers: unknown key (did you mean "customers"?)`,
		`main.yaml:6: customers[acme].sources[0].github.branch: unknown key (want one of api_url, repo, status_from, token_env)`,
		`main.yaml:7: customers[acme].publish.lable: unknown key (did you mean "label"?)`,
		`main.yaml:9: customers[acme].show.bdy: unknown key (did you mean "body"?)`,
		`main.yaml:11: customers[acme].targets[0].page.feeds: unknown key (did you mean "feed"?)`,
	} {
		wantProblem(t, got, w)
	}
	if len(got) != 6 {
		t.Errorf("want exactly 6 problems, got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
}

func TestCustomerWithoutSlugIDIsNamedByIndex(t *testing.T) {
	got := loadErr(t, map[string]string{"main.yaml": base + `  - id: "Big Co:1"
    sources: [{github: {repo: agency/big}}]
    publish: {label: big-visible}
    targets: [{page: {}}]
    shoe: {}
`})
	wantProblemLike(t, got, `main.yaml:10: customers[1].id: "Big Co:1" is not a slug`)
	wantProblem(t, got, `main.yaml:14: customers[1].shoe: unknown key (did you mean "show"?)`)
}

func TestWrongShapesAreReportedOnce(t *testing.T) {
	got := loadErr(t, map[string]string{"main.yaml": `customers:
  - id: acme
    paused: maybe
    sources: {github: {repo: agency/acme-internal}}
    publish: {label: [a, b]}
    dates: {buffer_days: soon}
    targets: page
`})
	want := []string{
		`main.yaml:3: customers[acme].paused: want true or false, got "maybe"`,
		`main.yaml:4: customers[acme].sources: want a list, got a mapping`,
		`main.yaml:5: customers[acme].publish.label: want a text value, got a list`,
		`main.yaml:6: customers[acme].dates.buffer_days: want a whole number, got "soon"`,
		`main.yaml:7: customers[acme].targets: want a list, got "page"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExplicitEmptyValueIsAnError(t *testing.T) {
	src := strings.Replace(base, "show: {body: all}", `show: {body: all, comment_marker: ""}`, 1)
	src = strings.Replace(src, "    targets:", "    statuses:\n      cancelled:\n    targets:", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblem(t, got, "main.yaml:6: customers[acme].show.comment_marker: "+emptyValue)
	wantProblem(t, got, "main.yaml:8: customers[acme].statuses.cancelled: "+emptyValue)
}

func TestDuplicateKeysAreErrors(t *testing.T) {
	src := strings.Replace(base, "show: {body: all}", "show: {body: all, body: none}\n    statuses: {map: {QA: Testing, QA: Done}}", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblem(t, got, `main.yaml:6: customers[acme].show.body: key "body" written twice (first at line 6)`)
	wantProblem(t, got, `main.yaml:7: customers[acme].statuses.map[QA]: key "QA" written twice (first at line 7)`)
}

func TestDuplicateCustomerIDs(t *testing.T) {
	src := base + `  - id: acme
    sources: [{github: {repo: agency/other}}]
    publish: {label: other-visible}
    targets: [{page: {}}]
`
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:10: customers[acme].id: customer id \"acme\" is already used at ", "main.yaml:2")
}

func TestUnknownStatusFrom(t *testing.T) {
	src := strings.Replace(base, "{repo: agency/acme-internal}", "{repo: agency/acme-internal, status_from: labels}", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblem(t, got, `main.yaml:4: customers[acme].sources[0].github.status_from: unknown status_from "labels" (want state or label_prefix:<prefix>)`)

	src = strings.Replace(base, "{repo: agency/acme-internal}", `{repo: agency/acme-internal, status_from: "label_prefix: "}`, 1)
	got = loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, `main.yaml:4: customers[acme].sources[0].github.status_from: label_prefix needs a prefix`)
}

func TestEveryEnum(t *testing.T) {
	cases := []struct {
		field string // path under customers[acme]
		old   string // text of base to replace
		tmpl  string // replacement, %s the value
		line  int
		good  []string
	}{
		{"show.title", "show: {body: all}", "show: {body: all, body_section: Summary, title: %s}", 6, []string{"source", "section"}},
		{"show.body", "show: {body: all}", "show: {body_section: Summary, body: %s}", 6, []string{"none", "section", "all"}},
		{"show.comments", "show: {body: all}", "show: {comments: %s}", 6, []string{"none", "marked"}},
		{"show.comment_author", "show: {body: all}", "show: {comment_author: %s}", 6, []string{"team", "name"}},
		{"show.milestone_description", "show: {body: all}", "show: {milestone_description: %s}", 6, []string{"none", "section"}},
		{"targets[0].page.feed", "- page: {}", "- page: {feed: %s}", 8, []string{"full", "titles", "off"}},
		{"targets[1].github.retract", "{repo: acme/acme-status}", "{repo: acme/acme-status, retract: %s}", 9, []string{"neutralize", "delete"}},
		{"targets[1].jira.retract", "github: {repo: acme/acme-status}", "jira: {project: ACMEP, retract: %s}", 9, []string{"neutralize", "delete"}},
		{"sources[0].jira.milestones", "github: {repo: agency/acme-internal}", "jira: {project: ACME, milestones: %s}", 4, []string{"versions", "epics"}},
		{"sources[0].github.status_from", "{repo: agency/acme-internal}", `{repo: agency/acme-internal, status_from: "%s"}`, 4, []string{"state", "label_prefix:status: ", "label_prefix:x"}},
	}
	for _, c := range cases {
		for _, v := range c.good {
			src := strings.Replace(base, c.old, strings.ReplaceAll(c.tmpl, "%s", v), 1)
			loadOK(t, map[string]string{"main.yaml": src})
		}
		src := strings.Replace(base, c.old, strings.ReplaceAll(c.tmpl, "%s", "bogus"), 1)
		got := loadErr(t, map[string]string{"main.yaml": src})
		prefix := "main.yaml:" + strconv.Itoa(c.line) + ": customers[acme]." + c.field + ": "
		if c.field == "sources[0].github.status_from" {
			wantProblemLike(t, got, prefix, `unknown status_from "bogus"`)
			continue
		}
		wantProblemLike(t, got, prefix, `unknown value "bogus" (want `+orList(c.good)+")")
	}
}

func TestSectionNeedsBodySection(t *testing.T) {
	src := strings.Replace(base, "show: {body: all}", "show: {body: section, title: section}", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:6: customers[acme].show.body: body: section needs show.body_section")
	wantProblemLike(t, got, "main.yaml:6: customers[acme].show.title: title: section needs show.body_section")
}

func TestFieldRules(t *testing.T) {
	cases := []struct{ old, new, want string }{
		{"show: {body: all}", "show: {body: all, link_domains: [acme.example, https://acme.example, acme.example/x, '*.acme.example', 'ACME.example', 'acme.example:443']}",
			`main.yaml:6: customers[acme].show.link_domains[1]: "https://acme.example" is not a bare host name`},
		{"show: {body: all}", "show: {body: all, link_domains: ['*.acme.example']}", `main.yaml:6: customers[acme].show.link_domains[0]: "*.acme.example" is not a bare host name`},
		{"show: {body: all}", "show: {body: all, link_domains: ['acme.example:443']}", `main.yaml:6: customers[acme].show.link_domains[0]: "acme.example:443" is not a bare host name`},
		{"show: {body: all}", "show: {body: all}\n    dates: {buffer_days: 366}", "main.yaml:7: customers[acme].dates.buffer_days: 366 is out of range 0..365"},
		{"show: {body: all}", "show: {body: all}\n    dates: {buffer_days: -1}", "main.yaml:7: customers[acme].dates.buffer_days: -1 is out of range 0..365"},
		{"github: {repo: agency/acme-internal}", "jira: {project: ACME, jql: 'status = Open order\n  by rank'}", "main.yaml:4: customers[acme].sources[0].jira.jql: jql must not contain ORDER BY"},
		{"github: {repo: agency/acme-internal}", "jira: {project: ACME, jql: '   '}", "main.yaml:4: customers[acme].sources[0].jira.jql: blank jql"},
		{"github: {repo: agency/acme-internal}", "jira: {project: acme}", `main.yaml:4: customers[acme].sources[0].jira.project: "acme" is not a Jira project key`},
		{"github: {repo: agency/acme-internal}", "jira: {project: A}", `main.yaml:4: customers[acme].sources[0].jira.project: "A" is not a Jira project key`},
		{"github: {repo: agency/acme-internal}", "github: {repo: acme-internal}", `main.yaml:4: customers[acme].sources[0].github.repo: "acme-internal" is not owner/name`},
		{"github: {repo: agency/acme-internal}", "github: {repo: agency/acme-internal, token_env: GH-TOKEN}", `main.yaml:4: customers[acme].sources[0].github.token_env: "GH-TOKEN" is not an environment variable name`},
		{"github: {repo: agency/acme-internal}", "github: {repo: agency/acme-internal, api_url: 'https://u:p@ghe.example/api/v3'}", `main.yaml:4: customers[acme].sources[0].github.api_url: the URL must not carry credentials`},
		{"github: {repo: agency/acme-internal}", "file: {path: nowhere.yaml}", `main.yaml:4: customers[acme].sources[0].file.path: board file "nowhere.yaml" not found`},
		{"github: {repo: agency/acme-internal}", "{}", `main.yaml:4: customers[acme].sources[0]: want one of github, jira or file`},
		{"publish: {label: client-visible}", "publish: {hide_label: x}", "main.yaml:5: customers[acme].publish.label: required"},
		{"publish: {label: client-visible}", "publish: {label: client-visible, hide_label: Client-Visible}", `main.yaml:5: customers[acme].publish.hide_label: hide_label is the same as label "client-visible"`},
		{"- github: {repo: agency/acme-internal}", "- jira: {project: ACME}\n    publish: {label: client visible}", `main.yaml:5: customers[acme].publish.label: "client visible" has a space`},
		{"- page: {}", "- page: {}\n      - page: {feed: titles}", "main.yaml:9: customers[acme].targets[1].page: a customer has at most one page"},
		{"- page: {}", "- {page: {}, github: {repo: acme/x}}", "main.yaml:8: customers[acme].targets[0]: want exactly one of page, github or jira, got page and github"},
		{"github: {repo: acme/acme-status}", "github: {repo: acme/acme-status, target_delay: -5m}", "main.yaml:9: customers[acme].targets[1].github.target_delay: must not be negative, got -5m0s"},
		{"github: {repo: acme/acme-status}", "github: {repo: acme/acme-status, target_delay: soon}", `main.yaml:9: customers[acme].targets[1].github.target_delay: "soon" is not a duration`},
		{"github: {repo: acme/acme-status}", "jira: {project: ACMEP, transitions: {Done: []}}", `main.yaml:9: customers[acme].targets[1].jira.transitions[Done]: empty list`},
		{"github: {repo: acme/acme-status}", "jira: {project: ACMEP, transitions: {Shipped: [Ship]}}", `main.yaml:9: customers[acme].targets[1].jira.transitions[Shipped]: "Shipped" is not a status this customer is shown (want one of Done, In progress)`},
		{"github: {repo: acme/acme-status}", "jira: {project: ACMEP, target_delay: -1s}", "main.yaml:9: customers[acme].targets[1].jira.target_delay: must not be negative"},
		{"    sources:\n      - github: {repo: agency/acme-internal}\n", "", "main.yaml:2: customers[acme].sources: at least one source is required"},
		{"    targets:\n      - page: {}\n      - github: {repo: acme/acme-status}\n", "", "main.yaml:2: customers[acme].targets: at least one target is required"},
		{"  - id: acme\n", "  - id: acme\n    timezone: Mars/Olympus\n", `main.yaml:3: customers[acme].timezone: unknown time zone "Mars/Olympus"`},
		{"  - id: acme\n", "  - id: acme\n    timezone: Local\n", `main.yaml:3: customers[acme].timezone: Local depends on the machine`},
		{"customers:\n", "reconcile: {interval: -1m}\ncustomers:\n", "main.yaml:1: reconcile.interval: must be positive, got -1m0s"},
		{"show: {body: all}", "show: {body: all}\n    statuses: {map: {QA: ''}}", "main.yaml:7: customers[acme].statuses.map[QA]: empty status word"},
		{"show: {body: all}", "show: {body: all, link_domains: [ACME.example]}", `main.yaml:6: customers[acme].show.link_domains[0]: write host names in lower case: "acme.example"`},
		{"- page: {}", "- page: {}\n      -\n", "main.yaml:9: customers[acme].targets[1]: empty entry"},
		{"customers:\n", "customers:\n  -\n", "main.yaml:2: customers[0]: empty entry"},
	}
	for _, c := range cases {
		if !strings.Contains(base, c.old) {
			t.Fatalf("base has no %q", c.old)
		}
		got := loadErr(t, map[string]string{"main.yaml": strings.Replace(base, c.old, c.new, 1)})
		wantProblemLike(t, got, c.want)
	}
}

func TestFileSourceResolvesAgainstTheFileThatNamesIt(t *testing.T) {
	r := loadOK(t, map[string]string{
		"main.yaml":              "include: [teams/*.yaml]\n",
		"teams/acme.yaml":        strings.Replace(base, "github: {repo: agency/acme-internal}", "file: {path: boards/acme.yaml}", 1),
		"teams/boards/acme.yaml": "items: []\n",
	})
	got := r.Customers[0].Sources[0].File
	if got.Path != "boards/acme.yaml" || !strings.HasSuffix(got.Resolved, filepath.FromSlash("/teams/boards/acme.yaml")) || !filepath.IsAbs(got.Resolved) {
		t.Errorf("file source = %+v", got)
	}
}

func TestOverlappingCustomersAreRejected(t *testing.T) {
	other := func(source, label string) string {
		return "  - id: globex\n    sources: [" + source + "]\n    publish: {label: " + label + "}\n    targets: [{page: {}}]\n"
	}
	got := loadErr(t, map[string]string{"main.yaml": base + other("{github: {repo: Agency/ACME-internal}}", "Client-Visible")})
	wantProblemLike(t, got, "main.yaml:11: customers[globex].sources[0]: customers acme and globex share source github agency/acme-internal", `label "Client-Visible"`)

	// Another label keeps the selections apart.
	loadOK(t, map[string]string{"main.yaml": base + other("{github: {repo: agency/acme-internal}}", "globex-visible")})

	// A Jira project on the default site may be the one named by url.
	jira := strings.Replace(base, "github: {repo: agency/acme-internal}", "jira: {project: ACME}", 1)
	got = loadErr(t, map[string]string{"main.yaml": jira + other("{jira: {project: ACME, url: 'https://agency.atlassian.net', jql: 'component = Web'}}", "client-visible")})
	wantProblemLike(t, got, "main.yaml:11: customers[globex].sources[0]: customers acme and globex share source jira ACME on agency.atlassian.net")

	// One board file named two ways is one source.
	files := map[string]string{
		"main.yaml":  strings.Replace(base, "github: {repo: agency/acme-internal}", "file: {path: board.yaml}", 1) + other("{file: {path: sub/../board.yaml}}", "client-visible"),
		"board.yaml": "items: []\n",
		"sub/x.yaml": "",
	}
	got = loadErr(t, files)
	wantProblemLike(t, got, "main.yaml:11: customers[globex].sources[0]: customers acme and globex share source file ", "board.yaml")
}

func TestSameSourceTwiceInOneCustomerIsRejected(t *testing.T) {
	src := strings.Replace(base, "      - github: {repo: agency/acme-internal}\n", "      - github: {repo: agency/acme-internal}\n      - github: {repo: agency/acme-internal, status_from: state}\n", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:5: customers[acme].sources[1]: github agency/acme-internal is already a source of this customer")
}

func TestTargetThatIsASourceIsRejected(t *testing.T) {
	src := strings.Replace(base, "{repo: acme/acme-status}", "{repo: agency/acme-internal}", 1)
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:9: customers[acme].targets[1].github: github agency/acme-internal is also a source of customer acme", "read back its own writes")

	// Also when the source belongs to another customer.
	src = base + "  - id: globex\n    sources: [{github: {repo: acme/acme-status}}]\n    publish: {label: globex-visible}\n    targets: [{page: {}}]\n"
	got = loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:9: customers[acme].targets[1].github: github acme/acme-status is also a source of customer globex")

	jira := strings.Replace(base, "github: {repo: agency/acme-internal}", "jira: {project: ACME}", 1)
	jira = strings.Replace(jira, "github: {repo: acme/acme-status}", "jira: {project: ACME, url: 'https://x.atlassian.net'}", 1)
	got = loadErr(t, map[string]string{"main.yaml": jira})
	wantProblemLike(t, got, "main.yaml:9: customers[acme].targets[1].jira: jira ACME on x.atlassian.net is also a source of customer acme")
}

func TestTwoCustomersWritingOneTargetAreRejected(t *testing.T) {
	src := base + "  - id: globex\n    sources: [{github: {repo: agency/globex}}]\n    publish: {label: globex-visible}\n    targets: [{github: {repo: ACME/acme-status}}]\n"
	got := loadErr(t, map[string]string{"main.yaml": src})
	wantProblemLike(t, got, "main.yaml:13: customers[globex].targets[0].github: github acme/acme-status is already the target of customer acme", "overwrite each other")
}

func TestAnchorsAliasesAndMergeKeysWork(t *testing.T) {
	r := loadOK(t, map[string]string{"main.yaml": `customers:
  - id: acme
    sources: [{github: {repo: agency/acme}}]
    publish: {label: acme-visible}
    show: &show {body: all, comments: marked, link_domains: [agency.example]}
    targets: &page [{page: {feed: titles}}]
  - id: globex
    sources: [{github: {repo: agency/globex}}]
    publish: {label: globex-visible}
    show:
      <<: *show
      comments: none
    targets: *page
`})
	g := r.Customers[1]
	if g.Show.Body != "all" || g.Show.Comments != "none" || !slices.Equal(g.Show.LinkDomains, []string{"agency.example"}) || g.Targets[0].Page.Feed != "titles" {
		t.Errorf("globex = %+v %+v", g.Show, g.Targets[0].Page)
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Each level fans out a thousand-fold through aliases: walked in full
	// it would be 10^9 values.
	var b strings.Builder
	b.WriteString("customers:\n  - &c\n    id: acme\n    sources: [{github: {repo: a/b}}]\n    publish: {label: x}\n    targets: &ts\n      - &t\n        jira:\n          project: ACMEP\n          transitions: {Done: &names [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("Go")
	}
	b.WriteString("]}\n")
	for range 999 {
		b.WriteString("      - *t\n")
	}
	for range 999 {
		b.WriteString("  - *c\n")
	}
	start := time.Now()
	got := loadErr(t, map[string]string{"main.yaml": b.String()})
	wantProblemLike(t, got, "main.yaml:", "the document expands to too many values (aliases)")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("alias expansion took %v", d)
	}
}

func TestProblemsAreSortedAndOneLineEach(t *testing.T) {
	ps := Problems{
		{Pos{"b.yaml", 2}, "x", "second\nline"},
		{Pos{"a.yaml", 9}, "y", "late"},
		{Pos{"a.yaml", 1}, "z", "early"},
		{Pos{"b.yaml", 2}, "w", "same line, found later"},
	}
	want := "a.yaml:1: z: early\na.yaml:9: y: late\nb.yaml:2: x: second line\nb.yaml:2: w: same line, found later"
	if got := ps.Err().Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if (Problems{}).Err() != nil {
		t.Errorf("no problems must be a nil error")
	}
	if got := (Problem{Field: "customers[0].id", Msg: "required"}).String(); got != "rules:0: customers[0].id: required" {
		t.Errorf("problem without a file = %q", got)
	}
}

func TestPosOfFallsBackToTheNearestWrittenParent(t *testing.T) {
	r := loadOK(t, map[string]string{"main.yaml": base})
	c := r.Customers[0]
	if got := c.PosOf("show.title"); got.Line != 6 {
		t.Errorf("show.title (unwritten) = %v, want line 6 (show)", got)
	}
	if got := c.PosOf("statuses.done"); got.Line != 2 {
		t.Errorf("statuses.done (unwritten) = %v, want line 2 (the customer)", got)
	}
	if got := c.PosOf("targets[1].github.repo"); got.Line != 9 {
		t.Errorf("targets[1].github.repo = %v, want line 9", got)
	}
}

func TestValidateRulesBuiltInCode(t *testing.T) {
	r := &Rules{Customers: []Customer{{
		ID:      "acme",
		Sources: []Source{{GitHub: &GitHubSource{Repo: "agency/acme"}}},
		Publish: Publish{Label: "client-visible"},
		Targets: []Target{{Page: &PageTarget{}}},
	}}}
	if err := r.Validate(); err == nil {
		t.Errorf("Validate without defaults accepted an empty page feed")
	}
	r.ApplyDefaults()
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	r.Customers[0].Targets = append(r.Customers[0].Targets, Target{GitHub: &GitHubTarget{Repo: "agency/acme"}})
	r.ApplyDefaults()
	err := r.Validate()
	want := "rules:0: customers[acme].targets[1].github: github agency/acme is also a source of customer acme (at rules:0): vitrine would read back its own writes"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
}
