package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vitrine/mirror/page"
)

// Canary secrets: each names itself so a hit says which one leaked.
var secretCanaries = map[string]string{
	"VITRINE_PAGE_SECRET":                    "pagesecret-CANARY-5a1f9e3c7b",
	"VITRINE_KEY_SECRET":                     "keysecret-CANARY-2d8b4f6a0c",
	"GITHUB_TOKEN":                           "ghp_CANARYgithubtoken1234567890",
	"VITRINE_GITHUB_WEBHOOK_SECRET":          "ghwebhook-CANARY-77aa11",
	"VITRINE_GITHUB_WEBHOOK_SECRET_PREVIOUS": "ghwebhookprev-CANARY-88bb22",
	"VITRINE_JIRA_WEBHOOK_SECRET":            "jirawebhook-CANARY-99cc33",
	"JIRA_API_TOKEN":                         "jiratoken-CANARY-aabb44",
	"JIRA_EMAIL":                             "jira-CANARY-mail@example.com",
}

// Extra canaries the error variants use.
const (
	canaryFile     = "filesecret-CANARY-f00d55"
	canaryURLPass  = "urlpass-CANARY-beef66"
	canaryRedis    = "redispass-CANARY-cafe77"
	canaryShort    = "short-CANARY"
	canaryPAT      = "jirapat-CANARY-dd0088"
	canaryDupToken = "duptoken-CANARY-ee0099"
)

func secretEnv(dir string, extra ...string) []string {
	env := []string{
		"VITRINE_CONFIG=" + filepath.Join(dir, "vitrine.yaml"),
		"VITRINE_STORE=sqlite://" + filepath.Join(dir, "v.db"),
		"VITRINE_LOG_LEVEL=trace",
		"JIRA_URL=https://jira.example.com",
		"HOME=" + dir,
	}
	for k, v := range secretCanaries {
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

type leakSearch struct {
	t      *testing.T
	values map[string]string // what -> value
}

func (s *leakSearch) check(what, out string) {
	s.t.Helper()
	for name, v := range s.values {
		j, _ := json.Marshal(v)
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), string(j[1 : len(j)-1])} {
			if i := strings.Index(out, form); i >= 0 {
				s.t.Errorf("%s: %s leaked: …%s…", what, name, around(out, i))
				break
			}
		}
	}
}

// No secret in any output of any command, failing or not, at the most
// verbose log level; no page token in any log line.
func TestSecretsAndPageTokensNeverReachOutputOrLogs(t *testing.T) {
	t.Parallel()
	dir := copyDemo(t)
	writeFile(t, filepath.Join(dir, "secret-file"), canaryFile+"\n")
	env := secretEnv(dir)
	s := &leakSearch{t: t, values: map[string]string{}}
	for k, v := range secretCanaries {
		s.values[k] = v
	}
	for k, v := range map[string]string{"file secret": canaryFile, "URL password": canaryURLPass, "redis password": canaryRedis,
		"short page secret": canaryShort, "JIRA_PAT": canaryPAT, "duplicated GITHUB_TOKEN": canaryDupToken} {
		s.values[k] = v
	}
	pageSecret := []byte(secretCanaries["VITRINE_PAGE_SECRET"])
	// The tokens of the first epochs: the test rotates acme's.
	for _, c := range []string{"acme", "globex"} {
		for e := uint64(1); e <= 3; e++ {
			s.values[fmt.Sprintf("page token of %s epoch %d", c, e)] = page.Token(pageSecret, c, e)
		}
	}

	ok := func(args ...string) result {
		t.Helper()
		r := run(t, env, args...)
		if r.Code != 0 {
			t.Errorf("vitrine %s: %s", strings.Join(args, " "), r)
		}
		return r
	}
	// Commands that succeed. links prints page URLs by design: only its
	// stderr is searched for tokens.
	for _, args := range [][]string{
		{"validate"}, {"validate", "--online"}, {"sync"}, {"sync", "--dry-run"}, {"preview", "acme"},
		{"preview", "acme", "--format", "json"}, {"explain", "AGENCY-101"}, {"explain", "AGENCY-101", "--format", "json"},
		{"export", "--out", filepath.Join(dir, "export")}, {"audit", "--customer", "acme"},
		{"audit", "--customer", "acme", "--format", "json"}, {"status"}, {"status", "--format", "json"},
		{"retract", "--customer", "acme"}, {"retract", "--customer", "acme", "--resume"},
	} {
		r := ok(args...)
		s.check(strings.Join(args, " "), r.all())
	}
	for _, args := range [][]string{{"links"}, {"links", "--rotate", "acme"}} {
		r := ok(args...)
		s.check(strings.Join(args, " ")+" stderr", r.Stderr)
		for k, v := range secretCanaries {
			if strings.Contains(r.Stdout, v) {
				t.Errorf("%s: stdout has %s", strings.Join(args, " "), k)
			}
		}
	}
	console := run(t, append(env, "VITRINE_LOG_FORMAT=console"), "sync")
	s.check("sync (console logs)", console.all())

	// Failing commands and bad environments: errors must not quote secrets.
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"unknown customer", nil, []string{"preview", "nobody"}},
		{"bad log level", []string{"VITRINE_LOG_LEVEL=loud"}, []string{"sync"}},
		{"public URL with credentials", []string{"VITRINE_PUBLIC_URL=https://user:" + canaryURLPass + "@status.example.com"}, []string{"links"}},
		{"public URL not http", []string{"VITRINE_PUBLIC_URL=ftp://user:" + canaryURLPass + "@status.example.com"}, []string{"links"}},
		{"redis store with a password", []string{"VITRINE_STORE=redis://user:" + canaryRedis + "@127.0.0.1:1/0"}, []string{"sync"}},
		{"redis store malformed", []string{"VITRINE_STORE=redis://user:" + canaryRedis + "@127.0.0.1:99999/x"}, []string{"status"}},
		{"short page secret", []string{"VITRINE_PAGE_SECRET=" + canaryShort}, []string{"links"}},
		{"secret twice", []string{"GITHUB_TOKEN_FILE=" + filepath.Join(dir, "secret-file"), "GITHUB_TOKEN=" + canaryDupToken}, []string{"sync"}},
		{"secret file missing", []string{"VITRINE_KEY_SECRET_FILE=" + filepath.Join(dir, "nope"), "VITRINE_KEY_SECRET="}, []string{"sync"}},
		{"jira token and PAT", []string{"JIRA_PAT=" + canaryPAT}, []string{"validate", "--online"}},
		{"missing rules", []string{"VITRINE_CONFIG=" + filepath.Join(dir, "nope.yaml")}, []string{"sync"}},
	} {
		r := run(t, append(append([]string(nil), env...), c.env...), c.args...)
		s.check(c.name, r.all())
		if r.Code == 0 && c.name != "jira token and PAT" {
			t.Errorf("%s: exit 0, want the failure whose message is searched", c.name)
		}
	}
	// A secret read from a file works and stays as secret as any other.
	r := run(t, append(append([]string(nil), env...), "VITRINE_KEY_SECRET=", "VITRINE_KEY_SECRET_FILE="+filepath.Join(dir, "secret-file")), "sync")
	s.check("key secret from a file", r.all())

	// A rules file naming a GitHub source: the token is in the environment
	// when the build of the connector fails.
	gh := t.TempDir()
	writeFile(t, filepath.Join(gh, "vitrine.yaml"), `customers:
  - id: acme
    name: ACME
    sources:
      - github: {repo: agency/acme}
    publish: {label: pub}
    targets:
      - page: {}
`)
	r = run(t, secretEnv(gh), "sync")
	s.check("sync with a github source", r.all())
	r = run(t, secretEnv(gh), "validate", "--online")
	s.check("validate --online with a github source", r.all())

	// serve at trace level: request the pages, a mangled token, webhooks;
	// then the logs must hold the requests but never a token or secret.
	srv := startBin(t, append(env, "VITRINE_LISTEN=127.0.0.1:0", "VITRINE_ADMIN_LISTEN=localhost:0"), "serve")
	public, admin := srv.addrs()
	toks := map[string]string{}
	for id, u := range pageLinks(run(t, env, "links").Stdout) {
		toks[id] = tokenOf(t, u)
	}
	acme := toks["acme"]
	if acme == "" {
		t.Fatal("no acme link")
	}
	bad := []byte(acme)
	bad[10] ^= 1
	mangled := string(bad)
	s.values["mangled page token"] = mangled
	s.values["current acme token"] = acme
	s.values["current globex token"] = toks["globex"]
	for _, target := range []string{"/p/" + acme + "/", "/p/" + acme + "/feed.atom", "/p/" + acme, "/p/" + mangled + "/",
		"/p/" + acme + "/x?t=" + acme, "/x/" + acme, "/p/" + toks["globex"] + "/"} {
		rawRequest(t, public, "GET", target)
	}
	rawRequest(t, public, "POST", "/webhooks/github")
	metrics := get(t, "http://"+admin+"/metrics")
	s.check("admin /metrics", string(metrics.Body))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.stderr.String(), `/p/REDACTED`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	code, _ := srv.stop(15 * time.Second)
	logs := srv.stderr.String() + srv.stdout.String()
	if code != 0 {
		t.Errorf("serve exit %d", code)
	}
	if strings.Count(logs, `"message":"request"`) < 7 {
		t.Errorf("serve logged %d requests at trace level, want every one (the search would prove nothing)", strings.Count(logs, `"message":"request"`))
	}
	s.check("serve logs", logs)

	// demo prints its page URLs on stdout by design; its logs hold none.
	demo := startBin(t, demoEnv(dir, secretEnvOnly()...), "demo")
	demo.addrs()
	demo.waitFor(regexp.MustCompile(`(?m)^customer globex page: \S+\n`), demo.stdout.String, 10*time.Second)
	demoLinks := pageLinks(demo.stdout.String())
	for id, u := range demoLinks {
		s.values["demo token of "+id] = tokenOf(t, u)
		get(t, u)
	}
	demo.stop(15 * time.Second)
	s.check("demo logs", demo.stderr.String())
	for k, v := range secretCanaries {
		if strings.Contains(demo.stdout.String(), v) {
			t.Errorf("demo stdout has %s", k)
		}
	}
}

func secretEnvOnly() []string {
	env := []string{"VITRINE_LOG_LEVEL=trace"}
	for k, v := range secretCanaries {
		env = append(env, k+"="+v)
	}
	return env
}
