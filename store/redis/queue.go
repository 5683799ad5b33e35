package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"vitrine/store"
)

func checkTask(t store.Task) error {
	if t.Key == "" {
		return errors.New("task with an empty key")
	}
	return checkTimes(t.NotBefore)
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

// taskArgs appends the 5 script arguments of one task: key, lane, NotBefore
// ("" for none), the time that orders it among ready keys, its arrival. A
// task arrives at received when set (a webhook delivery), else at its
// NotBefore, else at now; it is ordered by its NotBefore, else by now.
func taskArgs(args []any, t store.Task, now, received time.Time) []any {
	orderAt, arrival := now, now
	if !t.NotBefore.IsZero() {
		orderAt, arrival = t.NotBefore, t.NotBefore
	}
	if !received.IsZero() {
		arrival = received
	}
	return append(args, t.Key, int64(t.Lane), encOpt(t.NotBefore), encTime(orderAt), encOpt(arrival))
}

// Enqueue implements store.Queue. A task without NotBefore arrives now on
// the store's clock; one with a NotBefore is taken to arrive then.
func (s *Store) Enqueue(ctx context.Context, tasks ...store.Task) error {
	err := s.ready()
	for _, t := range tasks {
		if err == nil {
			err = checkTask(t)
		}
	}
	if err == nil {
		err = s.pump(ctx)
	}
	if err == nil && len(tasks) > 0 {
		now := s.clock.Now()
		args := []any{s.p, len(tasks)}
		for _, t := range tasks {
			args = taskArgs(args, t, now, time.Time{})
		}
		err = enqueueScript.Run(ctx, s.rdb, nil, args...).Err()
	}
	if err != nil {
		return s.fail("enqueue", taskKeys(tasks), err)
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

// decJob reads a job as the scripts return it: key, lane, attempt, token,
// owner, enqueued, last error.
func decJob(v any) (*store.Job, error) {
	f, ok := v.([]any)
	if !ok || len(f) != 7 {
		return nil, fmt.Errorf("unexpected job reply %v", v)
	}
	str := func(i int) string { x, _ := f[i].(string); return x }
	lane, err1 := strconv.ParseInt(str(1), 10, 64)
	attempt, err2 := strconv.Atoi(str(2))
	token, err3 := strconv.ParseInt(str(3), 10, 64)
	enq, err4 := decTime(str(5))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, fmt.Errorf("job reply: %w", err)
	}
	return &store.Job{Key: str(0), Lane: store.Lane(lane), Attempt: attempt, Token: token, Owner: str(4),
		Enqueued: enq, LastError: str(6)}, nil
}

// Claim implements store.Queue. It first moves waiting intake entries into
// the queue (see the package comment), then leases the best ready key in
// one script: lane, then time, then arrival; an expired lease is taken over.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Job, error) {
	err := s.ready()
	if err == nil {
		err = checkLease(owner, now, lease)
	}
	if err == nil {
		err = s.pump(ctx)
	}
	var v any
	if err == nil {
		v, err = claimScript.Run(ctx, s.rdb, nil, s.p, owner, encTime(now), encTime(now.Add(lease))).Result()
	}
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	var job *store.Job
	if err == nil {
		job, err = decJob(v)
	}
	if err != nil {
		return nil, s.fail("claim", owner, err)
	}
	return job, nil
}

// Lock implements store.Queue. Unlike Claim it consumes nothing: a request
// pending for the key stays pending (it runs once more after Complete), and
// a taken-over pass is requested again.
func (s *Store) Lock(ctx context.Context, key, owner string, now time.Time, lease time.Duration) (*store.Job, bool, error) {
	err := s.ready()
	if err == nil {
		err = checkLease(owner, now, lease)
	}
	if err == nil && key == "" {
		err = errors.New("empty key")
	}
	if err == nil {
		err = s.pump(ctx)
	}
	var v any
	if err == nil {
		v, err = lockScript.Run(ctx, s.rdb, nil, s.p, key, owner, encTime(now), encTime(now.Add(lease))).Result()
	}
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	var job *store.Job
	if err == nil {
		job, err = decJob(v)
	}
	if err != nil {
		return nil, false, s.fail("lock", key, err)
	}
	return job, true, nil
}

func jobKey(j *store.Job) string {
	if j == nil {
		return "(nil job)"
	}
	return j.Key
}

// finish runs a script that needs j's current lease. Except for Renew, it
// moves intake first: a delivery accepted during the pass must make the key
// dirty, as it would have with the SQLite store.
func (s *Store) finish(ctx context.Context, op string, sc *goredis.Script, j *store.Job, extra ...any) error {
	err := s.ready()
	if err == nil && j == nil {
		err = errors.New("nil job")
	}
	if err == nil && sc != renewScript {
		err = s.pump(ctx)
	}
	if err == nil {
		args := append([]any{s.p, j.Key, j.Token}, extra...)
		err = sc.Run(ctx, s.rdb, nil, args...).Err()
	}
	if err != nil {
		return s.fail(op, jobKey(j), err)
	}
	return nil
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, j *store.Job, now time.Time, lease time.Duration) error {
	if err := checkDuration(now, lease); err != nil {
		return s.fail("renew", jobKey(j), err)
	}
	return s.finish(ctx, "renew", renewScript, j, encTime(now.Add(lease)))
}

// Complete implements store.Queue: the attempt count and last error reset;
// a dirty key becomes claimable again.
func (s *Store) Complete(ctx context.Context, j *store.Job) error {
	return s.finish(ctx, "complete", completeScript, j)
}

// Retry implements store.Queue.
func (s *Store) Retry(ctx context.Context, j *store.Job, at time.Time, lastErr string) error {
	if err := checkTimes(at); err != nil {
		return s.fail("retry", jobKey(j), err)
	}
	return s.finish(ctx, "retry", retryScript, j, encOpt(at), encTime(at), lastErr)
}

// Defer implements store.Queue.
func (s *Store) Defer(ctx context.Context, j *store.Job, at time.Time) error {
	if err := checkTimes(at); err != nil {
		return s.fail("defer", jobKey(j), err)
	}
	return s.finish(ctx, "defer", deferScript, j, encOpt(at), encTime(at))
}

// Park implements store.Queue. A key requested again during the pass runs
// once more instead of parking: the new request may be the fix.
func (s *Store) Park(ctx context.Context, j *store.Job, lastErr string) error {
	return s.finish(ctx, "park", parkScript, j, lastErr)
}

// Unpark implements store.Queue: the key is ready at once with a fresh
// attempt count; a key that is not parked is left alone.
func (s *Store) Unpark(ctx context.Context, key string) error {
	err := s.ready()
	if err == nil {
		err = s.pump(ctx)
	}
	if err == nil {
		err = unparkScript.Run(ctx, s.rdb, nil, s.p, key, encTime(s.clock.Now())).Err()
	}
	if err != nil {
		return s.fail("unpark", key, err)
	}
	return nil
}

// Parked implements store.Queue: parked keys not currently leased, by key.
func (s *Store) Parked(ctx context.Context) ([]store.Job, error) {
	err := s.ready()
	if err == nil {
		err = s.pump(ctx)
	}
	var v any
	if err == nil {
		v, err = parkedScript.Run(ctx, s.rdb, nil, s.p).Result()
	}
	var out []store.Job
	if err == nil {
		rows, _ := v.([]any)
		for _, row := range rows {
			f, ok := row.([]any)
			if !ok || len(f) != 5 {
				err = fmt.Errorf("unexpected parked reply %v", row)
				break
			}
			str := func(i int) string { x, _ := f[i].(string); return x }
			lane, err1 := strconv.ParseInt(str(1), 10, 64)
			attempt, err2 := strconv.Atoi(str(2))
			enq, err3 := decTime(str(4))
			if err = errors.Join(err1, err2, err3); err != nil {
				break
			}
			out = append(out, store.Job{Key: str(0), Lane: store.Lane(lane), Attempt: attempt, LastError: str(3), Enqueued: enq})
		}
	}
	if err != nil {
		return nil, s.fail("list parked", "", err)
	}
	return out, nil
}

// NextReady implements store.Queue: the earliest time Claim could return a
// key, including the end of a running lease. A key without NotBefore is
// ready at any time: its time is the zero time. Intake entries not yet moved
// count as ready now.
func (s *Store) NextReady(ctx context.Context) (time.Time, bool, error) {
	err := s.ready()
	if err == nil {
		err = s.pump(ctx)
	}
	var at string
	if err == nil {
		at, err = nextReadyScript.Run(ctx, s.rdb, nil, s.p).Text()
	}
	if errors.Is(err, goredis.Nil) {
		if s.backlog.Load() {
			return time.Time{}, true, nil
		}
		return time.Time{}, false, nil
	}
	var t time.Time
	if err == nil {
		t, err = decTime(at)
	}
	if err != nil {
		return time.Time{}, false, s.fail("next ready", "", err)
	}
	if s.backlog.Load() {
		t = time.Time{}
	}
	return t, true, nil
}

// Stats implements store.Queue. Every key counts in exactly one bucket: an
// expired lease as Ready (Claim would take it), a dirty leased key as
// InFlight. Oldest is the age of the oldest pending request, dirty leased
// keys included. Intake counts stream entries still to move: those beyond
// one pump batch, and those another consumer read and has not moved yet.
func (s *Store) Stats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	err := s.ready()
	if err == nil {
		err = checkTimes(now, now.Add(time.Nanosecond))
	}
	if err == nil {
		err = s.pump(ctx)
	}
	var v []any
	if err == nil {
		v, err = statsScript.Run(ctx, s.rdb, nil, s.p, encTime(now.Add(time.Nanosecond)), s.stream).Slice()
	}
	var st store.QueueStats
	if err == nil && len(v) != 6 {
		err = fmt.Errorf("unexpected stats reply %v", v)
	}
	if err == nil {
		n := func(i int) int { x, _ := v[i].(int64); return int(x) }
		st = store.QueueStats{Ready: n(0), Waiting: n(1), InFlight: n(2), Parked: n(3), Intake: n(5)}
		if oldest, _ := v[4].(string); oldest != "" {
			var t time.Time
			if t, err = decTime(oldest); err == nil {
				st.Oldest = max(now.Sub(t), 0)
			}
		}
	}
	if err != nil {
		return store.QueueStats{}, s.fail("stats", "", err)
	}
	return st, nil
}
