package page

import (
	"bytes"
	"context"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/clock"
)

// tree lists every path under dir, relative, directories with a slash.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func exportPages() []ExportPage {
	a := plainView()
	g := plainView()
	g.Customer, g.Name = "globex", "Globex"
	changed := time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC)
	return []ExportPage{
		{Customer: "acme", View: a, Published: true, Changed: changed, Feed: FeedFull},
		{Customer: "globex", View: g, Published: true, Changed: changed, Feed: FeedOff},
		{Customer: "initech"},
	}
}

func TestExportWritesTokenFoldersOnly(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokens(t, newMemKV(), clock.Real{}, "acme", "globex", "initech")
	dir := filepath.Join(t.TempDir(), "out")
	if err := tk.Export(ctx, dir, ExportOptions{IDKey: testIDKey, Prune: true}, exportPages()...); err != nil {
		t.Fatal(err)
	}
	a, g, i := Token(testSecret, "acme", 1), Token(testSecret, "globex", 1), Token(testSecret, "initech", 1)
	want := []string{a + "/", a + "/feed.atom", a + "/index.html", g + "/", g + "/index.html", i + "/", i + "/index.html"}
	sort.Strings(want)
	if got := tree(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("export tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	index, _ := os.ReadFile(filepath.Join(dir, a, "index.html"))
	want0, _ := Render(plainView(), Options{IDKey: testIDKey, Changed: time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC), Feed: FeedFull})
	if !bytes.Equal(index, want0) {
		t.Error("exported index.html differs from the rendered page")
	}
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindSubmatch(index)
	if m == nil || html.UnescapeString(string(m[1])) != MetaCSP() {
		t.Errorf("exported page's CSP meta %q, want %q", m, MetaCSP())
	}
	for _, meta := range []string{
		`<meta name="referrer" content="no-referrer">`,
		`<meta name="robots" content="noindex, nofollow">`,
	} {
		if !bytes.Contains(index, []byte(meta)) {
			t.Errorf("exported page lacks %s", meta)
		}
	}
	if strings.Contains(MetaCSP(), "frame-ancestors") {
		t.Error("meta CSP carries frame-ancestors, which browsers ignore in <meta>")
	}
	feed, _ := os.ReadFile(filepath.Join(dir, a, "feed.atom"))
	if !bytes.Contains(feed, []byte(`href="./feed.atom"`)) {
		t.Errorf("exported feed's self link is not relative:\n%s", feed)
	}
	np, _ := os.ReadFile(filepath.Join(dir, i, "index.html"))
	if !bytes.Equal(np, NotPublished()) {
		t.Error("customer without view: not the not-published page")
	}
	if g2, _ := os.ReadFile(filepath.Join(dir, g, "index.html")); bytes.Contains(g2, []byte("feed.atom")) {
		t.Error("feed off, but the page links a feed")
	}
}

func TestReExportReplacesRotatedFoldersAndKeepsOthers(t *testing.T) {
	ctx := context.Background()
	kv := newMemKV()
	tk := newTestTokens(t, kv, clock.Real{}, "acme", "globex", "initech")
	dir := t.TempDir()
	o := ExportOptions{IDKey: testIDKey}
	pages := exportPages()
	if err := tk.Export(ctx, dir, o, pages...); err != nil {
		t.Fatal(err)
	}
	oldA := Token(testSecret, "acme", 1)
	newA, err := tk.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// `export --customer acme`: only acme's folders change.
	if err := tk.Export(ctx, dir, o, pages[0]); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	has := func(p string) bool {
		for _, g := range got {
			if g == p {
				return true
			}
		}
		return false
	}
	if has(oldA + "/") {
		t.Error("rotated-away folder still published")
	}
	if !has(newA+"/index.html") || !has(newA+"/feed.atom") {
		t.Errorf("new folder missing: %v", got)
	}
	if !has(Token(testSecret, "globex", 1)+"/index.html") || !has(Token(testSecret, "initech", 1)+"/index.html") {
		t.Errorf("single-customer export removed other customers' folders: %v", got)
	}

	// A full export without initech (removed from the config) prunes its folder.
	tk2 := newTestTokens(t, kv, clock.Real{}, "acme", "globex")
	if err := tk2.Export(ctx, dir, ExportOptions{IDKey: testIDKey, Prune: true}, pages[:2]...); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); len(got) != 5 {
		t.Errorf("after pruning: %v", got)
	}

	// The feed turned off: its file goes.
	p := pages[0]
	p.Feed = FeedOff
	if err := tk.Export(ctx, dir, o, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, newA, "feed.atom")); !os.IsNotExist(err) {
		t.Error("feed.atom kept after the feed was turned off")
	}
}

func TestExportRefusesADirWithForeignFiles(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokens(t, newMemKV(), clock.Real{}, "acme", "globex", "initech")
	tokenShaped := strings.Repeat("A", 43)
	for name, setup := range map[string]func(dir string){
		"root file": func(dir string) { os.WriteFile(filepath.Join(dir, "index.html"), []byte("x"), 0o644) },
		"other dir": func(dir string) { os.Mkdir(filepath.Join(dir, "assets"), 0o755) },
		"dotfile":   func(dir string) { os.WriteFile(filepath.Join(dir, ".git"), []byte("x"), 0o644) },
		"token dir with other file": func(dir string) {
			os.Mkdir(filepath.Join(dir, tokenShaped), 0o755)
			os.WriteFile(filepath.Join(dir, tokenShaped, "notes.txt"), []byte("mine"), 0o644)
		},
		"token-named symlink": func(dir string) { os.Symlink(t.TempDir(), filepath.Join(dir, tokenShaped)) },
	} {
		dir := t.TempDir()
		setup(dir)
		before := tree(t, dir)
		if err := tk.Export(ctx, dir, ExportOptions{IDKey: testIDKey, Prune: true}, exportPages()...); err == nil {
			t.Errorf("%s: export accepted a dir with foreign content", name)
		}
		if after := tree(t, dir); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("%s: refused export still changed the dir: %v", name, after)
		}
	}
}

func TestExportCleansAnInterruptedWrite(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokens(t, newMemKV(), clock.Real{}, "acme", "globex", "initech")
	dir := t.TempDir()
	a := Token(testSecret, "acme", 1)
	os.Mkdir(filepath.Join(dir, a), 0o755)
	os.WriteFile(filepath.Join(dir, a, tmpPrefix+"0123"), []byte("half"), 0o644)
	if err := tk.Export(ctx, dir, ExportOptions{IDKey: testIDKey}, exportPages()...); err != nil {
		t.Fatal(err)
	}
	for _, p := range tree(t, dir) {
		if strings.Contains(p, tmpPrefix) {
			t.Errorf("leftover %s", p)
		}
	}
}
