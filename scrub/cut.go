package scrub

import "strings"

// normName is how heading texts and the configured names are compared:
// whitespace runs as one space, ends trimmed, case folded.
func normName(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

func headingNamed(b Block, name string) bool {
	return b.Kind == Heading && strings.EqualFold(normName(plain(b.Inlines)), name)
}

// sectionEnd returns the index of the first block after i that is a
// heading of level lvl or higher (a smaller number), or len(bs).
func sectionEnd(bs []Block, i, lvl int) int {
	j := i + 1
	for j < len(bs) && !(bs[j].Kind == Heading && bs[j].Level <= lvl) {
		j++
	}
	return j
}

// cutHeadings removes every heading named name with everything up to the
// next heading of its level or higher. It applies inside quotes and list
// items too: a "## Internal" heading nested in a quote is as internal as one
// at the top.
func cutHeadings(bs []Block, name string) []Block {
	var out []Block
	for i := 0; i < len(bs); i++ {
		b := bs[i]
		if headingNamed(b, name) {
			i = sectionEnd(bs, i, b.Level) - 1
			continue
		}
		switch b.Kind {
		case Quote:
			b.Children = cutHeadings(b.Children, name)
		case List:
			items := make([][]Block, 0, len(b.Items))
			for _, it := range b.Items {
				items = append(items, cutHeadings(it, name))
			}
			b.Items = items
		}
		out = append(out, b)
	}
	return out
}

// selectSection keeps the blocks under the first top-level heading named
// name, up to the next heading of its level or higher; the heading itself
// goes. No such heading: nothing.
func selectSection(bs []Block, name string) []Block {
	for i, b := range bs {
		if headingNamed(b, name) {
			return bs[i+1 : sectionEnd(bs, i, b.Level)]
		}
	}
	return nil
}

// prune drops what the cuts left empty (quotes, list items, lists) and the
// empty headings that were kept only as section boundaries.
func prune(bs []Block) []Block {
	var out []Block
	for _, b := range bs {
		switch b.Kind {
		case Heading, Paragraph:
			if len(b.Inlines) == 0 {
				continue
			}
		case Quote:
			if b.Children = prune(b.Children); len(b.Children) == 0 {
				continue
			}
		case List:
			var items [][]Block
			for _, it := range b.Items {
				if it = prune(it); len(it) > 0 {
					items = append(items, it)
				}
			}
			if b.Items = items; len(items) == 0 {
				continue
			}
		}
		out = append(out, b)
	}
	return out
}
