package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"vitrine/store"
)

// encTasks packs a delivery's tasks into one stream field value: per task
// its key, lane and NotBefore.
func encTasks(tasks []store.Task) string {
	r := newRecord().int(int64(len(tasks)))
	for _, t := range tasks {
		r.str(t.Key).int(int64(t.Lane)).time(t.NotBefore)
	}
	return r.String()
}

func decTasks(v string) ([]store.Task, error) {
	r := readRecord(v)
	n := r.int()
	if r.err == nil && (n < 0 || n > int64(len(v))) {
		return nil, fmt.Errorf("stored task count %d", n)
	}
	tasks := make([]store.Task, 0, n)
	for range n {
		tasks = append(tasks, store.Task{Key: r.str(), Lane: store.Lane(r.int()), NotBefore: r.time()})
	}
	return tasks, r.done()
}

// Accept implements store.Intake: one script records the delivery id (SET
// NX with a TTL of at least store.DeliveryRetention) and appends the tasks
// to the intake stream, or does nothing for an id seen before. The tasks
// reach the queue on the next move (see the package comment); they arrive
// at d.Received. Accept runs under Options.Timeout, so a Redis that is down
// or stalled fails it promptly with store.ErrUnavailable.
func (s *Store) Accept(ctx context.Context, d store.Delivery) (bool, error) {
	err := s.ready()
	if d.Received.IsZero() {
		d.Received = s.clock.Now()
	}
	if err == nil {
		err = checkTimes(d.Received)
	}
	if err == nil && d.ID == "" {
		err = errors.New("empty delivery id")
	}
	for _, t := range d.Tasks {
		if err == nil {
			err = checkTask(t)
		}
	}
	var dup int64
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
		defer cancel()
		dup, err = acceptScript.Run(ctx, s.rdb, []string{s.p + "dlv:" + d.ID, s.p + "dlvx", s.stream},
			d.ID, encTime(d.Received), int64(s.o.DeliveryTTL/time.Second), len(d.Tasks), encTasks(d.Tasks)).Int64()
	}
	if err != nil {
		return false, s.fail("accept delivery", d.ID, err)
	}
	return dup == 1, nil
}

// PruneDeliveries implements store.Intake. Ids younger than
// store.DeliveryRetention on the store's clock are kept whatever before
// says. Redis also expires each id after Options.DeliveryTTL; pruning keeps
// the index that PruneDeliveries itself walks small.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) error {
	if floor := s.clock.Now().Add(-store.DeliveryRetention); floor.Before(before) {
		before = floor
	}
	err := s.ready()
	if err == nil {
		err = checkTimes(before)
	}
	const batch = 500
	for err == nil {
		var n int64
		n, err = pruneScript.Run(ctx, s.rdb, []string{s.p + "dlvx"}, s.p, encTime(before), batch).Int64()
		if n < batch {
			break
		}
	}
	if err != nil {
		return s.fail("prune deliveries", "before "+before.UTC().Format(time.RFC3339Nano), err)
	}
	return nil
}

// pump moves intake entries into the queue: first, at most every
// ReclaimIdle/2, entries idle that long on any consumer (XAUTOCLAIM), then
// up to PumpBatch new ones (XREADGROUP). See the package comment.
func (s *Store) pump(ctx context.Context) (err error) {
	s.pumpMu.Lock()
	defer s.pumpMu.Unlock()
	if s.closed.Load() {
		return store.ErrUnavailable
	}
	defer func() {
		if err != nil {
			s.ownPending = true
		}
	}()
	if s.ownPending {
		if err := s.moveOwn(ctx); err != nil {
			return fmt.Errorf("move intake read before a failure: %w", err)
		}
		s.ownPending = false
	}
	if time.Since(s.lastReclaim) >= s.o.ReclaimIdle/2 {
		if err := s.reclaim(ctx); err != nil {
			return fmt.Errorf("reclaim intake: %w", err)
		}
		s.lastReclaim = time.Now()
	}
	msgs, err := s.read(ctx, ">")
	if err != nil {
		return fmt.Errorf("read intake: %w", err)
	}
	s.backlog.Store(len(msgs) == s.o.PumpBatch)
	return s.ingest(ctx, msgs)
}

// read reads from the intake group as this handle's consumer: id ">" for
// new entries, "0" for entries already delivered to it and not acked.
func (s *Store) read(ctx context.Context, id string) ([]goredis.XMessage, error) {
	args := &goredis.XReadGroupArgs{Group: group, Consumer: s.o.Consumer, Streams: []string{s.stream, id},
		Count: int64(s.o.PumpBatch), Block: -1}
	res, err := s.rdb.XReadGroup(ctx, args).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		// The stream was deleted (FLUSHDB, an operator): the next Accept
		// recreated it without the group.
		if err = s.createGroup(ctx); err == nil {
			res, err = s.rdb.XReadGroup(ctx, args).Result()
		}
	}
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil || len(res) == 0 {
		return nil, err
	}
	return res[0].Messages, nil
}

// reclaim takes over entries that sat read-but-unmoved on any consumer for
// ReclaimIdle, one batch per call, continuing where the last call stopped.
func (s *Store) reclaim(ctx context.Context) error {
	msgs, next, err := s.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: s.stream, Group: group,
		Consumer: s.o.Consumer, MinIdle: s.o.ReclaimIdle, Start: s.reclaimCursor, Count: int64(s.o.PumpBatch)}).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		return s.createGroup(ctx)
	}
	if err != nil {
		return err
	}
	s.reclaimCursor = next
	if len(msgs) > 0 {
		s.log.Warn().Int("entries", len(msgs)).Str("consumer", s.o.Consumer).
			Msg("redis: reclaimed intake entries a stopped replica had read but not queued")
	}
	if err := s.ingest(ctx, msgs); err != nil {
		return err
	}
	return s.forgetConsumers(ctx)
}

// forgetConsumers deletes consumers that have nothing pending and have not
// read for forgetIdle: replicas that crashed (a clean stop deletes its own
// consumer). Deleting a live one would be harmless, as XREADGROUP recreates
// it, and one with entries pending is never deleted (that would drop them).
func (s *Store) forgetConsumers(ctx context.Context) error {
	consumers, err := s.rdb.XInfoConsumers(ctx, s.stream, group).Result()
	if err != nil {
		return err
	}
	for _, c := range consumers {
		if c.Pending == 0 && c.Idle >= s.forgetIdle && c.Name != s.o.Consumer {
			if err := s.rdb.XGroupDelConsumer(ctx, s.stream, group, c.Name).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ingest runs the ingest script on msgs. An entry that cannot be decoded is
// acknowledged without tasks and logged: kept, it would be reclaimed for
// ever.
func (s *Store) ingest(ctx context.Context, msgs []goredis.XMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	args := []any{s.p, s.stream, group, len(msgs)}
	for _, m := range msgs {
		tasks, received, err := decEntry(m)
		if err != nil {
			s.log.Error().Err(err).Str("entry", m.ID).Msg("redis: unreadable intake entry dropped")
			tasks = nil
		}
		args = append(args, m.ID, len(tasks))
		for _, t := range tasks {
			args = taskArgs(args, t, received, received)
		}
	}
	return ingestScript.Run(ctx, s.rdb, nil, args...).Err()
}

// moveOwn moves every entry pending on this handle's consumer. Bounded:
// each round acknowledges what it read, so the pending list only shrinks;
// the bound guards against a server that disagrees.
func (s *Store) moveOwn(ctx context.Context) error {
	for range 10000 {
		msgs, err := s.read(ctx, "0")
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := s.ingest(ctx, msgs); err != nil {
			return err
		}
	}
	return nil
}

// decEntry reads an intake entry. A deleted entry (nil values: it was moved
// and removed after being read) has no tasks.
func decEntry(m goredis.XMessage) ([]store.Task, time.Time, error) {
	if len(m.Values) == 0 {
		return nil, time.Time{}, nil
	}
	r, _ := m.Values["r"].(string)
	t, _ := m.Values["t"].(string)
	received, err := decTime(r)
	if err == nil && received.IsZero() {
		err = errors.New("no received time")
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("intake entry %s: %w", m.ID, err)
	}
	tasks, err := decTasks(t)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("intake entry %s: %w", m.ID, err)
	}
	return tasks, received, nil
}

// Drain moves every intake entry pending on this handle's consumer into the
// queue and then deletes the consumer from the group, so a replica that
// stops cleanly leaves no entry pending and unowned. Close runs it; a
// later call on this handle (before Close) simply reads again.
func (s *Store) Drain(ctx context.Context) error {
	if err := s.ready(); err != nil {
		return s.fail("drain intake", s.o.Consumer, err)
	}
	if err := s.drain(ctx); err != nil {
		return s.fail("drain intake", s.o.Consumer, err)
	}
	return nil
}

func (s *Store) drain(ctx context.Context) error {
	s.pumpMu.Lock()
	defer s.pumpMu.Unlock()
	if err := s.moveOwn(ctx); err != nil {
		return err
	}
	n, err := s.rdb.XGroupDelConsumer(ctx, s.stream, group, s.o.Consumer).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		return nil
	}
	if err == nil && n != 0 {
		// Only another live handle using this consumer name can get here.
		err = fmt.Errorf("consumer %s still had %d pending entries when deleted (two handles share the name?)", s.o.Consumer, n)
	}
	return err
}
