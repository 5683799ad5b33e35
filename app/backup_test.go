package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupCopiesTheStoreWhoseCopyServesTheSamePages: a backup taken after
// a sync opens as a store of its own holding the same views.
func TestBackupCopiesTheStoreWhoseCopyServesTheSamePages(t *testing.T) {
	dir := copyDemo(t)
	env := envFor(dir)
	mustRun(t, env, "sync")
	dst := filepath.Join(t.TempDir(), "copy.db")
	if r := mustRun(t, env, "backup", "--out", dst); !strings.Contains(r.Stdout, dst) {
		t.Fatalf("backup said %q", r.Stdout)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() == 0 {
		t.Fatalf("no backup file: %v", err)
	}
	before := run(t, env, "audit", "--customer", "acme", "--format", "json").Stdout
	copyEnv := append(envFor(dir), "VITRINE_STORE=sqlite://"+dst)
	if after := run(t, copyEnv, "audit", "--customer", "acme", "--format", "json").Stdout; after != before || before == "" {
		t.Errorf("the copy's audit differs from the original's")
	}
	if r := run(t, env, "backup", "--out", dst); r.Code == 0 {
		t.Errorf("backup over an existing file succeeded")
	}
}
