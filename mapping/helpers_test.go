package mapping

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "time/tzdata" // zone rules pinned by the Go release, not the host

	"go.yaml.in/yaml/v3"

	"vitrine/config"
	"vitrine/connectors/file"
	"vitrine/item"
)

// testNow is the curation instant of every test; views must not depend on it.
var testNow = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

// parseRules decodes a rules file the way config.Load will, strictly, and
// records the positions Compile reports (customer and publish.when lines).
// Defaults are deliberately not filled: mapping treats zero values as the
// documented defaults.
func parseRules(t testing.TB, name string, data []byte) *config.Rules {
	t.Helper()
	var r config.Rules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%s: %v", name, err)
	}
	r.Files = []string{name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if custs := lookup(docRoot(&root), "customers"); custs != nil {
		for i, cn := range custs.Content {
			if i >= len(r.Customers) {
				break
			}
			r.Customers[i].Pos = config.Pos{File: name, Line: cn.Line}
			if w := lookup(lookup(cn, "publish"), "when"); w != nil {
				r.Customers[i].Publish.WhenPos = config.Pos{File: name, Line: w.Line}
			}
			if srcs := lookup(cn, "sources"); srcs != nil {
				for j, sn := range srcs.Content {
					if j < len(r.Customers[i].Sources) {
						r.Customers[i].Sources[j].Pos = config.Pos{File: name, Line: sn.Line}
					}
				}
			}
		}
	}
	return &r
}

func docRoot(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// loadCase reads dir/rules.yaml, compiles it and parses every file source
// it names (paths relative to dir), keyed by SourceKey.
func loadCase(t testing.TB, dir string) (*Set, *config.Rules, []item.Snapshot) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := parseRules(t, "rules.yaml", data)
	set, err := Compile(r)
	if err != nil {
		t.Fatalf("%s: compile: %v", dir, err)
	}
	var snaps []item.Snapshot
	seen := map[string]bool{}
	for _, c := range r.Customers {
		for _, s := range c.Sources {
			if s.File == nil {
				t.Fatalf("%s: golden cases use file sources only", dir)
			}
			key := SourceKey(s)
			if seen[key] {
				continue
			}
			seen[key] = true
			b, err := os.ReadFile(filepath.Join(dir, s.File.Path))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := file.Parse(s.File.Path, key, b)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			snaps = append(snaps, snap)
		}
	}
	return set, r, snaps
}

// mustRules compiles an inline rules file.
func mustRules(t testing.TB, src string) *Set {
	t.Helper()
	set, err := Compile(parseRules(t, "vitrine.yaml", []byte(src)))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return set
}

// mustBoard parses an inline board for source key.
func mustBoard(t testing.TB, source, src string) item.Snapshot {
	t.Helper()
	snap, err := file.Parse("board.yaml", source, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func mustCurate(t testing.TB, set *Set, customer string, snaps ...item.Snapshot) Result {
	t.Helper()
	res, err := set.Curate(customer, snaps, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func decisionOf(t testing.TB, res Result, id string) Decision {
	t.Helper()
	for _, d := range res.Decisions {
		if d.Item == id || d.Ref == id {
			return d
		}
	}
	t.Fatalf("no decision for %s", id)
	return Decision{}
}
