// Package testbin serves tests that run the real vitrine binary: it finds
// the repository, builds cmd/vitrine once per test binary, and collects a
// process's output while the test reads it. Test code only.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once    sync.Once
	binPath string
	binErr  error
	binDir  string
)

// Vitrine builds ./cmd/vitrine on first use and returns the binary's path;
// a build failure fails every caller.
func Vitrine(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		root, err := Root()
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "vitrine-testbin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vitrine")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/vitrine")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/vitrine: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Cleanup removes the built binary; TestMain calls it after m.Run.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Root walks up from the working directory to the directory holding go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Buffer collects a process's output while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
