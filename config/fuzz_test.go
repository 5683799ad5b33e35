package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as a main rules file and as a file it may
// include (inc.yaml). Load must never panic, and must return either rules
// or Problems that print as `file:line: field: problem`, one a line.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(base), []byte(""))
	f.Add([]byte("include: [inc.yaml]\n"+base), []byte("customers:\n  - id: globex\n    sources: [{file: {path: inc.yaml}}]\n    publish: {label: g}\n    targets: [{page: {}}]\n"))
	// One directory per worker process: inputs run one at a time in a
	// worker, and a fresh directory per input costs most of the time.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		if err := os.WriteFile(filepath.Join(dir, "main.yaml"), main, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "inc.yaml"), inc, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(filepath.Join(dir, "main.yaml"))
		if err == nil {
			if r == nil {
				t.Fatal("Load returned neither rules nor an error")
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Load error is %T, want Problems: %v", err, err)
		}
		if r != nil {
			t.Fatal("Load returned rules with problems")
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !problemLine.MatchString(line) {
				t.Fatalf("problem %q is not file:line: field: problem", line)
			}
		}
	})
}
