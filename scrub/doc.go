// Package scrub turns tracker text into customer-safe documents and writes
// them out per target syntax.
//
// Text is parsed (goldmark, CommonMark + GFM) into a syntax tree and rebuilt
// as a Doc, a deliberately small document model that has no node for raw
// HTML, images, reference definitions or mentions: what the model cannot
// express cannot leak. Renderers (Markdown for GitHub, wiki for Jira, HTML for
// the page) escape for their syntax so that the target cannot re-create a
// mention, image, link or macro out of plain text.
package scrub

// Doc is a scrubbed document: a list of blocks. Its JSON form is stable and
// is part of the curated hash.
type Doc struct {
	Blocks []Block `json:"blocks,omitempty"`
}

// BlockKind names a block node.
type BlockKind string

const (
	Paragraph BlockKind = "p"
	Heading   BlockKind = "h"     // Level 1..6
	List      BlockKind = "list"  // Items; Ordered, Start
	CodeBlock BlockKind = "code"  // Text (verbatim), Lang
	Quote     BlockKind = "quote" // Children (bodies only: comments drop quotes)
	Rule      BlockKind = "hr"
)

// Block is one block node. Only the fields of its Kind are set.
type Block struct {
	Kind     BlockKind `json:"k"`
	Level    int       `json:"level,omitempty"`
	Inlines  []Inline  `json:"in,omitempty"`    // Paragraph, Heading
	Items    [][]Block `json:"items,omitempty"` // List: one block list per item
	Ordered  bool      `json:"ordered,omitempty"`
	Start    int       `json:"start,omitempty"`
	Text     string    `json:"text,omitempty"` // CodeBlock
	Lang     string    `json:"lang,omitempty"` // CodeBlock info word, [a-z0-9+-] only
	Children []Block   `json:"children,omitempty"`
}

// InlineKind names an inline node.
type InlineKind string

const (
	Text    InlineKind = "t"       // Text
	Code    InlineKind = "code"    // Text, verbatim
	Emph    InlineKind = "em"      // Children
	Strong  InlineKind = "strong"  // Children
	Strike  InlineKind = "del"     // Children
	Link    InlineKind = "a"       // Href (allowed domain, http/https/mailto only), Children
	Mention InlineKind = "mention" // Text without the "@": shown, never notifying
	XRef    InlineKind = "xref"    // Text as written ("#12", "ABC-12", "org/repo#4"): shown, never linking
	Break   InlineKind = "br"      // hard line break
	Omitted InlineKind = "omitted" // an image or attachment: "[image omitted]"
)

// Inline is one inline node. Only the fields of its Kind are set.
type Inline struct {
	Kind     InlineKind `json:"k"`
	Text     string     `json:"t,omitempty"`
	Href     string     `json:"href,omitempty"`
	Children []Inline   `json:"c,omitempty"`
}

// OmittedText is what an image or attachment becomes.
const OmittedText = "[image omitted]"

// IsEmpty reports whether the document has nothing to show.
func (d Doc) IsEmpty() bool { return len(d.Blocks) == 0 }
