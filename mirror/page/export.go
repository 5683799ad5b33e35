package page

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"vitrine/mapping"
)

// ExportPage is one customer's page for Export.
type ExportPage struct {
	Customer string
	View     mapping.View
	// Published is false while the customer has no view yet: the folder
	// holds the not-published page and no feed.
	Published bool
	Changed   time.Time
	Feed      FeedMode
}

// ExportOptions say how Export writes.
type ExportOptions struct {
	IDKey []byte // see Options.IDKey
	// Prune: a full export (every configured customer). Token folders
	// written by an earlier export for anyone not exported now (a removed
	// customer) are deleted too. Without it (`--customer ID`) only the
	// exported customers' own earlier folders are replaced.
	Prune bool
}

// Names of the files in a token folder. The folder holds nothing else.
const (
	IndexFile = "index.html"
	FeedFile  = "feed.atom"
)

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// tmpPrefix marks files being written; an interrupted export leaves them and
// the next export removes them.
const tmpPrefix = ".vitrine-tmp-"

// Export writes each page as static files under dir, one folder per current
// token: <dir>/<token>/index.html and, when the feed is on,
// <dir>/<token>/feed.atom. Headers the files cannot send travel as <meta>
// (CSP without frame-ancestors, referrer, robots); a static host should
// still send them as headers (see Headers).
//
// dir holds nothing else: no index at its root (the folder names are the
// secret). Export refuses a dir holding anything it does not recognise as
// its own, so it never deletes or publishes a stranger's files. A folder is
// recognised as an exported customer's earlier folder when its name is the
// token of one of that customer's earlier epochs (exact, by the MAC); with
// Prune, any folder with a token-shaped name and only export files in it.
func (t *Tokens) Export(ctx context.Context, dir string, o ExportOptions, pages ...ExportPage) error {
	if len(o.IDKey) == 0 {
		return errors.New("export: no IDKey")
	}
	type plan struct {
		page  ExportPage
		token string
		index []byte
		feed  []byte
	}
	var plans []plan
	current := map[string]bool{}
	stale := map[string]bool{} // earlier tokens of exported customers
	for _, p := range pages {
		if !t.configured(p.Customer) {
			return fmt.Errorf("export: customer %s: not configured", p.Customer)
		}
		epoch, err := t.Epoch(ctx, p.Customer)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		tok := Token(t.secret, p.Customer, epoch)
		if current[tok] {
			return fmt.Errorf("export: customer %s: exported twice", p.Customer)
		}
		current[tok] = true
		for e := uint64(1); e < epoch; e++ {
			stale[Token(t.secret, p.Customer, e)] = true
		}
		pl := plan{page: p, token: tok}
		if !p.Published {
			pl.index = NotPublished()
		} else {
			ro := Options{IDKey: o.IDKey, Changed: p.Changed, Feed: p.Feed}
			if pl.index, err = Render(p.View, ro); err != nil {
				return fmt.Errorf("export: customer %s: %w", p.Customer, err)
			}
			if p.Feed != FeedOff {
				if pl.feed, err = RenderFeed(p.View, p.Feed, ro); err != nil {
					return fmt.Errorf("export: customer %s: %w", p.Customer, err)
				}
			}
		}
		plans = append(plans, pl)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// Check everything before touching anything.
	var remove []string
	for _, e := range entries {
		name := e.Name()
		own, err := ownFolder(dir, e)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if !own {
			return fmt.Errorf("export: %s holds %q, which vitrine export did not write; export into an empty or vitrine-only directory", dir, name)
		}
		if current[name] {
			continue
		}
		if stale[name] || o.Prune {
			remove = append(remove, name)
		}
	}

	for _, pl := range plans {
		folder := filepath.Join(dir, pl.token)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return fmt.Errorf("export: customer %s: %w", pl.page.Customer, err)
		}
		if err := clearTemp(folder); err != nil {
			return fmt.Errorf("export: customer %s: %w", pl.page.Customer, err)
		}
		if err := writeFile(folder, IndexFile, pl.index); err != nil {
			return fmt.Errorf("export: customer %s: %w", pl.page.Customer, err)
		}
		if pl.feed != nil {
			err = writeFile(folder, FeedFile, pl.feed)
		} else {
			err = os.Remove(filepath.Join(folder, FeedFile))
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("export: customer %s: %w", pl.page.Customer, err)
		}
	}
	// Stale folders go last: a failed run leaves an old link working a
	// little longer rather than a customer with no page.
	for _, name := range remove {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("export: remove earlier folder: %w", err)
		}
	}
	return nil
}

// ownFolder reports whether e looks like a folder an export wrote: a real
// directory (no symlink) with a token-shaped name holding only regular
// export files (or leftovers of an interrupted write).
func ownFolder(dir string, e fs.DirEntry) (bool, error) {
	if !e.IsDir() || e.Type()&fs.ModeSymlink != 0 || !tokenNameRE.MatchString(e.Name()) {
		return false, nil
	}
	inner, err := os.ReadDir(filepath.Join(dir, e.Name()))
	if err != nil {
		return false, err
	}
	for _, f := range inner {
		if !f.Type().IsRegular() {
			return false, nil
		}
		switch n := f.Name(); {
		case n == IndexFile, n == FeedFile, strings.HasPrefix(n, tmpPrefix):
		default:
			return false, nil
		}
	}
	return true, nil
}

func clearTemp(folder string) error {
	inner, err := os.ReadDir(folder)
	if err != nil {
		return err
	}
	for _, f := range inner {
		if strings.HasPrefix(f.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(folder, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile replaces folder/name atomically: a static host serving dir
// never sees a half-written page.
func writeFile(folder, name string, data []byte) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(folder, tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(folder, name))
	}
	if werr != nil {
		_ = os.Remove(tmp)
	}
	return werr
}
