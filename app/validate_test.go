package app_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lineOf is the 1-based number of the line of body holding marker (the
// n-th such line, counting from 1).
func lineOf(t *testing.T, body, marker string, n int) int {
	t.Helper()
	seen := 0
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, marker) {
			seen++
			if seen == n {
				return i + 1
			}
		}
	}
	t.Fatalf("no line %d with %q", n, marker)
	return 0
}

// noCrash checks a command's stderr for a Go panic or stack dump.
func noCrash(t *testing.T, what string, r result) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime error", "[recovered]"} {
		if strings.Contains(r.all(), bad) {
			t.Errorf("%s: output has %q:\n%s", what, bad, r)
		}
	}
}

// hasProblemAt reports whether out has a problem line starting at
// file:line, and returns it.
func hasProblemAt(out, file string, line int, words ...string) (string, bool) {
	prefix := fmt.Sprintf("%s:%d: ", file, line)
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimPrefix(l, "vitrine: ")
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return l, true
		}
	}
	return "", false
}

const okBoard = "items:\n  - {id: a, title: A, labels: [pub]}\n"

// Bad rules are reported as `file:line: field: problem` at the exact line,
// with a non-zero exit and never a crash, by validate and by serve.
func TestValidateReportsEachProblemAtItsLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		files  map[string]string // relative path -> content; vitrine.yaml is the main file
		file   string            // where the problem is
		marker string            // a text on the problem's line
		nth    int
		words  []string
	}{
		{
			name: "typo key",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: pub}
    show:
      body: section
      comments: marked
      bodyy_section: Client summary
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "bodyy_section", nth: 1, words: []string{"bodyy_section", "unknown key"},
		},
		{
			name: "bad expression",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish:
      label: pub
      when: 'item.Type == "bug" &&& item.Status'
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "when:", nth: 1, words: []string{"publish.when"},
		},
		{
			name: "expression on an unknown field",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish:
      label: pub
      when: 'item.Priority > 2'
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "when:", nth: 1, words: []string{"publish.when", "Priority"},
		},
		{
			name: "unknown status_from",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - github:
          repo: agency/acme
          status_from: "labels:status"
    publish: {label: pub}
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "status_from", nth: 1, words: []string{"status_from", "labels:status"},
		},
		{
			name: "overlapping customers",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: client-visible}
    targets:
      - page: {}
  - id: globex
    name: Globex
    sources:
      - file: {path: ./board.yaml}
    publish: {label: client-visible}
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "- file:", nth: 2, words: []string{"acme", "globex", "board.yaml"},
		},
		{
			name: "broken include",
			files: map[string]string{
				"vitrine.yaml": "reconcile: {interval: 5m}\ninclude: [customers.d/*.yaml]\n",
				"customers.d/a.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: ../board.yaml}
    publish: {label: a}
    targets:
      - page: {}
`,
				"customers.d/b.yaml": `customers:
  - id: globex
    name: Globex
    sources:
      - file: {path: ../board.yaml}
    publish: {label: b}
    statuses:
      map: {Doing: Underway}
      defualt: In progress
    targets:
      - page: {}
`},
			file: "customers.d/b.yaml", marker: "defualt", nth: 1, words: []string{"defualt"},
		},
		{
			name: "missing include",
			files: map[string]string{
				"vitrine.yaml": `reconcile: {interval: 5m}
customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: a}
    targets:
      - page: {}
include:
  - customers.d/nothing-here.yaml
`},
			file: "vitrine.yaml", marker: "nothing-here", nth: 1, words: []string{"include[0]", "nothing-here.yaml"},
		},
		{
			name: "malformed rules YAML",
			files: map[string]string{"vitrine.yaml": `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: [pub}
    targets:
      - page: {}
`},
			file: "vitrine.yaml", marker: "[pub}", nth: 1, words: []string{"yaml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "board.yaml"), okBoard)
			for name, body := range tc.files {
				writeFile(t, filepath.Join(dir, name), body)
			}
			path := filepath.Join(dir, tc.file)
			line := lineOf(t, tc.files[tc.file], tc.marker, tc.nth)
			env := envFor(dir)

			r := runBin(t, env, "validate")
			noCrash(t, "validate", r)
			if r.Code == 0 {
				t.Errorf("validate exit 0:\n%s", r)
			}
			if l, ok := hasProblemAt(r.Stderr, path, line, tc.words...); !ok {
				t.Errorf("validate does not report %s:%d (with %q):\n%s", path, line, tc.words, r)
			} else if !regexp.MustCompile(`^.+:\d+: [^:\s]+: .+$`).MatchString(l) {
				t.Errorf("problem %q is not `file:line: field: problem`", l)
			}

			r = runBin(t, append(env, "VITRINE_LISTEN=127.0.0.1:0", "VITRINE_ADMIN_LISTEN=localhost:0"), "serve")
			noCrash(t, "serve", r)
			if r.Code == 0 {
				t.Errorf("serve accepted invalid rules:\n%s", r)
			}
			if _, ok := hasProblemAt(r.Stderr, path, line, tc.words...); !ok {
				t.Errorf("serve does not print the problem at %s:%d:\n%s", path, line, r)
			}
			if strings.Contains(r.Stderr, "vitrine serving") {
				t.Errorf("serve started on invalid rules")
			}
		})
	}
}

// The demo's own rules are valid.
func TestValidatePassesTheDemoRules(t *testing.T) {
	t.Parallel()
	dir := copyDemo(t)
	r := runBin(t, envFor(dir), "validate")
	if r.Code != 0 || !strings.Contains(r.Stdout, ": ok") {
		t.Errorf("validate on the demo rules:\n%s", r)
	}
	noCrash(t, "validate", r)
}

// A board file that is not valid YAML: the commands that read it say
// where, exactly, and fail; nothing crashes.
func TestBrokenBoardIsReportedAtItsLineByTheCommandsThatReadIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		board  string
		marker string
	}{
		{"unclosed flow sequence", "items:\n  - id: a\n    title: A\n    labels: [pub\n  - id: b\n    title: B\n", "[pub"},
		{"tab indentation", "items:\n  - id: a\n    title: A\n\tlabels: [pub]\n", "\tlabels"},
		{"colon in a plain title", "items:\n  - id: a\n    labels: [pub]\n    title: Fix: the login\n", "Fix: the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			board := filepath.Join(dir, "board.yaml")
			writeFile(t, board, tc.board)
			writeFile(t, filepath.Join(dir, "vitrine.yaml"), `customers:
  - id: acme
    name: ACME
    sources:
      - file: {path: board.yaml}
    publish: {label: pub}
    targets:
      - page: {}
`)
			line := lineOf(t, tc.board, tc.marker, 1)
			env := envFor(dir)
			for _, args := range [][]string{{"preview", "acme"}, {"sync"}} {
				start := time.Now()
				r := runBin(t, env, args...)
				what := strings.Join(args, " ")
				noCrash(t, what, r)
				if r.Code == 0 {
					t.Errorf("%s exit 0 on a broken board (took %s):\n%s", what, time.Since(start).Round(time.Millisecond), r)
				}
				if !strings.Contains(r.all(), fmt.Sprintf("%s:%d: ", board, line)) {
					t.Errorf("%s does not name %s:%d:\n%s", what, board, line, r)
				}
			}
		})
	}
}
