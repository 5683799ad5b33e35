// Package chaos holds vitrine's fault-injection tests (everything is in its
// _test files). Two thousand seeded agency-side operations run against the
// fake GitHub, with the engine built as the app builds it (SQLite store,
// pacer, webhook intake) on a virtual clock and driven as `serve` drives it:
//
//   - once clean, every webhook delivered: the golden state;
//   - once with a fifth of all requests failing (rate limits, 5xx, dropped
//     connections, slow answers, creates applied with their answer lost)
//     and webhooks lost, late or repeated; then faults off and reconcile
//     until converged;
//   - once with 30% of webhooks dropped, given two reconcile intervals.
//
// Each must end in the golden state with no duplicate mirror or comment.
// Regression tests for the bugs the runs found live beside them.
//
//	go test ./chaos -v                        # a new seed, printed
//	go test ./chaos -v -seed 7 -ops 2000      # reproduce one
//	go test ./chaos -short                    # 300 operations
//	go test ./chaos -v -seed 7 -only-fault 502   # one fault kind (triage)
//
// VITRINE_TEST_LOG=1 logs every pass; CHAOS_CALLS=1 adds the fake's call
// counts to failure reports.
package chaos
