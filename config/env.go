package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Env is the process environment vitrine reads. Every Secret (and the store
// address, which may hold a Redis password) may instead be given as
// NAME_FILE, the path of a file holding it; setting both is an error.
type Env struct {
	Config      string `env:"VITRINE_CONFIG" envDefault:"./vitrine.yaml"`
	Listen      string `env:"VITRINE_LISTEN" envDefault:"127.0.0.1:8080"`       // public: pages, feeds, webhooks
	AdminListen string `env:"VITRINE_ADMIN_LISTEN" envDefault:"127.0.0.1:9090"` // /healthz, /readyz, /metrics
	// PublicURL is where customers reach Listen, without a trailing slash.
	// Default http://<listen>, with localhost for an unspecified host.
	PublicURL  string `env:"VITRINE_PUBLIC_URL"`
	Store      DSN    `env:"VITRINE_STORE" envDefault:"sqlite://vitrine.db"` // see StoreURL
	PageSecret Secret `env:"VITRINE_PAGE_SECRET"`                            // page tokens
	KeySecret  Secret `env:"VITRINE_KEY_SECRET"`                             // opaque mirror keys; never rotated
	LogLevel   string `env:"VITRINE_LOG_LEVEL" envDefault:"info"`            // trace|debug|info|warn|error|fatal|panic|disabled
	LogFormat  string `env:"VITRINE_LOG_FORMAT" envDefault:"json"`           // json|console

	GitHubToken                 Secret `env:"GITHUB_TOKEN"`
	GitHubAPIURL                string `env:"VITRINE_GITHUB_API_URL"` // empty: https://api.github.com
	GitHubWebhookSecret         Secret `env:"VITRINE_GITHUB_WEBHOOK_SECRET"`
	GitHubWebhookSecretPrevious Secret `env:"VITRINE_GITHUB_WEBHOOK_SECRET_PREVIOUS"` // accepted too, during rotation

	JiraURL           string `env:"JIRA_URL"`
	JiraEmail         Secret `env:"JIRA_EMAIL"`     // half of a Cloud credential, so kept out of logs too
	JiraAPIToken      Secret `env:"JIRA_API_TOKEN"` // Cloud
	JiraPAT           Secret `env:"JIRA_PAT"`       // Data Center
	JiraWebhookSecret Secret `env:"VITRINE_JIRA_WEBHOOK_SECRET"`

	// vars is the environment parsed, for Lookup. A func, because fmt
	// prints a func as an address whatever the verb, while it walks into
	// maps and pointed-to structs (even in unexported fields, as %s does).
	vars func() *environ
}

type environ struct{ m map[string]string }

var (
	secretType = reflect.TypeFor[Secret]()
	dsnType    = reflect.TypeFor[DSN]()
)

// ParseEnviron parses an environment in os.Environ form ("NAME=value").
func ParseEnviron(environ []string) (Env, error) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return ParseEnv(m)
}

// ParseEnv parses the given environment, never the process's own, so that
// tests stay hermetic. Every problem is reported, each naming its variable
// and never a secret's value.
func ParseEnv(vars map[string]string) (Env, error) {
	ev := &environ{m: make(map[string]string, len(vars))}
	for k, v := range vars {
		ev.m[k] = v
	}
	var errs []error

	// caarlos0/env reads NAME only; NAME_FILE is resolved here first.
	input := make(map[string]string, len(ev.m))
	for k, v := range ev.m {
		input[k] = v
	}
	for _, name := range fileVars() {
		v, ok, err := ev.lookup(name)
		switch {
		case err != nil:
			errs = append(errs, err)
			delete(input, name)
		case ok:
			input[name] = v
		}
	}

	e := Env{vars: func() *environ { return ev }}
	err := env.ParseWithOptions(&e, env.Options{
		Environment: input,
		FuncMap: map[reflect.Type]env.ParserFunc{
			secretType: func(v string) (any, error) { return NewSecret(v), nil },
		},
	})
	if err != nil {
		// No parser can fail on a secret (they are plain text), so this
		// error names variables only.
		errs = append(errs, err)
	}
	errs = append(errs, e.check()...)
	if err := errors.Join(errs...); err != nil {
		return Env{}, err
	}
	return e, nil
}

// fileVars are the variables that may be given as NAME_FILE.
func fileVars() []string {
	var names []string
	t := reflect.TypeFor[Env]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type != secretType && f.Type != dsnType {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		names = append(names, name)
	}
	return names
}

const maxSecretFile = 1 << 20

// lookup reads NAME or the file NAME_FILE names. An empty NAME counts as
// unset, as container tools often set a variable empty.
func (ev *environ) lookup(name string) (string, bool, error) {
	val, file := ev.m[name], ev.m[name+"_FILE"]
	switch {
	case val != "" && file != "":
		return "", false, fmt.Errorf("%s and %s_FILE are both set: set one of them", name, name)
	case val != "":
		return val, true, nil
	case file == "":
		return "", false, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: read %s: %w", name, file, err)
	}
	if len(data) > maxSecretFile {
		return "", false, fmt.Errorf("%s_FILE: %s is larger than 1 MiB", name, file)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return "", false, fmt.Errorf("%s_FILE: %s is empty", name, file)
	}
	return v, true, nil
}

// Lookup reads a credential by variable name, for a source's or target's
// token_env and email_env: NAME, or the content of the file NAME_FILE names
// (trailing newline trimmed). It is false when neither is set, when both
// are, or when the file cannot be read; Require says which. The file is
// read at each call, so a rotated secret file is picked up by the next
// connector built.
func (e Env) Lookup(name string) (Secret, bool) {
	if e.vars == nil {
		return Secret{}, false
	}
	v, ok, err := e.vars().lookup(name)
	if err != nil || !ok {
		return Secret{}, false
	}
	return NewSecret(v), true
}

// Require checks that every named credential can be read, reporting each
// that cannot (unset, set twice, unreadable file).
func (e Env) Require(names ...string) error {
	ev := &environ{}
	if e.vars != nil {
		ev = e.vars()
	}
	var errs []error
	for _, name := range names {
		_, ok, err := ev.lookup(name)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !ok:
			errs = append(errs, fmt.Errorf("%s is not set (nor %s_FILE)", name, name))
		}
	}
	return errors.Join(errs...)
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}

func (e *Env) check() []error {
	var errs []error
	listen := func(name, addr string) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
			return
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s: %q has no valid port", name, addr))
		}
	}
	listen("VITRINE_LISTEN", e.Listen)
	listen("VITRINE_ADMIN_LISTEN", e.AdminListen)
	// Port 0 asks the kernel for a free port each time: two listeners on
	// ":0" never share one.
	if e.Listen == e.AdminListen && !strings.HasSuffix(e.Listen, ":0") {
		errs = append(errs, fmt.Errorf("VITRINE_ADMIN_LISTEN: %q is also VITRINE_LISTEN: metrics must not share the public address", e.AdminListen))
	}

	if e.PublicURL == "" {
		if host, port, err := net.SplitHostPort(e.Listen); err == nil {
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				host = "localhost"
			}
			e.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	} else if err := checkHTTPURL(e.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("VITRINE_PUBLIC_URL: %w", err))
	}
	e.PublicURL = strings.TrimRight(e.PublicURL, "/")

	for _, u := range []struct{ name, v string }{{"VITRINE_GITHUB_API_URL", e.GitHubAPIURL}, {"JIRA_URL", e.JiraURL}} {
		if u.v != "" {
			if err := checkHTTPURL(u.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
			}
		}
	}

	e.LogLevel = strings.ToLower(strings.TrimSpace(e.LogLevel))
	if indexOf(logLevels, e.LogLevel) < 0 {
		errs = append(errs, fmt.Errorf("VITRINE_LOG_LEVEL: unknown level %q (want %s)", clip(e.LogLevel), orList(logLevels)))
	}
	e.LogFormat = strings.ToLower(strings.TrimSpace(e.LogFormat))
	if e.LogFormat != "json" && e.LogFormat != "console" {
		errs = append(errs, fmt.Errorf("VITRINE_LOG_FORMAT: unknown format %q (want json or console)", clip(e.LogFormat)))
	}
	if _, err := e.StoreURL(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// checkHTTPURL never quotes the URL it rejects for credentials.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		if strings.Contains(raw, "@") {
			return errors.New("not an http(s) URL")
		}
		return fmt.Errorf("%q is not an http(s) URL", clip(raw))
	case u.User != nil:
		return errors.New("the URL must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("the URL must not have a query or fragment")
	}
	return nil
}

// StoreURL is VITRINE_STORE taken apart.
type StoreURL struct {
	Kind     string // "sqlite" or "redis"
	Path     string // sqlite: the database file, as written (relative to the working directory)
	Addr     string // redis: host:port (port 6379 when left out)
	DB       int    // redis: database number
	Username string // redis: ACL user, if any
	Password Secret // redis: AUTH password, if any
	TLS      bool   // redis: rediss://
}

// StoreURL parses VITRINE_STORE: sqlite://PATH or redis://[user:password@]host:port/db
// (rediss:// for TLS). Errors never show a password.
func (e Env) StoreURL() (StoreURL, error) {
	return parseStoreURL(string(e.Store))
}

func parseStoreURL(raw string) (StoreURL, error) {
	bad := func(format string, args ...any) (StoreURL, error) {
		return StoreURL{}, fmt.Errorf("VITRINE_STORE: "+format, args...)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return bad("%q is not a store URL (want sqlite://PATH or redis://host:port/db)", DSN(raw).String())
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		if rest == "" {
			return bad("sqlite:// needs a file path, such as sqlite://vitrine.db")
		}
		return StoreURL{Kind: "sqlite", Path: rest}, nil
	case "redis", "rediss":
		u, err := url.Parse(raw)
		if err != nil {
			return bad("not a valid redis URL (want redis://host:port/db)")
		}
		s := StoreURL{Kind: "redis", TLS: strings.EqualFold(scheme, "rediss")}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return bad("redis URL has no host (want redis://host:port/db)")
		}
		if port == "" {
			port = "6379"
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("redis URL has an invalid port")
		}
		s.Addr = net.JoinHostPort(host, port)
		if db := strings.Trim(u.Path, "/"); db != "" {
			n, err := strconv.Atoi(db)
			if err != nil || n < 0 {
				return bad("redis database %q is not a number (want redis://host:port/0)", clip(db))
			}
			s.DB = n
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return bad("redis URL options (?...) are not supported")
		}
		if u.User != nil {
			s.Username = u.User.Username()
			if p, ok := u.User.Password(); ok {
				s.Password = NewSecret(p)
			}
		}
		return s, nil
	}
	return bad("unsupported store %q (want sqlite://PATH or redis://host:port/db)", clip(scheme))
}

const redacted = "[redacted]"

// Secret holds a credential. Every way of printing or encoding it shows
// [redacted]; Reveal is the one way to the value, so that a credential
// reaches logs and errors only by someone writing Reveal next to them.
//
// The value sits behind a pointer: fmt prints an unexported field without
// calling its methods, and a pointer there prints as an address only.
type Secret struct{ p *string }

// NewSecret wraps a credential.
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{p: &v}
}

// Reveal is the credential itself.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsSet is whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.p != nil && *s.p != "" }

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) Format(f fmt.State, _ rune)   { io.WriteString(f, redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (Secret) MarshalYAML() (any, error)    { return redacted, nil }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }

// DSN is a store address. It may carry a Redis password, so it prints with
// the password replaced; string(dsn) is the address itself.
type DSN string

func (d DSN) String() string {
	raw := string(d)
	if !strings.Contains(raw, "@") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		// An @ that is not a URL's user part may still be a password.
		return redacted
	}
	return u.Redacted()
}

func (d DSN) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		io.WriteString(f, strconv.Quote(d.String()))
		return
	}
	io.WriteString(f, d.String())
}

func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
func (d DSN) LogValue() slog.Value         { return slog.StringValue(d.String()) }
