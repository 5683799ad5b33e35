package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestEnvDefaults(t *testing.T) {
	e, err := ParseEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"config":       e.Config,
		"listen":       e.Listen,
		"admin":        e.AdminListen,
		"public":       e.PublicURL,
		"store":        string(e.Store),
		"level":        e.LogLevel,
		"format":       e.LogFormat,
		"github api":   e.GitHubAPIURL,
		"page secret":  e.PageSecret.Reveal(),
		"github token": e.GitHubToken.Reveal(),
	}
	want := map[string]string{
		"config":       "./vitrine.yaml",
		"listen":       "127.0.0.1:8080",
		"admin":        "127.0.0.1:9090",
		"public":       "http://127.0.0.1:8080",
		"store":        "sqlite://vitrine.db",
		"level":        "info",
		"format":       "json",
		"github api":   "",
		"page secret":  "",
		"github token": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if e.PageSecret.IsSet() {
		t.Errorf("unset secret IsSet")
	}
	s, err := e.StoreURL()
	if err != nil || s != (StoreURL{Kind: "sqlite", Path: "vitrine.db"}) {
		t.Errorf("StoreURL = %+v, %v", s, err)
	}
}

func TestEnvReadsGivenEnvironmentOnly(t *testing.T) {
	t.Setenv("VITRINE_LISTEN", "127.0.0.1:1111")
	e, err := ParseEnviron([]string{"VITRINE_LISTEN=0.0.0.0:8081", "VITRINE_LOG_LEVEL=DEBUG", "VITRINE_LOG_FORMAT=console", "GITHUB_TOKEN=a=b", "JIRA_URL=https://agency.atlassian.net"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Listen != "0.0.0.0:8081" || e.LogLevel != "debug" || e.LogFormat != "console" || e.GitHubToken.Reveal() != "a=b" || e.JiraURL != "https://agency.atlassian.net" {
		t.Errorf("env = %+v (token %q)", e, e.GitHubToken.Reveal())
	}
	// An unspecified listen host is no address for a customer's link.
	if e.PublicURL != "http://localhost:8081" {
		t.Errorf("PublicURL = %q", e.PublicURL)
	}
	e, err = ParseEnv(map[string]string{"VITRINE_PUBLIC_URL": "https://status.agency.example/"})
	if err != nil || e.PublicURL != "https://status.agency.example" {
		t.Errorf("PublicURL = %q, %v", e.PublicURL, err)
	}
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnvFileVariants(t *testing.T) {
	vars := map[string]string{
		"VITRINE_PAGE_SECRET_FILE":    writeSecret(t, "page-secret\n"),
		"GITHUB_TOKEN_FILE":           writeSecret(t, "ghp_token\r\n"),
		"JIRA_EMAIL_FILE":             writeSecret(t, "bot@agency.example"),
		"VITRINE_STORE_FILE":          writeSecret(t, "redis://:pw@redis:6380/2\n"),
		"VITRINE_KEY_SECRET":          "key-secret",
		"VITRINE_JIRA_WEBHOOK_SECRET": "",
	}
	e, err := ParseEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]string{
		"page":  {e.PageSecret.Reveal(), "page-secret"},
		"token": {e.GitHubToken.Reveal(), "ghp_token"},
		"email": {e.JiraEmail.Reveal(), "bot@agency.example"},
		"key":   {e.KeySecret.Reveal(), "key-secret"},
		"jira":  {e.JiraWebhookSecret.Reveal(), ""},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	s, err := e.StoreURL()
	if err != nil || s.Kind != "redis" || s.Addr != "redis:6380" || s.DB != 2 || s.Password.Reveal() != "pw" {
		t.Errorf("StoreURL = %+v, %v", s, err)
	}
}

func TestEnvFileVariantErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ParseEnv(map[string]string{
		"GITHUB_TOKEN":             "canary-value-1",
		"GITHUB_TOKEN_FILE":        writeSecret(t, "canary-value-2"),
		"VITRINE_PAGE_SECRET_FILE": filepath.Join(dir, "missing"),
		"VITRINE_KEY_SECRET_FILE":  writeSecret(t, "\n"),
	})
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		"GITHUB_TOKEN and GITHUB_TOKEN_FILE are both set",
		"VITRINE_PAGE_SECRET_FILE: open " + filepath.Join(dir, "missing") + ": no such file or directory",
		"VITRINE_KEY_SECRET_FILE: ",
		"is empty",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "canary") {
		t.Errorf("error shows a secret value:\n%s", msg)
	}
}

func TestEnvRejectsBadValues(t *testing.T) {
	_, err := ParseEnv(map[string]string{
		"VITRINE_LISTEN":         "8080",
		"VITRINE_ADMIN_LISTEN":   "127.0.0.1:99999",
		"VITRINE_PUBLIC_URL":     "status.agency.example",
		"VITRINE_LOG_LEVEL":      "loud",
		"VITRINE_LOG_FORMAT":     "xml",
		"VITRINE_STORE":          "postgres://db/vitrine",
		"VITRINE_GITHUB_API_URL": "ftp://ghe.example",
	})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`VITRINE_LISTEN: "8080" is not host:port`,
		`VITRINE_ADMIN_LISTEN: "127.0.0.1:99999" has no valid port`,
		`VITRINE_PUBLIC_URL: "status.agency.example" is not an http(s) URL`,
		`VITRINE_LOG_LEVEL: unknown level "loud"`,
		`VITRINE_LOG_FORMAT: unknown format "xml" (want json or console)`,
		`VITRINE_STORE: unsupported store "postgres"`,
		`VITRINE_GITHUB_API_URL: "ftp://ghe.example" is not an http(s) URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	_, err = ParseEnv(map[string]string{"VITRINE_ADMIN_LISTEN": "127.0.0.1:8080"})
	if err == nil || !strings.Contains(err.Error(), "VITRINE_ADMIN_LISTEN: \"127.0.0.1:8080\" is also VITRINE_LISTEN") {
		t.Errorf("shared listen address: %v", err)
	}
}

func TestStoreURL(t *testing.T) {
	cases := []struct {
		raw  string
		want StoreURL
		err  string
	}{
		{"sqlite://vitrine.db", StoreURL{Kind: "sqlite", Path: "vitrine.db"}, ""},
		{"sqlite:///var/lib/vitrine/v.db", StoreURL{Kind: "sqlite", Path: "/var/lib/vitrine/v.db"}, ""},
		{"sqlite://./data/v.db", StoreURL{Kind: "sqlite", Path: "./data/v.db"}, ""},
		{"redis://localhost:6379/0", StoreURL{Kind: "redis", Addr: "localhost:6379"}, ""},
		{"redis://redis/3", StoreURL{Kind: "redis", Addr: "redis:6379", DB: 3}, ""},
		{"rediss://user@[::1]:7000", StoreURL{Kind: "redis", Addr: "[::1]:7000", Username: "user", TLS: true}, ""},
		{"sqlite://", StoreURL{}, "VITRINE_STORE: sqlite:// needs a file path"},
		{"vitrine.db", StoreURL{}, `VITRINE_STORE: "vitrine.db" is not a store URL`},
		{"redis://:6379/0", StoreURL{}, "VITRINE_STORE: redis URL has no host"},
		{"redis://redis:port/0", StoreURL{}, "VITRINE_STORE: not a valid redis URL"},
		{"redis://redis:6379/db1", StoreURL{}, `VITRINE_STORE: redis database "db1" is not a number`},
		{"redis://redis:6379/0?pool=3", StoreURL{}, "VITRINE_STORE: redis URL options (?...) are not supported"},
		{"mysql://x", StoreURL{}, `VITRINE_STORE: unsupported store "mysql"`},
	}
	for _, c := range cases {
		e := Env{Store: DSN(c.raw)}
		got, err := e.StoreURL()
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %s", c.raw, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
}

func TestLookupReadsNamedCredentials(t *testing.T) {
	e, err := ParseEnv(map[string]string{
		"ACME_GH_TOKEN":        "acme-token",
		"ACME_JIRA_TOKEN_FILE": writeSecret(t, "jira-token\n"),
		"BOTH":                 "x",
		"BOTH_FILE":            writeSecret(t, "y"),
		"EMPTY":                "",
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"ACME_GH_TOKEN": "acme-token", "ACME_JIRA_TOKEN": "jira-token"} {
		if s, ok := e.Lookup(name); !ok || s.Reveal() != want {
			t.Errorf("Lookup(%s) = %q, %v", name, s.Reveal(), ok)
		}
	}
	for _, name := range []string{"BOTH", "EMPTY", "MISSING"} {
		if _, ok := e.Lookup(name); ok {
			t.Errorf("Lookup(%s) ok", name)
		}
	}
	err = e.Require("ACME_GH_TOKEN", "ACME_JIRA_TOKEN", "BOTH", "MISSING")
	want := "BOTH and BOTH_FILE are both set: set one of them\nMISSING is not set (nor MISSING_FILE)"
	if err == nil || err.Error() != want {
		t.Errorf("Require = %v\nwant %s", err, want)
	}
	if _, ok := (Env{}).Lookup("ACME_GH_TOKEN"); ok {
		t.Errorf("zero Env found a credential")
	}
}

// A canary in every secret must not show in any way an Env, a Secret or an
// error can be printed, encoded or logged.
func TestSecretsNeverShow(t *testing.T) {
	const canary = "canary-7f3a9e"
	vars := map[string]string{"VITRINE_STORE": "redis://bot:" + canary + "@redis:6379/0"}
	for _, name := range fileVars() {
		if name != "VITRINE_STORE" {
			vars[name] = canary + "-" + name
		}
	}
	vars["EXTRA_TOKEN_FILE"] = writeSecret(t, canary+"-file\n")
	e, err := ParseEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	if e.KeySecret.Reveal() != canary+"-VITRINE_KEY_SECRET" {
		t.Fatalf("Reveal = %q", e.KeySecret.Reveal())
	}
	extra, _ := e.Lookup("EXTRA_TOKEN")
	store, err := e.StoreURL()
	if err != nil || store.Password.Reveal() != canary {
		t.Fatalf("StoreURL = %+v, %v", store, err)
	}

	var outputs []string
	for _, v := range []any{e, &e, e.GitHubToken, extra, store, e.Store} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json: %v", err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatalf("yaml: %v", err)
		}
		outputs = append(outputs, string(j), string(y), fmt.Sprint(v), fmt.Sprintln(v))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("env", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("env", "v", v)
		outputs = append(outputs, buf.String())
	}
	outputs = append(outputs, e.GitHubToken.String(), e.GitHubToken.GoString(), e.Store.String())
	text, _ := e.GitHubToken.MarshalText()
	outputs = append(outputs, string(text))

	// Errors: both set, and a store URL that fails with a password in it.
	both := map[string]string{"GITHUB_TOKEN": canary, "GITHUB_TOKEN_FILE": writeSecret(t, canary), "VITRINE_STORE": "redis://:" + canary + "@redis:port/0"}
	_, err = ParseEnv(both)
	if err == nil {
		t.Fatal("want errors")
	}
	outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	for _, raw := range []string{"redis://:" + canary + "@redis:6379/x", "redis://:" + canary + "@/0", "postgres://:" + canary + "@db", canary + "@nowhere"} {
		_, err := (Env{Store: DSN(raw)}).StoreURL()
		if err == nil {
			t.Fatalf("%s: want an error", raw)
		}
		outputs = append(outputs, err.Error())
	}
	_, err = ParseEnv(map[string]string{"VITRINE_PUBLIC_URL": "https://u:" + canary + "@x.example", "JIRA_URL": "ht tp://u:" + canary + "@x"})
	if err == nil {
		t.Fatal("want errors")
	}
	outputs = append(outputs, err.Error())

	for _, out := range outputs {
		if strings.Contains(out, canary) {
			t.Errorf("canary shown: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", e), "[redacted]") || !strings.Contains(fmt.Sprint(e.Store), "redis://bot:xxxxx@redis:6379/0") {
		t.Errorf("redaction markers missing: %+v", e)
	}
}

func TestSecretZeroValue(t *testing.T) {
	var s Secret
	if s.IsSet() || s.Reveal() != "" || s.String() != "[redacted]" {
		t.Errorf("zero Secret: %q %v", s.Reveal(), s.IsSet())
	}
	if NewSecret("x").Reveal() != "x" || !NewSecret("x").IsSet() || NewSecret("").IsSet() {
		t.Errorf("NewSecret round trip")
	}
}
