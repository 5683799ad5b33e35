package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"vitrine/internal/testbin"
)

// proc is one running vitrine process. Its output goes to files in the
// world's directory, so a failure can show the tail of each process's log.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	logf   string
	stdout *testbin.Buffer
	done   chan struct{}
	err    error
}

// start runs the binary with exactly env (plus PATH); stderr (the JSON log)
// goes to dir/<name>.log.
func start(t testing.TB, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	logf := filepath.Join(dir, name+".log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vitrineBin(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &proc{t: t, name: name, cmd: cmd, logf: logf, stdout: &testbin.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, f
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
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

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logf)
	return string(b)
}

// tail is the end of the process's log, for failure messages.
func (p *proc) tail() string {
	l := p.log()
	if len(l) > 6000 {
		l = "…" + l[len(l)-6000:]
	}
	return fmt.Sprintf("--- %s log (pid %d):\n%s", p.name, p.cmd.Process.Pid, l)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

var servingRE = regexp.MustCompile(`"listen":"([^"]+)","admin":"([^"]+)"[^\n]*"message":"vitrine serving"`)

// addrs waits for the "vitrine serving" line and returns the public and
// admin addresses. ok is false when the process ended first (a crash plan
// may fire before intake opens).
func (p *proc) addrs(timeout time.Duration) (public, admin string, ok bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := servingRE.FindStringSubmatch(p.log()); m != nil {
			return m[1], m[2], true
		}
		if p.exited() {
			return "", "", false
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no \"vitrine serving\" within %s\n%s", p.name, timeout, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits for the process to end on its own and reports how.
func (p *proc) waitExit(timeout time.Duration) (code int, sig syscall.Signal) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not end within %s\n%s", p.name, timeout, p.tail())
	}
	return exitOf(p.t, p.err)
}

func exitOf(t testing.TB, err error) (int, syscall.Signal) {
	if err == nil {
		return 0, 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal()
	}
	return ee.ExitCode(), 0
}

// term sends SIGTERM and waits up to limit for the exit; it returns the
// exit code and how long the exit took.
func (p *proc) term(limit time.Duration) (int, time.Duration) {
	p.t.Helper()
	begin := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Errorf("%s: no exit within %s of SIGTERM\n%s", p.name, limit, p.tail())
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	code, sig := exitOf(p.t, p.err)
	if sig != 0 {
		code = 128 + int(sig)
	}
	return code, time.Since(begin)
}

// result is a one-shot command's outcome.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// run runs a one-shot command of the binary.
func run(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vitrineBin(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code, sig := exitOf(t, err)
	if sig != 0 {
		code = 128 + int(sig)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// statusReport is `vitrine status --format json` (worker.StatusReport).
type statusReport struct {
	Queue struct {
		Ready, Waiting, InFlight, Parked int
		Oldest                           time.Duration
		// Intake: accepted deliveries not yet moved into the queue. Not
		// reported yet (see the Redis status bug); counted once it is.
		Intake int
	}
	Parked []struct {
		Key       string
		Attempt   int
		LastError string
	}
	SourceErrors   map[string]string
	Guarded        map[string]string
	RetractFailing map[string]string
}

func (s statusReport) idle() bool {
	q := s.Queue
	return q.Ready == 0 && q.Waiting == 0 && q.InFlight == 0 && q.Intake == 0
}

func (s statusReport) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// status runs `vitrine status --format json`.
func status(t testing.TB, env []string) statusReport {
	t.Helper()
	r := run(t, env, "status", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("vitrine status: %s", r)
	}
	var s statusReport
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("vitrine status json: %v\n%s", err, r.Stdout)
	}
	return s
}
