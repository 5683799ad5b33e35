package redis

import (
	"fmt"
	"sync/atomic"
	"testing"

	"vitrine/store"
	"vitrine/store/redis/redistest"
)

// BenchmarkAccept measures webhook intake: concurrent Accepts of new
// deliveries with two tasks each, on private servers with appendfsync
// always (the default the store requires) and everysec (opt-in).
func BenchmarkAccept(b *testing.B) {
	for _, fsync := range []string{"always", "everysec"} {
		b.Run("appendfsync="+fsync, func(b *testing.B) {
			srv := redistest.StartServer(b, b.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: fsync})
			o := Options{Addr: srv.Addr(), Durability: DurabilityEverySec}
			s, err := Open(b.Context(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4) // 4×GOMAXPROCS concurrent webhook requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					d := store.Delivery{ID: fmt.Sprintf("github:bench-%d", i), Received: t0, Tasks: []store.Task{
						{Key: fmt.Sprintf("item:github:%d", i%1000)}, {Key: "view:acme"}}}
					if dup, err := s.Accept(b.Context(), d); err != nil || dup {
						b.Errorf("Accept: dup=%v err=%v", dup, err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
		})
	}
}
