package sqlite

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/store"
	"vitrine/store/storetest"
)

// The conformance suite is only worth something if it fails a store that
// breaks a promise. Each mutant below breaks one, on top of the real store;
// TestSuiteCatchesBrokenStores runs the suite's matching case against it in
// a child process and wants that case to fail.

const mutantEnv = "VITRINE_STORE_MUTANT"

type mutant struct {
	*Store
	kind string

	mu    sync.Mutex
	held  map[string]bool // keys leased through this wrapper
	dirty map[string]bool // held keys requested again
	last  *store.Job
}

func (m *mutant) hold(j *store.Job) {
	if j == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[j.Key] = true
	m.last = j
}

func (m *mutant) drop(j *store.Job) (dirty bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirty = m.dirty[j.Key]
	delete(m.held, j.Key)
	delete(m.dirty, j.Key)
	return dirty
}

func (m *mutant) PutSnapshot(ctx context.Context, s store.Snapshot) (bool, error) {
	if m.kind == "older-snapshot-overwrites" {
		if _, err := m.Store.DeleteSnapshot(ctx, s.ID); err != nil {
			return false, err
		}
	}
	return m.Store.PutSnapshot(ctx, s)
}

func (m *mutant) PutLink(ctx context.Context, f store.Fence, l store.Link) error {
	err := m.Store.PutLink(ctx, f, l)
	if m.kind == "unfenced-links" && errors.Is(err, store.ErrFenced) {
		return nil
	}
	return err
}

func (m *mutant) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if m.kind != "audit-limit-oldest" || q.Limit == 0 {
		return m.Store.ListAudit(ctx, q)
	}
	n := q.Limit
	q.Limit = 0
	all, err := m.Store.ListAudit(ctx, q)
	return all[:min(n, len(all))], err
}

func (m *mutant) Enqueue(ctx context.Context, tasks ...store.Task) error {
	var keep []store.Task
	m.mu.Lock()
	for _, t := range tasks {
		if m.held[t.Key] {
			m.dirty[t.Key] = true
			if m.kind == "drops-dirty" {
				continue
			}
		}
		keep = append(keep, t)
	}
	m.mu.Unlock()
	return m.Store.Enqueue(ctx, keep...)
}

func (m *mutant) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration) (*store.Job, error) {
	j, err := m.Store.Claim(ctx, owner, now, lease)
	if j == nil && err == nil && m.kind == "double-lease" {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.last != nil && m.held[m.last.Key] {
			again := *m.last
			again.Owner = owner
			return &again, nil
		}
		return nil, nil
	}
	m.hold(j)
	return j, err
}

func (m *mutant) Lock(ctx context.Context, key, owner string, now time.Time, lease time.Duration) (*store.Job, bool, error) {
	j, ok, err := m.Store.Lock(ctx, key, owner, now, lease)
	m.hold(j)
	return j, ok, err
}

func (m *mutant) Complete(ctx context.Context, j *store.Job) error {
	dirty := m.drop(j)
	if err := m.Store.Complete(ctx, j); err != nil {
		return err
	}
	if dirty && m.kind == "dirty-runs-twice" {
		return m.Store.Enqueue(ctx, store.Task{Key: j.Key, Lane: j.Lane})
	}
	return nil
}

func (m *mutant) Retry(ctx context.Context, j *store.Job, at time.Time, lastErr string) error {
	m.drop(j)
	if m.kind == "retry-does-not-count" {
		return m.Store.Defer(ctx, j, at)
	}
	return m.Store.Retry(ctx, j, at, lastErr)
}

func (m *mutant) Defer(ctx context.Context, j *store.Job, at time.Time) error {
	m.drop(j)
	return m.Store.Defer(ctx, j, at)
}

func (m *mutant) Park(ctx context.Context, j *store.Job, lastErr string) error {
	m.drop(j)
	return m.Store.Park(ctx, j, lastErr)
}

// TestMutantSuite is the child process: the suite against one mutant.
func TestMutantSuite(t *testing.T) {
	kind := os.Getenv(mutantEnv)
	if kind == "" {
		t.Skip("helper process for TestSuiteCatchesBrokenStores")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return &mutant{Store: openTemp(t), kind: kind, held: map[string]bool{}, dirty: map[string]bool{}}
	})
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	for _, c := range []struct{ kind, catches string }{
		{"older-snapshot-overwrites", "SnapshotOlderUpdatedNeverOverwritesNewer"},
		{"unfenced-links", "LinkWritesNeedTheCurrentLease"},
		{"unfenced-links", "ExpiredLeaseIsTakenOverAndOldHolderFenced"},
		{"audit-limit-oldest", "AuditQueriesFilterAndLimitNewest"},
		{"drops-dirty", "RequestsDuringAPassRunExactlyOnceMore"},
		{"drops-dirty", "ConcurrentClaimersNeverShareAKey"},
		{"dirty-runs-twice", "RequestsDuringAPassRunExactlyOnceMore"},
		{"double-lease", "LeasedKeyIsNeverClaimedTwice"},
		{"retry-does-not-count", "RetryCountsAttemptsAndKeepsLastError"},
	} {
		t.Run(c.kind+"/"+c.catches, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestMutantSuite$/^"+c.catches+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+c.kind)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that is %s:\n%s", c.kind, out)
			}
			if want := "--- FAIL: TestMutantSuite/" + c.catches; !strings.Contains(string(out), want) {
				t.Fatalf("no %q in the child's output:\n%s", want, out)
			}
		})
	}
}
