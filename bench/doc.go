// Package bench holds vitrine's benchmarks and the call-count tests that
// pin the same figures: webhook intake, webhook-to-mirror latency, API
// calls per scenario against their minimum, write pacing on a virtual
// clock, a full reconcile of 10,000 items and the page render.
//
// Everything here is in _test.go files. The Test functions are ordinary
// tests (they run in `make test`; call counts are deterministic, so they
// are asserted); the Benchmark functions run under `make bench`, which
// calls cmd/benchreport to reduce them into BENCHMARKS.md.
package bench
