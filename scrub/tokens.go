package scrub

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Title tokenises a plain-text title (no Markdown) into Text, Mention and
// XRef inlines. Line breaks and other control characters become spaces and
// the ends are trimmed: a title is one line.
func Title(src string) []Inline {
	s := clean(src)
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	return tokenize(strings.TrimSpace(s))
}

// tokenize splits plain text into Text, Mention and XRef inlines. It is the
// one place that decides what a mention or a reference looks like, for
// bodies and titles alike. Recognising too much is harmless (an XRef is still
// shown); the renderers' own break rules are what stop the targets.
func tokenize(s string) []Inline {
	var out []Inline
	start := 0 // start of pending text
	for i := 0; i < len(s); {
		kind, end := tokenAt(s, i)
		if kind == "" {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		if start < i {
			out = append(out, Inline{Kind: Text, Text: s[start:i]})
		}
		if kind == Mention {
			out = append(out, Inline{Kind: Mention, Text: s[i+1 : end]})
		} else {
			out = append(out, Inline{Kind: XRef, Text: s[i:end]})
		}
		i, start = end, end
	}
	if start < len(s) {
		out = append(out, Inline{Kind: Text, Text: s[start:]})
	}
	return out
}

// tokenAt reports whether a mention or reference starts at s[i], and where
// it ends.
func tokenAt(s string, i int) (InlineKind, int) {
	c := s[i]
	switch {
	case c == '@':
		if !boundaryBefore(s, i, "_.-+/@&`") {
			return "", 0
		}
		end := nameEnd(s, i+1)
		if end == i+1 {
			return "", 0
		}
		// team mention: @org/team
		if end < len(s) && s[end] == '/' {
			if e2 := nameEnd(s, end+1); e2 > end+1 {
				end = e2
			}
		}
		return Mention, end
	case c == '#':
		if !boundaryBefore(s, i, "_&#/") {
			return "", 0
		}
		end := digitsEnd(s, i+1)
		if end == i+1 || !boundaryAfter(s, end) {
			return "", 0
		}
		return XRef, end
	case isAlnum(c):
		if !boundaryBefore(s, i, "_.-/") {
			return "", 0
		}
		if end := repoRefEnd(s, i); end > 0 {
			return XRef, end
		}
		if end := jiraKeyEnd(s, i); end > 0 {
			return XRef, end
		}
	}
	return "", 0
}

// boundaryBefore: s[i] is at the start of s or follows a character that is
// neither a letter, a digit nor one of extra.
func boundaryBefore(s string, i int, extra string) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(extra, r)
}

// boundaryAfter: s[i] is at the end of s or is not a word character.
func boundaryAfter(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
}

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// nameEnd returns the end of a user or team name starting at i:
// [A-Za-z0-9][A-Za-z0-9_.-]*, without trailing '.', '-' or '_' (the end of a
// sentence is not part of the name).
func nameEnd(s string, i int) int {
	if i >= len(s) || !isAlnum(s[i]) {
		return i
	}
	j := i + 1
	for j < len(s) && (isWordByte(s[j]) || s[j] == '.' || s[j] == '-') {
		j++
	}
	for j > i+1 && (s[j-1] == '.' || s[j-1] == '-' || s[j-1] == '_') {
		j--
	}
	return j
}

// repoRefEnd matches owner/repo#123 at i and returns its end, or 0.
func repoRefEnd(s string, i int) int {
	j := i
	for j < len(s) && (isAlnum(s[j]) || s[j] == '-') {
		j++
	}
	if j == i || j >= len(s) || s[j] != '/' {
		return 0
	}
	k := j + 1
	for k < len(s) && (isWordByte(s[k]) || s[k] == '.' || s[k] == '-') {
		k++
	}
	if k == j+1 || k >= len(s) || s[k] != '#' {
		return 0
	}
	end := digitsEnd(s, k+1)
	if end == k+1 || !boundaryAfter(s, end) {
		return 0
	}
	return end
}

// jiraKeyEnd matches a Jira issue key (ABC-12; also GitHub's GH-12) at i
// and returns its end, or 0.
func jiraKeyEnd(s string, i int) int {
	if s[i] < 'A' || s[i] > 'Z' {
		return 0
	}
	j := i + 1
	for j < len(s) && ((s[j] >= 'A' && s[j] <= 'Z') || isDigit(s[j]) || s[j] == '_') {
		j++
	}
	if j-i < 2 || j >= len(s) || s[j] != '-' {
		return 0
	}
	end := digitsEnd(s, j+1)
	if end == j+1 || !boundaryAfter(s, end) {
		return 0
	}
	return end
}
