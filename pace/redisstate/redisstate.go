// Package redisstate is a pace.State in Redis, so that every replica paces
// a credential against the same writes, blocks, allowance and waiting
// lanes: replicas together stay inside the vendor's windows.
//
// Each credential's state is one JSON blob (pace.CredState's compact form)
// at <prefix>pace:<credential>. Update reads it under WATCH, runs the
// callback, and writes the result in MULTI/EXEC; when another replica wrote
// the key in between, EXEC fails and Update runs the callback again on the
// fresh state (pace.State allows that; the callback has no effects outside
// the state). State that is empty is deleted, as pace.Memory drops it.
package redisstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"vitrine/clock"
	"vitrine/pace"
	vredis "vitrine/store/redis"
)

var _ pace.State = (*State)(nil)

// Options configures New.
type Options struct {
	// Prefix starts the keys; default "vitrine:", the store's default, so
	// a deployment's pacing lives beside its store.
	Prefix string
	// MaxTries bounds the callback runs of one Update under contention;
	// default 100.
	MaxTries int
}

// State is a pace.State shared through Redis. It is safe for concurrent
// use, within a process and across replicas.
type State struct {
	rdb    goredis.UniversalClient
	prefix string
	tries  int
}

// New returns a State on rdb (no I/O); a replica passes its store's client
// (redis.Store.Client) and prefix.
func New(rdb goredis.UniversalClient, o Options) *State {
	if o.Prefix == "" {
		o.Prefix = "vitrine:"
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 100
	}
	return &State{rdb: rdb, prefix: o.Prefix, tries: o.MaxTries}
}

func (s *State) key(cred string) string { return s.prefix + "pace:" + cred }

// callbackError carries fn's error out of the transaction unchanged.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// Update implements pace.State. fn may run more than once; only its last
// run's result is stored, and nothing when it returns an error (which
// Update returns as is).
func (s *State) Update(ctx context.Context, cred string, fn func(*pace.CredState) error) error {
	key := s.key(cred)
	for try := 0; try < s.tries; try++ {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			var cur pace.CredState
			b, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, goredis.Nil):
			case err != nil:
				return err
			default:
				if err := json.Unmarshal(b, &cur); err != nil {
					return fmt.Errorf("stored state: %w", err)
				}
			}
			if err := fn(&cur); err != nil {
				return callbackError{err}
			}
			out, err := encode(cur)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				if out == nil {
					p.Del(ctx, key)
				} else {
					p.Set(ctx, key, out, 0)
				}
				return nil
			})
			return err
		}, key)
		var cbErr callbackError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &cbErr):
			return cbErr.err
		case errors.Is(err, goredis.TxFailedErr):
			// Another replica wrote the state meanwhile: back off a
			// little (jittered, growing) and run fn again on its result.
			if err := (clock.Real{}).Sleep(ctx, time.Duration(rand.Int64N(int64(50*time.Microsecond)*int64(try+1)+1))); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("pace state %s: %w", cred, vredis.Classify(err))
	}
	return fmt.Errorf("pace state %s: gave up after %d conflicting updates", cred, s.tries)
}

// encode is the blob to store, or nil when the state is empty
// (pace.CredState.Empty, as pace.Memory drops it).
func encode(cs pace.CredState) ([]byte, error) {
	if cs.Empty() {
		return nil, nil
	}
	return json.Marshal(&cs)
}

// Credentials lists the credentials with state, sorted (for metrics). It
// scans the key space under the prefix, so call it rarely.
func (s *State) Credentials(ctx context.Context) ([]string, error) {
	var out []string
	iter := s.rdb.Scan(ctx, 0, globEscape(s.prefix+"pace:")+"*", 200).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val()[len(s.prefix+"pace:"):])
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("pace state: list credentials: %w", vredis.Classify(err))
	}
	slices.Sort(out)
	return out, nil
}

func globEscape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
