// Package fault stops a process at named points, as a crash would: the
// crash tests kill vitrine after the target's 2xx and before the store
// write, after intake, after a fetch, and at seeded random points, then
// restart it and check that nothing was lost or duplicated.
//
// Production never sets a plan; the hooks cost one nil check.
package fault

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Named points.
const (
	AfterIntake        = "after-intake"         // the delivery is queued, the 2xx not yet sent
	AfterFetch         = "after-fetch"          // a source read answered, its state not yet stored
	AfterTargetCreate  = "after-target-create"  // the target answered 2xx to a create, the link not yet stored
	AfterCommentCreate = "after-comment-create" // during comment sync
	Any                = "*"                    // every point counts (seeded random crashes)
)

// Error is what a hook returns in-process: the pass stops where a crash
// would have stopped it.
type Error struct{ Point string }

func (e *Error) Error() string      { return "injected fault at " + e.Point }
func (e *Error) FaultPoint() string { return e.Point }

type plan struct {
	point string
	n     int
}

// Plan triggers at the n-th hit of a point. It is safe for concurrent use.
type Plan struct {
	mu     sync.Mutex
	plans  []plan
	counts map[string]int
	total  int
	// Trigger runs when a plan fires; nil returns an *Error instead.
	Trigger func(point string)
}

// Parse reads "after-target-create@3,after-fetch@10" or "*@17" (the 17th
// hit of any point). "" is no plan (nil).
func Parse(spec string) (*Plan, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	p := &Plan{counts: map[string]int{}}
	for _, part := range strings.Split(spec, ",") {
		name, nStr, ok := strings.Cut(strings.TrimSpace(part), "@")
		n, err := strconv.Atoi(nStr)
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("fault plan %q: want point@n with n >= 1", part)
		}
		switch name {
		case AfterIntake, AfterFetch, AfterTargetCreate, AfterCommentCreate, Any:
		default:
			return nil, fmt.Errorf("fault plan %q: unknown point %q", part, name)
		}
		p.plans = append(p.plans, plan{name, n})
	}
	return p, nil
}

// At is the hook: nil unless a plan fires here.
func (p *Plan) At(point string) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.counts[point]++
	p.total++
	fire := false
	for _, pl := range p.plans {
		if (pl.point == point && pl.n == p.counts[point]) || (pl.point == Any && pl.n == p.total) {
			fire = true
		}
	}
	trigger := p.Trigger
	p.mu.Unlock()
	if !fire {
		return nil
	}
	if trigger != nil {
		trigger(point)
	}
	return &Error{Point: point}
}
