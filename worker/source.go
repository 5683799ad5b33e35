package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"vitrine/connectors"
	"vitrine/fault"
	"vitrine/item"
	"vitrine/store"
)

// KV namespaces the engine owns.
const (
	nsCursor      = "cursor"       // source -> poll cursor
	nsSourceError = "source-error" // source -> JSON sourceError
	nsLastSync    = "last-sync"    // customer|target -> RFC 3339 time
	nsGuard       = "retract-guard"
	nsConfirm     = "retract-confirm"
	nsEmergency   = "emergency-retract" // customer -> reason; customer|target for one target
	nsRulesHash   = "rules-hash"
	// op key -> last error of a retraction that failed: never parked,
	// retried at least every reconcile, counted in vitrine_retractions_failing.
	nsRetractFailing = "retract-failing"
	nsMilestonesRead = "milestones-read" // source -> "1" once its milestones were read
	nsFullPlan       = "full-plan"       // customer -> the next view pass plans every object
	nsReconcileAt    = "reconcile-at"    // "" -> unix nanos when the last reconcile started
)

type sourceError struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

func (e *Engine) source(key string) (Source, error) {
	s, ok := e.cfg.Sources[key]
	if !ok {
		return nil, fmt.Errorf("source %s is not configured", key)
	}
	return s, nil
}

// recordSourceError keeps a container-level failure visible in `status`
// and never treats it as "everything was deleted".
func (e *Engine) recordSourceError(ctx context.Context, source string, err error) error {
	e.m.SourceErrors.WithLabelValues(source).Inc()
	b, _ := json.Marshal(sourceError{Time: e.clk.Now(), Message: err.Error()})
	if perr := e.st.PutKV(ctx, nsSourceError, source, b); perr != nil {
		return perr
	}
	e.log.Error().Str("source", source).Err(err).Msg("source not readable: nothing retracted")
	return nil
}

func (e *Engine) clearSourceError(ctx context.Context, source string) error {
	return e.st.DeleteKV(ctx, nsSourceError, source)
}

func snapshotOf(it item.Item, now time.Time) (store.Snapshot, error) {
	b, err := json.Marshal(it)
	if err != nil {
		return store.Snapshot{}, err
	}
	return store.Snapshot{ID: it.ID, Source: it.Source, Kind: store.KindItem, Hash: item.Hash(it), Data: b, Updated: it.Updated, Seen: now}, nil
}

func milestoneSnapshot(m item.Milestone, now time.Time) (store.Snapshot, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return store.Snapshot{}, err
	}
	return store.Snapshot{ID: m.ID, Source: m.Source, Kind: store.KindMilestone, Hash: item.Hash(m), Data: b, Updated: m.Updated, Seen: now}, nil
}

// mergeComments carries comments over from the cached state when a poll
// delivered an item without them: unchanged when the item's updated time is
// the same, stale (to be re-read if a customer selects it) otherwise.
func mergeComments(it *item.Item, old *item.Item) {
	if !it.CommentsLoaded && it.CommentCount == 0 {
		// The tracker says there are none: nothing to read.
		it.Comments, it.CommentsLoaded = nil, true
	}
	if it.CommentsLoaded || old == nil || !old.CommentsLoaded {
		return
	}
	it.Comments = old.Comments
	it.CommentsLoaded = old.Updated.Equal(it.Updated) && old.CommentCount == it.CommentCount
}

func decodeItem(s store.Snapshot) (item.Item, error) {
	var it item.Item
	err := json.Unmarshal(s.Data, &it)
	return it, err
}

// putItem stores an item's state; it reports whether anything changed.
func (e *Engine) putItem(ctx context.Context, it item.Item) (bool, error) {
	if !it.CommentsLoaded && it.CommentCount == 0 {
		it.Comments, it.CommentsLoaded = nil, true
	}
	if !it.CommentsLoaded {
		if old, ok, err := e.st.GetSnapshot(ctx, it.ID); err != nil {
			return false, err
		} else if ok {
			if oi, err := decodeItem(old); err == nil {
				mergeComments(&it, &oi)
			}
		}
	}
	snap, err := snapshotOf(it, e.clk.Now())
	if err != nil {
		return false, fmt.Errorf("%s: encode: %w", it.ID, err)
	}
	changed, err := e.st.PutSnapshot(ctx, snap)
	if err != nil {
		return false, fmt.Errorf("%s: store snapshot: %w", it.ID, err)
	}
	return changed, nil
}

// scan runs a cursor poll of one source. The cursor advances only after the
// objects it covers are stored.
func (e *Engine) scan(ctx context.Context, job *store.Job, key string) error {
	src, err := e.source(key)
	if err != nil {
		return err
	}
	raw, _, err := e.st.GetKV(ctx, nsCursor, key)
	if err != nil {
		return err
	}
	cursor := string(raw)
	changed := false
	seen := map[string]bool{}
	full := false
	for page := 0; ; page++ {
		p, err := src.Poll(ctx, cursor)
		var ae *connectors.AccessError
		if errors.As(err, &ae) {
			return e.recordSourceError(ctx, key, err)
		}
		if err != nil {
			return fmt.Errorf("%s: poll: %w", key, err)
		}
		if ferr := e.fault(fault.AfterFetch); ferr != nil {
			return ferr
		}
		for _, it := range p.Items {
			seen[it.ID] = true
			c, err := e.putItem(ctx, it)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		for _, m := range p.Milestones {
			seen[m.ID] = true
			s, err := milestoneSnapshot(m, e.clk.Now())
			if err != nil {
				return err
			}
			c, err := e.st.PutSnapshot(ctx, s)
			if err != nil {
				return fmt.Errorf("%s: store milestone: %w", m.ID, err)
			}
			changed = changed || c
		}
		for _, id := range p.Gone {
			existed, err := e.st.DeleteSnapshot(ctx, id)
			if err != nil {
				return err
			}
			changed = changed || existed
		}
		full = full || p.Full
		if p.Cursor != cursor {
			if err := e.st.PutKV(ctx, nsCursor, key, []byte(p.Cursor)); err != nil {
				return err
			}
			cursor = p.Cursor
		}
		if !p.More {
			break
		}
		if page > 100000 {
			return fmt.Errorf("%s: poll did not end", key)
		}
	}
	if full {
		// A complete listing: what the cache holds beyond it is gone.
		snaps, err := e.st.ListSnapshots(ctx, key)
		if err != nil {
			return err
		}
		for _, s := range snaps {
			if !seen[s.ID] {
				if _, err := e.st.DeleteSnapshot(ctx, s.ID); err != nil {
					return err
				}
				changed = true
			}
		}
	}
	if err := e.clearSourceError(ctx, key); err != nil {
		return err
	}
	if changed {
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{key: true})...)
	}
	return nil
}

// fetchItem re-reads one item (a webhook hint, or a selected item whose
// comments are stale).
func (e *Engine) fetchItem(ctx context.Context, id string) error {
	source, _ := item.SplitID(id)
	src, err := e.source(source)
	if err != nil {
		// A hint for a source no customer reads any more.
		e.log.Debug().Str("item", id).Msg("item of an unconfigured source ignored")
		return nil
	}
	changed, err := e.refetch(ctx, src, id)
	if err != nil {
		return err
	}
	if changed {
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{source: true})...)
	}
	return nil
}

// refetch reads one item and updates the cache. A container-level access
// error is recorded and changes nothing.
func (e *Engine) refetch(ctx context.Context, src Source, id string) (bool, error) {
	old, cached, err := e.st.GetSnapshot(ctx, id)
	if err != nil {
		return false, err
	}
	hadComments := false
	if cached {
		if oi, err := decodeItem(old); err == nil {
			hadComments = oi.CommentsLoaded
		}
	}
	it, err := src.Fetch(ctx, id, connectors.FetchOptions{Comments: true, Cached: cached && hadComments})
	if ferr := e.fault(fault.AfterFetch); ferr != nil {
		return false, ferr
	}
	if errors.Is(err, connectors.ErrNotModified) {
		return false, nil
	}
	if errors.Is(err, connectors.ErrGone) {
		return e.st.DeleteSnapshot(ctx, id)
	}
	if err != nil {
		return false, e.handleReadErr(ctx, src.Key(), id, err)
	}
	return e.putItem(ctx, it)
}

// handleReadErr sorts a failed read: a deleted item leaves the cache, a
// container-level failure is recorded (and deletes nothing), anything else
// is returned for a retry.
func (e *Engine) handleReadErr(ctx context.Context, source, id string, err error) error {
	var ae *connectors.AccessError
	switch {
	case errors.Is(err, connectors.ErrGone):
		existed, derr := e.st.DeleteSnapshot(ctx, id)
		if derr != nil || !existed {
			return derr
		}
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{source: true})...)
	case errors.As(err, &ae):
		return e.recordSourceError(ctx, source, err)
	}
	return fmt.Errorf("%s: read: %w", id, err)
}

func (e *Engine) refreshMilestones(ctx context.Context, key string) error {
	src, err := e.source(key)
	if err != nil {
		return nil
	}
	snaps, err := e.st.ListSnapshots(ctx, key)
	if err != nil {
		return err
	}
	cachedMs := map[string]bool{}
	for _, s := range snaps {
		if s.Kind == store.KindMilestone {
			cachedMs[s.ID] = true
		}
	}
	// A source read before may answer "not modified" even with no
	// milestones at all.
	_, readBefore, err := e.st.GetKV(ctx, nsMilestonesRead, key)
	if err != nil {
		return err
	}
	ms, err := src.Milestones(ctx, len(cachedMs) > 0 || readBefore)
	var ae *connectors.AccessError
	switch {
	case errors.Is(err, connectors.ErrNotModified):
		return nil
	case errors.As(err, &ae):
		return e.recordSourceError(ctx, key, err)
	case err != nil:
		return fmt.Errorf("%s: milestones: %w", key, err)
	}
	changed := false
	for _, m := range ms {
		delete(cachedMs, m.ID)
		s, err := milestoneSnapshot(m, e.clk.Now())
		if err != nil {
			return err
		}
		c, err := e.st.PutSnapshot(ctx, s)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	for id := range cachedMs {
		if _, err := e.st.DeleteSnapshot(ctx, id); err != nil {
			return err
		}
		changed = true
	}
	// Only once what was read is stored may a later 304 be trusted.
	if !readBefore {
		if err := e.st.PutKV(ctx, nsMilestonesRead, key, []byte("1")); err != nil {
			return err
		}
	}
	if changed {
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{key: true})...)
	}
	return nil
}

// verifySource re-reads every item any customer currently sees from this
// source (and status items): deletions, transfers, items leaving a filter
// and deleted comments never show in a cursor poll.
func (e *Engine) verifySource(ctx context.Context, job *store.Job, key string) error {
	src, err := e.source(key)
	if err != nil {
		return nil
	}
	ids, err := e.publishedIn(ctx, key)
	if err != nil {
		return err
	}
	since := time.Time{}
	if raw, ok, err := e.st.GetKV(ctx, nsReconcileAt, ""); err != nil {
		return err
	} else if ok {
		if n, perr := strconv.ParseInt(string(raw), 10, 64); perr == nil {
			since = time.Unix(0, n)
		}
	}
	changed := false
	for _, id := range ids {
		if !since.IsZero() {
			// Read in full (with its comments) since this reconcile began:
			// a listing or a fetch already saw it as it is.
			if snap, ok, err := e.st.GetSnapshot(ctx, id); err != nil {
				return err
			} else if ok && !snap.Seen.Before(since) {
				if it, err := decodeItem(snap); err == nil && it.CommentsLoaded {
					continue
				}
			}
		}
		c, err := e.refetch(ctx, src, id)
		if err != nil {
			return err
		}
		changed = changed || c
		// Stop at the first container-level failure: the rest would fail
		// alike and nothing may be read as deleted.
		if raw, bad, _ := e.st.GetKV(ctx, nsSourceError, key); bad && len(raw) > 0 {
			break
		}
	}
	if changed {
		return e.Enqueue(ctx, e.viewTasksFor(map[string]bool{key: true})...)
	}
	return nil
}

// publishedIn lists the ids of items of a source that some customer's stored
// view shows, whose comments feed status updates, or that count in what a
// view shows (children of shown items and items of shown milestones, hidden
// ones included, count in their progress): a deletion shows in no cursor
// poll, for those no more than for the published ones.
func (e *Engine) publishedIn(ctx context.Context, source string) ([]string, error) {
	snaps, err := e.st.ListSnapshots(ctx, source)
	if err != nil {
		return nil, err
	}
	var items []item.Item
	byRef := map[string]string{} // the first item with a ref (publish.status_item)
	for _, s := range snaps {
		if s.Kind != store.KindItem {
			continue
		}
		if it, err := decodeItem(s); err == nil {
			items = append(items, it)
			if _, dup := byRef[it.Ref]; !dup {
				byRef[it.Ref] = it.ID
			}
		}
	}
	seen := map[string]bool{}
	var ids []string
	add := func(id string) {
		if s, _ := item.SplitID(id); s == source && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	shown := map[string]bool{}
	for _, c := range e.customersOf(source) {
		v, ok, err := e.loadView(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok {
			for _, it := range v.Items {
				add(it.Key)
				shown[it.Key] = true
			}
			for _, m := range v.Milestones {
				shown[m.Key] = true
			}
		}
		if cust, ok := e.cfg.Rules.Customer(c); ok {
			if ref := cust.Config().Publish.StatusItem; ref != "" && byRef[ref] != "" {
				add(byRef[ref])
			}
		}
	}
	for _, it := range items {
		if (it.Parent != "" && shown[it.Parent]) || (it.Milestone != "" && shown[it.Milestone]) {
			add(it.ID)
		}
	}
	return ids, nil
}

// fault is a crash-test hook (nil plan in production).
func (e *Engine) fault(point string) error {
	if e.cfg.Faults == nil {
		return nil
	}
	if err := e.cfg.Faults.At(point); err != nil {
		return crashOr(err)
	}
	return nil
}
