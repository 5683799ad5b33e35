// Package pace paces content writes per credential (one identity's writes
// across all its target repos or projects) under the vendor's documented
// limits, in priority lanes: retract before update before create.
//
// Pacing never blocks a worker: Take answers "go" or "not before T", and the
// queue reschedules the key at T (store.Queue.Defer). Rate-limit answers from
// a vendor (connectors.RateLimited) become Blocks, and an unannounced
// (secondary) limit also lowers the credential's allowance, which recovers
// slowly while the credential stays clean.
package pace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"vitrine/clock"
	"vitrine/connectors"
	"vitrine/store"
)

const (
	minuteMS = int64(time.Minute / time.Millisecond)
	hourMS   = int64(time.Hour / time.Millisecond)
)

// Options configures a Pacer.
type Options struct {
	Clock clock.Clock // default clock.Real
	State State       // default NewMemory(): one replica
	// Default applies to credentials without their own entry; zero: GitHub().
	Default Limits
	// Credentials overrides Default per credential name.
	Credentials map[string]Limits
	// WaiterTTL is how long past its own "not before" a refused key keeps
	// its place: a key that never comes back stops holding lower lanes.
	WaiterTTL time.Duration // default 30 s
	// MaxWaiters bounds the waiter registry of one credential; the lowest
	// priority waiters give way first.
	MaxWaiters int // default 64
}

// Pacer grants writes per credential. It is safe for concurrent use; all
// state lives in its State, so replicas sharing a State share the budgets.
type Pacer struct {
	clk        clock.Clock
	st         State
	def        Limits
	per        map[string]Limits
	ttl        int64
	maxWaiters int

	// spread hands keys that Ready refuses together consecutive slots
	// (per credential and lane, in this process), so N waiting keys come
	// back one after another instead of all at once for one write.
	spreadMu sync.Mutex
	spread   map[spreadKey]int64
}

type spreadKey struct {
	cred string
	lane store.Lane
}

// New validates o and returns a Pacer (no I/O).
func New(o Options) (*Pacer, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.State == nil {
		o.State = NewMemory()
	}
	if o.Default == (Limits{}) {
		o.Default = GitHub()
	}
	if err := o.Default.Validate(); err != nil {
		return nil, fmt.Errorf("default: %w", err)
	}
	per := make(map[string]Limits, len(o.Credentials))
	for cred, l := range o.Credentials {
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("credential %s: %w", cred, err)
		}
		per[cred] = l.withDefaults()
	}
	if o.WaiterTTL <= 0 {
		o.WaiterTTL = 30 * time.Second
	}
	if o.MaxWaiters <= 0 {
		o.MaxWaiters = 64
	}
	return &Pacer{
		clk:        o.Clock,
		st:         o.State,
		def:        o.Default.withDefaults(),
		per:        per,
		ttl:        o.WaiterTTL.Milliseconds(),
		maxWaiters: o.MaxWaiters,
	}, nil
}

// Limits returns the limits in force for cred.
func (p *Pacer) Limits(cred string) Limits {
	if l, ok := p.per[cred]; ok {
		return l
	}
	return p.def
}

// Take asks to send one write with cred now. ok: the write is recorded and
// may go. Otherwise at is the earliest time it could go; the caller
// reschedules key at at. A key of a lower-priority lane is refused while a
// key of a higher-priority lane waits on the same credential.
func (p *Pacer) Take(ctx context.Context, cred string, lane store.Lane, key string) (ok bool, at time.Time, err error) {
	return p.TakeSubject(ctx, cred, lane, key, "")
}

// TakeSubject is Take for a write to one subject (a Jira issue), which also
// counts against the per-subject limit when the credential has one.
func (p *Pacer) TakeSubject(ctx context.Context, cred string, lane store.Lane, key, subject string) (ok bool, at time.Time, err error) {
	return p.decide(ctx, cred, lane, key, subject, true)
}

// Ready says whether a write of key could go on cred now, without using up
// the slot (a refusal registers key as waiting, as Take does). An op asks
// before it reads anything: a pass that would only be refused its write
// costs no API call.
func (p *Pacer) Ready(ctx context.Context, cred string, lane store.Lane, key string) (ok bool, at time.Time, err error) {
	ok, at, err = p.decide(ctx, cred, lane, key, "", false)
	if ok || err != nil {
		return ok, at, err
	}
	return false, p.slot(cred, lane, at), nil
}

// Stagger is where a key refused at the same time as others should come
// back: one write step after the key handed out before it (see Ready).
func (p *Pacer) Stagger(cred string, lane store.Lane, at time.Time) time.Time {
	return p.slot(cred, lane, at)
}

// slot staggers refused keys one write step apart, at most two minutes past
// the pacer's own answer.
func (p *Pacer) slot(cred string, lane store.Lane, at time.Time) time.Time {
	l := p.Limits(cred)
	gap := step(l, l.PerMinute)
	t := at.UnixMilli()
	p.spreadMu.Lock()
	defer p.spreadMu.Unlock()
	if p.spread == nil {
		p.spread = map[spreadKey]int64{}
	}
	k := spreadKey{cred, lane}
	next := t
	if last, ok := p.spread[k]; ok && last+gap >= t {
		next = last + gap
	}
	next = min(next, t+(2*time.Minute).Milliseconds())
	p.spread[k] = next
	return time.UnixMilli(next)
}

func (p *Pacer) decide(ctx context.Context, cred string, lane store.Lane, key, subject string, record bool) (ok bool, at time.Time, err error) {
	l := p.Limits(cred)
	nowT := p.clk.Now()
	now := nowT.UnixMilli()
	var next int64
	err = p.st.Update(ctx, cred, func(s *CredState) error {
		ok, next = false, 0
		tidy(s, l, now)
		eff := effective(s, l)
		higher := 0
		for _, w := range s.Waiters {
			if w.Lane < lane && w.Key != key {
				higher++
			}
		}
		// The higher lanes' waiters need their slots first: this key needs
		// one more on top of theirs.
		need := 1 + higher
		t := max(now, s.Blocked)
		t = max(t, whenFree(s.Writes, now, minuteMS, eff, need))
		t = max(t, whenFree(s.Writes, now, hourMS, l.PerHour, need))
		if gap := l.MinGap.Milliseconds(); gap > 0 && len(s.Writes) > 0 {
			t = max(t, s.Writes[len(s.Writes)-1]+gap*int64(need))
		}
		if higher > 0 && t <= now {
			// Budget is free but reserved for a waiter that is due back.
			t = now + step(l, eff)
		}
		subj := now
		if subject != "" && l.PerSubject > 0 {
			subj = whenFree(s.Subjects[subject], now, l.SubjectWindow.Milliseconds(), l.PerSubject, 1)
		}
		if t <= now && subj <= now && !record {
			ok = true
			return nil
		}
		if t <= now && subj <= now {
			s.Writes = insertSorted(s.Writes, now)
			if subject != "" && l.PerSubject > 0 {
				if s.Subjects == nil {
					s.Subjects = map[string][]int64{}
				}
				s.Subjects[subject] = insertSorted(s.Subjects[subject], now)
			}
			s.Waiters = dropWaiter(s.Waiters, key)
			ok = true
			return nil
		}
		next = max(t, subj)
		if t > now {
			p.addWaiter(s, Waiter{Key: key, Lane: lane, Expires: next + p.ttl})
		} else {
			// Only its own subject holds it back: it is not waiting for the
			// credential's budget and must not hold lower lanes back.
			s.Waiters = dropWaiter(s.Waiters, key)
		}
		return nil
	})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("pace %s: %w", cred, err)
	}
	if ok {
		return true, nowT, nil
	}
	return false, time.UnixMilli(next), nil
}

// Block stops all writes with cred until until, after a Retry-After, reset
// or secondary-limit answer. A zero until means the answer named no time:
// one minute, as GitHub asks. A secondary limit also lowers the credential's
// per-minute allowance (once for answers that arrive together).
func (p *Pacer) Block(ctx context.Context, cred string, until time.Time, secondary bool) error {
	l := p.Limits(cred)
	now := p.clk.Now().UnixMilli()
	u := until.UnixMilli()
	if until.IsZero() {
		u = now + minuteMS
	}
	err := p.st.Update(ctx, cred, func(s *CredState) error {
		tidy(s, l, now)
		if u > now && u > s.Blocked {
			s.Blocked = u
		}
		if !secondary {
			return nil
		}
		if s.Cut == 0 || now-s.Cut >= minuteMS {
			cur := effective(s, l)
			s.Eff = max(l.Floor, int(float64(cur)*l.Decrease))
			s.Cut = now
			if s.Eff >= l.PerMinute {
				s.Eff = 0
			}
		}
		// Recovery counts clean minutes from the end of the block.
		s.Clean = max(now, s.Blocked)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pace %s: block: %w", cred, err)
	}
	return nil
}

// ErrPaced marks a *connectors.RateLimited that is the pacer's own refusal
// (see Paced), not a vendor's answer: reschedule the key at Until, but do
// not Block the credential, or one held-back create would hold back every
// lane (and a per-issue wait would hold back every issue).
var ErrPaced = errors.New("write paced")

// Paced is the error a pacing transport returns when Take refuses a write:
// the engine's rate-limit path reschedules the key at at.
func Paced(cred string, at time.Time) *connectors.RateLimited {
	return &connectors.RateLimited{Credential: cred, Until: at, Err: ErrPaced}
}

// BlockFor applies a rate-limit answer: when err is (or wraps) a
// *connectors.RateLimited, ok is true and its credential is blocked until
// its Until, unless it is the pacer's own refusal (ErrPaced), which is
// already accounted for.
func (p *Pacer) BlockFor(ctx context.Context, err error) (until time.Time, ok bool, e error) {
	var rl *connectors.RateLimited
	if !errors.As(err, &rl) {
		return time.Time{}, false, nil
	}
	if errors.Is(rl, ErrPaced) {
		return rl.Until, true, nil
	}
	if e := p.Block(ctx, rl.Credential, rl.Until, rl.Secondary); e != nil {
		return time.Time{}, true, e
	}
	return rl.Until, true, nil
}

// Forget drops key's place in cred's waiter registry: the key no longer
// needs to write (its op became a no-op).
func (p *Pacer) Forget(ctx context.Context, cred, key string) error {
	l := p.Limits(cred)
	now := p.clk.Now().UnixMilli()
	return p.st.Update(ctx, cred, func(s *CredState) error {
		tidy(s, l, now)
		s.Waiters = dropWaiter(s.Waiters, key)
		return nil
	})
}

// Stats is one credential's pacing state, for metrics and `vitrine status`.
type Stats struct {
	Credential string
	Ceiling    int // documented writes per minute
	Effective  int // current adaptive allowance per minute
	LastMinute int // writes granted in the last 60 s
	LastHour   int // writes granted in the last 3600 s
	// BlockedUntil is zero when the credential is not blocked.
	BlockedUntil time.Time
	// Waiters counts refused keys not yet served, by lane.
	Waiters map[store.Lane]int
}

// Stats reports cred's state now.
func (p *Pacer) Stats(ctx context.Context, cred string) (Stats, error) {
	l := p.Limits(cred)
	now := p.clk.Now().UnixMilli()
	st := Stats{Credential: cred, Ceiling: l.PerMinute, Waiters: map[store.Lane]int{}}
	err := p.st.Update(ctx, cred, func(s *CredState) error {
		tidy(s, l, now)
		st.Effective = effective(s, l)
		st.LastHour = len(s.Writes)
		st.LastMinute = len(s.Writes) - firstInWindow(s.Writes, now, minuteMS)
		st.BlockedUntil = time.Time{}
		if s.Blocked > now {
			st.BlockedUntil = time.UnixMilli(s.Blocked)
		}
		clear(st.Waiters)
		for _, w := range s.Waiters {
			st.Waiters[w.Lane]++
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("pace %s: stats: %w", cred, err)
	}
	return st, nil
}

// tidy drops what the windows no longer need and lets the allowance recover.
func tidy(s *CredState, l Limits, now int64) {
	if i := firstInWindow(s.Writes, now, hourMS); i > 0 {
		s.Writes = slices.Delete(s.Writes, 0, i)
	}
	if s.Blocked <= now {
		s.Blocked = 0
	}
	s.Waiters = slices.DeleteFunc(s.Waiters, func(w Waiter) bool { return w.Expires <= now })
	if l.PerSubject == 0 || l.SubjectWindow <= 0 {
		s.Subjects = nil
	}
	for k, ws := range s.Subjects {
		if i := firstInWindow(ws, now, l.SubjectWindow.Milliseconds()); i > 0 {
			ws = slices.Delete(ws, 0, i)
		}
		if len(ws) == 0 {
			delete(s.Subjects, k)
		} else {
			s.Subjects[k] = ws
		}
	}
	if len(s.Subjects) == 0 {
		s.Subjects = nil
	}
	if s.Eff != 0 && s.Eff < l.PerMinute && now > s.Clean {
		if mins := (now - s.Clean) / minuteMS; mins > 0 {
			s.Eff += int(mins) * l.Increase
			s.Clean += mins * minuteMS
		}
	}
	if s.Eff >= l.PerMinute {
		s.Eff = 0
	}
	if s.Eff == 0 && s.Clean <= now {
		s.Clean = 0
	}
	if s.Cut != 0 && now-s.Cut >= minuteMS {
		s.Cut = 0
	}
}

func effective(s *CredState, l Limits) int {
	if s.Eff <= 0 || s.Eff > l.PerMinute {
		return l.PerMinute
	}
	return s.Eff
}

// step is how long a key refused for a due waiter waits before asking again.
func step(l Limits, eff int) int64 {
	return max(l.MinGap.Milliseconds(), minuteMS/int64(max(eff, 1)), 1)
}

// firstInWindow is the index of the first write still inside the window
// ending at now: a write at w counts while now-w < window.
func firstInWindow(ws []int64, now, window int64) int {
	return sort.Search(len(ws), func(i int) bool { return ws[i] > now-window })
}

// whenFree is the earliest time at which at least need of limit slots are
// free in the sliding window, from the writes recorded so far. Beyond what
// the record tells (need > limit: waiters ahead will write first), it
// assumes those writes go evenly at the limit's pace.
func whenFree(ws []int64, now, window int64, limit, need int) int64 {
	if limit <= 0 {
		return now
	}
	if need > limit {
		return whenFree(ws, now, window, limit, limit) + int64(need-limit)*window/int64(limit)
	}
	in := ws[firstInWindow(ws, now, window):]
	k := len(in) - (limit - need) // how many recorded writes must leave the window
	if k <= 0 {
		return now
	}
	return max(now, in[k-1]+window)
}

func insertSorted(ws []int64, t int64) []int64 {
	if n := len(ws); n == 0 || ws[n-1] <= t {
		return append(ws, t)
	}
	i := sort.Search(len(ws), func(i int) bool { return ws[i] > t })
	return slices.Insert(ws, i, t)
}

func dropWaiter(ws []Waiter, key string) []Waiter {
	return slices.DeleteFunc(ws, func(w Waiter) bool { return w.Key == key })
}

// addWaiter records or refreshes w. When the registry is full the lowest
// priority waiter (highest lane, then latest expiry) gives way, so a flood
// of creates can never push a retraction out.
func (p *Pacer) addWaiter(s *CredState, w Waiter) {
	for i := range s.Waiters {
		if s.Waiters[i].Key == w.Key {
			s.Waiters[i] = w
			return
		}
	}
	if len(s.Waiters) < p.maxWaiters {
		s.Waiters = append(s.Waiters, w)
		return
	}
	worst := 0
	for i, x := range s.Waiters {
		if worse(x, s.Waiters[worst]) {
			worst = i
		}
	}
	if worse(s.Waiters[worst], w) {
		s.Waiters[worst] = w
	}
}

func worse(a, b Waiter) bool {
	if a.Lane != b.Lane {
		return a.Lane > b.Lane
	}
	return a.Expires > b.Expires
}
