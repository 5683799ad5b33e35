package config

import (
	"fmt"
	"sort"
	"strings"
)

// String gives "file:line"; a Pos of rules built in code has no file and
// prints as "rules".
func (p Pos) String() string {
	file := p.File
	if file == "" {
		file = "rules"
	}
	return fmt.Sprintf("%s:%d", file, p.Line)
}

// Problem is one error in the rules at the place it was written. It prints as
// `file:line: field: problem`, the form `vitrine validate` shows, so that an
// editor can jump to it.
type Problem struct {
	Pos Pos
	// Field is a readable path: customers[acme].show.body, include[0].
	// It never contains a colon, so the printed form splits unambiguously.
	Field string
	Msg   string
}

func (p Problem) String() string {
	field := p.Field
	if field == "" {
		field = "rules"
	}
	return p.Pos.String() + ": " + field + ": " + oneLine(p.Msg)
}

// Problems is every error found in the rules, not just the first: a user
// fixing a file should see the whole list in one run. Other stages (the
// mapping's type-check of `when`) append theirs in the same form.
type Problems []Problem

// Error prints one problem a line, sorted.
func (ps Problems) Error() string {
	if len(ps) == 0 {
		return "no problems"
	}
	sorted := append(Problems(nil), ps...)
	sorted.Sort()
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem.
func (ps *Problems) Add(pos Pos, field, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Sort orders problems by file, then line; problems on one line keep the
// order they were found in.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pos.File != ps[j].Pos.File {
			return ps[i].Pos.File < ps[j].Pos.File
		}
		return ps[i].Pos.Line < ps[j].Pos.Line
	})
}

// Err is nil without problems, else the Problems sorted, each once (a
// customer written once and aliased twice has its problems once). Use it to
// return Problems as an error without the typed-nil trap.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	seen := make(map[Problem]bool, len(ps))
	out := make(Problems, 0, len(ps))
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	out.Sort()
	return out
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// oneLine keeps each problem on its own line whatever a message quotes.
func oneLine(s string) string {
	s = strings.TrimSpace(newlines.Replace(s))
	if s == "" {
		return "invalid"
	}
	return s
}
