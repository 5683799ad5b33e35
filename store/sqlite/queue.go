package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vitrine/store"
)

// Request states of a queue row.
const (
	reqNone    = 0
	reqPending = 1
	reqParked  = 2
)

// qrow is one key's queue state: at most one request (pending or parked)
// and at most one lease. All queue semantics are in Go on this struct,
// inside a write transaction; SQL only loads, finds and stores rows.
type qrow struct {
	key string

	// The request: one per key, however many arrived (coalesced).
	req       int
	lane      store.Lane
	notBefore time.Time // ready time; zero: ready at any now
	orderAt   time.Time // orders ready keys: NotBefore, or arrival when none was given
	enqueued  time.Time // arrival of the oldest request folded in
	seq       int64     // tie-break among equal times: arrival order

	attempt int
	lastErr string

	// The lease.
	leased      bool
	owner       string
	token       int64
	leaseUntil  time.Time
	jobLane     store.Lane
	jobEnqueued time.Time
}

const qrowCols = `key, req, lane, not_before, order_at, enqueued, seq, attempt, last_error,
	owner, token, lease_until, job_lane, job_enqueued`

func loadRow(ctx context.Context, tx *sql.Tx, key string) (qrow, bool, error) {
	r := qrow{key: key}
	var owner sql.NullString
	err := tx.QueryRowContext(ctx, "SELECT "+qrowCols+" FROM queue WHERE key = ?1", key).Scan(
		&r.key, &r.req, &r.lane, timeCol{&r.notBefore}, timeCol{&r.orderAt}, timeCol{&r.enqueued}, &r.seq,
		&r.attempt, &r.lastErr, &owner, &r.token, timeCol{&r.leaseUntil}, &r.jobLane, timeCol{&r.jobEnqueued})
	if errors.Is(err, sql.ErrNoRows) {
		return qrow{key: key}, false, nil
	}
	if err != nil {
		return r, false, err
	}
	r.leased, r.owner = owner.Valid, owner.String
	return r, true, nil
}

// save stores r, or deletes it when nothing is left to remember.
func (r *qrow) save(ctx context.Context, tx *sql.Tx) error {
	if r.req == reqNone && !r.leased {
		_, err := tx.ExecContext(ctx, "DELETE FROM queue WHERE key = ?1", r.key)
		return err
	}
	// Claim may take a leased key once its lease ran out (its pass was
	// abandoned), in the better of the two lanes; otherwise a pending key
	// once its time has come.
	var claimLane sql.NullInt64
	var claimAt, claimOrder sql.NullString
	switch {
	case r.leased:
		lane := r.jobLane
		if r.req == reqPending && r.lane < lane {
			lane = r.lane
		}
		claimLane = sql.NullInt64{Int64: int64(lane), Valid: true}
		claimAt = sql.NullString{String: ts(r.leaseUntil), Valid: true}
		claimOrder = claimAt
	case r.req == reqPending:
		claimLane = sql.NullInt64{Int64: int64(r.lane), Valid: true}
		claimAt = sql.NullString{String: ts(r.notBefore), Valid: true}
		claimOrder = sql.NullString{String: ts(r.orderAt), Valid: true}
	}
	var owner sql.NullString
	if r.leased {
		owner = sql.NullString{String: r.owner, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO queue (`+qrowCols+`, claim_lane, claim_at, claim_order)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)`,
		r.key, r.req, r.lane, ts(r.notBefore), ts(r.orderAt), ts(r.enqueued), r.seq, r.attempt, r.lastErr,
		owner, r.token, ts(r.leaseUntil), r.jobLane, ts(r.jobEnqueued), claimLane, claimAt, claimOrder)
	return err
}

func nextCounter(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value", name).Scan(&v)
	return v, err
}

// request folds one request into r: requests coalesce to the lowest lane and
// the earliest times. A request for a parked key unparks it, with a fresh
// attempt count; a request for a leased key makes it dirty.
func (r *qrow) request(ctx context.Context, tx *sql.Tx, lane store.Lane, notBefore, orderAt, arrival time.Time) error {
	if r.req == reqPending {
		if lane < r.lane {
			r.lane = lane
		}
		r.notBefore = earliest(r.notBefore, notBefore)
		r.orderAt = earliest(r.orderAt, orderAt)
		r.enqueued = earliestArrival(r.enqueued, arrival)
		return nil
	}
	if r.req == reqParked {
		r.attempt = 0
	}
	seq, err := nextCounter(ctx, tx, "seq")
	if err != nil {
		return err
	}
	r.req, r.lane, r.notBefore, r.orderAt, r.enqueued, r.seq = reqPending, lane, notBefore, orderAt, arrival, seq
	return nil
}

// earliest is the earlier of two times. A zero NotBefore ("ready now") is
// thus earlier than any other, as coalescing wants.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// earliestArrival ignores zero (unknown) arrivals.
func earliestArrival(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	}
	return earliest(a, b)
}

// lease gives r to owner with a fresh token, taking over an expired lease.
// A taken-over pass counts as failed: a job that kills its worker is
// eventually parked instead of killing every worker in turn.
func (r *qrow) lease(ctx context.Context, tx *sql.Tx, owner string, until time.Time, lane store.Lane, enqueued time.Time) error {
	token, err := nextCounter(ctx, tx, "token")
	if err != nil {
		return err
	}
	if r.leased {
		r.attempt++
		r.lastErr = fmt.Sprintf("lease of %s expired", r.owner)
	}
	r.leased, r.owner, r.token, r.leaseUntil, r.jobLane, r.jobEnqueued = true, owner, token, until, lane, enqueued
	return nil
}

func (r *qrow) job() *store.Job {
	return &store.Job{Key: r.key, Lane: r.jobLane, Attempt: r.attempt, Token: r.token, Owner: r.owner,
		Enqueued: r.jobEnqueued, LastError: r.lastErr}
}

func (s *Store) checkTask(t store.Task) error {
	if t.Key == "" {
		return errors.New("task with an empty key")
	}
	return checkTimes(t.NotBefore)
}

// enqueue folds tasks in. A task arrives at received when set (a webhook
// delivery), else at its NotBefore, else at now; it is ordered among ready
// keys by its NotBefore, else by now.
func enqueue(ctx context.Context, tx *sql.Tx, now, received time.Time, tasks []store.Task) error {
	for _, t := range tasks {
		r, _, err := loadRow(ctx, tx, t.Key)
		if err != nil {
			return err
		}
		orderAt, arrival := now, now
		if !t.NotBefore.IsZero() {
			orderAt, arrival = t.NotBefore, t.NotBefore
		}
		if !received.IsZero() {
			arrival = received
		}
		if err := r.request(ctx, tx, t.Lane, t.NotBefore, orderAt, arrival); err != nil {
			return err
		}
		if err := r.save(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

func taskKeys(tasks []store.Task) string {
	switch len(tasks) {
	case 0:
		return "(no tasks)"
	case 1:
		return tasks[0].Key
	}
	return fmt.Sprintf("%s and %d more", tasks[0].Key, len(tasks)-1)
}

// Enqueue implements store.Queue. A task without NotBefore arrives now on
// the store's clock; one with a NotBefore is taken to arrive then.
func (s *Store) Enqueue(ctx context.Context, tasks ...store.Task) error {
	for _, t := range tasks {
		if err := s.checkTask(t); err != nil {
			return fail("enqueue", taskKeys(tasks), err)
		}
	}
	now := s.clock.Now()
	err := s.update(ctx, func(tx *sql.Tx) error {
		return enqueue(ctx, tx, now, time.Time{}, tasks)
	})
	if err != nil {
		return fail("enqueue", taskKeys(tasks), err)
	}
	return nil
}

// Accept implements store.Intake: the delivery id and its tasks commit in one
// transaction (fsynced, see the package comment) before Accept returns. The
// tasks arrive at d.Received.
func (s *Store) Accept(ctx context.Context, d store.Delivery) (bool, error) {
	if d.Received.IsZero() {
		d.Received = s.clock.Now()
	}
	err := checkTimes(d.Received)
	if err == nil && d.ID == "" {
		err = errors.New("empty delivery id")
	}
	for _, t := range d.Tasks {
		if err == nil {
			err = s.checkTask(t)
		}
	}
	var dup bool
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, "INSERT INTO deliveries (id, received) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
				d.ID, ts(d.Received))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				dup = true
				return nil
			}
			return enqueue(ctx, tx, d.Received, d.Received, d.Tasks)
		})
	}
	if err != nil {
		return false, fail("accept delivery", d.ID, err)
	}
	return dup, nil
}

// PruneDeliveries implements store.Intake. Ids younger than
// DeliveryRetention on the store's clock are kept whatever before says: a
// forgotten id lets a redelivery through as new work.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) error {
	if floor := s.clock.Now().Add(-store.DeliveryRetention); floor.Before(before) {
		before = floor
	}
	err := checkTimes(before)
	if err == nil {
		err = s.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM deliveries WHERE received < ?1", ts(before))
			return err
		})
	}
	if err != nil {
		return fail("prune deliveries", "before "+ts(before), err)
	}
	return nil
}

func checkLease(owner string, now time.Time, lease time.Duration) error {
	if owner == "" {
		return errors.New("empty owner")
	}
	return checkDuration(now, lease)
}

func checkDuration(now time.Time, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("lease %s is not positive", lease)
	}
	return checkTimes(now, now.Add(lease))
}

// Claim implements store.Queue. A claim consumes the key's request; an
// expired lease is taken over.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Job, error) {
	if err := checkLease(owner, now, lease); err != nil {
		return nil, fail("claim", owner, err)
	}
	// An idle poll should not take the write lock that intake needs: look
	// first on a reader. Anything committed before this call is visible to
	// it, so a miss here is a true "nothing ready at now".
	db, err := s.reader()
	if err != nil {
		return nil, fail("claim", owner, err)
	}
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1 FROM queue WHERE claim_at IS NOT NULL AND claim_at <= ?1 LIMIT 1", ts(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fail("claim", owner, err)
	}
	var job *store.Job
	err = s.update(ctx, func(tx *sql.Tx) error {
		var key string
		err := tx.QueryRowContext(ctx, `SELECT key FROM queue WHERE claim_at IS NOT NULL AND claim_at <= ?1
			ORDER BY claim_lane, claim_order, seq LIMIT 1`, ts(now)).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		r, _, err := loadRow(ctx, tx, key)
		if err != nil {
			return err
		}
		lane, enq := r.lane, r.enqueued
		if r.leased {
			// The abandoned pass and any request that arrived during it
			// are both served by this one.
			lane, enq = r.jobLane, r.jobEnqueued
			if r.req == reqPending {
				lane = min(lane, r.lane)
				enq = earliestArrival(enq, r.enqueued)
			}
		}
		if r.req == reqPending {
			r.req = reqNone
		}
		if err := r.lease(ctx, tx, owner, now.Add(lease), lane, enq); err != nil {
			return err
		}
		job = r.job()
		return r.save(ctx, tx)
	})
	if err != nil {
		return nil, fail("claim", owner, err)
	}
	return job, nil
}

// Lock implements store.Queue. Unlike Claim it consumes nothing: a request
// pending for the key stays pending (the key is dirty, so it runs once more
// after Complete), and a taken-over pass is requested again.
func (s *Store) Lock(ctx context.Context, key, owner string, now time.Time, lease time.Duration) (*store.Job, bool, error) {
	err := checkLease(owner, now, lease)
	if err == nil && key == "" {
		err = errors.New("empty key")
	}
	if err != nil {
		return nil, false, fail("lock", key, err)
	}
	var job *store.Job
	err = s.update(ctx, func(tx *sql.Tx) error {
		r, _, err := loadRow(ctx, tx, key)
		if err != nil {
			return err
		}
		if r.leased {
			if r.leaseUntil.After(now) {
				return nil
			}
			// The abandoned pass is asked for again, ready now.
			arrival := r.jobEnqueued
			if arrival.IsZero() {
				arrival = r.leaseUntil
			}
			if err := r.request(ctx, tx, r.jobLane, time.Time{}, r.leaseUntil, arrival); err != nil {
				return err
			}
		}
		lane, enq := store.LaneControl, time.Time{}
		if r.req == reqPending {
			lane, enq = r.lane, r.enqueued
		}
		if err := r.lease(ctx, tx, owner, now.Add(lease), lane, enq); err != nil {
			return err
		}
		job = r.job()
		return r.save(ctx, tx)
	})
	if err != nil {
		return nil, false, fail("lock", key, err)
	}
	return job, job != nil, nil
}

// held loads j's row and fails with ErrFenced unless j still holds it.
func held(ctx context.Context, tx *sql.Tx, j *store.Job) (qrow, error) {
	if j == nil {
		return qrow{}, errors.New("nil job")
	}
	r, _, err := loadRow(ctx, tx, j.Key)
	if err != nil {
		return r, err
	}
	if !r.leased || r.token != j.Token {
		return r, fmt.Errorf("token %d: %w", j.Token, store.ErrFenced)
	}
	return r, nil
}

func jobKey(j *store.Job) string {
	if j == nil {
		return "(nil job)"
	}
	return j.Key
}

// finish ends j's pass under its lease with fn's changes.
func (s *Store) finish(ctx context.Context, op string, j *store.Job, fn func(tx *sql.Tx, r *qrow) error) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		r, err := held(ctx, tx, j)
		if err != nil {
			return err
		}
		if err := fn(tx, &r); err != nil {
			return err
		}
		return r.save(ctx, tx)
	})
	if err != nil {
		return fail(op, jobKey(j), err)
	}
	return nil
}

func (r *qrow) release() {
	r.leased, r.owner, r.leaseUntil, r.jobLane, r.jobEnqueued = false, "", time.Time{}, 0, time.Time{}
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, j *store.Job, now time.Time, lease time.Duration) error {
	if err := checkDuration(now, lease); err != nil {
		return fail("renew", jobKey(j), err)
	}
	return s.finish(ctx, "renew", j, func(_ *sql.Tx, r *qrow) error {
		r.leaseUntil = now.Add(lease)
		return nil
	})
}

// Complete implements store.Queue: the pass succeeded, so the attempt count
// and last error reset; a dirty key becomes claimable again.
func (s *Store) Complete(ctx context.Context, j *store.Job) error {
	return s.finish(ctx, "complete", j, func(_ *sql.Tx, r *qrow) error {
		r.release()
		if r.req != reqParked {
			r.attempt, r.lastErr = 0, ""
		}
		return nil
	})
}

// requeue ends the pass and asks for another at at, folded together with
// any request that arrived meanwhile (the earlier time wins).
func (s *Store) requeue(ctx context.Context, tx *sql.Tx, r *qrow, at time.Time) error {
	lane, enq := r.jobLane, r.jobEnqueued
	r.release()
	if enq.IsZero() {
		enq = at
	}
	if r.req == reqParked { // a Lock on a parked key; the new request wins
		r.req = reqNone
	}
	return r.request(ctx, tx, lane, at, at, enq)
}

// Retry implements store.Queue.
func (s *Store) Retry(ctx context.Context, j *store.Job, at time.Time, lastErr string) error {
	if err := checkTimes(at); err != nil {
		return fail("retry", jobKey(j), err)
	}
	return s.finish(ctx, "retry", j, func(tx *sql.Tx, r *qrow) error {
		attempt := r.attempt + 1
		if err := s.requeue(ctx, tx, r, at); err != nil {
			return err
		}
		r.attempt, r.lastErr = attempt, lastErr
		return nil
	})
}

// Defer implements store.Queue.
func (s *Store) Defer(ctx context.Context, j *store.Job, at time.Time) error {
	if err := checkTimes(at); err != nil {
		return fail("defer", jobKey(j), err)
	}
	return s.finish(ctx, "defer", j, func(tx *sql.Tx, r *qrow) error {
		attempt, lastErr := r.attempt, r.lastErr
		if err := s.requeue(ctx, tx, r, at); err != nil {
			return err
		}
		r.attempt, r.lastErr = attempt, lastErr
		return nil
	})
}

// Park implements store.Queue. Park counts as a failed pass (Attempt+1). A
// key that was requested again during the pass is dirty and runs once more
// instead of parking: the new request may be the fix.
func (s *Store) Park(ctx context.Context, j *store.Job, lastErr string) error {
	return s.finish(ctx, "park", j, func(_ *sql.Tx, r *qrow) error {
		lane, enq := r.jobLane, r.jobEnqueued
		r.release()
		r.attempt++
		r.lastErr = lastErr
		switch r.req {
		case reqPending:
			r.lane = min(r.lane, lane)
			r.enqueued = earliestArrival(r.enqueued, enq)
		default:
			r.req, r.lane, r.enqueued = reqParked, lane, enq
			r.notBefore, r.orderAt = time.Time{}, time.Time{}
		}
		return nil
	})
}

// Unpark implements store.Queue: the key is ready at once, with a fresh
// attempt count and its last error kept for the next pass to see. A key
// that is not parked is left alone.
func (s *Store) Unpark(ctx context.Context, key string) error {
	now := s.clock.Now()
	err := s.update(ctx, func(tx *sql.Tx) error {
		r, ok, err := loadRow(ctx, tx, key)
		if err != nil || !ok || r.req != reqParked {
			return err
		}
		enq := r.enqueued
		if enq.IsZero() {
			enq = now
		}
		if err := r.request(ctx, tx, r.lane, time.Time{}, now, enq); err != nil {
			return err
		}
		return r.save(ctx, tx)
	})
	if err != nil {
		return fail("unpark", key, err)
	}
	return nil
}

// Parked implements store.Queue: parked keys not currently leased, by key.
func (s *Store) Parked(ctx context.Context) ([]store.Job, error) {
	var out []store.Job
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var j store.Job
		err := row.Scan(&j.Key, &j.Lane, &j.Attempt, &j.LastError, timeCol{&j.Enqueued})
		out = append(out, j)
		return err
	}, "SELECT key, lane, attempt, last_error, enqueued FROM queue WHERE req = ?1 AND owner IS NULL ORDER BY key", reqParked)
	if err != nil {
		return nil, fail("list parked", "", err)
	}
	return out, nil
}

// NextReady implements store.Queue: the earliest time Claim could return a
// key, including the expiry of a lease (an abandoned pass is taken over
// then). A key enqueued without NotBefore is ready at any time: its t is the
// zero time.
func (s *Store) NextReady(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	var ok bool
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var at sql.NullString
		if err := row.Scan(&at); err != nil {
			return err
		}
		if !at.Valid {
			return nil
		}
		ok = true
		return timeCol{&t}.Scan(at.String)
	}, "SELECT MIN(claim_at) FROM queue WHERE claim_at IS NOT NULL")
	if err != nil {
		return time.Time{}, false, fail("next ready", "", err)
	}
	return t, ok, nil
}

// Stats implements store.Queue. Every key counts in exactly one bucket: an
// expired lease counts as Ready (Claim would take it), a dirty leased key as
// InFlight. Oldest is the age of the oldest pending request.
func (s *Store) Stats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	if err := checkTimes(now); err != nil {
		return store.QueueStats{}, fail("stats", "", err)
	}
	var st store.QueueStats
	err := s.query(ctx, func(row interface{ Scan(...any) error }) error {
		var oldest sql.NullString
		if err := row.Scan(&st.Ready, &st.Waiting, &st.InFlight, &st.Parked, &oldest); err != nil {
			return err
		}
		if oldest.Valid {
			var t time.Time
			if err := (timeCol{&t}).Scan(oldest.String); err != nil {
				return err
			}
			st.Oldest = max(now.Sub(t), 0)
		}
		return nil
	}, `SELECT
		COALESCE(SUM(claim_at IS NOT NULL AND claim_at <= ?1), 0),
		COALESCE(SUM(owner IS NULL AND req = ?2 AND not_before > ?1), 0),
		COALESCE(SUM(owner IS NOT NULL AND lease_until > ?1), 0),
		COALESCE(SUM(owner IS NULL AND req = ?3), 0),
		MIN(CASE WHEN req = ?2 THEN enqueued END)
		FROM queue`, ts(now), reqPending, reqParked)
	if err != nil {
		return store.QueueStats{}, fail("stats", "", err)
	}
	return st, nil
}
