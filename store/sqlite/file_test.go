package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vitrine/clock"
	"vitrine/store"
	"vitrine/store/storetest"
)

var t0 = storetest.T0

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenSetsDurableWALAndLocking(t *testing.T) {
	s := openTemp(t)
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL: the WAL is fsynced before a commit returns
		"foreign_keys": "1",
		"busy_timeout": "5000",
	} {
		if got := pragma(t, s.w, name); got != want {
			t.Errorf("writer PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	if got := pragma(t, s.r, "query_only"); got != "1" {
		t.Errorf("reader query_only = %s, want 1", got)
	}
	if got := pragma(t, s.r, "busy_timeout"); got != "5000" {
		t.Errorf("reader busy_timeout = %s, want 5000", got)
	}
	if s.Path() == "" || !strings.HasSuffix(s.Path(), "vitrine.db") {
		t.Errorf("Path() = %q", s.Path())
	}
}

func TestOpenRejectsPathsItCannotHonour(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory", filepath.Join(t.TempDir(), "a?b.db")} {
		if s, err := Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func schemaVersions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version FROM schema_version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func wantVersions(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	got := schemaVersions(t, db)
	if len(got) != n {
		t.Fatalf("schema_version rows = %v, want 1..%d", got, n)
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("schema_version rows = %v, want 1..%d", got, n)
		}
	}
}

func TestMigrateFromAnEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	wantVersions(t, s.w, schemaVersion())
	if schemaVersion() < 2 {
		t.Fatal("fewer than two migrations: the N-1 test below proves nothing")
	}
	// Opening again finds nothing to do.
	s2 := openAt(t, path)
	wantVersions(t, s2.w, schemaVersion())
}

func rawWriter(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateFromThePreviousVersionKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	db := rawWriter(t, path)
	n := schemaVersion()
	if err := migrate(t.Context(), db, migrations[:n-1], t0); err != nil {
		t.Fatal(err)
	}
	wantVersions(t, db, n-1)
	// Data written by the previous version, in its own schema.
	if _, err := db.ExecContext(t.Context(), `INSERT INTO snapshots (id, source, kind, hash, data, updated, seen)
		VALUES ('github:1', 'acme/github', 'item', 'h1', x'7b7d', ?1, ?1)`, ts(t0)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	wantVersions(t, s.w, n)
	snap, ok, err := s.GetSnapshot(t.Context(), "github:1")
	if err != nil || !ok || snap.Hash != "h1" || string(snap.Data) != "{}" || !snap.Updated.Equal(t0) {
		t.Fatalf("snapshot after migration: %+v ok=%v err=%v", snap, ok, err)
	}
	// And what the new step added works.
	if dup, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0, Tasks: []store.Task{{Key: "item:github:1"}}}); err != nil || dup {
		t.Fatalf("Accept after migration: dup=%v err=%v", dup, err)
	}
	if j, err := s.Claim(t.Context(), "w", t0, time.Minute); err != nil || j == nil || j.Key != "item:github:1" {
		t.Fatalf("Claim after migration: %+v err=%v", j, err)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	s := openAt(t, path)
	if _, err := s.w.ExecContext(t.Context(), "INSERT INTO schema_version (version, name, applied) VALUES (?1, 'from the future', ?2)",
		schemaVersion()+1, ts(t0)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), path)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file: %v", err)
	}
}

func TestAFailedMigrationChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	db := rawWriter(t, path)
	if err := migrate(t.Context(), db, migrations[:1], t0); err != nil {
		t.Fatal(err)
	}
	broken := append(append([]migration{}, migrations...), migration{len(migrations) + 1, "broken",
		"CREATE TABLE half (a); SELECT no_such_function();"})
	if err := migrate(t.Context(), db, broken, t0); err == nil {
		t.Fatal("a broken migration succeeded")
	}
	wantVersions(t, db, 1) // step 2 applied in the same transaction was rolled back too
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('half', 'queue')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables of the failed migration: %d (err %v)", n, err)
	}
	if err := migrate(t.Context(), db, []migration{{2, "gap", ""}}, t0); err == nil {
		t.Fatal("a migration list with a wrong version number was accepted")
	}
}

const crashChildEnv = "VITRINE_SQLITE_CRASH_CHILD"

// TestCrashChild is the process TestAcceptSurvivesAProcessCrash kills.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("helper process for TestAcceptSurvivesAProcessCrash")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if _, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0,
		Tasks: []store.Task{{Key: "item:github:1", Lane: store.LaneControl}}}); err != nil {
		fmt.Println("accept:", err)
		os.Exit(2)
	}
	j, ok, err := s.Lock(t.Context(), "view:acme", "sync", t0, time.Minute)
	if err != nil || !ok {
		fmt.Println("lock:", ok, err)
		os.Exit(2)
	}
	fmt.Printf("token=%d\n", j.Token)
	os.Stdout.Sync()
	// Die the hard way: no Close, no checkpoint, no deferred cleanup.
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestAcceptSurvivesAProcessCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	m := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "token="))
	childToken, err := strconv.ParseInt(m, 10, 64)
	if err != nil {
		t.Fatalf("child output %q", out)
	}
	// The commits are in the WAL only: nobody checkpointed them into the
	// main file, so what follows reads them through WAL recovery.
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no WAL left behind by the killed process: %v", err)
	}

	s := openAt(t, path)
	dup, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0.Add(time.Second)})
	if err != nil || !dup {
		t.Fatalf("redelivery after the crash: dup=%v err=%v; the accepted id was lost", dup, err)
	}
	j, err := s.Claim(t.Context(), "serve", t0, time.Minute)
	if err != nil || j == nil || j.Key != "item:github:1" {
		t.Fatalf("the accepted task after the crash: %+v err=%v", j, err)
	}
	// The dead process's lease is in the file too: it holds until it runs out.
	if _, ok, err := s.Lock(t.Context(), "view:acme", "serve", t0.Add(time.Minute-1), time.Minute); err != nil || ok {
		t.Fatalf("Lock of the dead process's key before expiry: ok=%v err=%v", ok, err)
	}
	j, ok, err := s.Lock(t.Context(), "view:acme", "serve", t0.Add(time.Minute), time.Minute)
	if err != nil || !ok || j.Token <= childToken {
		t.Fatalf("Lock after expiry: ok=%v job=%+v err=%v (dead token %d)", ok, j, err, childToken)
	}
}

func TestCloseCheckpointsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV(t.Context(), "ns", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("WAL of %d bytes left after Close", fi.Size())
	}
	s = openAt(t, path)
	if v, ok, err := s.GetKV(t.Context(), "ns", "k"); err != nil || !ok || string(v) != "v" {
		t.Fatalf("after reopen: %q ok=%v err=%v", v, ok, err)
	}
}

func TestALockedFileIsUnavailableNotLost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	s := openAt(t, path, WithBusyTimeout(50*time.Millisecond))
	other := rawWriter(t, path)
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0, Tasks: []store.Task{{Key: "k"}}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Accept while another process writes: %v, want store.ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "sqlite: accept delivery github:d1:") {
		t.Errorf("error does not name the delivery: %v", err)
	}
	// Readers are not blocked by a writer (WAL).
	if _, _, err := s.GetKV(t.Context(), "ns", "k"); err != nil {
		t.Fatalf("read while another process writes: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if dup, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0, Tasks: []store.Task{{Key: "k"}}}); err != nil || dup {
		t.Fatalf("Accept once the lock is free: dup=%v err=%v", dup, err)
	}
}

func TestErrorsNameTheObject(t *testing.T) {
	s := openTemp(t)
	l := store.Link{Customer: "acme", Target: "github:acme/x", Object: "obj", State: store.LinkLive}
	err := s.PutLink(t.Context(), store.Fence{Key: "op:acme|github:acme/x|obj", Token: 7}, l)
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("PutLink without a lease: %v", err)
	}
	if want := "sqlite: put link acme/github:acme/x/obj: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	err = s.Complete(t.Context(), &store.Job{Key: "view:acme", Token: 3})
	if !errors.Is(err, store.ErrFenced) || !strings.HasPrefix(err.Error(), "sqlite: complete view:acme: ") {
		t.Errorf("Complete of an unknown lease: %v", err)
	}
	err = s.AppendAudit(t.Context(), store.AuditEntry{Customer: "acme", Target: "page", Object: "o",
		Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil || !strings.HasPrefix(err.Error(), "sqlite: append audit acme/page/o: ") {
		t.Errorf("out-of-range time: %v", err)
	}
}

func TestPruneKeepsDeliveryIdsAWeek(t *testing.T) {
	clk := clock.NewFake(t0)
	s := openTemp(t, WithClock(clk))
	for id, age := range map[string]time.Duration{"old": 8 * 24 * time.Hour, "recent": 6 * 24 * time.Hour} {
		if _, err := s.Accept(t.Context(), store.Delivery{ID: id, Received: t0.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	// A caller asking to forget everything up to now still keeps a week.
	if err := s.PruneDeliveries(t.Context(), t0); err != nil {
		t.Fatal(err)
	}
	for id, wantDup := range map[string]bool{"old": false, "recent": true} {
		dup, err := s.Accept(t.Context(), store.Delivery{ID: id, Received: t0})
		if err != nil || dup != wantDup {
			t.Errorf("Accept(%s) after prune: dup=%v err=%v, want dup=%v", id, dup, err, wantDup)
		}
	}
}

func TestEnqueueArrivesOnTheStoreClock(t *testing.T) {
	clk := clock.NewFake(t0)
	s := openTemp(t, WithClock(clk))
	if err := s.Enqueue(t.Context(), store.Task{Key: "due", NotBefore: t0.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.Enqueue(t.Context(), store.Task{Key: "now"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(t.Context(), t0.Add(time.Hour))
	if err != nil || st.Oldest != time.Hour-30*time.Second || st.Ready != 2 {
		t.Fatalf("Stats = %+v err=%v, want Ready 2, Oldest 59m30s", st, err)
	}
	// Ready keys go by time: "due" at t0+30s, "now" arrived at t0+1m, so
	// enqueue order does not decide.
	for _, want := range []struct {
		key      string
		enqueued time.Time
	}{{"due", t0.Add(30 * time.Second)}, {"now", t0.Add(time.Minute)}} {
		j, err := s.Claim(t.Context(), "w", t0.Add(time.Hour), time.Minute)
		if err != nil || j == nil || j.Key != want.key {
			t.Fatalf("Claim = %+v err=%v, want %s", j, err, want.key)
		}
		if !j.Enqueued.Equal(want.enqueued) {
			t.Fatalf("%s Enqueued = %s, want %s", j.Key, j.Enqueued, want.enqueued)
		}
	}
}

func TestBackupIsAUsableCopy(t *testing.T) {
	s := openTemp(t)
	if err := s.PutKV(t.Context(), "epoch", "acme", []byte("3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0, Tasks: []store.Task{{Key: "k"}}}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(t.Context(), dst); err == nil {
		t.Fatal("Backup over an existing file succeeded")
	}
	b := openAt(t, dst)
	if v, ok, err := b.GetKV(t.Context(), "epoch", "acme"); err != nil || !ok || string(v) != "3" {
		t.Fatalf("backup KV: %q ok=%v err=%v", v, ok, err)
	}
	if dup, err := b.Accept(t.Context(), store.Delivery{ID: "github:d1", Received: t0}); err != nil || !dup {
		t.Fatalf("backup forgot the delivery: dup=%v err=%v", dup, err)
	}
	wantVersions(t, b.w, schemaVersion())
}

func TestTimesRoundTripExactly(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 7*3600)),
		time.Now(), // with a monotonic reading
	} {
		var got time.Time
		if err := (timeCol{&got}).Scan(ts(tm)); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(tm) || got.IsZero() != tm.IsZero() {
			t.Errorf("%s came back as %s", tm, got)
		}
	}
	// Its UTC instant is in year 10000: its text would not sort.
	if err := checkTimes(time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("x", -7*3600))); err == nil {
		t.Error("a time past year 9999 in UTC was accepted")
	}
	if ts(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)) >= ts(time.Date(2001, 1, 1, 0, 0, 0, 1, time.UTC)) ||
		ts(time.Time{}) >= ts(time.Unix(0, 0)) {
		t.Error("stored text does not sort in time order")
	}
}
