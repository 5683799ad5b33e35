package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNewerSchema: the file was migrated by a newer vitrine; this binary would
// misread it, so it refuses to open it.
var ErrNewerSchema = errors.New("database schema is newer than this binary")

// migration is one schema step. Steps are append-only: a released step is
// never edited, a change is a new step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations, in order; version i+1 at index i.
var migrations = []migration{
	{1, "records: snapshots, views, links, audit, kv", `
CREATE TABLE snapshots (
	id      TEXT PRIMARY KEY,
	source  TEXT NOT NULL,
	kind    TEXT NOT NULL,
	hash    TEXT NOT NULL,
	data    BLOB NOT NULL,
	updated TEXT NOT NULL,
	seen    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX snapshots_by_source ON snapshots (source, id);

CREATE TABLE views (
	customer TEXT PRIMARY KEY,
	hash     TEXT NOT NULL,
	data     BLOB NOT NULL,
	changed  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE links (
	customer TEXT NOT NULL,
	target   TEXT NOT NULL,
	object   TEXT NOT NULL,
	ref      TEXT NOT NULL,
	key      TEXT NOT NULL,
	hash     TEXT NOT NULL,
	remote   TEXT NOT NULL,
	state    TEXT NOT NULL,
	created  TEXT NOT NULL,
	updated  TEXT NOT NULL,
	PRIMARY KEY (customer, target, object)
) WITHOUT ROWID;

-- AUTOINCREMENT: a sequence number is never handed out twice.
CREATE TABLE audit (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	time     TEXT NOT NULL,
	customer TEXT NOT NULL,
	target   TEXT NOT NULL,
	object   TEXT NOT NULL,
	action   TEXT NOT NULL,
	rule     TEXT NOT NULL,
	hash     TEXT NOT NULL,
	detail   TEXT NOT NULL
);
CREATE INDEX audit_by_customer ON audit (customer, seq);
CREATE INDEX audit_by_object ON audit (object, seq);

CREATE TABLE kv (
	ns  TEXT NOT NULL,
	key TEXT NOT NULL,
	val BLOB NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;
`},
	{2, "intake and work queue", `
CREATE TABLE deliveries (
	id       TEXT PRIMARY KEY,
	received TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_by_received ON deliveries (received);

-- One row per key that has a request, a parked request or a lease.
-- req: 0 none, 1 pending, 2 parked. A leased key with a pending request is
-- "dirty". claim_* are derived on every write (see qrow.save): when, in which
-- lane and in which order Claim may take the key; NULL: it may not.
CREATE TABLE queue (
	key          TEXT PRIMARY KEY,
	req          INTEGER NOT NULL,
	lane         INTEGER NOT NULL,
	not_before   TEXT NOT NULL,
	order_at     TEXT NOT NULL,
	enqueued     TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	attempt      INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	owner        TEXT,
	token        INTEGER NOT NULL,
	lease_until  TEXT NOT NULL,
	job_lane     INTEGER NOT NULL,
	job_enqueued TEXT NOT NULL,
	claim_lane   INTEGER,
	claim_at     TEXT,
	claim_order  TEXT
) WITHOUT ROWID;
CREATE INDEX queue_claim ON queue (claim_lane, claim_order, seq) WHERE claim_at IS NOT NULL;
CREATE INDEX queue_by_state ON queue (req, key);

-- Fencing tokens and arrival sequence numbers: in the file, so every
-- process sharing it draws from the same increasing sequence.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('token', 0), ('seq', 0);
`},
}

// schemaVersion is the version this binary writes.
func schemaVersion() int { return len(migrations) }

// migrate brings db to len(ms) in one transaction: either every pending step
// applies or none does, and two processes opening a fresh file at once
// serialise on the write lock (the second finds nothing to do).
func migrate(ctx context.Context, db *sql.DB, ms []migration, now time.Time) error {
	for i, m := range ms {
		if m.version != i+1 {
			return fmt.Errorf("migration %q has version %d, want %d", m.name, m.version, i+1)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: file has version %d, this binary knows up to %d; upgrade vitrine", ErrNewerSchema, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied) VALUES (?1, ?2, ?3)",
			m.version, m.name, ts(now)); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
