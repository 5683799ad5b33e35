package httpapi

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are shared by every Client on one registry: a second Client
// reuses the collectors the first registered.
type metrics struct {
	requests *prometheus.CounterVec // target, method, class
	retries  *prometheus.CounterVec // target, method
	limited  *prometheus.CounterVec // credential, kind
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	var err error
	m := &metrics{}
	if m.requests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "vitrine", Subsystem: "http", Name: "requests_total",
		Help: "HTTP attempts sent to tracker APIs, by target, method and status class (error: no response).",
	}, []string{"target", "method", "class"})); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "vitrine", Subsystem: "http", Name: "retries_total",
		Help: "Retries of idempotent requests after transient failures.",
	}, []string{"target", "method"})); err != nil {
		return nil, err
	}
	if m.limited, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "vitrine", Subsystem: "http", Name: "rate_limited_total",
		Help: "Rate-limit answers by credential label and kind (primary, secondary), and writes held back by the pacer (paced).",
	}, []string{"credential", "kind"})); err != nil {
		return nil, err
	}
	return m, nil
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return old, nil
		}
	}
	return nil, fmt.Errorf("httpapi metrics: %w", err)
}

func (m *metrics) request(target, method, class string) {
	if m != nil {
		m.requests.WithLabelValues(target, method, class).Inc()
	}
}

func (m *metrics) retry(target, method string) {
	if m != nil {
		m.retries.WithLabelValues(target, method).Inc()
	}
}

// rateLimited counts a rate-limit answer of kind primary or secondary, or a
// write the pacer held back (paced).
func (m *metrics) rateLimited(cred, kind string) {
	if m != nil {
		m.limited.WithLabelValues(cred, kind).Inc()
	}
}
