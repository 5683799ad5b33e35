package redis

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"vitrine/store"
	"vitrine/store/redis/redistest"
)

// privateOptions are Options for a private server, with the store's own
// defaults (DurabilityAlways, ConfigWarn).
func privateOptions(srv *redistest.Server) Options {
	return Options{Addr: srv.Addr(), Prefix: "vitrine:"}
}

// Every delivery answered before Redis is SIGKILLed is there after it
// restarts on the same disk: its id still dedupes, and its tasks are
// claimable, whether they had already moved into the queue, were still on
// the intake stream, or were leased by a worker at the time.
func TestAcceptedDeliveriesSurviveSIGKILLOfRedis(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always"})
	s := openStore(t, privateOptions(srv))
	ctx := t.Context()

	const n = 300
	acceptRange := func(from, to int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, to-from)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < to; i += 8 {
					tasks := []store.Task{{Key: fmt.Sprintf("item:%03d", i)}}
					if i%3 == 0 {
						tasks = append(tasks, store.Task{Key: "view:acme", Lane: store.LaneBackground})
					}
					dup, err := s.Accept(ctx, store.Delivery{ID: fmt.Sprintf("github:%03d", i), Received: t0, Tasks: tasks})
					if err == nil && dup {
						err = fmt.Errorf("delivery %d reported as duplicate", i)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	acceptRange(0, n/2)
	wantStats(t, s, store.QueueStats{Ready: n/2 + 1}) // moved into the queue
	var leased []string
	for range 10 {
		j, err := s.Claim(ctx, "w-before-crash", t0, time.Minute)
		if err != nil || j == nil {
			t.Fatalf("Claim before the crash: %+v, %v", j, err)
		}
		leased = append(leased, j.Key)
	}
	acceptRange(n/2, n) // these stay on the stream

	srv.Kill()
	srv.Restart()

	after := openStore(t, privateOptions(srv)) // a replica starting after the crash
	for i := range n {
		dup, err := after.Accept(ctx, store.Delivery{ID: fmt.Sprintf("github:%03d", i), Received: t0,
			Tasks: []store.Task{{Key: "item:redelivered"}}})
		if err != nil || !dup {
			t.Fatalf("redelivery %d after restart: dup=%v err=%v; want a duplicate", i, dup, err)
		}
	}
	// Claimed after the leases of the crashed worker ran out: everything.
	later := t0.Add(2 * time.Minute)
	var got []string
	for {
		j, err := after.Claim(ctx, "w-after", later, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			break
		}
		if slices.Contains(leased, j.Key) && (j.Attempt != 1 || !strings.Contains(j.LastError, "w-before-crash")) {
			t.Fatalf("taken-over job %+v: want Attempt 1 and the crashed owner in LastError", j)
		}
		got = append(got, j.Key)
		if err := after.Complete(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("item:%03d", i))
	}
	want = append(want, "view:acme")
	if !slices.Equal(got, want) {
		t.Fatalf("after restart claimed %d keys, want %d (every accepted delivery's)", len(got), len(want))
	}
}

// While Redis is down, Accept (and the other calls) fail fast with
// store.ErrUnavailable, so intake answers 503 well inside GitHub's 10 s;
// after Redis is back the same handle works again.
func TestAcceptFailsFastWithErrUnavailableWhileRedisIsDown(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always"})
	s := openStore(t, privateOptions(srv))
	ctx := t.Context()
	accept(t, s, "github:before", store.Task{Key: "item:1"})

	srv.Kill()
	start := time.Now()
	_, err := s.Accept(ctx, store.Delivery{ID: "github:down", Received: t0, Tasks: []store.Task{{Key: "item:2"}}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Accept while Redis is down: %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Accept took %s to fail, want well under GitHub's 10 s", d)
	}
	if strings.Contains(err.Error(), "github:down") == false {
		t.Fatalf("error %q does not name the delivery", err)
	}
	if _, err := s.Claim(ctx, "w", t0, time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Claim while Redis is down: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping while Redis is down: %v", err)
	}

	srv.Restart()
	accept(t, s, "github:after", store.Task{Key: "item:3"})
	if got := claimKeys(t, s, t0); strings.Join(got, ",") != "item:1,item:3" {
		t.Fatalf("claimed %q after the restart, want item:1,item:3 (the failed delivery was not queued)", got)
	}
}

// A Redis that hangs (here: SIGSTOPped) answers nothing at all; Accept
// gives up after Options.Timeout with store.ErrUnavailable.
func TestAcceptTimesOutWithErrUnavailableWhenRedisHangs(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always"})
	o := privateOptions(srv)
	o.Timeout = 300 * time.Millisecond
	s := openStore(t, o)
	accept(t, s, "github:before", store.Task{Key: "item:1"})

	srv.Pause()
	start := time.Now()
	_, err := s.Accept(t.Context(), store.Delivery{ID: "github:hung", Received: t0, Tasks: []store.Task{{Key: "item:2"}}})
	took := time.Since(start)
	srv.Resume()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Accept while Redis hangs: %v, want store.ErrUnavailable", err)
	}
	if took > 2*time.Second {
		t.Fatalf("Accept took %s to give up with a %s timeout", took, o.Timeout)
	}
}

func TestOpenFailsWithErrUnavailableWhenRedisIsUnreachable(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always"})
	srv.Kill()
	_, err := Open(t.Context(), privateOptions(srv))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a stopped Redis: %v, want store.ErrUnavailable", err)
	}
}

// Open refuses a Redis whose settings break the store's promises, and the
// error names the setting.
func TestOpenRefusesUnsafePersistenceSettings(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: false})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	set := func(name, value string) {
		t.Helper()
		if err := c.ConfigSet(t.Context(), name, value).Err(); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(o Options, setting string) {
		t.Helper()
		s, err := Open(t.Context(), o)
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open accepted a Redis with unsafe %s", setting)
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), setting) {
			t.Fatalf("Open error %q: want ErrConfig naming %s", err, setting)
		}
	}
	o := privateOptions(srv)
	set("appendfsync", "always")
	refused(o, "appendonly")

	set("appendonly", "yes")
	set("maxmemory-policy", "allkeys-lru")
	refused(o, "maxmemory-policy")

	set("maxmemory-policy", "noeviction")
	set("appendfsync", "everysec")
	refused(o, "appendfsync")
	var logs bytes.Buffer
	o.Durability, o.Logger = DurabilityEverySec, zerolog.New(&logs)
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open with DurabilityEverySec on everysec: %v", err)
	}
	_ = s.Close()
	if !strings.Contains(logs.String(), "everysec") {
		t.Fatalf("accepting everysec was not logged: %q", logs.String())
	}

	set("appendfsync", "no")
	refused(o, "appendfsync") // never, whatever the durability option

	set("appendfsync", "always")
	logs.Reset()
	o.Durability = DurabilityAlways
	s, err = Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open of a safe Redis: %v", err)
	}
	_ = s.Close()
	if logs.Len() != 0 {
		t.Fatalf("Open of a safe Redis logged %q", logs.String())
	}
}

// Managed Redis services rename CONFIG: Open then warns, naming what it
// could not check, or refuses when the check is strict.
func TestOpenWarnsOrRefusesWhenConfigIsUnavailable(t *testing.T) {
	srv := redistest.StartServer(t, t.TempDir(), redistest.ServerOptions{AppendOnly: true, AppendFsync: "always",
		Extra: []string{`rename-command CONFIG ""`}})
	var logs bytes.Buffer
	o := privateOptions(srv)
	o.Logger = zerolog.New(&logs)
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open without CONFIG (warn): %v", err)
	}
	_ = s.Close()
	for _, setting := range []string{"appendonly", "maxmemory-policy", "appendfsync"} {
		if !strings.Contains(logs.String(), `"setting":"`+setting+`"`) {
			t.Errorf("no warning naming %s: %s", setting, logs.String())
		}
	}

	o.ConfigCheck = ConfigStrict
	s, err = Open(t.Context(), o)
	if err == nil {
		_ = s.Close()
		t.Fatal("strict Open succeeded without CONFIG")
	}
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "appendonly") {
		t.Fatalf("strict Open error %q: want ErrConfig naming appendonly", err)
	}
}

func TestOptionsAreValidatedBeforeConnecting(t *testing.T) {
	for name, o := range map[string]Options{
		"short delivery TTL": {DeliveryTTL: 3 * 24 * time.Hour},
		"negative timeout":   {Timeout: -time.Second},
		"unknown durability": {Durability: 7},
	} {
		// Port 1 on loopback: nothing listens, so a dial would fail with
		// ErrUnavailable instead of the validation error.
		o.Addr = "127.0.0.1:1"
		if _, err := Open(t.Context(), o); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: Open = %v, want a validation error", name, err)
		}
	}
}
