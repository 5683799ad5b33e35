// Package webhooks is the HTTP intake: verify the signature over the raw
// body, map the delivery to the item keys it touches, queue it durably, and
// only then answer 2xx. A webhook is a hint; the worker reads current state.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vitrine/store"
)

// MaxBody caps a delivery (GitHub's own limit is 25 MB).
const MaxBody = 25 << 20

var (
	// ErrSignature: missing or wrong signature. Answered 401, nothing queued.
	ErrSignature = errors.New("webhook signature missing or invalid")
	// ErrIgnored: a valid delivery of an event or container vitrine does not
	// follow. Answered 202, nothing queued.
	ErrIgnored = errors.New("webhook ignored")
)

// Parser verifies and maps one vendor's deliveries. A parse error other than
// ErrSignature/ErrIgnored is a malformed payload (400).
type Parser interface {
	Parse(h http.Header, body []byte) (store.Delivery, error)
}

// Intake queues deliveries durably.
type Intake interface {
	Accept(ctx context.Context, d store.Delivery) (dup bool, err error)
}

// Handler serves /webhooks/<vendor>.
type Handler struct {
	parsers map[string]Parser
	intake  Intake
	wake    func()
	log     zerolog.Logger
	now     func() time.Time

	received *prometheus.CounterVec
	latency  prometheus.Histogram
	faults   Faults
	coalesce time.Duration
}

// Coalesce is how long a hint waits before its key is read, by default: a
// burst of deliveries for one item (a bulk edit, an editor saving often)
// then costs one read and one write instead of one per delivery. Keys
// coalesce in the queue, which keeps the earliest time.
const Coalesce = time.Second

// SetCoalesce sets the hint delay (0: read at once) and the clock it is
// measured on.
func (h *Handler) SetCoalesce(d time.Duration, now func() time.Time) {
	h.coalesce = d
	if now != nil {
		h.now = now
	}
}

// Faults lets crash tests stop the intake after a delivery is queued and
// before its 2xx (nil in production).
type Faults interface {
	At(point string) error
}

// SetFaults installs crash-test hooks.
func (h *Handler) SetFaults(f Faults) { h.faults = f }

// New returns the intake handler. parsers are keyed by vendor ("github",
// "jira"); wake (may be nil) nudges local workers after a delivery is queued.
func New(parsers map[string]Parser, intake Intake, wake func(), log zerolog.Logger, reg prometheus.Registerer) *Handler {
	h := &Handler{
		parsers: parsers, intake: intake, wake: wake, log: log, now: time.Now,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_webhook_deliveries_total", Help: "Webhook deliveries by vendor and outcome.",
		}, []string{"vendor", "outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vitrine_webhook_seconds", Help: "Time from request to answer for webhook deliveries.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(h.received, h.latency)
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.latency.Observe(time.Since(start).Seconds()) }()
	vendor := strings.TrimPrefix(r.URL.Path, "/webhooks/")
	p, ok := h.parsers[vendor]
	if !ok || strings.Contains(vendor, "/") {
		h.answer(w, vendor, "unknown", http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, vendor, "method", http.StatusMethodNotAllowed, "POST only")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.answer(w, vendor, "too_large", http.StatusRequestEntityTooLarge, "payload too large")
			return
		}
		h.answer(w, vendor, "read_error", http.StatusBadRequest, "could not read body")
		return
	}
	d, err := p.Parse(r.Header, body)
	log := h.log.With().Str("vendor", vendor).Str("delivery", d.ID).Logger()
	switch {
	case errors.Is(err, ErrSignature):
		log.Warn().Str("remote", r.RemoteAddr).Msg("webhook rejected: bad signature")
		h.answer(w, vendor, "bad_signature", http.StatusUnauthorized, "invalid signature")
		return
	case errors.Is(err, ErrIgnored):
		log.Debug().Err(err).Msg("webhook ignored")
		h.answer(w, vendor, "ignored", http.StatusAccepted, "ignored")
		return
	case err != nil:
		log.Warn().Err(err).Msg("webhook malformed")
		h.answer(w, vendor, "malformed", http.StatusBadRequest, "malformed payload")
		return
	}
	if d.Received.IsZero() {
		d.Received = h.now()
	}
	if h.coalesce > 0 {
		for i := range d.Tasks {
			if d.Tasks[i].NotBefore.IsZero() {
				d.Tasks[i].NotBefore = d.Received.Add(h.coalesce)
			}
		}
	}
	if len(d.Tasks) == 0 {
		h.answer(w, vendor, "ignored", http.StatusAccepted, "nothing to do")
		return
	}
	dup, err := h.intake.Accept(r.Context(), d)
	if err != nil {
		// Not queued: GitHub does not retry by itself, so say so loudly; the
		// next reconcile still converges.
		log.Error().Err(err).Msg("webhook not queued: store unavailable")
		h.answer(w, vendor, "unavailable", http.StatusServiceUnavailable, "store unavailable")
		return
	}
	if dup {
		log.Debug().Msg("duplicate delivery")
		h.answer(w, vendor, "duplicate", http.StatusOK, "duplicate")
		return
	}
	if h.faults != nil {
		if err := h.faults.At("after-intake"); err != nil {
			// As a crash would: the sender sees the connection drop.
			panic(http.ErrAbortHandler)
		}
	}
	if h.wake != nil {
		h.wake()
	}
	log.Debug().Int("tasks", len(d.Tasks)).Msg("webhook queued")
	h.answer(w, vendor, "queued", http.StatusAccepted, "queued")
}

func (h *Handler) answer(w http.ResponseWriter, vendor, outcome string, code int, msg string) {
	h.received.WithLabelValues(vendorLabel(vendor), outcome).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// vendorLabel bounds label cardinality: arbitrary paths are "other".
func vendorLabel(v string) string {
	switch v {
	case "github", "jira":
		return v
	}
	return "other"
}
