package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"vitrine/store"
)

// PutSnapshot implements store.Snapshots. An equal Updated is not "newer":
// the later read wins, since a source may change an item without bumping
// its updated time (a comment edit).
func (s *Store) PutSnapshot(ctx context.Context, snap store.Snapshot) (bool, error) {
	var changed bool
	err := checkTimes(snap.Updated, snap.Seen)
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			var hash string
			var updated time.Time
			err := tx.QueryRowContext(ctx, "SELECT hash, updated FROM snapshots WHERE id = ?1", snap.ID).
				Scan(&hash, timeCol{&updated})
			switch {
			case errors.Is(err, sql.ErrNoRows):
				changed = true
			case err != nil:
				return err
			case updated.After(snap.Updated):
				return nil // a stale read: keep the newer state
			default:
				changed = hash != snap.Hash
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO snapshots (id, source, kind, hash, data, updated, seen)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
				ON CONFLICT (id) DO UPDATE SET source = ?2, kind = ?3, hash = ?4, data = ?5, updated = ?6, seen = ?7`,
				snap.ID, snap.Source, snap.Kind, snap.Hash, blob(snap.Data), ts(snap.Updated), ts(snap.Seen))
			return err
		})
	}
	if err != nil {
		return false, fail("put snapshot", snap.ID, err)
	}
	return changed, nil
}

const snapshotCols = "id, source, kind, hash, data, updated, seen"

func scanSnapshot(row interface{ Scan(...any) error }) (store.Snapshot, error) {
	var s store.Snapshot
	err := row.Scan(&s.ID, &s.Source, &s.Kind, &s.Hash, &s.Data, timeCol{&s.Updated}, timeCol{&s.Seen})
	s.Data = blob(s.Data)
	return s, err
}

// GetSnapshot implements store.Snapshots.
func (s *Store) GetSnapshot(ctx context.Context, id string) (store.Snapshot, bool, error) {
	db, err := s.reader()
	if err != nil {
		return store.Snapshot{}, false, fail("get snapshot", id, err)
	}
	snap, err := scanSnapshot(db.QueryRowContext(ctx, "SELECT "+snapshotCols+" FROM snapshots WHERE id = ?1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Snapshot{}, false, nil
	}
	if err != nil {
		return store.Snapshot{}, false, fail("get snapshot", id, err)
	}
	return snap, true, nil
}

// DeleteSnapshot implements store.Snapshots.
func (s *Store) DeleteSnapshot(ctx context.Context, id string) (bool, error) {
	var existed bool
	err := s.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM snapshots WHERE id = ?1", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		existed = n > 0
		return err
	})
	if err != nil {
		return false, fail("delete snapshot", id, err)
	}
	return existed, nil
}

// ListSnapshots implements store.Snapshots, ordered by ID.
func (s *Store) ListSnapshots(ctx context.Context, source string) ([]store.Snapshot, error) {
	var out []store.Snapshot
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		snap, err := scanSnapshot(row)
		out = append(out, snap)
		return err
	}, "SELECT "+snapshotCols+" FROM snapshots WHERE source = ?1 ORDER BY id", source)
	if err != nil {
		return nil, fail("list snapshots", source, err)
	}
	return out, nil
}

// query runs a read and calls each for every row.
func (s *Store) query(ctx context.Context, each func(row interface{ Scan(...any) error }) error, q string, args ...any) error {
	db, err := s.reader()
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PutView implements store.Views.
func (s *Store) PutView(ctx context.Context, v store.ViewRecord) error {
	err := checkTimes(v.Changed)
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO views (customer, hash, data, changed) VALUES (?1, ?2, ?3, ?4)
				ON CONFLICT (customer) DO UPDATE SET hash = ?2, data = ?3, changed = ?4`,
				v.Customer, v.Hash, blob(v.Data), ts(v.Changed))
			return err
		})
	}
	if err != nil {
		return fail("put view", v.Customer, err)
	}
	return nil
}

// GetView implements store.Views.
func (s *Store) GetView(ctx context.Context, customer string) (store.ViewRecord, bool, error) {
	db, err := s.reader()
	if err != nil {
		return store.ViewRecord{}, false, fail("get view", customer, err)
	}
	v := store.ViewRecord{Customer: customer}
	err = db.QueryRowContext(ctx, "SELECT hash, data, changed FROM views WHERE customer = ?1", customer).
		Scan(&v.Hash, &v.Data, timeCol{&v.Changed})
	if errors.Is(err, sql.ErrNoRows) {
		return store.ViewRecord{}, false, nil
	}
	if err != nil {
		return store.ViewRecord{}, false, fail("get view", customer, err)
	}
	v.Data = blob(v.Data)
	return v, true, nil
}

// DeleteView implements store.Views; deleting a missing view is no error.
func (s *Store) DeleteView(ctx context.Context, customer string) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM views WHERE customer = ?1", customer)
		return err
	})
	if err != nil {
		return fail("delete view", customer, err)
	}
	return nil
}

// ListViews implements store.Views, ordered by customer id.
func (s *Store) ListViews(ctx context.Context) ([]string, error) {
	var out []string
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var c string
		err := row.Scan(&c)
		out = append(out, c)
		return err
	}, "SELECT customer FROM views ORDER BY customer")
	if err != nil {
		return nil, fail("list views", "", err)
	}
	return out, nil
}

func linkName(customer, target, object string) string {
	return customer + "/" + target + "/" + object
}

// checkFence fails with store.ErrFenced unless f is the current lease on its
// key. An expired lease nobody took yet still holds: the fence guards
// against a second writer, not against slowness.
func checkFence(ctx context.Context, tx *sql.Tx, f store.Fence) error {
	var token int64
	err := tx.QueryRowContext(ctx, "SELECT token FROM queue WHERE key = ?1 AND owner IS NOT NULL", f.Key).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && token != f.Token) {
		return fmt.Errorf("fence %s@%d: %w", f.Key, f.Token, store.ErrFenced)
	}
	return err
}

// GetLink implements store.Links.
func (s *Store) GetLink(ctx context.Context, customer, target, object string) (store.Link, bool, error) {
	var l store.Link
	found := false
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		found = true
		var err error
		l, err = scanLink(row)
		return err
	}, "SELECT "+linkCols+" FROM links WHERE customer = ?1 AND target = ?2 AND object = ?3", customer, target, object)
	if err != nil {
		return store.Link{}, false, fail("get link", linkName(customer, target, object), err)
	}
	return l, found, nil
}

const linkCols = "customer, target, object, ref, key, hash, remote, state, created, updated"

func scanLink(row interface{ Scan(...any) error }) (store.Link, error) {
	var l store.Link
	err := row.Scan(&l.Customer, &l.Target, &l.Object, &l.Ref, &l.Key, &l.Hash, &l.Remote, &l.State,
		timeCol{&l.Created}, timeCol{&l.Updated})
	return l, err
}

// PutLink implements store.Links: the write lands only while f holds.
func (s *Store) PutLink(ctx context.Context, f store.Fence, l store.Link) error {
	err := checkTimes(l.Created, l.Updated)
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			if err := checkFence(ctx, tx, f); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO links (`+linkCols+`)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
				ON CONFLICT (customer, target, object) DO UPDATE SET
					ref = ?4, key = ?5, hash = ?6, remote = ?7, state = ?8, created = ?9, updated = ?10`,
				l.Customer, l.Target, l.Object, l.Ref, l.Key, l.Hash, l.Remote, l.State, ts(l.Created), ts(l.Updated))
			return err
		})
	}
	if err != nil {
		return fail("put link", linkName(l.Customer, l.Target, l.Object), err)
	}
	return nil
}

// DeleteLink implements store.Links; deleting a missing link is no error.
func (s *Store) DeleteLink(ctx context.Context, f store.Fence, customer, target, object string) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		if err := checkFence(ctx, tx, f); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM links WHERE customer = ?1 AND target = ?2 AND object = ?3",
			customer, target, object)
		return err
	})
	if err != nil {
		return fail("delete link", linkName(customer, target, object), err)
	}
	return nil
}

// ListLinks implements store.Links. Object keys compare bytewise (SQLite's
// BINARY collation), the same order as Go's string comparison.
func (s *Store) ListLinks(ctx context.Context, customer, target, prefix string) ([]store.Link, error) {
	q := "SELECT " + linkCols + " FROM links WHERE customer = ?1 AND target = ?2 AND object >= ?3"
	args := []any{customer, target, prefix}
	if hi, ok := prefixEnd(prefix); ok {
		q += " AND object < ?4"
		args = append(args, hi)
	}
	q += " ORDER BY object"
	var out []store.Link
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		l, err := scanLink(row)
		out = append(out, l)
		return err
	}, q, args...)
	if err != nil {
		return nil, fail("list links", linkName(customer, target, prefix+"*"), err)
	}
	return out, nil
}

// prefixEnd is the least string greater than every string starting with
// prefix; ok is false when there is none ("" or all 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// AppendAudit implements store.Audit; e.Seq is ignored and assigned.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	err := checkTimes(e.Time)
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO audit (time, customer, target, object, action, rule, hash, detail)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
				ts(e.Time), e.Customer, e.Target, e.Object, e.Action, e.Rule, e.Hash, e.Detail)
			return err
		})
	}
	if err != nil {
		return fail("append audit", linkName(e.Customer, e.Target, e.Object), err)
	}
	return nil
}

// ListAudit implements store.Audit: entries in Seq order; with a Limit, the
// newest Limit of the matching entries.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Customer != "" {
		add("customer = ?%d", q.Customer)
	}
	if q.Target != "" {
		add("target = ?%d", q.Target)
	}
	if q.Object != "" {
		add("object = ?%d", q.Object)
	}
	if !q.Since.IsZero() {
		if err := checkTimes(q.Since); err != nil {
			return nil, fail("list audit", linkName(q.Customer, q.Target, q.Object), err)
		}
		add("time >= ?%d", ts(q.Since))
	}
	sel := "SELECT seq, time, customer, target, object, action, rule, hash, detail FROM audit"
	if len(where) > 0 {
		sel += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Limit > 0 {
		args = append(args, q.Limit)
		sel = fmt.Sprintf("SELECT * FROM (%s ORDER BY seq DESC LIMIT ?%d)", sel, len(args))
	}
	sel += " ORDER BY seq"
	var out []store.AuditEntry
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var e store.AuditEntry
		err := row.Scan(&e.Seq, timeCol{&e.Time}, &e.Customer, &e.Target, &e.Object, &e.Action, &e.Rule, &e.Hash, &e.Detail)
		out = append(out, e)
		return err
	}, sel, args...)
	if err != nil {
		return nil, fail("list audit", linkName(q.Customer, q.Target, q.Object), err)
	}
	return out, nil
}

// GetKV implements store.KV.
func (s *Store) GetKV(ctx context.Context, ns, key string) ([]byte, bool, error) {
	var val []byte
	found := false
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		found = true
		return row.Scan(&val)
	}, "SELECT val FROM kv WHERE ns = ?1 AND key = ?2", ns, key)
	if err != nil {
		return nil, false, fail("get kv", ns+"/"+key, err)
	}
	if !found {
		return nil, false, nil
	}
	return blob(val), true, nil
}

// PutKV implements store.KV.
func (s *Store) PutKV(ctx context.Context, ns, key string, val []byte) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (ns, key, val) VALUES (?1, ?2, ?3)
			ON CONFLICT (ns, key) DO UPDATE SET val = ?3`, ns, key, blob(val))
		return err
	})
	if err != nil {
		return fail("put kv", ns+"/"+key, err)
	}
	return nil
}

// DeleteKV implements store.KV; deleting a missing key is no error.
func (s *Store) DeleteKV(ctx context.Context, ns, key string) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM kv WHERE ns = ?1 AND key = ?2", ns, key)
		return err
	})
	if err != nil {
		return fail("delete kv", ns+"/"+key, err)
	}
	return nil
}

// ListKV implements store.KV; an empty namespace gives an empty map.
func (s *Store) ListKV(ctx context.Context, ns string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var k string
		var v []byte
		err := row.Scan(&k, &v)
		out[k] = blob(v)
		return err
	}, "SELECT key, val FROM kv WHERE ns = ?1", ns)
	if err != nil {
		return nil, fail("list kv", ns, err)
	}
	return out, nil
}
