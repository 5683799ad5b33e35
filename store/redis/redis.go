// Package redis is the shared store: store.Store entirely in Redis, so that
// several vitrine replicas (and a `sync` beside a `serve`) share one queue,
// one set of leases and fencing tokens, delivery ids and data.
//
// # Key layout
//
// Every key starts with Options.Prefix (default "vitrine:"), written P:
//
//	P snap:<id>             hash: one snapshot (src, kind, hash, data, upd, seen)
//	P snapsrc:<source>      sorted set (scores 0): snapshot ids of a source, byte order
//	P view:<customer>       hash: one view (hash, data, changed)
//	P views                 sorted set: customer ids
//	P link:<c><t>           hash: object -> link record, for customer c and target t
//	P linkx:<c><t>          sorted set: objects of that hash, byte order
//	                        (<c><t> is length-prefixed: "4:acme23:github:acme/acme-status")
//	P audit:e               hash: seq -> audit record
//	P audit:all, audit:c:<customer>, audit:o:<object>
//	                        sorted sets (score = seq) indexing audit:e
//	P kv:<ns>               hash: key -> value
//	P dlv:<delivery id>     string: received time; SET NX with a TTL of Options.DeliveryTTL
//	P dlvx                  sorted set: received .. id, for PruneDeliveries
//	P intake                stream: accepted deliveries not yet moved into the queue
//	P q:..., qi:, qt:, ql:, qe, qp, qlanes, ctr:*
//	                        the work queue (see scripts.go)
//
// Times are 21-digit strings (see codec.go). Link, audit and intake records
// use a small length-prefixed binary encoding, exact for any bytes.
//
// # Intake
//
// Accept is one Lua script: SET the delivery id NX with its TTL and, when it
// was new, XADD one entry holding its tasks to the intake stream. It touches
// three keys and no queue index, so it is cheap and constant-time: intake
// must answer GitHub within 10 s even while workers are busy.
//
// Entries move from the stream into the queue through the consumer group
// "vitrine", at the start of every queue call except Renew (Enqueue, Claim,
// Lock, Complete, Retry, Defer, Park, Unpark, Parked, NextReady, Stats): the
// handle reads up to Options.PumpBatch new entries with XREADGROUP under its
// consumer name and runs the ingest script, which XACKs each entry, enqueues
// its tasks only when that XACK acknowledged it, and XDELs it. Moving before
// every queue call keeps the queue's answers what they would be had Accept
// enqueued directly (arrival order, a delivery during a pass making the key
// dirty so Park runs it once more); the cost is one XREADGROUP round trip,
// which finds nothing most of the time. The engine's idle loop calls
// NextReady at least every 500 ms, so an idle replica moves new entries too.
//
// A move is exactly-once: a crash after XREADGROUP leaves the entry pending
// on the dead consumer, and only the ingest whose XACK counts enqueues it; a
// late second move of the same entry adds nothing (and even if it did,
// requests for a key coalesce). Tasks of a moved delivery arrive at the
// delivery's Received, as in the SQLite store.
//
// A pump that fails (Redis restarted, a connection cut) may have failed
// after its XREADGROUP counted on the server: its entries are then pending
// on this live consumer, which ">" never returns again, so the next pump
// first reads them back with id "0" and moves them.
//
// Reclaim: at most every Options.ReclaimIdle/2, a handle runs XAUTOCLAIM for
// entries idle for Options.ReclaimIdle on any consumer (a replica killed
// between XREADGROUP and the ingest script) and moves them; it also deletes
// consumers that have had nothing pending and read nothing for a day.
//
// Drain (also run by Close) moves every entry pending on this handle's
// consumer, then deletes the consumer: a replica stopped cleanly (SIGTERM)
// leaves no stream entry pending and unowned.
//
// # Durability
//
// Redis must run with appendonly yes and maxmemory-policy noeviction (an
// evicted delivery id or queue row would lose or duplicate work). An answer
// from Accept means "on disk" only with appendfsync always: Redis then
// fsyncs the AOF before it replies, so an accepted delivery survives a crash
// of Redis and of its host, as the SQLite store's synchronous=FULL makes it.
// With everysec (Redis' default) the reply can precede the fsync by a
// second, or by two while the disk stalls; GitHub never redelivers by
// itself, so such a loss stays silent until the next reconcile. Open
// therefore requires always unless Options.Durability is
// DurabilityEverySec, which accepts that window knowingly (and warns).
// WAITAOF (Redis 7.2+) could give the same guarantee per Accept on
// everysec; it is not used yet.
//
// Open checks these settings with CONFIG GET. Managed Redis services often
// rename or forbid CONFIG: then Open warns and continues, or refuses when
// Options.ConfigCheck is ConfigStrict.
//
// # Limits
//
// Redis 6.2 or later (XAUTOCLAIM); Open checks. One Redis (a primary, with
// or without replicas), not Redis Cluster: the queue scripts touch keys they
// compute at run time, which Cluster forbids across slots. Replication is
// asynchronous: a failover to a replica can lose the primary's last writes,
// accepted deliveries included (WAIT is not used). Leases, tokens and queue
// order use the callers' times, as the store contract asks; only delivery
// TTLs and XAUTOCLAIM idle times use Redis' clock.
package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"vitrine/clock"
	"vitrine/store"
)

var _ store.Store = (*Store)(nil)

// ConfigCheck says what Open does when CONFIG GET is unavailable.
type ConfigCheck int

const (
	// ConfigWarn (default): settings CONFIG GET shows wrong are refused;
	// when CONFIG is unavailable (renamed, forbidden), warn and continue.
	ConfigWarn ConfigCheck = iota
	// ConfigStrict: refuse to start unless CONFIG GET shows every setting.
	ConfigStrict
)

// Durability is the appendfsync setting Open accepts.
type Durability int

const (
	// DurabilityAlways (default) requires appendfsync always: an accepted
	// delivery is on disk before Accept returns.
	DurabilityAlways Durability = iota
	// DurabilityEverySec also accepts appendfsync everysec, knowingly
	// risking up to about a second of accepted deliveries on a crash of
	// the host (or of Redis while its disk stalls).
	DurabilityEverySec
)

// Options configures Open. Only Addr is commonly set; the rest has defaults.
type Options struct {
	Addr     string      // host:port; default 127.0.0.1:6379
	DB       int         // database number
	Username string      // ACL user, if any
	Password string      // AUTH password, if any; never logged
	TLS      *tls.Config // non-nil: connect with TLS (rediss://)
	// Prefix starts every key; default "vitrine:". Two deployments (or
	// tests) on one Redis keep apart by prefix.
	Prefix string
	// Clock stamps arrivals (Enqueue without NotBefore, Unpark, Accept
	// without Received) and the delivery retention floor. Default: the
	// wall clock.
	Clock  clock.Clock
	Logger zerolog.Logger // default: disabled

	ConfigCheck ConfigCheck
	Durability  Durability

	// Timeout bounds each command and connection attempt; default 2 s.
	// When Redis is down, Accept fails within about twice this with an
	// error wrapping store.ErrUnavailable, so intake answers 503 well
	// before GitHub's 10 s.
	Timeout time.Duration
	// Consumer is this handle's name in the intake consumer group;
	// default host-pid-random. Two live handles must not share one.
	Consumer string
	// PumpBatch bounds the intake entries moved per call; default 256.
	PumpBatch int
	// ReclaimIdle is how long an intake entry must sit read-but-unmoved on
	// a consumer before another takes it over; default 10 s. A live
	// replica moves what it reads within one round trip, and a second move
	// adds nothing (XACK gates it), so a short wait costs nothing but an
	// XAUTOCLAIM every ReclaimIdle/2, and bounds the delay a crash adds.
	ReclaimIdle time.Duration
	// DeliveryTTL is how long Redis keeps a delivery id; default
	// store.DeliveryRetention plus a day, and never less than
	// store.DeliveryRetention.
	DeliveryTTL time.Duration
}

const group = "vitrine"

func (o *Options) defaults() error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:6379"
	}
	if o.Prefix == "" {
		o.Prefix = "vitrine:"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if o.PumpBatch == 0 {
		o.PumpBatch = 256
	}
	if o.ReclaimIdle == 0 {
		o.ReclaimIdle = 10 * time.Second
	}
	if o.DeliveryTTL == 0 {
		o.DeliveryTTL = store.DeliveryRetention + 24*time.Hour
	}
	switch {
	case o.Timeout < 0 || o.PumpBatch < 0 || o.ReclaimIdle < 0 || o.DB < 0:
		return errors.New("negative option")
	case o.DeliveryTTL < store.DeliveryRetention:
		return fmt.Errorf("delivery TTL %s is below the retention of %s (GitHub redelivers for 3 days)", o.DeliveryTTL, store.DeliveryRetention)
	case o.ConfigCheck != ConfigWarn && o.ConfigCheck != ConfigStrict:
		return fmt.Errorf("unknown config check %d", o.ConfigCheck)
	case o.Durability != DurabilityAlways && o.Durability != DurabilityEverySec:
		return fmt.Errorf("unknown durability %d", o.Durability)
	}
	return nil
}

// Store is a store.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb    *goredis.Client
	p      string // key prefix
	clock  clock.Clock
	log    zerolog.Logger
	o      Options
	stream string

	// pumpMu serialises this handle's intake moves, so one Claim sees what
	// a concurrent one moved, and Drain runs alone.
	pumpMu        sync.Mutex
	lastReclaim   time.Time // wall clock, like XAUTOCLAIM's idle times
	reclaimCursor string
	// forgetIdle: consumers idle this long with nothing pending are
	// deleted from the group (replicas that crashed and never came back).
	forgetIdle time.Duration
	backlog    atomic.Bool // the last pump filled its batch: more is waiting
	// ownPending: a pump failed, perhaps after its XREADGROUP counted: the
	// entries it read are pending on this consumer, which ">" never
	// returns again. The next pump reads them back ("0") first, so they
	// wait neither for ReclaimIdle nor for another replica. Under pumpMu.
	ownPending bool

	closed atomic.Bool
}

// Open connects to Redis, checks its persistence settings and prepares the
// intake consumer group. A Redis that cannot be reached gives an error
// wrapping store.ErrUnavailable.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := o.defaults(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", o.Addr, err)
	}
	if o.TLS != nil && o.TLS.ServerName == "" && !o.TLS.InsecureSkipVerify {
		o.TLS = o.TLS.Clone()
		o.TLS.ServerName, _, _ = net.SplitHostPort(o.Addr)
	}
	rdb := goredis.NewClient(&goredis.Options{
		Addr:                  o.Addr,
		DB:                    o.DB,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLS,
		DialTimeout:           o.Timeout,
		ReadTimeout:           o.Timeout,
		WriteTimeout:          o.Timeout,
		PoolTimeout:           o.Timeout,
		ContextTimeoutEnabled: true,
		// Fail fast: intake must answer 503 promptly when Redis is down,
		// and the worker loop retries on its own. One retry remains, for a
		// pooled connection that died with a Redis restart; a command
		// whose reply (not request) was lost can so run twice, which every
		// script tolerates (Accept then reports a duplicate, a finish call
		// ErrFenced, Enqueue coalesces; a second Claim leaves a lease to
		// run out).
		MaxRetries:      1,
		DialerRetries:   1,
		MinRetryBackoff: 10 * time.Millisecond,
		MaxRetryBackoff: 100 * time.Millisecond,
		DisableIdentity: true,
	})
	s := &Store{rdb: rdb, p: o.Prefix, clock: o.Clock, log: o.Logger, o: o, stream: o.Prefix + "intake", reclaimCursor: "0-0",
		forgetIdle: 24 * time.Hour}
	fail := func(err error) (*Store, error) {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", o.Addr, classify(err))
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fail(err)
	}
	if err := s.checkVersion(ctx); err != nil {
		return fail(err)
	}
	if err := s.checkConfig(ctx); err != nil {
		return fail(err)
	}
	if err := s.createGroup(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// Client is the connection pool, for other Redis-backed parts that should
// share it (pace/redisstate).
func (s *Store) Client() *goredis.Client { return s.rdb }

// Prefix is the key prefix in use.
func (s *Store) Prefix() string { return s.p }

// Consumer is this handle's name in the intake consumer group.
func (s *Store) Consumer() string { return s.o.Consumer }

// ErrConfig marks a Redis whose settings vitrine refuses to run on.
var ErrConfig = errors.New("redis settings unsafe for vitrine")

// checkConfig enforces the persistence settings the store's promises rest
// on; see the package comment.
func (s *Store) checkConfig(ctx context.Context) error {
	want := []struct {
		name string
		ok   func(string) bool
		want string
		why  string
	}{
		{"appendonly", func(v string) bool { return v == "yes" }, "yes",
			"without the AOF a restart loses accepted webhooks and the queue"},
		{"maxmemory-policy", func(v string) bool { return v == "noeviction" }, "noeviction",
			"eviction would silently drop delivery ids, queue entries and leases"},
		{"appendfsync", func(v string) bool {
			return v == "always" || (v == "everysec" && s.o.Durability == DurabilityEverySec)
		}, "always", "an accepted webhook must be on disk before it is answered (or open with DurabilityEverySec to accept a one-second window)"},
	}
	for _, w := range want {
		v, err := s.rdb.ConfigGet(ctx, w.name).Result()
		if err == nil && len(v) == 0 {
			err = errors.New("no such setting")
		}
		if err != nil {
			if isNetErr(err) || isUnavailableReply(err) {
				return err
			}
			if s.o.ConfigCheck == ConfigStrict {
				return fmt.Errorf("%w: cannot read %s (CONFIG GET: %v) and the config check is strict", ErrConfig, w.name, err)
			}
			s.log.Warn().Str("redis", s.o.Addr).Str("setting", w.name).Str("want", w.want).Err(err).
				Msg("redis: cannot check a setting vitrine relies on (CONFIG unavailable); make sure it is set")
			continue
		}
		got := v[w.name]
		if !w.ok(got) {
			return fmt.Errorf("%w: %s is %q, want %q: %s", ErrConfig, w.name, got, w.want, w.why)
		}
		if w.name == "appendfsync" && got != "always" {
			s.log.Warn().Str("redis", s.o.Addr).Msg("redis: appendfsync everysec: up to about a second of accepted webhooks can be lost if the host crashes")
		}
	}
	return nil
}

// checkVersion refuses a Redis older than 6.2, which lacks XAUTOCLAIM. A
// server that hides its version (INFO renamed) is taken on trust.
func (s *Store) checkVersion(ctx context.Context) error {
	info, err := s.rdb.Info(ctx, "server").Result()
	if err != nil {
		if isNetErr(err) || isUnavailableReply(err) {
			return err
		}
		s.log.Warn().Err(err).Msg("redis: cannot read the server version (INFO unavailable); vitrine needs Redis 6.2 or later")
		return nil
	}
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		var major, minor int
		if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err == nil && (major < 6 || (major == 6 && minor < 2)) {
			return fmt.Errorf("%w: Redis %s is too old: vitrine needs 6.2 or later (XAUTOCLAIM)", ErrConfig, v)
		}
	}
	return nil
}

// createGroup creates the intake stream's consumer group, reading from the
// start so entries added before it existed are not skipped.
func (s *Store) createGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.stream, group, "0").Err()
	if err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("redis %s: ping: %w", s.o.Addr, store.ErrUnavailable)
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: ping: %w", s.o.Addr, classify(err))
	}
	return nil
}

// Close drains this handle's intake entries (see Drain) and closes the
// connections. A drain that fails (Redis down) is logged: the entries stay
// pending on this consumer and another replica reclaims them.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.o.Timeout)
	defer cancel()
	if err := s.drain(ctx); err != nil {
		s.log.Warn().Err(err).Str("consumer", s.o.Consumer).
			Msg("redis: intake not drained on close; another replica reclaims the entries")
	}
	return s.rdb.Close()
}

// ready fails once the store is closed.
func (s *Store) ready() error {
	if s.closed.Load() {
		return store.ErrUnavailable
	}
	return nil
}

// fail wraps err with the operation and the object it concerns.
func (s *Store) fail(op, object string, err error) error {
	if object != "" {
		object = " " + object
	}
	return fmt.Errorf("redis: %s%s: %w", op, object, classify(err))
}

// Classify wraps err with store.ErrUnavailable when it means Redis cannot
// serve now (connection refused or reset, timeouts, LOADING after a
// restart, READONLY, OOM, ...). Other Redis-backed parts (pace/redisstate)
// use it to report outages the same way.
func Classify(err error) error { return classify(err) }

// classify marks the errors that mean "the store cannot serve now" as
// store.ErrUnavailable (intake answers 503, the worker backs off instead of
// parking work) and a fencing refusal from a script as store.ErrFenced.
func classify(err error) error {
	switch {
	case err == nil, errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrFenced):
		return err
	case strings.HasPrefix(err.Error(), "FENCED"):
		return fmt.Errorf("%w: %s", store.ErrFenced, strings.TrimPrefix(err.Error(), "FENCED "))
	case errors.Is(err, context.Canceled):
		return err
	case isNetErr(err), isUnavailableReply(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, goredis.ErrClosed) || errors.Is(err, goredis.ErrPoolTimeout) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isUnavailableReply recognises Redis' answers for "cannot serve now":
// still loading the AOF after a restart, a script running too long, a
// replica or a primary without its replicas, out of memory under
// noeviction, a failing disk.
func isUnavailableReply(err error) bool {
	var re goredis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"LOADING", "BUSY ", "MASTERDOWN", "READONLY", "OOM", "MISCONF", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
