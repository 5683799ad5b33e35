package worker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus series. Registered on the registry
// passed in; a nil registry keeps them unregistered (tests, one-shot commands).
type Metrics struct {
	Passes          *prometheus.CounterVec   // kind, result
	PassSeconds     *prometheus.HistogramVec // kind
	Writes          *prometheus.CounterVec   // target, credential
	RateLimitWaits  *prometheus.CounterVec   // credential
	SourceErrors    *prometheus.CounterVec   // source
	Parked          prometheus.Counter
	RetractFailing  prometheus.Gauge
	QueueReady      prometheus.Gauge
	QueueWaiting    prometheus.Gauge
	QueueInFlight   prometheus.Gauge
	QueueIntake     prometheus.Gauge
	QueueParked     prometheus.Gauge
	QueueOldest     prometheus.Gauge
	ViewsChanged    *prometheus.CounterVec // customer
	RetractsGuarded *prometheus.CounterVec // customer
}

// NewMetrics builds the series and registers them on reg (when non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_passes_total", Help: "Work passes by key kind and result (ok, retry, defer, park).",
		}, []string{"kind", "result"}),
		PassSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vitrine_pass_seconds", Help: "Duration of work passes by key kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_target_writes_total", Help: "Writes to mirror targets by target and credential.",
		}, []string{"target", "credential"}),
		RateLimitWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_rate_limit_waits_total", Help: "Passes rescheduled by a rate limit or the pacer, by credential.",
		}, []string{"credential"}),
		SourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_source_errors_total", Help: "Container-level source failures (no access), by source.",
		}, []string{"source"}),
		Parked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vitrine_parked_total", Help: "Keys parked after repeated failures.",
		}),
		RetractFailing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vitrine_retractions_failing", Help: "Retractions that failed their last attempt (never parked; retried every reconcile).",
		}),
		QueueReady:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_queue_ready", Help: "Pending keys whose time has come."}),
		QueueWaiting:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_queue_waiting", Help: "Pending keys scheduled later (backoff, pacing)."}),
		QueueInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_queue_in_flight", Help: "Keys leased by a worker."}),
		QueueIntake:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_intake_unqueued", Help: "Accepted deliveries not yet moved into the queue (Redis intake stream)."}),
		QueueParked:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_queue_parked", Help: "Keys set aside with their last error."}),
		QueueOldest:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitrine_queue_oldest_seconds", Help: "Age of the oldest pending request."}),
		ViewsChanged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_views_changed_total", Help: "Curated views that changed, by customer.",
		}, []string{"customer"}),
		RetractsGuarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vitrine_retract_guard_pauses_total", Help: "Customers paused because a pass would retract too much.",
		}, []string{"customer"}),
	}
	if reg != nil {
		reg.MustRegister(m.Passes, m.PassSeconds, m.Writes, m.RateLimitWaits, m.SourceErrors, m.Parked,
			m.RetractFailing, m.QueueReady, m.QueueWaiting, m.QueueInFlight, m.QueueIntake, m.QueueParked, m.QueueOldest,
			m.ViewsChanged, m.RetractsGuarded)
	}
	return m
}
