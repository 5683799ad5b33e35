package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"vitrine/store"
)

var recordCases = []testCase{
	{"SnapshotRoundTripsEveryField", testSnapshotRoundTrip},
	{"SnapshotGetMissingIsNotAnError", testSnapshotMissing},
	{"SnapshotPutReportsChangeOnlyWhenHashDiffers", testSnapshotChanged},
	{"SnapshotOlderUpdatedNeverOverwritesNewer", testSnapshotOlderLoses},
	{"SnapshotListBySourceOrderedByID", testSnapshotList},
	{"SnapshotDeleteReportsExistence", testSnapshotDelete},
	{"ViewPutGetListDelete", testViews},
	{"LinkRoundTripsUnderLease", testLinkRoundTrip},
	{"LinkListByPrefixInByteOrder", testLinkList},
	{"LinkWritesNeedTheCurrentLease", testLinkFenced},
	{"AuditAssignsIncreasingSeq", testAuditSeq},
	{"AuditQueriesFilterAndLimitNewest", testAuditQuery},
	{"KVNamespacesAreSeparate", testKV},
	{"PingUntilClose", testPing},
}

// loc checks that times come back equal whatever zone they went in with.
var loc = time.FixedZone("UTC+5:30", 5*3600+1800)

func snap(id, source, hash string, updated time.Time) store.Snapshot {
	return store.Snapshot{ID: id, Source: source, Kind: store.KindItem, Hash: hash,
		Data: []byte(`{"id":"` + id + `","h":"` + hash + `"}`), Updated: updated, Seen: updated.Add(time.Second)}
}

func wantSnapshot(t *testing.T, s store.Store, want store.Snapshot) {
	t.Helper()
	got, ok, err := s.GetSnapshot(ctx(t), want.ID)
	must(t, err)
	if !ok {
		t.Fatalf("GetSnapshot(%q): missing", want.ID)
	}
	if got.ID != want.ID || got.Source != want.Source || got.Kind != want.Kind || got.Hash != want.Hash ||
		!bytes.Equal(got.Data, want.Data) || !got.Updated.Equal(want.Updated) || !got.Seen.Equal(want.Seen) {
		t.Fatalf("GetSnapshot(%q) = %+v\nwant %+v", want.ID, got, want)
	}
}

func testSnapshotRoundTrip(t *testing.T, s store.Store) {
	in := store.Snapshot{ID: "github:1001", Source: "acme/github", Kind: store.KindMilestone, Hash: "h1",
		Data: []byte{0, 1, 2, 0xff, '"', '\n'}, Updated: T0.In(loc), Seen: T0.Add(time.Nanosecond)}
	changed, err := s.PutSnapshot(ctx(t), in)
	must(t, err)
	if !changed {
		t.Fatal("first PutSnapshot reported no change")
	}
	wantSnapshot(t, s, in)
}

func testSnapshotMissing(t *testing.T, s store.Store) {
	_, ok, err := s.GetSnapshot(ctx(t), "nope")
	must(t, err)
	if ok {
		t.Fatal("GetSnapshot of a missing id reported ok")
	}
}

func testSnapshotChanged(t *testing.T, s store.Store) {
	steps := []struct {
		hash    string
		updated time.Duration
		changed bool
	}{
		{"a", 0, true},
		{"a", time.Minute, false},    // newer read, same content
		{"b", 2 * time.Minute, true}, // content changed
		{"b", 2 * time.Minute, false},
	}
	for i, st := range steps {
		in := snap("jira:7", "acme/jira", st.hash, T0.Add(st.updated))
		changed, err := s.PutSnapshot(ctx(t), in)
		must(t, err)
		if changed != st.changed {
			t.Fatalf("step %d (hash %s): changed = %v, want %v", i, st.hash, changed, st.changed)
		}
		wantSnapshot(t, s, in) // a newer or equal Updated is stored even when the hash is the same
	}
}

func testSnapshotOlderLoses(t *testing.T, s store.Store) {
	newer := snap("github:5", "acme/github", "new", T0.Add(time.Hour))
	must2[bool](t)(s.PutSnapshot(ctx(t), newer))
	changed, err := s.PutSnapshot(ctx(t), snap("github:5", "acme/github", "old", T0))
	must(t, err)
	if changed {
		t.Fatal("a put with an older Updated reported a change")
	}
	wantSnapshot(t, s, newer)

	// An equal Updated is not newer: the later read wins.
	same := snap("github:5", "acme/github", "same-time", T0.Add(time.Hour))
	changed, err = s.PutSnapshot(ctx(t), same)
	must(t, err)
	if !changed {
		t.Fatal("a put with an equal Updated and a new hash reported no change")
	}
	wantSnapshot(t, s, same)
}

func must2[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		must(t, err)
		return v
	}
}

func snapshotIDs(t *testing.T, s store.Store, source string) []string {
	t.Helper()
	list, err := s.ListSnapshots(ctx(t), source)
	must(t, err)
	ids := []string{}
	for _, x := range list {
		if x.Source != source {
			t.Fatalf("ListSnapshots(%q) returned %q of source %q", source, x.ID, x.Source)
		}
		ids = append(ids, x.ID)
	}
	return ids
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func testSnapshotList(t *testing.T, s store.Store) {
	for _, x := range []store.Snapshot{
		snap("github:9", "acme/github", "h", T0),
		snap("github:10", "acme/github", "h", T0),
		snap("ms:github:1", "acme/github", "h", T0),
		snap("jira:1", "acme/jira", "h", T0),
	} {
		must2[bool](t)(s.PutSnapshot(ctx(t), x))
	}
	wantStrings(t, "ListSnapshots(acme/github)", snapshotIDs(t, s, "acme/github"), []string{"github:10", "github:9", "ms:github:1"})
	wantStrings(t, "ListSnapshots(acme/jira)", snapshotIDs(t, s, "acme/jira"), []string{"jira:1"})
	wantStrings(t, "ListSnapshots(unknown)", snapshotIDs(t, s, "other"), nil)

	// An item transferred to another source moves with its id.
	must2[bool](t)(s.PutSnapshot(ctx(t), snap("github:9", "acme/jira", "h", T0.Add(time.Second))))
	wantStrings(t, "ListSnapshots(acme/github) after move", snapshotIDs(t, s, "acme/github"), []string{"github:10", "ms:github:1"})
	wantStrings(t, "ListSnapshots(acme/jira) after move", snapshotIDs(t, s, "acme/jira"), []string{"github:9", "jira:1"})
}

func testSnapshotDelete(t *testing.T, s store.Store) {
	must2[bool](t)(s.PutSnapshot(ctx(t), snap("github:1", "acme/github", "h", T0)))
	must2[bool](t)(s.PutSnapshot(ctx(t), snap("github:2", "acme/github", "h", T0)))
	existed, err := s.DeleteSnapshot(ctx(t), "github:1")
	must(t, err)
	if !existed {
		t.Fatal("DeleteSnapshot of a stored id reported it missing")
	}
	existed, err = s.DeleteSnapshot(ctx(t), "github:1")
	must(t, err)
	if existed {
		t.Fatal("second DeleteSnapshot reported it existed")
	}
	if _, ok, err := s.GetSnapshot(ctx(t), "github:1"); err != nil || ok {
		t.Fatalf("GetSnapshot after delete: ok=%v err=%v", ok, err)
	}
	wantStrings(t, "ListSnapshots after delete", snapshotIDs(t, s, "acme/github"), []string{"github:2"})
}

func testViews(t *testing.T, s store.Store) {
	_, ok, err := s.GetView(ctx(t), "acme")
	must(t, err)
	if ok {
		t.Fatal("GetView on an empty store reported ok")
	}
	acme := store.ViewRecord{Customer: "acme", Hash: "v1", Data: []byte(`{"items":[]}`), Changed: T0.In(loc)}
	must(t, s.PutView(ctx(t), acme))
	must(t, s.PutView(ctx(t), store.ViewRecord{Customer: "beta", Hash: "b1", Data: []byte("{}"), Changed: T0}))
	must(t, s.PutView(ctx(t), store.ViewRecord{Customer: "Zulu", Hash: "z1", Data: []byte("{}"), Changed: T0}))
	acme2 := store.ViewRecord{Customer: "acme", Hash: "v2", Data: []byte(`{"items":[1]}`), Changed: T0.Add(time.Minute)}
	must(t, s.PutView(ctx(t), acme2))

	got, ok, err := s.GetView(ctx(t), "acme")
	must(t, err)
	if !ok || got.Customer != "acme" || got.Hash != "v2" || !bytes.Equal(got.Data, acme2.Data) || !got.Changed.Equal(acme2.Changed) {
		t.Fatalf("GetView(acme) = %+v, ok=%v; want %+v", got, ok, acme2)
	}
	ids, err := s.ListViews(ctx(t))
	must(t, err)
	wantStrings(t, "ListViews", ids, []string{"Zulu", "acme", "beta"})

	must(t, s.DeleteView(ctx(t), "acme"))
	must(t, s.DeleteView(ctx(t), "acme")) // missing: no error
	if _, ok, err := s.GetView(ctx(t), "acme"); err != nil || ok {
		t.Fatalf("GetView after delete: ok=%v err=%v", ok, err)
	}
	ids, err = s.ListViews(ctx(t))
	must(t, err)
	wantStrings(t, "ListViews after delete", ids, []string{"Zulu", "beta"})
}

const (
	opKey  = "op:acme|github:acme/acme-status|github:42"
	target = "github:acme/acme-status"
)

func link(object, hash string) store.Link {
	return store.Link{Customer: "acme", Target: target, Object: object, Ref: "17", Key: "k-" + object,
		Hash: hash, Remote: `W/"etag"`, State: store.LinkLive, Created: T0.In(loc), Updated: T0.Add(time.Second)}
}

func wantLink(t *testing.T, s store.Store, want store.Link) {
	t.Helper()
	got, ok, err := s.GetLink(ctx(t), want.Customer, want.Target, want.Object)
	must(t, err)
	if !ok {
		t.Fatalf("GetLink(%s): missing", want.Object)
	}
	if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
		t.Fatalf("GetLink(%s) times = %s, %s; want %s, %s", want.Object, got.Created, got.Updated, want.Created, want.Updated)
	}
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("GetLink(%s) = %+v\nwant %+v", want.Object, got, want)
	}
}

func testLinkRoundTrip(t *testing.T, s store.Store) {
	if _, ok, err := s.GetLink(ctx(t), "acme", target, "github:42"); err != nil || ok {
		t.Fatalf("GetLink on an empty store: ok=%v err=%v", ok, err)
	}
	j := lock(t, s, opKey, "w1")
	pending := link("github:42", "h1")
	pending.State, pending.Ref = store.LinkPending, ""
	must(t, s.PutLink(ctx(t), j.Fence(), pending))
	wantLink(t, s, pending)

	live := link("github:42", "h2")
	must(t, s.PutLink(ctx(t), j.Fence(), live))
	wantLink(t, s, live)

	must(t, s.DeleteLink(ctx(t), j.Fence(), "acme", target, "github:42"))
	if _, ok, err := s.GetLink(ctx(t), "acme", target, "github:42"); err != nil || ok {
		t.Fatalf("GetLink after delete: ok=%v err=%v", ok, err)
	}
	must(t, s.DeleteLink(ctx(t), j.Fence(), "acme", target, "github:42")) // missing: no error
}

func linkObjects(t *testing.T, s store.Store, customer, tgt, prefix string) []string {
	t.Helper()
	list, err := s.ListLinks(ctx(t), customer, tgt, prefix)
	must(t, err)
	out := []string{}
	for _, l := range list {
		if l.Customer != customer || l.Target != tgt {
			t.Fatalf("ListLinks(%s, %s) returned a link of %s/%s", customer, tgt, l.Customer, l.Target)
		}
		out = append(out, l.Object)
	}
	return out
}

func testLinkList(t *testing.T, s store.Store) {
	j := lock(t, s, opKey, "w1")
	objects := []string{"github:9", "github:10", "github:10/c/3", "github:1/c/20", "github:1/c/3", "ms:github:2", "Github:1", "github:1"}
	for _, o := range objects {
		must(t, s.PutLink(ctx(t), j.Fence(), link(o, "h")))
	}
	other := link("github:1", "h")
	other.Customer = "beta"
	must(t, s.PutLink(ctx(t), j.Fence(), other))
	other = link("github:1", "h")
	other.Target = "page"
	must(t, s.PutLink(ctx(t), j.Fence(), other))

	wantStrings(t, `ListLinks("")`, linkObjects(t, s, "acme", target, ""),
		[]string{"Github:1", "github:1", "github:1/c/20", "github:1/c/3", "github:10", "github:10/c/3", "github:9", "ms:github:2"})
	wantStrings(t, `ListLinks("github:1/c/")`, linkObjects(t, s, "acme", target, "github:1/c/"),
		[]string{"github:1/c/20", "github:1/c/3"})
	wantStrings(t, `ListLinks("github:1")`, linkObjects(t, s, "acme", target, "github:1"),
		[]string{"github:1", "github:1/c/20", "github:1/c/3", "github:10", "github:10/c/3"})
	wantStrings(t, `ListLinks("ms:")`, linkObjects(t, s, "acme", target, "ms:"), []string{"ms:github:2"})
	wantStrings(t, `ListLinks("zz")`, linkObjects(t, s, "acme", target, "zz"), nil)
	wantStrings(t, "ListLinks(beta)", linkObjects(t, s, "beta", target, ""), []string{"github:1"})
	wantStrings(t, "ListLinks(acme, page)", linkObjects(t, s, "acme", "page", ""), []string{"github:1"})
}

func testLinkFenced(t *testing.T, s store.Store) {
	// No lease at all.
	mustFenced(t, "PutLink with a zero fence", s.PutLink(ctx(t), store.Fence{}, link("github:42", "h0")))
	mustFenced(t, "PutLink on an unleased key", s.PutLink(ctx(t), store.Fence{Key: opKey, Token: 1}, link("github:42", "h0")))
	if _, ok, err := s.GetLink(ctx(t), "acme", target, "github:42"); err != nil || ok {
		t.Fatalf("a fenced PutLink wrote: ok=%v err=%v", ok, err)
	}

	j := lock(t, s, opKey, "w1")
	must(t, s.PutLink(ctx(t), j.Fence(), link("github:42", "h1")))
	wrong := j.Fence()
	wrong.Token++
	mustFenced(t, "PutLink with a wrong token", s.PutLink(ctx(t), wrong, link("github:42", "h-wrong")))
	wrong = j.Fence()
	wrong.Key = "op:acme|page|github:42"
	mustFenced(t, "PutLink with another key's fence", s.PutLink(ctx(t), wrong, link("github:42", "h-wrong")))
	mustFenced(t, "DeleteLink with a wrong token", s.DeleteLink(ctx(t), store.Fence{Key: opKey, Token: j.Token + 1}, "acme", target, "github:42"))
	wantLink(t, s, link("github:42", "h1"))

	// A completed pass's fence is stale, also after the key is leased again.
	complete(t, s, j)
	mustFenced(t, "PutLink after Complete", s.PutLink(ctx(t), j.Fence(), link("github:42", "h-stale")))
	j2 := lock(t, s, opKey, "w2")
	if j2.Token <= j.Token {
		t.Fatalf("second lease token %d not above first %d", j2.Token, j.Token)
	}
	mustFenced(t, "PutLink with the previous pass's fence", s.PutLink(ctx(t), j.Fence(), link("github:42", "h-stale")))
	mustFenced(t, "DeleteLink with the previous pass's fence", s.DeleteLink(ctx(t), j.Fence(), "acme", target, "github:42"))
	wantLink(t, s, link("github:42", "h1"))
	must(t, s.PutLink(ctx(t), j2.Fence(), link("github:42", "h2")))
	wantLink(t, s, link("github:42", "h2"))
}

func testAuditSeq(t *testing.T, s store.Store) {
	for i, action := range []string{"publish", "update", "retract"} {
		must(t, s.AppendAudit(ctx(t), store.AuditEntry{Seq: 999, Time: T0.Add(time.Duration(i) * time.Second).In(loc),
			Customer: "acme", Target: "page", Object: "github:1", Action: action, Rule: "label client-visible",
			Hash: "h" + action, Detail: "d" + action}))
	}
	all, err := s.ListAudit(ctx(t), store.AuditQuery{})
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("ListAudit = %d entries, want 3", len(all))
	}
	for i, e := range all {
		if e.Seq <= 0 || (i > 0 && e.Seq <= all[i-1].Seq) {
			t.Fatalf("Seq not assigned increasing: %d after %d", e.Seq, all[max(i-1, 0)].Seq)
		}
		want := []string{"publish", "update", "retract"}[i]
		if e.Action != want || e.Customer != "acme" || e.Target != "page" || e.Object != "github:1" ||
			e.Rule != "label client-visible" || e.Hash != "h"+want || e.Detail != "d"+want {
			t.Fatalf("entry %d = %+v", i, e)
		}
		wantTime(t, "entry time", e.Time, T0.Add(time.Duration(i)*time.Second))
	}
}

func testAuditQuery(t *testing.T, s store.Store) {
	type row struct {
		customer, target, object string
		at                       time.Duration
	}
	rows := []row{
		{"acme", "page", "github:1", 0},                        // 0
		{"acme", "github:acme/s", "github:1", time.Minute},     // 1
		{"beta", "page", "github:1", 2 * time.Minute},          // 2
		{"acme", "page", "github:2", 3 * time.Minute},          // 3
		{"acme", "github:acme/s", "github:2", 4 * time.Minute}, // 4
		{"acme", "page", "github:1", 5 * time.Minute},          // 5
	}
	for i, r := range rows {
		must(t, s.AppendAudit(ctx(t), store.AuditEntry{Time: T0.Add(r.at), Customer: r.customer, Target: r.target,
			Object: r.object, Action: "publish", Detail: string(rune('0' + i))}))
	}
	query := func(q store.AuditQuery) []string {
		t.Helper()
		list, err := s.ListAudit(ctx(t), q)
		must(t, err)
		out := []string{}
		for _, e := range list {
			out = append(out, e.Detail)
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"all", store.AuditQuery{}, []string{"0", "1", "2", "3", "4", "5"}},
		{"customer", store.AuditQuery{Customer: "acme"}, []string{"0", "1", "3", "4", "5"}},
		{"target", store.AuditQuery{Target: "page"}, []string{"0", "2", "3", "5"}},
		{"object", store.AuditQuery{Object: "github:1"}, []string{"0", "1", "2", "5"}},
		{"customer+target+object", store.AuditQuery{Customer: "acme", Target: "page", Object: "github:1"}, []string{"0", "5"}},
		{"since is inclusive", store.AuditQuery{Since: T0.Add(3 * time.Minute)}, []string{"3", "4", "5"}},
		{"since in another zone", store.AuditQuery{Since: T0.Add(3 * time.Minute).In(loc)}, []string{"3", "4", "5"}},
		{"since, customer", store.AuditQuery{Customer: "acme", Since: T0.Add(time.Minute + 1)}, []string{"3", "4", "5"}},
		{"limit keeps the newest", store.AuditQuery{Limit: 2}, []string{"4", "5"}},
		{"limit with filter", store.AuditQuery{Customer: "acme", Target: "page", Limit: 2}, []string{"3", "5"}},
		{"limit above count", store.AuditQuery{Customer: "beta", Limit: 10}, []string{"2"}},
		{"no match", store.AuditQuery{Customer: "gamma"}, nil},
	} {
		wantStrings(t, "ListAudit "+c.name, query(c.q), c.want)
	}
}

func testKV(t *testing.T, s store.Store) {
	if _, ok, err := s.GetKV(ctx(t), "cursor", "acme/github"); err != nil || ok {
		t.Fatalf("GetKV on an empty store: ok=%v err=%v", ok, err)
	}
	must(t, s.PutKV(ctx(t), "cursor", "acme/github", []byte("2031-03-14T00:00:00Z")))
	must(t, s.PutKV(ctx(t), "etag", "acme/github", []byte(`W/"abc"`)))
	must(t, s.PutKV(ctx(t), "cursor", "acme/jira", []byte{0, 0xff}))
	must(t, s.PutKV(ctx(t), "cursor", "acme/github", []byte("2031-03-15T00:00:00Z"))) // overwrite
	must(t, s.PutKV(ctx(t), "pause", "acme", []byte{}))                               // empty is a value

	get := func(ns, key string) []byte {
		t.Helper()
		v, ok, err := s.GetKV(ctx(t), ns, key)
		must(t, err)
		if !ok {
			t.Fatalf("GetKV(%s, %s): missing", ns, key)
		}
		return v
	}
	if v := get("cursor", "acme/github"); string(v) != "2031-03-15T00:00:00Z" {
		t.Fatalf("cursor = %q", v)
	}
	if v := get("etag", "acme/github"); string(v) != `W/"abc"` {
		t.Fatalf("etag = %q", v)
	}
	if v := get("pause", "acme"); len(v) != 0 {
		t.Fatalf("empty value came back as %q", v)
	}
	m, err := s.ListKV(ctx(t), "cursor")
	must(t, err)
	want := map[string][]byte{"acme/github": []byte("2031-03-15T00:00:00Z"), "acme/jira": {0, 0xff}}
	if len(m) != len(want) {
		t.Fatalf("ListKV(cursor) = %q, want %q", m, want)
	}
	for k, v := range want {
		if !bytes.Equal(m[k], v) {
			t.Fatalf("ListKV(cursor)[%s] = %q, want %q", k, m[k], v)
		}
	}
	must(t, s.DeleteKV(ctx(t), "cursor", "acme/github"))
	must(t, s.DeleteKV(ctx(t), "cursor", "acme/github")) // missing: no error
	if _, ok, err := s.GetKV(ctx(t), "cursor", "acme/github"); err != nil || ok {
		t.Fatalf("GetKV after delete: ok=%v err=%v", ok, err)
	}
	if v := get("etag", "acme/github"); string(v) != `W/"abc"` {
		t.Fatal("deleting in one namespace touched another")
	}
	m, err = s.ListKV(ctx(t), "none")
	must(t, err)
	if len(m) != 0 {
		t.Fatalf("ListKV of an empty namespace = %q", m)
	}
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(ctx(t)))
	must(t, s.Close())
	err := s.Ping(ctx(t))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping after Close = %v, want store.ErrUnavailable", err)
	}
}
