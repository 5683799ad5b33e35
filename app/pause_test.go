package app_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func allMarkers() []string {
	var out []string
	for _, ms := range shopMarkers {
		out = append(out, ms...)
	}
	return out
}

// paused: true freezes the page at its last state: a board edit and a sync
// change nothing a customer reads, and status says why.
func TestPausedCustomerPageStaysFrozenAtItsLastState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	b := defaultShop()
	b.write(t, dir)
	mustRun(t, env, "sync")
	tok, index, feed, ok := shopPage(t, env)
	if !ok {
		t.Fatal("no page")
	}
	before := len(audits(t, env, "shop"))

	b.paused = true
	b.leafLabels = "[]"
	b.write(t, dir)
	writeFile(t, filepath.Join(dir, "board.yaml"), strings.Replace(readFile(t, filepath.Join(dir, "board.yaml")), "StableBody", "EditedBody", 1))
	mustRun(t, env, "sync")
	tok2, index2, feed2, _ := shopPage(t, env)
	if tok2 != tok || index2 != index || feed2 != feed {
		t.Errorf("the paused page changed (token same=%v, page same=%v, feed same=%v)", tok2 == tok, index2 == index, feed2 == feed)
	}
	if n := len(audits(t, env, "shop")); n != before {
		t.Errorf("%d audit entries while paused, want none", n-before)
	}
	if st := mustRun(t, env, "status"); !strings.Contains(st.Stdout, "customer shop paused in the rules") {
		t.Errorf("status does not say the customer is paused:\n%s", st)
	}

	b.paused = false
	b.write(t, dir)
	writeFile(t, filepath.Join(dir, "board.yaml"), strings.Replace(readFile(t, filepath.Join(dir, "board.yaml")), "StableBody", "EditedBody", 1))
	mustRun(t, env, "sync")
	_, index3, _, _ := shopPage(t, env)
	if strings.Contains(index3, "LeafItem") || !strings.Contains(index3, "EditedBody") {
		t.Errorf("after unpausing the page did not catch up")
	}
}

// `vitrine retract --customer X` empties the page now and is audited;
// a sync does not undo it; --resume republishes under the same anchors.
func TestEmergencyRetractEmptiesThePageUntilResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	defaultShop().write(t, dir)
	mustRun(t, env, "sync")
	tok, index, _, _ := shopPage(t, env)
	anchors := itemAnchors(index)

	r := mustRun(t, env, "retract", "--customer", "shop")
	if !strings.Contains(r.Stdout, "customer shop retracted") {
		t.Errorf("retract said:\n%s", r)
	}
	check := func(when string) {
		t.Helper()
		tok2, index2, feed2, ok := shopPage(t, env)
		if !ok || tok2 != tok {
			t.Fatalf("%s: the page itself is gone or moved (ok=%v)", when, ok)
		}
		for _, m := range allMarkers() {
			if strings.Contains(index2, m) || strings.Contains(feed2, m) {
				t.Errorf("%s: %s still shows", when, m)
			}
		}
		if strings.Contains(feed2, "<entry>") {
			t.Errorf("%s: the feed still has entries", when)
		}
		if !strings.Contains(index2, "Nothing is published yet.") {
			t.Errorf("%s: the page does not say nothing is published", when)
		}
	}
	check("after retract")
	es := audits(t, env, "shop")
	if countAudit(es, "emergency-retract", "") != 1 {
		t.Errorf("want one emergency-retract audit entry")
	}
	for id := range shopMarkers {
		if n := countAudit(es, "retract", shopKey(id)); n != 1 {
			t.Errorf("%d retract audits of %s, want 1", n, id)
		}
	}
	if st := mustRun(t, env, "status"); !strings.Contains(st.Stdout, "emergency retract in force: shop") {
		t.Errorf("status:\n%s", st)
	}
	mustRun(t, env, "sync")
	check("after a sync")

	r = mustRun(t, env, "retract", "--customer", "shop", "--resume")
	if !strings.Contains(r.Stdout, "customer shop resumed") {
		t.Errorf("resume said:\n%s", r)
	}
	_, index3, _, _ := shopPage(t, env)
	for _, m := range allMarkers() {
		if !strings.Contains(index3, m) {
			t.Errorf("after resume %s is missing", m)
		}
	}
	if fmt.Sprint(itemAnchors(index3)) != fmt.Sprint(anchors) {
		t.Errorf("anchors changed across retract and resume")
	}
	if countAudit(audits(t, env, "shop"), "resume", "") != 1 {
		t.Errorf("want one resume audit entry")
	}
	if st := mustRun(t, env, "status"); strings.Contains(st.Stdout, "emergency retract in force") {
		t.Errorf("status after resume:\n%s", st)
	}
}

// An emergency stop is the operator's last word: it empties a page even
// when the rules pause the customer (paused freezes the page against the
// board, not against the operator).
func TestEmergencyRetractEmptiesAPausedCustomersPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	b := defaultShop()
	b.write(t, dir)
	mustRun(t, env, "sync")
	b.paused = true
	b.write(t, dir)
	mustRun(t, env, "retract", "--customer", "shop")
	_, index, feed, _ := shopPage(t, env)
	var still []string
	for _, m := range allMarkers() {
		if strings.Contains(index, m) || strings.Contains(feed, m) {
			still = append(still, m)
		}
	}
	if len(still) > 0 {
		t.Errorf("after `vitrine retract` of a paused customer its page still shows %d of %d things: %v", len(still), len(allMarkers()), still)
	}
}

func writeGuardBoard(t *testing.T, dir string, n int) {
	t.Helper()
	var s strings.Builder
	s.WriteString("items:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "  - {id: g%02d, title: GuardItem%02d, labels: [pub]}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "board.yaml"), s.String())
	writeFile(t, filepath.Join(dir, "vitrine.yaml"), `customers:
  - id: shop
    name: Shop Inc
    sources:
      - file: {path: board.yaml}
    publish: {label: pub}
    targets:
      - page: {}
`)
}

func guardItems(t *testing.T, env []string) int {
	t.Helper()
	_, index, _, ok := shopPage(t, env)
	if !ok {
		t.Fatal("no page")
	}
	return strings.Count(index, ">GuardItem")
}

// A board edit that would retract more than 20 items and more than half
// pauses the customer: the page stays, status says so, and only
// `sync --confirm-retract` lets it through.
func TestRetractGuardPausesAMassRemovalUntilConfirmed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	writeGuardBoard(t, dir, 30)
	mustRun(t, env, "sync")
	if n := guardItems(t, env); n != 30 {
		t.Fatalf("%d items published, want 30", n)
	}
	_, index, _, _ := shopPage(t, env)

	writeGuardBoard(t, dir, 5)
	r := mustRun(t, env, "sync")
	if !strings.Contains(r.Stdout, "customer shop PAUSED") {
		t.Errorf("sync did not report the pause:\n%s", r)
	}
	_, index2, _, _ := shopPage(t, env)
	if index2 != index {
		t.Errorf("the guarded page changed (%d items)", guardItems(t, env))
	}
	st := mustRun(t, env, "status")
	if !strings.Contains(st.Stdout, "customer shop paused by the retract guard") || !strings.Contains(st.Stdout, "25 of 30") {
		t.Errorf("status does not explain the pause:\n%s", st)
	}
	mustRun(t, env, "sync")
	es := audits(t, env, "shop")
	if countAudit(es, "pause", "") != 1 || countAudit(es, "retract", "") != 0 {
		t.Errorf("audit: %d pause, %d retract entries; want 1 and 0", countAudit(es, "pause", ""), countAudit(es, "retract", ""))
	}
	if n := guardItems(t, env); n != 30 {
		t.Errorf("a second sync let the retraction through: %d items", n)
	}

	mustRun(t, env, "sync", "--customer", "shop", "--confirm-retract")
	if n := guardItems(t, env); n != 5 {
		t.Errorf("after --confirm-retract %d items, want 5", n)
	}
	es = audits(t, env, "shop")
	if countAudit(es, "retract", "") != 25 {
		t.Errorf("%d retract audits, want 25", countAudit(es, "retract", ""))
	}
	if st := mustRun(t, env, "status"); strings.Contains(st.Stdout, "retract guard") {
		t.Errorf("status still reports the guard:\n%s", st)
	}
}

// The guard needs both thresholds: 20 of 30 (not more than 20) and 21 of
// 42 (not more than half) go through.
func TestRetractGuardLetsThroughWhatIsBelowEitherThreshold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ from, to int }{{30, 10}, {42, 21}} {
		t.Run(fmt.Sprintf("%d to %d", c.from, c.to), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := envFor(dir)
			writeGuardBoard(t, dir, c.from)
			mustRun(t, env, "sync")
			writeGuardBoard(t, dir, c.to)
			r := mustRun(t, env, "sync")
			if strings.Contains(r.Stdout, "PAUSED") {
				t.Errorf("paused:\n%s", r)
			}
			if n := guardItems(t, env); n != c.to {
				t.Errorf("%d items, want %d", n, c.to)
			}
		})
	}
}
