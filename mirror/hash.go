package mirror

import (
	"strings"

	"vitrine/item"
	"vitrine/mapping"
)

// An item link records two hashes, "<full>.<content>": full is the curated
// item's hash (it covers the comments too) and says whether the op has
// anything to do; content covers only what the mirror issue itself holds,
// so a new comment writes a comment and not the issue as well.

func contentHash(it mapping.Item) string {
	it.Comments = nil
	it.Hash = ""
	return item.Hash(it)
}

func itemLinkHash(it mapping.Item) string { return it.Hash + "." + contentHash(it) }

func fullPart(h string) string {
	full, _, _ := strings.Cut(h, ".")
	return full
}

func contentPart(h string) string {
	_, c, _ := strings.Cut(h, ".")
	return c
}
