package scrub

// Options say what of a text may leave.
type Options struct {
	// LinkDomains: links whose host is one of these or a subdomain stay
	// links: http and https without user info, and mailto with exactly one
	// address (no headers) in such a domain. Every other link becomes its
	// text; a bare URL stays as plain text, which the renderers break so no
	// target links it.
	LinkDomains []string
	// Section, when set, keeps only the section under the first heading (any
	// level) whose text equals it case-insensitively, with its sub-headings,
	// up to the next heading of the same or a higher level. No such heading:
	// an empty Doc. Only headings at the top of the document count, not
	// those inside quotes or list items; runs of whitespace compare as one
	// space.
	Section string
	// InternalMarker, when set, cuts every heading whose text equals it
	// (case-insensitive) together with everything up to the next heading of
	// its level or higher. <!-- internal --> ... <!-- /internal --> always
	// cuts, at block or inline level; unclosed, it cuts to the end.
	//
	// Order: comment markers cut first, in document order over the whole
	// text; then internal headings (also inside quotes and list items); then
	// Section is selected. So a marker before the section still cuts into
	// it, and a section heading inside an internal part is not found.
	InternalMarker string
	// Comment drops block quotes (quoted text of other comments or mails).
	Comment bool
}

// TitleStyle says which plain-text syntax a title is written for.
type TitleStyle int

const (
	TitlePlain  TitleStyle = iota // page <title>-free text, feed: no neutralisation needed beyond HTML escaping by the caller
	TitleGitHub                   // GitHub issue title: mentions and references broken with U+2060
	TitleJira                     // Jira summary
)
