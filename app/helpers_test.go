package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"vitrine/app"
	"vitrine/internal/testbin"
	"vitrine/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// vitrineBin builds cmd/vitrine once and returns its path.
func vitrineBin(t *testing.T) string { return testbin.Vitrine(t) }

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// result is what one command printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

func (r result) all() string { return r.Stdout + r.Stderr }

// run runs one command in-process through app.Run, as cmd/vitrine's main
// does (same exit codes, same "vitrine: " error line on stderr).
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := app.Run(ctx, args, app.IO{Environ: append([]string(nil), env...), Stdout: &stdout, Stderr: &stderr})
	code := 0
	if err != nil {
		code = 1
		var ee *app.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		if msg := err.Error(); msg != "" && (ee == nil || ee.Err != nil) {
			fmt.Fprintln(&stderr, "vitrine:", msg)
		}
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := run(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("vitrine %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// runBin runs the built binary as a process with exactly env (plus PATH).
func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vitrineBin(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("vitrine %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// Secrets every fixture uses unless a test says otherwise.
const (
	testPageSecret = "app-test-page-secret-0123456789abcdef"
	testKeySecret  = "app-test-key-secret-fedcba9876543210"
)

// envFor is the environment of commands on the rules in dir: a fresh SQLite
// file there, the test secrets, quiet logs.
func envFor(dir string, extra ...string) []string {
	env := []string{
		"VITRINE_CONFIG=" + filepath.Join(dir, "vitrine.yaml"),
		"VITRINE_STORE=sqlite://" + filepath.Join(dir, "v.db"),
		"VITRINE_PAGE_SECRET=" + testPageSecret,
		"VITRINE_KEY_SECRET=" + testKeySecret,
		"VITRINE_LOG_LEVEL=warn",
		"HOME=" + dir,
	}
	return append(env, extra...)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyDemo copies deploy/demo's rules and boards (not its store) into a
// fresh directory.
func copyDemo(t *testing.T) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "deploy", "demo")
	dst := t.TempDir()
	for _, name := range []string{"vitrine.yaml", "acme-board.yaml", "globex-board.yaml"} {
		writeFile(t, filepath.Join(dst, name), readFile(t, filepath.Join(src, name)))
	}
	return dst
}

// proc is a running vitrine process (serve, demo).
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *testbin.Buffer
	stderr *testbin.Buffer
	done   chan struct{}
	err    error
}

func startBin(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(vitrineBin(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &proc{t: t, cmd: cmd, stdout: &testbin.Buffer{}, stderr: &testbin.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill() // only the process this test started
			<-p.done
		}
	})
	return p
}

// waitFor polls the process's output until re matches it.
func (p *proc) waitFor(re *regexp.Regexp, stream func() string, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(stream()); m != nil {
			return m
		}
		select {
		case <-p.done:
			p.t.Fatalf("process ended (%v) before %s\nstdout:\n%s\nstderr:\n%s", p.err, re, p.stdout, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %s within %s\nstdout:\n%s\nstderr:\n%s", re, timeout, p.stdout, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var servingRE = regexp.MustCompile(`"listen":"([^"]+)","admin":"([^"]+)"[^\n]*"message":"vitrine serving"`)

// addrs waits for the "vitrine serving" log line and returns the public
// and admin addresses the process bound.
func (p *proc) addrs() (public, admin string) {
	p.t.Helper()
	m := p.waitFor(servingRE, p.stderr.String, 20*time.Second)
	return m[1], m[2]
}

// stop sends SIGTERM and returns the exit code and how long the exit took.
func (p *proc) stop(limit time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("no exit within %s of SIGTERM", limit)
	}
	took := time.Since(start)
	if p.err == nil {
		return 0, took
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), took
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1, took
}

// response is one raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// comparable is the answer without Date, for byte-identity checks.
func (r response) comparable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.Status)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if k != "Date" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, r.Header[k])
	}
	b.Write(r.Body)
	return b.String()
}

// headerText is every header line, for leak searches.
func (r response) headerText() string {
	var b strings.Builder
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// rawRequest sends target exactly as written (no client-side cleaning or
// escaping) and reads the answer.
func rawRequest(t *testing.T, addr, method, target string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	if method == http.MethodPost || method == http.MethodPut {
		req += "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	} else {
		req += "\r\n"
	}
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func get(t *testing.T, url string) response {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

var pageLineRE = regexp.MustCompile(`(?m)^customer (\S+) page: (\S+)$`)

// pageLinks parses `customer <id> page: <url>` lines.
func pageLinks(out string) map[string]string {
	links := map[string]string{}
	for _, m := range pageLineRE.FindAllStringSubmatch(out, -1) {
		links[m[1]] = m[2]
	}
	return links
}

var tokenRE = regexp.MustCompile(`/p/([A-Za-z0-9_-]{43})/`)

// tokenOf extracts the page token from a page URL.
func tokenOf(t *testing.T, url string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(url)
	if m == nil {
		t.Fatalf("no token in %q", url)
	}
	return m[1]
}

// tokens runs `vitrine links` and returns each customer's token.
func tokens(t *testing.T, env []string) map[string]string {
	t.Helper()
	r := mustRun(t, env, "links")
	out := map[string]string{}
	for id, u := range pageLinks(r.Stdout) {
		out[id] = tokenOf(t, u)
	}
	return out
}

// audits runs `vitrine audit --customer id --format json`.
func audits(t *testing.T, env []string, customer string) []store.AuditEntry {
	t.Helper()
	r := mustRun(t, env, "audit", "--customer", customer, "--format", "json")
	var out []store.AuditEntry
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	for dec.More() {
		var e store.AuditEntry
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("audit json: %v\n%s", err, r.Stdout)
		}
		out = append(out, e)
	}
	return out
}

func countAudit(es []store.AuditEntry, action, object string) int {
	n := 0
	for _, e := range es {
		if e.Action == action && (object == "" || e.Object == object) {
			n++
		}
	}
	return n
}

// exportPages runs `vitrine export` into a fresh directory and returns the
// files of each token folder: token -> file name -> content.
func exportPages(t *testing.T, env []string, args ...string) map[string]map[string]string {
	t.Helper()
	out := t.TempDir()
	mustRun(t, env, append([]string{"export", "--out", out}, args...)...)
	return readExport(t, out)
}

func readExport(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	pages := map[string]map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		folder, name := filepath.Split(rel)
		folder = strings.TrimSuffix(folder, string(filepath.Separator))
		if folder == "" {
			t.Errorf("export wrote %q at the root of --out (no index may sit there)", name)
			return nil
		}
		if pages[folder] == nil {
			pages[folder] = map[string]string{}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pages[folder][name] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

var itemAnchorRE = regexp.MustCompile(`<li class="card item" id="(i-[0-9a-f]+)">\s*<article>\s*<h4><a href="#i-[0-9a-f]+">([^<]*)</a></h4>`)

// itemAnchors maps each item title on a rendered page to its anchor.
func itemAnchors(page string) map[string]string {
	out := map[string]string{}
	for _, m := range itemAnchorRE.FindAllStringSubmatch(page, -1) {
		out[m[2]] = m[1]
	}
	return out
}
