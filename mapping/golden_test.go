package mapping

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"vitrine/config"
	"vitrine/item"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden curates every customer of testdata/<case>/rules.yaml over the
// boards it names and compares the views and decisions with the golden
// files (go test ./mapping -update rewrites them; read the diff).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "rules.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, rules := range dirs {
		dir := filepath.Dir(rules)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			set, _, snaps := loadCase(t, dir)
			views := map[string]View{}
			decisions := map[string][]Decision{}
			for _, c := range set.Customers() {
				res := mustCurate(t, set, c.ID(), snaps...)
				views[c.ID()] = res.View
				decisions[c.ID()] = res.Decisions
				if len(res.NeedComments) > 0 {
					t.Errorf("%s: file boards load comments, yet NeedComments = %v", c.ID(), res.NeedComments)
				}

				// Order of snapshots and of items within them must not
				// matter: the store returns them in no particular order.
				again := mustCurate(t, set, c.ID(), reversed(snaps)...)
				if !bytes.Equal(mustJSON(t, res), mustJSON(t, again)) {
					t.Errorf("%s: curating reordered snapshots gave another result", c.ID())
				}
			}
			golden(t, filepath.Join(dir, "view.golden.json"), views)
			golden(t, filepath.Join(dir, "decisions.golden.json"), decisions)
		})
	}
}

func reversed(snaps []item.Snapshot) []item.Snapshot {
	out := make([]item.Snapshot, 0, len(snaps))
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		items := make([]item.Item, 0, len(s.Items))
		for j := len(s.Items) - 1; j >= 0; j-- {
			it := s.Items[j]
			cs := make([]item.Comment, 0, len(it.Comments))
			for k := len(it.Comments) - 1; k >= 0; k-- {
				cs = append(cs, it.Comments[k])
			}
			it.Comments = cs
			items = append(items, it)
		}
		ms := make([]item.Milestone, 0, len(s.Milestones))
		for j := len(s.Milestones) - 1; j >= 0; j-- {
			ms = append(ms, s.Milestones[j])
		}
		s.Items, s.Milestones = items, ms
		out = append(out, s)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func golden(t *testing.T, path string, v any) {
	t.Helper()
	got := mustJSON(t, v)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mapping -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the curated result (go test ./mapping -update rewrites it):\n%s", path, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got []byte) string {
	wl := bytes.Split(want, []byte("\n"))
	gl := bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + string(w) + "\n  got:  " + string(g)
		}
	}
	return "(no line differs)"
}

// TestGoldenRulesLoadWithConfigLoad checks that the real loader accepts
// every golden rules file and that its defaults agree with the ones mapping
// applies to zero values: the views are the same either way.
func TestGoldenRulesLoadWithConfigLoad(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*", "rules.yaml"))
	for _, rules := range dirs {
		dir := filepath.Dir(rules)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, r, snaps := loadCase(t, dir)
			loaded, err := config.Load(rules)
			if err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			set, err := Compile(loaded)
			if err != nil {
				t.Fatalf("Compile of loaded rules: %v", err)
			}
			for _, c := range r.Customers {
				if c.Name == "" {
					continue // Load names it after its id
				}
				a := mustCurate(t, raw, c.ID, snaps...)
				b := mustCurate(t, set, c.ID, snaps...)
				if !bytes.Equal(mustJSON(t, a), mustJSON(t, b)) {
					t.Errorf("%s: loaded rules curate differently from the raw ones", c.ID)
				}
			}
		})
	}
}
