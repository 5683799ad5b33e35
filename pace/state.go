package pace

import (
	"context"
	"maps"
	"slices"
	"sync"

	"vitrine/store"
)

// State holds every credential's pacing state. Update runs fn on the
// credential's current state (the zero CredState when there is none) and
// stores the result atomically unless fn returns an error. An
// implementation shared by replicas (Redis: WATCH/MULTI on a JSON blob) may
// call fn more than once, so fn must not have effects outside the state.
type State interface {
	Update(ctx context.Context, cred string, fn func(*CredState) error) error
}

// CredState is one credential's pacing state. It is plain data, serialised
// as compact JSON by shared stores: times are Unix milliseconds, and only
// what the windows need is kept (writes of the last hour, live waiters).
type CredState struct {
	// Writes are the granted writes of the last hour, oldest first.
	Writes []int64 `json:"w,omitempty"`
	// Blocked: nothing goes before this time (a Retry-After or reset answer).
	Blocked int64 `json:"b,omitempty"`
	// Eff is the adaptive per-minute allowance; 0 means the ceiling.
	Eff int `json:"e,omitempty"`
	// Clean is when the allowance last grew or the last secondary block
	// ended: recovery counts whole minutes from it.
	Clean int64 `json:"c,omitempty"`
	// Cut is when the allowance was last decreased: answers to requests
	// that were in flight together count as one secondary limit.
	Cut int64 `json:"d,omitempty"`
	// Waiters are keys refused recently and not yet served.
	Waiters []Waiter `json:"q,omitempty"`
	// Subjects holds recent writes per subject (Jira issue), oldest first.
	Subjects map[string][]int64 `json:"s,omitempty"`
}

// Waiter is a key that was refused and is expected back.
type Waiter struct {
	Key     string     `json:"k"`
	Lane    store.Lane `json:"l"`
	Expires int64      `json:"x"`
}

func (s *CredState) clone() CredState {
	c := *s
	c.Writes = slices.Clone(s.Writes)
	c.Waiters = slices.Clone(s.Waiters)
	if s.Subjects != nil {
		c.Subjects = make(map[string][]int64, len(s.Subjects))
		for k, v := range s.Subjects {
			c.Subjects[k] = slices.Clone(v)
		}
	}
	return c
}

// Empty reports a state equal to no state: a store may drop it. Clean
// alone does not count: it matters only with a lowered allowance.
func (s *CredState) Empty() bool {
	return len(s.Writes) == 0 && s.Blocked == 0 && s.Eff == 0 && s.Cut == 0 &&
		len(s.Waiters) == 0 && len(s.Subjects) == 0
}

// Memory is the in-process State: one replica.
type Memory struct {
	mu sync.Mutex
	m  map[string]*CredState
}

// NewMemory returns an empty in-process State.
func NewMemory() *Memory { return &Memory{m: map[string]*CredState{}} }

// Update implements State. fn works on a copy, so a failed fn changes nothing.
func (m *Memory) Update(ctx context.Context, cred string, fn func(*CredState) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur CredState
	if s, ok := m.m[cred]; ok {
		cur = s.clone()
	}
	if err := fn(&cur); err != nil {
		return err
	}
	if cur.Empty() {
		delete(m.m, cred)
		return nil
	}
	m.m[cred] = &cur
	return nil
}

// Credentials lists the credentials with state, sorted (for metrics).
func (m *Memory) Credentials() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.m))
}
