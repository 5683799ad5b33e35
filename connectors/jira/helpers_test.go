package jira_test

import (
	"context"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/connectors/httpapi"
	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/pace"
	"vitrine/worker"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is where the tests' virtual time starts.
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// rig is a fake Jira and the clock it shares with everything under test.
type rig struct {
	t   *testing.T
	clk *clock.Fake
	f   *fakejira.Server
	dep jira.Deployment
}

func newRig(t *testing.T, flavor fakejira.Flavor, mod ...func(*fakejira.Options)) *rig {
	t.Helper()
	clk := clock.NewFake(t0)
	o := fakejira.Options{Flavor: flavor, Clock: clk}
	for _, m := range mod {
		m(&o)
	}
	f := fakejira.NewStandard(t, o)
	dep := jira.Cloud
	if flavor == fakejira.DataCenter {
		dep = jira.DataCenter
	}
	return &rig{t: t, clk: clk, f: f, dep: dep}
}

func (r *rig) host() string {
	u, _ := url.Parse(r.f.URL())
	return u.Host
}

func (r *rig) auth(cred string) jira.Auth {
	if r.dep == jira.DataCenter {
		return jira.Auth{PAT: cred + "-pat"}
	}
	return jira.Auth{Email: cred + "@agency.example", Token: cred + "-token"}
}

// client is the httpapi client of a credential; with a pacer it gates
// writes as the app wires it (lane from the worker, per-issue subjects).
func (r *rig) client(cred string, p *pace.Pacer) *httpapi.Client {
	r.t.Helper()
	o := httpapi.Options{
		Credential: "jira:" + cred,
		Clock:      r.clk,
		Transport:  r.f.HTTPClient().Transport,
		Sleep:      func(context.Context, time.Duration) error { return nil },
		Timeout:    10 * time.Second,
		Subject:    jira.Subject,
	}
	if p != nil {
		o.Pacer = p
		o.PaceInfo = worker.PaceLaneKey
	}
	c, err := httpapi.New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) sourceOptions(key, jql string) jira.SourceOptions {
	return jira.SourceOptions{
		Key: key, Site: r.f.URL(), Project: fakejira.SourceProject, JQL: jql,
		Deployment: r.dep, HTTP: r.client(fakejira.ReaderCred, nil), Auth: r.auth(fakejira.ReaderCred),
		Clock: r.clk, Log: zerolog.Nop(),
	}
}

func (r *rig) source(key, jql string, mod ...func(*jira.SourceOptions)) *jira.Source {
	r.t.Helper()
	o := r.sourceOptions(key, jql)
	for _, m := range mod {
		m(&o)
	}
	s, err := jira.NewSource(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) targetOptions(p *pace.Pacer) jira.TargetOptions {
	return jira.TargetOptions{
		Name: "jira:" + r.host() + "/" + fakejira.TargetProject, Site: r.f.URL(), Project: fakejira.TargetProject,
		Deployment: r.dep, HTTP: r.client(fakejira.WriterCred, p), Auth: r.auth(fakejira.WriterCred),
		Clock: r.clk, Log: zerolog.Nop(),
	}
}

func (r *rig) target(mod ...func(*jira.TargetOptions)) *jira.Target {
	r.t.Helper()
	o := r.targetOptions(nil)
	for _, m := range mod {
		m(&o)
	}
	tg, err := jira.NewTarget(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return tg
}

// id is an issue's id by key.
func (r *rig) id(key string) string {
	r.t.Helper()
	st, ok := r.f.Issue(key)
	if !ok {
		r.t.Fatalf("no issue %s", key)
	}
	return st.ID
}

// fixtures is ../shared/fixtures, found from the repository root.
func fixtures(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "fixtures")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// writesBy counts a credential's write calls in the fake's log.
func (r *rig) writesBy(cred string) int { return r.f.Writes(cred) }
