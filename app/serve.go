package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vitrine/mapping"
	"vitrine/mirror/page"
	"vitrine/store"
	"vitrine/webhooks"
	"vitrine/worker"
)

func runServe(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "serve")
	workers := fs.Int("workers", 4, "concurrent workers in this process")
	drain := fs.Duration("drain-delay", 2*time.Second, "answer /readyz 503 this long before closing intake on SIGTERM")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, tokens: true, metrics: true})
	if err != nil {
		return stoppedEarly(ctx, iox, err)
	}
	defer rt.close()
	return stoppedEarly(ctx, iox, rt.serve(ctx, serveOpts{workers: *workers, drainDelay: *drain}))
}

// stoppedEarly turns an error that a shutdown signal caused during start-up
// (a cancelled store call, an interrupted request to a tracker) into a clean
// stop: SIGTERM means exit 0 whenever it arrives. The error is still said.
// A *ExitError (bad config, refused secrets) is kept: it is not the
// signal's doing.
func stoppedEarly(ctx context.Context, iox IO, err error) error {
	var exit *ExitError
	if err == nil || ctx.Err() == nil || errors.As(err, &exit) {
		return err
	}
	fmt.Fprintf(iox.Stderr, "vitrine: stopped during start-up: %v\n", err)
	return nil
}

// runDemo is serve on the demo rules, with secrets made up for this run
// when the environment gives none, printing each customer's page URL once
// the first sync is done.
func runDemo(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "demo")
	workers := fs.Int("workers", 2, "concurrent workers")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	pageSecret, keySecret := randomSecret(), randomSecret()
	rt, err := build(ctx, iox, buildOpts{engine: true, tokens: true, metrics: true, pageSecret: pageSecret, keySecret: keySecret, oneShot: true})
	if err != nil {
		return stoppedEarly(ctx, iox, err)
	}
	defer rt.close()
	return stoppedEarly(ctx, iox, rt.serve(ctx, serveOpts{workers: *workers, printLinks: true}))
}

func randomSecret() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return []byte(hex.EncodeToString(b))
}

type serveOpts struct {
	workers    int
	drainDelay time.Duration // unready this long before intake closes (VITRINE_DRAIN_DELAY)
	printLinks bool          // demo: one `customer <id> page: <url>` line per customer after the first sync
}

// serve runs intake, workers, reconcile and pages until ctx ends, then stops
// intake first, lets in-flight passes finish, and returns nil.
func (rt *runtime) serve(ctx context.Context, o serveOpts) error {
	pub, err := net.Listen("tcp", rt.env.Listen)
	if err != nil {
		return fmt.Errorf("VITRINE_LISTEN %s: %w", rt.env.Listen, err)
	}
	adm, err := net.Listen("tcp", rt.env.AdminListen)
	if err != nil {
		pub.Close()
		return fmt.Errorf("VITRINE_ADMIN_LISTEN %s: %w", rt.env.AdminListen, err)
	}
	publicURL := strings.TrimRight(rt.env.PublicURL, "/")
	if publicURL == "" || strings.HasSuffix(rt.env.Listen, ":0") {
		publicURL = "http://" + pub.Addr().String()
	}

	parsers, err := rt.webhookParsers(ctx)
	if err != nil {
		pub.Close()
		adm.Close()
		return &ExitError{Code: 2, Err: err}
	}
	intake := webhooks.New(parsers, rt.st, rt.engine.Wake, rt.log.With().Str("component", "webhooks").Logger(), rt.reg)
	intake.SetCoalesce(webhooks.Coalesce, rt.clk.Now)
	if rt.faults != nil {
		intake.SetFaults(rt.faults)
	}
	pages, err := page.NewHandler(page.HandlerConfig{
		Tokens: rt.tokens, Views: page.StoreViews{Views: rt.st, Cache: &mapping.ViewCache{}}, IDKey: rt.idKey(),
		PublicURL: publicURL, Feed: rt.feedMode, Log: rt.log.With().Str("component", "page").Logger(),
	})
	if err != nil {
		pub.Close()
		adm.Close()
		return err
	}
	publicSrv := &http.Server{
		Handler:           rt.accessLog(publicHandler(intake, parsers, pages)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	adminSrv := &http.Server{Handler: rt.adminHandler(), ReadHeaderTimeout: 10 * time.Second}

	var wg sync.WaitGroup
	serveErr := make(chan error, 2)
	start := func(s *http.Server, l net.Listener) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	start(adminSrv, adm)

	// Work runs on its own context: a shutdown stops intake first, then
	// lets in-flight passes end before the workers stop.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if err := rt.engine.Enqueue(ctx, worker.ReconcileTask()); err != nil {
		return fmt.Errorf("enqueue first reconcile: %w", err)
	}
	if o.printLinks {
		// The demo prints working links: sync first.
		if err := rt.engine.RunUntilIdle(ctx, "demo-sync"); err != nil && ctx.Err() == nil {
			return fmt.Errorf("first sync: %w", err)
		}
	}
	start(publicSrv, pub)
	rt.log.Info().Str("listen", pub.Addr().String()).Str("admin", adm.Addr().String()).Int("workers", o.workers).Msg("vitrine serving")
	if o.printLinks {
		for _, c := range rt.rules.Customers {
			tok, err := rt.tokens.Token(ctx, c.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(rt.io.Stdout, "customer %s page: %s/p/%s/\n", c.ID, publicURL, tok)
		}
	}

	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		_ = rt.engine.Run(workCtx, o.workers)
	}()
	go rt.housekeeping(workCtx)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		rt.log.Error().Err(err).Msg("listener failed: shutting down")
	}
	rt.log.Info().Msg("shutting down: intake first")
	// Unready first, so a load balancer stops sending before intake closes.
	rt.draining.Store(true)
	if o.drainDelay > 0 {
		time.Sleep(o.drainDelay)
	}
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = publicSrv.Shutdown(shCtx)
	cancel()
	stopWork()
	select {
	case <-engineDone:
	case <-time.After(10 * time.Second):
		rt.log.Warn().Msg("workers still busy after 10s: their leases expire and another worker takes over")
	}
	shCtx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	_ = adminSrv.Shutdown(shCtx)
	cancel()
	wg.Wait()
	rt.log.Info().Msg("stopped")
	return nil
}

// idKey keys page anchors and feed ids: stable across restarts when
// VITRINE_KEY_SECRET is set, else derived from the page secret in use (the
// demo's made-up ones included: never from a constant).
func (rt *runtime) idKey() []byte {
	if k := rt.keySecret(rt.genKeySecret); len(k) > 0 {
		return k
	}
	sum := sha256.Sum256(append([]byte("vitrine/page-ids\x00"), rt.pageSecret...))
	return sum[:]
}

func (rt *runtime) feedMode(customer string) page.FeedMode {
	for _, c := range rt.rules.Customers {
		if c.ID != customer {
			continue
		}
		for _, t := range c.Targets {
			if t.Page != nil {
				m, err := page.ParseFeedMode(t.Page.Feed)
				if err == nil {
					return m
				}
			}
		}
		return page.FeedOff
	}
	return page.FeedOff
}

// publicHandler routes the webhooks of configured vendors and sends
// everything else to the page handler, which answers unknown paths (an
// unconfigured vendor's included) with its one 404.
func publicHandler(intake http.Handler, vendors map[string]webhooks.Parser, pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := strings.CutPrefix(r.URL.Path, "/webhooks/"); ok && vendors[v] != nil {
			intake.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
}

func (rt *runtime) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if rt.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "shutting down")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := rt.st.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "store unavailable")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if rt.reg != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(rt.reg, promhttp.HandlerOpts{}))
	}
	return mux
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// accessLog logs each request with an id, never a page token.
func (rt *runtime) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		id := hex.EncodeToString(randomBytes(6))
		next.ServeHTTP(rec, r)
		ev := rt.log.Debug()
		if strings.HasPrefix(r.URL.Path, "/webhooks/") || rec.code >= 500 {
			ev = rt.log.Info()
		}
		ev.Str("request", id).Str("method", r.Method).Str("path", page.RedactToken(r.URL.EscapedPath())).
			Int("status", rec.code).Dur("took", time.Since(start)).
			Str("delivery", r.Header.Get("X-GitHub-Delivery")+r.Header.Get("X-Atlassian-Webhook-Identifier")).
			Msg("request")
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// housekeeping enqueues the periodic reconcile and prunes old delivery ids.
func (rt *runtime) housekeeping(ctx context.Context) {
	every := rt.rules.Reconcile.Interval.Duration
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	gauges := time.NewTicker(10 * time.Second)
	defer gauges.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gauges.C:
			if err := rt.engine.UpdateGauges(ctx); err != nil {
				rt.log.Warn().Err(err).Msg("queue gauges not updated")
			}
		case <-t.C:
			if err := rt.engine.Enqueue(ctx, worker.ReconcileTask()); err != nil {
				rt.log.Error().Err(err).Msg("enqueue reconcile failed")
			}
		case <-prune.C:
			if err := rt.st.PruneDeliveries(ctx, time.Now().Add(-store.DeliveryRetention)); err != nil {
				rt.log.Error().Err(err).Msg("prune deliveries failed")
			}
		}
	}
}
