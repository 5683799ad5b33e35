package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"vitrine/config"
	"vitrine/pace"
	"vitrine/pace/redisstate"
	"vitrine/store"
	"vitrine/store/redis"
)

// openRedis opens the Redis store; start-up refuses a Redis that could lose
// accepted deliveries (no AOF, eviction on).
func openRedis(ctx context.Context, u config.StoreURL, log zerolog.Logger) (store.Store, error) {
	o := redis.Options{
		Addr: u.Addr, DB: u.DB, Username: u.Username, Password: u.Password.Reveal(),
		Logger: log.With().Str("component", "redis").Logger(),
	}
	if u.TLS {
		host, _, err := net.SplitHostPort(u.Addr)
		if err != nil {
			host = u.Addr
		}
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	st, err := redis.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("store redis %s: %w", u.Addr, err)
	}
	return st, nil
}

// pacingState shares per-credential pacing between replicas when the store
// is Redis; one process on SQLite paces in memory.
func pacingState(st store.Store) pace.State {
	if rs, ok := st.(*redis.Store); ok {
		return redisstate.New(rs.Client(), redisstate.Options{Prefix: rs.Prefix()})
	}
	return pace.NewMemory()
}
