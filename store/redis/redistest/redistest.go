// Package redistest gives tests a real Redis: the one CI provides through
// VITRINE_TEST_REDIS (redis://host:port/db, AOF on, noeviction), or a
// private redis-server started in t.TempDir() on a free loopback port.
//
// Tests sharing a Redis keep apart by key prefix (Prefix), and clean up
// only their own prefix, never FLUSHDB: other packages' tests may be using
// the same database at the same time.
package redistest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// EnvURL names the variable CI sets to a Redis the tests may share.
const EnvURL = "VITRINE_TEST_REDIS"

// Binary is the redis-server the private servers run.
var Binary = "redis-server"

// Start returns a Redis URL for t: VITRINE_TEST_REDIS when set (stop does
// nothing), else a private server with appendonly yes, appendfsync always
// and noeviction, which stop (also run at t's cleanup) kills. It skips t
// when neither is possible.
func Start(t testing.TB) (url string, stop func()) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u, func() {}
	}
	srv := StartServer(t, t.TempDir(), ServerOptions{AppendOnly: true, AppendFsync: "always"})
	return srv.URL(), srv.Stop
}

// ServerOptions shapes a private server's configuration.
type ServerOptions struct {
	AppendOnly      bool
	AppendFsync     string // always | everysec | no; "" leaves Redis' default (everysec)
	MaxmemoryPolicy string // "" means noeviction
	// Extra holds more configuration lines, such as `rename-command CONFIG ""`.
	Extra []string
}

// Server is a private redis-server. Its data lives in its directory, so
// Kill and Restart model a crash and a restart on the same disk.
type Server struct {
	t    testing.TB
	dir  string
	conf string
	port int
	cmd  *exec.Cmd
	// waitCh delivers cmd.Wait's result once the process ends.
	waitCh chan error
}

// StartServer starts a private redis-server with its data in dir, skipping
// t when no redis-server is installed. The server is killed at t's cleanup.
func StartServer(t testing.TB, dir string, o ServerOptions) *Server {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("no %s installed and %s unset: skipping the test that needs a real Redis", Binary, EnvURL)
	}
	s := &Server{t: t, dir: dir}
	var err error
	for range 3 { // a free port can be taken between asking and binding
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.writeConfig(o); err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) writeConfig(o ServerOptions) error {
	policy := o.MaxmemoryPolicy
	if policy == "" {
		policy = "noeviction"
	}
	lines := []string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"dir " + s.dir,
		"daemonize no",
		"save \"\"",
		"logfile " + filepath.Join(s.dir, "redis.log"),
		"maxmemory-policy " + policy,
		"appendonly " + map[bool]string{true: "yes", false: "no"}[o.AppendOnly],
	}
	if o.AppendFsync != "" {
		lines = append(lines, "appendfsync "+o.AppendFsync)
	}
	lines = append(lines, o.Extra...)
	s.conf = filepath.Join(s.dir, "redis.conf")
	return os.WriteFile(s.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// start runs the server and waits until it answers PING (after loading its
// AOF, on a restart).
func (s *Server) start() error {
	cmd := exec.Command(Binary, s.conf)
	dieWithParent(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", Binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A bare dial first: go-redis logs every refused dial globally.
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			_ = conn.Close()
			err = c.Ping(context.Background()).Err()
		}
		if err == nil {
			s.cmd, s.waitCh = cmd, exited
			return nil
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("%s exited (%v) before answering: %s%s", Binary, werr, out.String(), tail(log))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s on port %d did not answer PING within 10s: %v", Binary, s.port, err)
		}
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is redis://host:port/0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir holds the server's data and log.
func (s *Server) Dir() string { return s.dir }

// Kill ends the server with SIGKILL, as a crash would: nothing is flushed
// beyond what Redis already wrote.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.waitCh
	s.cmd = nil
}

// Pause stops the server with SIGSTOP: it keeps its connections but
// answers nothing, as a hung or partitioned Redis would. Resume continues it.
func (s *Server) Pause() {
	s.t.Helper()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused server.
func (s *Server) Resume() {
	s.t.Helper()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Restart starts the server again on the same directory and port and waits
// until it has loaded its data.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Stop kills the server if it runs; safe to call twice.
func (s *Server) Stop() { s.Kill() }

// Prefix returns a key prefix unique to t (its name and a random part), and
// at t's cleanup deletes the keys under it on the Redis at url.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := regexp.MustCompile(`[^A-Za-z0-9_]+`).ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	p := "vt:" + name + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		if err := DeletePrefix(context.Background(), url, p); err != nil {
			t.Logf("redistest: cleaning %s: %v", p, err)
		}
	})
	return p
}

// DeletePrefix deletes every key starting with prefix (SCAN, then DEL in
// batches). A Redis that is gone is not an error: nothing is left to clean.
func DeletePrefix(ctx context.Context, url, prefix string) error {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return err
	}
	o.MaxRetries, o.DialerRetries, o.DialTimeout = -1, 1, time.Second
	c := goredis.NewClient(o)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return nil
	}
	pattern := globEscape(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 500).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Options parses url into go-redis options (tests open clients with it).
func Options(url string) (*goredis.Options, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s: %w", redact(url), err)
	}
	return o, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
