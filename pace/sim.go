package pace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/store"
)

// Write is one write a simulation sends.
type Write struct {
	Cred    string
	Lane    store.Lane
	Key     string
	Subject string        // optional: per-subject limit
	Arrive  time.Duration // when it is queued, from the simulation's start
}

// Sent is a write the simulation sent, with the virtual time it went.
type Sent struct {
	Write
	Time  time.Time
	Tries int // Take calls it needed
}

// SimOptions shapes a simulation.
type SimOptions struct {
	// ByLane claims ready keys lowest lane first, as store.Queue does.
	// False claims them in arrival order only: the pacer alone must then
	// keep the lanes' priority (the worst case for it).
	ByLane bool
	// Answer, when set, plays the target: a *connectors.RateLimited answer
	// blocks the credential and requeues the write at its Until.
	Answer func(w Write, now time.Time) error
	// MaxSteps bounds the simulation (default 10,000,000 Take calls).
	MaxSteps int
}

// Simulate drives p with a virtual queue on clk until every write is sent:
// a refused write is rescheduled at the time Take names, and the clock
// jumps to the next ready time when nothing is ready. The result is in send
// order. It serves the tests and the benchmark report.
func Simulate(ctx context.Context, p *Pacer, clk *clock.Fake, writes []Write, o SimOptions) ([]Sent, error) {
	type pending struct {
		w     Write
		ready time.Time
		seq   int
		tries int
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 10_000_000
	}
	start := clk.Now()
	q := make([]*pending, len(writes))
	for i, w := range writes {
		q[i] = &pending{w: w, ready: start.Add(w.Arrive), seq: i}
	}
	order := func(a, b *pending) int {
		if o.ByLane && a.w.Lane != b.w.Lane {
			return int(a.w.Lane) - int(b.w.Lane)
		}
		if c := a.ready.Compare(b.ready); c != 0 {
			return c
		}
		return a.seq - b.seq
	}
	var out []Sent
	steps := 0
	for len(q) > 0 {
		now := clk.Now()
		var ready []*pending
		next := time.Time{}
		for _, x := range q {
			if !x.ready.After(now) {
				ready = append(ready, x)
			} else if next.IsZero() || x.ready.Before(next) {
				next = x.ready
			}
		}
		if len(ready) == 0 {
			clk.Set(next)
			continue
		}
		slices.SortFunc(ready, order)
		for _, x := range ready {
			if steps++; steps > o.MaxSteps {
				return out, fmt.Errorf("simulation: %d steps without finishing (%d writes left)", o.MaxSteps, len(q))
			}
			x.tries++
			ok, at, err := p.TakeSubject(ctx, x.w.Cred, x.w.Lane, x.w.Key, x.w.Subject)
			if err != nil {
				return out, err
			}
			if !ok {
				if !at.After(now) {
					return out, fmt.Errorf("simulation: %s refused with a time not after now", x.w.Key)
				}
				x.ready = at
				continue
			}
			if o.Answer != nil {
				if aerr := o.Answer(x.w, now); aerr != nil {
					var rl *connectors.RateLimited
					if !errors.As(aerr, &rl) {
						return out, aerr
					}
					if _, _, err := p.BlockFor(ctx, rl); err != nil {
						return out, err
					}
					x.ready = rl.Until
					if !x.ready.After(now) {
						x.ready = now.Add(time.Millisecond)
					}
					continue
				}
			}
			out = append(out, Sent{Write: x.w, Time: now, Tries: x.tries})
			x.ready = time.Time{}
			x.seq = -1
		}
		q = slices.DeleteFunc(q, func(x *pending) bool { return x.seq < 0 })
	}
	return out, nil
}
