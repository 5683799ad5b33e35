package scrub

// Placeholders until the parser and renderers land; the helper building this
// package replaces this file.

// Body parses CommonMark src and keeps what o allows.
func Body(src string, o Options) Doc { panic("scrub.Body: not implemented") }

// Title tokenises a plain-text title (no Markdown) into Text, Mention and
// XRef inlines.
func Title(src string) []Inline { panic("scrub.Title: not implemented") }

// FirstLine returns the first line of the first paragraph or heading of d,
// for `show.title: section`.
func FirstLine(d Doc) []Inline { panic("scrub.FirstLine: not implemented") }

// Markdown writes d as GitHub-flavoured Markdown, escaped.
func (d Doc) Markdown() string { panic("not implemented") }

// Wiki writes d as Jira wiki markup, escaped.
func (d Doc) Wiki() string { panic("not implemented") }

// HTML writes d as an HTML fragment.
func (d Doc) HTML() string { panic("not implemented") }

// PlainText writes d as plain text (feed summaries).
func (d Doc) PlainText() string { panic("not implemented") }

// InlineText writes a title for a plain-text field of the given style.
func InlineText(in []Inline, style TitleStyle) string { panic("not implemented") }

// InlineHTML writes inlines as an HTML fragment.
func InlineHTML(in []Inline) string { panic("not implemented") }
