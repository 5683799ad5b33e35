// Package sqlite is the embedded store: store.Store on one SQLite file
// (modernc.org/sqlite, no cgo).
//
// Durability: the file runs in WAL mode with synchronous=FULL, so the WAL is
// fsynced before every commit returns. A webhook is answered 2xx only after
// Accept returns, and GitHub never redelivers by itself, so an accepted
// delivery must survive power loss, not only a process crash; NORMAL would
// fsync only at checkpoints and could lose the last commits on power loss.
//
// Locking: each *Store writes through a single connection and every write
// transaction is BEGIN IMMEDIATE, so it takes SQLite's write lock up front
// (waiting up to the busy timeout) instead of upgrading a read lock halfway,
// which is where SQLITE_BUSY surprises come from. Several *Store values on one
// file (a `serve` and a `sync` process) therefore serialise their writes on
// the file lock, and leases, fencing tokens and delivery ids live in the file,
// so they are shared. Reads use a small pool of read-only connections; WAL
// lets them run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"vitrine/clock"
	"vitrine/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on one SQLite file.
type Store struct {
	path  string
	w     *sql.DB // one connection; BEGIN IMMEDIATE
	r     *sql.DB // read-only connections
	clock clock.Clock
	busy  time.Duration

	closed atomic.Bool
}

type options struct {
	clock   clock.Clock
	busy    time.Duration
	readers int
}

// Option configures Open.
type Option func(*options)

// WithClock sets the clock that stamps when requests arrive (Enqueue without
// NotBefore, Unpark), migrations, and the delivery retention floor. Default:
// the wall clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithBusyTimeout sets how long a statement waits for another connection's
// lock before failing with store.ErrUnavailable. Default 5s: well under the
// 10 s GitHub gives a webhook.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busy = d } }

// WithReaders sets the number of read connections. Default 4.
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// Open opens (creating if needed) the store at path and migrates its schema.
// A file whose schema is newer than this binary knows is refused with
// ErrNewerSchema.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{clock: clock.Real{}, busy: 5 * time.Second, readers: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if o.busy < 0 || o.readers < 1 || o.clock == nil {
		return nil, fmt.Errorf("sqlite: open %s: invalid options", path)
	}
	s := &Store{path: path, clock: o.clock, busy: o.busy}
	fail := func(err error) (*Store, error) {
		if s.r != nil {
			_ = s.r.Close()
		}
		if s.w != nil {
			_ = s.w.Close()
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, classify(err))
	}

	w, err := sql.Open("sqlite", dsn(path, o.busy, true))
	if err != nil {
		return fail(err)
	}
	s.w = w
	// One long-lived writer: in-process writers queue in database/sql instead
	// of competing for SQLite's lock, and the connection's pragmas stay set.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := s.checkWriter(ctx); err != nil {
		return fail(err)
	}
	if err := migrate(ctx, w, migrations, o.clock.Now()); err != nil {
		return fail(err)
	}

	r, err := sql.Open("sqlite", dsn(path, o.busy, false))
	if err != nil {
		return fail(err)
	}
	s.r = r
	r.SetMaxOpenConns(o.readers)
	r.SetMaxIdleConns(o.readers)
	if err := r.PingContext(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// Each connection would get its own memory database, and a
		// URI would bypass the pragmas set here.
		return errors.New("a plain file path is required")
	case strings.ContainsRune(path, '?'):
		return errors.New("path must not contain '?'")
	}
	return nil
}

// dsn builds the connection string. busy_timeout comes first (the driver
// runs it first) so that switching to WAL on a busy file waits too.
func dsn(path string, busy time.Duration, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// checkWriter makes sure the settings durability rests on took effect: some
// file systems refuse WAL, and SQLite then silently keeps the old mode.
func (s *Store) checkWriter(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var syncMode int
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return err
	}
	if syncMode != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", syncMode)
	}
	return nil
}

// Path is the database file; back it up with Backup, not by copying it
// while it is open (the WAL holds recent commits).
func (s *Store) Path() string { return s.path }

// Backup writes a consistent, compacted copy of the database to dst, which
// must not exist, while the store stays in use (VACUUM INTO).
func (s *Store) Backup(ctx context.Context, dst string) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: backup %s: %w", dst, store.ErrUnavailable)
	}
	if err := checkPath(dst); err != nil {
		return fmt.Errorf("sqlite: backup %q: %w", dst, err)
	}
	// A connection of its own: VACUUM INTO only reads this database, and
	// neither the writer nor the query_only readers should be held for it.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(s.busy.Milliseconds(), 10)+")")
	db, err := sql.Open("sqlite", s.path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", dst, classify(err))
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?1", dst); err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", dst, classify(err))
	}
	return nil
}

// Ping checks that both the writer and a reader can run a statement.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: ping %s: %w", s.path, store.ErrUnavailable)
	}
	for _, db := range []*sql.DB{s.w, s.r} {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("sqlite: ping %s: %w", s.path, classify(err))
		}
	}
	return nil
}

// Close closes the readers, then the writer: the last connection to close
// checkpoints the WAL into the main file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// update runs fn in one BEGIN IMMEDIATE transaction on the writer. fn must
// use only tx: the writer has a single connection.
func (s *Store) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.closed.Load() {
		return store.ErrUnavailable
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// reader returns the read pool, or ErrUnavailable once closed.
func (s *Store) reader() (*sql.DB, error) {
	if s.closed.Load() {
		return nil, store.ErrUnavailable
	}
	return s.r, nil
}

// fail wraps err with the operation and the object it concerns.
func fail(op, object string, err error) error {
	return fmt.Errorf("sqlite: %s %s: %w", op, object, classify(err))
}

// classify marks the errors that mean "the store cannot serve now" (locked
// past the busy timeout, I/O, full disk, closed) as store.ErrUnavailable, so
// intake answers 503 and the worker backs off instead of parking work.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrFenced) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOMEM:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}

// Times are stored as fixed-width UTC RFC 3339 text with nanoseconds: exact
// round trips, byte order equals time order (so SQL compares them), the zero
// time sorts first, and the file stays readable with the sqlite3 shell.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// checkTimes rejects times whose text would not sort (years past 9999).
func checkTimes(times ...time.Time) error {
	for _, t := range times {
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("time %s out of range (years 1-9999)", t)
		}
	}
	return nil
}

// timeCol scans a stored time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case nil:
		*c.t = time.Time{}
		return nil
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

// blob keeps empty values non-nil in both directions: a stored empty value
// is a value, not an absence.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
