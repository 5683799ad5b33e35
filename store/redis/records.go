package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"vitrine/store"
)

// PutSnapshot implements store.Snapshots. An equal Updated is not newer:
// the later read wins (a source may change an item without bumping its
// updated time).
func (s *Store) PutSnapshot(ctx context.Context, snap store.Snapshot) (bool, error) {
	err := s.ready()
	if err == nil {
		err = checkTimes(snap.Updated, snap.Seen)
	}
	var changed int64
	if err == nil {
		changed, err = putSnapshotScript.Run(ctx, s.rdb, []string{s.p + "snap:" + snap.ID},
			s.p, snap.ID, snap.Source, snap.Kind, snap.Hash, snap.Data, encTime(snap.Updated), encTime(snap.Seen)).Int64()
	}
	if err != nil {
		return false, s.fail("put snapshot", snap.ID, err)
	}
	return changed == 1, nil
}

var snapFields = []string{"src", "kind", "hash", "data", "upd", "seen"}

func decSnapshot(id string, v []any) (store.Snapshot, bool, error) {
	if len(v) != len(snapFields) || v[0] == nil {
		return store.Snapshot{}, false, nil
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	snap := store.Snapshot{ID: id, Source: str(0), Kind: str(1), Hash: str(2), Data: []byte(str(3))}
	var err1, err2 error
	snap.Updated, err1 = decTime(str(4))
	snap.Seen, err2 = decTime(str(5))
	return snap, true, errors.Join(err1, err2)
}

// GetSnapshot implements store.Snapshots.
func (s *Store) GetSnapshot(ctx context.Context, id string) (store.Snapshot, bool, error) {
	if err := s.ready(); err != nil {
		return store.Snapshot{}, false, s.fail("get snapshot", id, err)
	}
	v, err := s.rdb.HMGet(ctx, s.p+"snap:"+id, snapFields...).Result()
	if err != nil {
		return store.Snapshot{}, false, s.fail("get snapshot", id, err)
	}
	snap, ok, err := decSnapshot(id, v)
	if err != nil {
		return store.Snapshot{}, false, s.fail("get snapshot", id, err)
	}
	return snap, ok, nil
}

// DeleteSnapshot implements store.Snapshots.
func (s *Store) DeleteSnapshot(ctx context.Context, id string) (bool, error) {
	err := s.ready()
	var n int64
	if err == nil {
		n, err = deleteSnapshotScript.Run(ctx, s.rdb, []string{s.p + "snap:" + id}, s.p, id).Int64()
	}
	if err != nil {
		return false, s.fail("delete snapshot", id, err)
	}
	return n == 1, nil
}

// ListSnapshots implements store.Snapshots, ordered by ID. Ids come from the
// source's index and the records from one pipeline; a snapshot deleted or
// moved to another source in between is left out.
func (s *Store) ListSnapshots(ctx context.Context, source string) ([]store.Snapshot, error) {
	out, err := s.listSnapshots(ctx, source)
	if err != nil {
		return nil, s.fail("list snapshots", source, err)
	}
	return out, nil
}

func (s *Store) listSnapshots(ctx context.Context, source string) ([]store.Snapshot, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	ids, err := s.rdb.ZRange(ctx, s.p+"snapsrc:"+source, 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var out []store.Snapshot
	for chunk := range slices.Chunk(ids, 512) {
		cmds := make([]*goredis.SliceCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = p.HMGet(ctx, s.p+"snap:"+id, snapFields...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, id := range chunk {
			snap, ok, err := decSnapshot(id, cmds[i].Val())
			if err != nil {
				return nil, err
			}
			if ok && snap.Source == source {
				out = append(out, snap)
			}
		}
	}
	return out, nil
}

// PutView implements store.Views.
func (s *Store) PutView(ctx context.Context, v store.ViewRecord) error {
	err := s.ready()
	if err == nil {
		err = checkTimes(v.Changed)
	}
	if err == nil {
		_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, s.p+"view:"+v.Customer, "hash", v.Hash, "data", v.Data, "changed", encTime(v.Changed))
			p.ZAdd(ctx, s.p+"views", goredis.Z{Member: v.Customer})
			return nil
		})
	}
	if err != nil {
		return s.fail("put view", v.Customer, err)
	}
	return nil
}

// GetView implements store.Views.
func (s *Store) GetView(ctx context.Context, customer string) (store.ViewRecord, bool, error) {
	if err := s.ready(); err != nil {
		return store.ViewRecord{}, false, s.fail("get view", customer, err)
	}
	v, err := s.rdb.HMGet(ctx, s.p+"view:"+customer, "hash", "data", "changed").Result()
	if err != nil {
		return store.ViewRecord{}, false, s.fail("get view", customer, err)
	}
	if len(v) != 3 || v[0] == nil {
		return store.ViewRecord{}, false, nil
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	changed, err := decTime(str(2))
	if err != nil {
		return store.ViewRecord{}, false, s.fail("get view", customer, err)
	}
	return store.ViewRecord{Customer: customer, Hash: str(0), Data: []byte(str(1)), Changed: changed}, true, nil
}

// DeleteView implements store.Views; deleting a missing view is no error.
func (s *Store) DeleteView(ctx context.Context, customer string) error {
	err := s.ready()
	if err == nil {
		_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, s.p+"view:"+customer)
			p.ZRem(ctx, s.p+"views", customer)
			return nil
		})
	}
	if err != nil {
		return s.fail("delete view", customer, err)
	}
	return nil
}

// ListViews implements store.Views, ordered by customer id (bytewise).
func (s *Store) ListViews(ctx context.Context) ([]string, error) {
	err := s.ready()
	var ids []string
	if err == nil {
		ids, err = s.rdb.ZRange(ctx, s.p+"views", 0, -1).Result()
	}
	if err != nil {
		return nil, s.fail("list views", "", err)
	}
	return ids, nil
}

func linkName(customer, target, object string) string {
	return customer + "/" + target + "/" + object
}

func (s *Store) linkKeys(customer, target string) (hash, index string) {
	ct := lenPrefixed(customer, target)
	return s.p + "link:" + ct, s.p + "linkx:" + ct
}

func encLink(l store.Link) string {
	return newRecord().str(l.Ref).str(l.Key).str(l.Hash).str(l.Remote).str(l.State).time(l.Created).time(l.Updated).String()
}

func decLink(customer, target, object, v string) (store.Link, error) {
	r := readRecord(v)
	l := store.Link{Customer: customer, Target: target, Object: object,
		Ref: r.str(), Key: r.str(), Hash: r.str(), Remote: r.str(), State: r.str(), Created: r.time(), Updated: r.time()}
	return l, r.done()
}

// GetLink implements store.Links.
func (s *Store) GetLink(ctx context.Context, customer, target, object string) (store.Link, bool, error) {
	if err := s.ready(); err != nil {
		return store.Link{}, false, s.fail("get link", linkName(customer, target, object), err)
	}
	hash, _ := s.linkKeys(customer, target)
	v, err := s.rdb.HGet(ctx, hash, object).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Link{}, false, nil
	}
	if err != nil {
		return store.Link{}, false, s.fail("get link", linkName(customer, target, object), err)
	}
	l, err := decLink(customer, target, object, v)
	if err != nil {
		return store.Link{}, false, s.fail("get link", linkName(customer, target, object), err)
	}
	return l, true, nil
}

// PutLink implements store.Links: the script writes only while f is the
// current lease on f.Key.
func (s *Store) PutLink(ctx context.Context, f store.Fence, l store.Link) error {
	err := s.ready()
	if err == nil {
		err = checkTimes(l.Created, l.Updated)
	}
	if err == nil {
		hash, index := s.linkKeys(l.Customer, l.Target)
		err = putLinkScript.Run(ctx, s.rdb, []string{s.p + "q:" + f.Key, hash, index}, f.Token, l.Object, encLink(l)).Err()
	}
	if err != nil {
		return s.fail("put link", linkName(l.Customer, l.Target, l.Object), err)
	}
	return nil
}

// DeleteLink implements store.Links; deleting a missing link is no error.
func (s *Store) DeleteLink(ctx context.Context, f store.Fence, customer, target, object string) error {
	err := s.ready()
	if err == nil {
		hash, index := s.linkKeys(customer, target)
		err = deleteLinkScript.Run(ctx, s.rdb, []string{s.p + "q:" + f.Key, hash, index}, f.Token, object).Err()
	}
	if err != nil {
		return s.fail("delete link", linkName(customer, target, object), err)
	}
	return nil
}

// ListLinks implements store.Links, ordered by object key bytewise (the
// index is a sorted set with equal scores, which Redis orders by memcmp).
func (s *Store) ListLinks(ctx context.Context, customer, target, prefix string) ([]store.Link, error) {
	out, err := s.listLinks(ctx, customer, target, prefix)
	if err != nil {
		return nil, s.fail("list links", linkName(customer, target, prefix+"*"), err)
	}
	return out, nil
}

func (s *Store) listLinks(ctx context.Context, customer, target, prefix string) ([]store.Link, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	lo, hi := "-", "+"
	if prefix != "" {
		lo = "[" + prefix
		if end, ok := prefixEnd(prefix); ok {
			hi = "(" + end
		}
	}
	hash, index := s.linkKeys(customer, target)
	v, err := listLinksScript.Run(ctx, s.rdb, []string{hash, index}, lo, hi).StringSlice()
	if err != nil {
		return nil, err
	}
	var out []store.Link
	for i := 0; i+1 < len(v); i += 2 {
		l, err := decLink(customer, target, v[i], v[i+1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v[i], err)
		}
		out = append(out, l)
	}
	return out, nil
}

// prefixEnd is the least string greater than every string starting with
// prefix; ok is false when there is none ("" or all 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func encAudit(e store.AuditEntry) string {
	return newRecord().time(e.Time).str(e.Customer).str(e.Target).str(e.Object).str(e.Action).
		str(e.Rule).str(e.Hash).str(e.Detail).String()
}

func decAudit(seq int64, v string) (store.AuditEntry, error) {
	r := readRecord(v)
	e := store.AuditEntry{Seq: seq, Time: r.time(), Customer: r.str(), Target: r.str(), Object: r.str(),
		Action: r.str(), Rule: r.str(), Hash: r.str(), Detail: r.str()}
	return e, r.done()
}

func (s *Store) auditKeys() (entries, all string) { return s.p + "audit:e", s.p + "audit:all" }

// AppendAudit implements store.Audit; e.Seq is ignored and assigned.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	err := s.ready()
	if err == nil {
		err = checkTimes(e.Time)
	}
	if err == nil {
		entries, all := s.auditKeys()
		err = appendAuditScript.Run(ctx, s.rdb,
			[]string{entries, all, s.p + "audit:c:" + e.Customer, s.p + "audit:o:" + e.Object},
			s.p, encAudit(e)).Err()
	}
	if err != nil {
		return s.fail("append audit", linkName(e.Customer, e.Target, e.Object), err)
	}
	return nil
}

// auditPage is how many entries ListAudit reads per round trip.
const auditPage = 256

// ListAudit implements store.Audit: entries in Seq order; with a Limit, the
// newest Limit matching entries. It walks the most selective index (object,
// then customer, then all) from the newest entry down and filters the rest
// here; Since cannot stop the walk early, since entry times are the
// callers' and need not follow Seq.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	out, err := s.listAudit(ctx, q)
	if err != nil {
		return nil, s.fail("list audit", linkName(q.Customer, q.Target, q.Object), err)
	}
	return out, nil
}

func (s *Store) listAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if !q.Since.IsZero() {
		if err := checkTimes(q.Since); err != nil {
			return nil, err
		}
	}
	entries, index := s.auditKeys()
	switch {
	case q.Object != "":
		index = s.p + "audit:o:" + q.Object
	case q.Customer != "":
		index = s.p + "audit:c:" + q.Customer
	}
	var out []store.AuditEntry // newest first
	upper := "+inf"
	for {
		v, err := auditPageScript.Run(ctx, s.rdb, []string{entries, index}, upper, auditPage).StringSlice()
		if err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(v); i += 2 {
			seq, err := strconv.ParseInt(v[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("audit seq %q: %w", v[i], err)
			}
			upper = "(" + v[i]
			e, err := decAudit(seq, v[i+1])
			if err != nil {
				return nil, fmt.Errorf("audit %d: %w", seq, err)
			}
			if (q.Customer != "" && e.Customer != q.Customer) || (q.Target != "" && e.Target != q.Target) ||
				(q.Object != "" && e.Object != q.Object) || (!q.Since.IsZero() && e.Time.Before(q.Since)) {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
				slices.Reverse(out)
				return out, nil
			}
		}
		if len(v) < 2*auditPage {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}

// GetKV implements store.KV.
func (s *Store) GetKV(ctx context.Context, ns, key string) ([]byte, bool, error) {
	if err := s.ready(); err != nil {
		return nil, false, s.fail("get kv", ns+"/"+key, err)
	}
	v, err := s.rdb.HGet(ctx, s.p+"kv:"+ns, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.fail("get kv", ns+"/"+key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// PutKV implements store.KV; an empty value is a value.
func (s *Store) PutKV(ctx context.Context, ns, key string, val []byte) error {
	err := s.ready()
	if err == nil {
		if val == nil {
			val = []byte{}
		}
		err = s.rdb.HSet(ctx, s.p+"kv:"+ns, key, val).Err()
	}
	if err != nil {
		return s.fail("put kv", ns+"/"+key, err)
	}
	return nil
}

// DeleteKV implements store.KV; deleting a missing key is no error.
func (s *Store) DeleteKV(ctx context.Context, ns, key string) error {
	err := s.ready()
	if err == nil {
		err = s.rdb.HDel(ctx, s.p+"kv:"+ns, key).Err()
	}
	if err != nil {
		return s.fail("delete kv", ns+"/"+key, err)
	}
	return nil
}

// ListKV implements store.KV; an empty namespace gives an empty map.
func (s *Store) ListKV(ctx context.Context, ns string) (map[string][]byte, error) {
	err := s.ready()
	var m map[string]string
	if err == nil {
		m, err = s.rdb.HGetAll(ctx, s.p+"kv:"+ns).Result()
	}
	if err != nil {
		return nil, s.fail("list kv", ns, err)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
