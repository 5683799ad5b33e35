package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/item"
	"vitrine/store"
	"vitrine/store/sqlite"
)

// storeState is everything of the store a dry run must leave alone.
func storeState(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	ids, err := st.ListViews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		v, _, err := st.GetView(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "view %s %s %s %s\n", v.Customer, v.Hash, v.Changed.UTC().Format(time.RFC3339Nano), v.Data)
	}
	es, err := st.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		fmt.Fprintf(&b, "audit %+v\n", e)
	}
	for _, src := range []string{shopSource(), "file:other.yaml"} {
		snaps, err := st.ListSnapshots(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) == 0 {
			t.Fatalf("no snapshots of %s: the state compared would be empty", src)
		}
		for _, s := range snaps {
			fmt.Fprintf(&b, "snapshot %s %s %s %s %s\n", s.ID, s.Hash, s.Seen.UTC().Format(time.RFC3339Nano), s.Updated.UTC().Format(time.RFC3339Nano), s.Data)
		}
	}
	for _, ns := range []string{"cursor", "source-error", "last-sync", "retract-guard", "retract-confirm", "emergency-retract", "epoch", "rules-hash"} {
		kv, err := st.ListKV(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "kv %s %v\n", ns, kv)
	}
	q, err := st.Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "queue %d ready %d waiting %d in flight %d parked\n", q.Ready, q.Waiting, q.InFlight, q.Parked)
	return b.String()
}

// `sync --dry-run` prints the operations a sync would make and writes
// nothing: views, audit, snapshots, cursors and the queue are as before,
// and the real sync afterwards makes exactly the planned operations.
func TestSyncDryRunPrintsThePlanAndWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	b := defaultShop()
	b.write(t, dir)
	mustRun(t, env, "sync")
	beforeState := storeState(t, dir)
	beforeAudit := mustRun(t, env, "audit", "--customer", "shop", "--format", "json").Stdout
	_, beforeIndex, beforeFeed, _ := shopPage(t, env)

	// Leaf unpublished, parent's text edited, a new item published.
	b.leafLabels = "[]"
	b.write(t, dir)
	board := strings.Replace(readFile(t, filepath.Join(dir, "board.yaml")), "ParentBody", "ParentBodyEdited", 1) +
		"  - {id: n1, title: NewItem, type: feature, labels: [pub]}\n"
	writeFile(t, filepath.Join(dir, "board.yaml"), board)

	for _, args := range [][]string{{"sync", "--dry-run"}, {"sync", "--dry-run", "--customer", "shop"}} {
		r := mustRun(t, env, args...)
		for _, want := range []string{`(?m)^shop\s+page\s+retract\s+#l1\s*$`, `(?m)^shop\s+page\s+update\s+#t1\s*$`, `(?m)^shop\s+page\s+publish\s+#n1\s*$`,
			`(?m)^3 operations planned; nothing written`} {
			if !regexp.MustCompile(want).MatchString(r.Stdout) {
				t.Errorf("%s: no line matching %s:\n%s", strings.Join(args, " "), want, r)
			}
		}
		if strings.Contains(r.Stdout, "#s1") || strings.Contains(r.Stdout, "#k1") || strings.Contains(r.Stdout, "other ") {
			t.Errorf("%s plans operations on unchanged items:\n%s", strings.Join(args, " "), r)
		}
	}
	if after := storeState(t, dir); after != beforeState {
		t.Errorf("the dry run changed the store:\n%s", diffLines(beforeState, after))
	}
	if after := mustRun(t, env, "audit", "--customer", "shop", "--format", "json").Stdout; after != beforeAudit {
		t.Errorf("the dry run changed the audit log:\n%s", diffLines(beforeAudit, after))
	}
	_, index, feed, _ := shopPage(t, env)
	if index != beforeIndex || feed != beforeFeed {
		t.Errorf("the dry run changed the page")
	}

	mustRun(t, env, "sync")
	es := audits(t, env, "shop")
	for _, c := range []struct{ action, id string }{{"retract", "l1"}, {"update", "t1"}, {"publish", "n1"}} {
		if countAudit(es, c.action, shopKey(c.id)) != 1 {
			t.Errorf("the real sync did not %s %s once", c.action, c.id)
		}
	}
	if n := countAudit(es, "update", ""); n != 1 {
		t.Errorf("%d updates audited, want only the planned one", n)
	}
}

// diffLines lists the lines only one side has.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+clip(l))
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+clip(l))
		}
	}
	return strings.Join(out, "\n")
}

var planLineRE = regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$`)

// plannedOps parses the dry run's table into "customer target action ref".
// An item no source knows any more is listed by its key: it is compared
// by the board id in it.
func plannedOps(out string) []string {
	var ops []string
	for _, m := range planLineRE.FindAllStringSubmatch(out, -1) {
		if m[1] == "CUSTOMER" {
			continue
		}
		ref := m[4]
		if strings.Contains(ref, "/") {
			_, native := item.SplitID(ref)
			ref = "#" + native
		}
		ops = append(ops, strings.Join([]string{m[1], m[2], m[3], ref}, " "))
	}
	sort.Strings(ops)
	return ops
}

// madeOps is what a sync did, from the audit entries after seq.
func madeOps(t *testing.T, env []string, customer string, seq int64) []string {
	t.Helper()
	var ops []string
	for _, e := range audits(t, env, customer) {
		if e.Seq <= seq {
			continue
		}
		switch e.Action {
		case "publish", "update", "retract":
			_, native := item.SplitID(e.Object)
			ops = append(ops, strings.Join([]string{e.Customer, e.Target, e.Action, "#" + native}, " "))
		}
	}
	sort.Strings(ops)
	return ops
}

func lastSeq(t *testing.T, env []string, customer string) int64 {
	t.Helper()
	var seq int64
	for _, e := range audits(t, env, customer) {
		seq = max(seq, e.Seq)
	}
	return seq
}

// The dry run plans what the sync then does: nothing for a paused
// customer, nothing under an emergency retract, no retraction the guard
// would hold back, and the retractions of a customer removed from the
// rules (once sync makes them: see the customer-removed retraction test).
func TestSyncDryRunPlansWhatTheSyncThenDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string, env []string)
	}{
		{"ordinary edit", func(t *testing.T, dir string, env []string) {
			defaultShop().write(t, dir)
			mustRun(t, env, "sync")
			b := defaultShop()
			b.leafLabels = "[]"
			b.write(t, dir)
		}},
		{"paused in the rules", func(t *testing.T, dir string, env []string) {
			defaultShop().write(t, dir)
			mustRun(t, env, "sync")
			b := defaultShop()
			b.paused, b.leafLabels = true, "[]"
			b.write(t, dir)
		}},
		{"emergency retract in force", func(t *testing.T, dir string, env []string) {
			defaultShop().write(t, dir)
			mustRun(t, env, "sync")
			mustRun(t, env, "retract", "--customer", "shop")
		}},
		{"retract guard would pause", func(t *testing.T, dir string, env []string) {
			writeGuardBoard(t, dir, 30)
			mustRun(t, env, "sync")
			writeGuardBoard(t, dir, 5)
		}},
		{"customer removed from the rules", func(t *testing.T, dir string, env []string) {
			defaultShop().write(t, dir)
			mustRun(t, env, "sync")
			b := defaultShop()
			b.shop = false
			b.write(t, dir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := envFor(dir)
			tc.setup(t, dir, env)
			seq := lastSeq(t, env, "shop")
			var plan []string
			for _, op := range plannedOps(mustRun(t, env, "sync", "--dry-run").Stdout) {
				if strings.HasPrefix(op, "shop ") {
					plan = append(plan, op)
				}
			}
			mustRun(t, env, "sync")
			made := madeOps(t, env, "shop", seq)
			if strings.Join(plan, "\n") != strings.Join(made, "\n") {
				t.Errorf("the dry run planned %d operations:\n%s\nthe sync then made %d:\n%s", len(plan), clip(strings.Join(plan, "\n")), len(made), clip(strings.Join(made, "\n")))
			}
		})
	}
}
