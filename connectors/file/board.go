// Package file reads a board from a YAML file: the demo source and a testing
// aid. Its format mirrors the canonical item closely so that a board can pin
// any case a tracker can produce.
package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"vitrine/item"
)

// Board is the file format.
type Board struct {
	Milestones []Milestone `yaml:"milestones"`
	Items      []Item      `yaml:"items"`
}

type Milestone struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Due         string `yaml:"due"` // 2006-01-02 or RFC 3339
	Closed      bool   `yaml:"closed"`
	Updated     string `yaml:"updated"`
	line        int
}

type Item struct {
	ID            string         `yaml:"id"`
	Ref           string         `yaml:"ref"`
	Kind          string         `yaml:"kind"`
	Type          string         `yaml:"type"`
	Title         string         `yaml:"title"`
	Body          string         `yaml:"body"`
	Status        string         `yaml:"status"`
	State         string         `yaml:"state"`
	Resolution    string         `yaml:"resolution"`
	Labels        []string       `yaml:"labels"`
	Parent        string         `yaml:"parent"`
	Milestone     string         `yaml:"milestone"`
	Assignees     []string       `yaml:"assignees"`
	Reporter      string         `yaml:"reporter"`
	Created       string         `yaml:"created"`
	Updated       string         `yaml:"updated"`
	Start         string         `yaml:"start"`
	Due           string         `yaml:"due"`
	Completed     string         `yaml:"completed"`
	SecurityLevel string         `yaml:"security_level"`
	Fields        map[string]any `yaml:"fields"`
	Comments      []Comment      `yaml:"comments"`
	line          int
}

type Comment struct {
	ID         string `yaml:"id"`
	Author     string `yaml:"author"`
	Created    string `yaml:"created"`
	Updated    string `yaml:"updated"`
	Body       string `yaml:"body"`
	Internal   bool   `yaml:"internal"`
	Restricted bool   `yaml:"restricted"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Parse reads a board. name is the file name used in errors ("name:line: ...")
// and source the source key the items get. Unknown keys are errors.
func Parse(name, source string, data []byte) (item.Snapshot, error) {
	snap := item.Snapshot{Source: source}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return snap, fmt.Errorf("%s:%s", name, yamlErr(err, data))
	}
	var b Board
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		return snap, fmt.Errorf("%s:%s", name, yamlErr(err, data))
	}
	lines := itemLines(&root)
	for i := range b.Items {
		if i < len(lines.items) {
			b.Items[i].line = lines.items[i]
		}
	}
	for i := range b.Milestones {
		if i < len(lines.milestones) {
			b.Milestones[i].line = lines.milestones[i]
		}
	}

	var errs []string
	bad := func(line int, field, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s: %s", name, line, field, fmt.Sprintf(format, args...)))
	}
	msIDs := map[string]bool{}
	for _, m := range b.Milestones {
		if !idPattern.MatchString(m.ID) {
			bad(m.line, "milestones.id", "%q is not an id (letters, digits, . _ -)", m.ID)
			continue
		}
		if msIDs[m.ID] {
			bad(m.line, "milestones.id", "%q appears twice", m.ID)
		}
		msIDs[m.ID] = true
		ms := item.Milestone{
			ID: item.MakeID(source, "m-"+m.ID), Source: source,
			Name: m.Name, Description: m.Description, Closed: m.Closed,
		}
		var err error
		if ms.Due, err = parseDue(m.Due); err != nil {
			bad(m.line, "milestones.due", "%v", err)
		}
		if ms.Updated, err = parseTime(m.Updated); err != nil {
			bad(m.line, "milestones.updated", "%v", err)
		}
		snap.Milestones = append(snap.Milestones, ms)
	}
	ids := map[string]bool{}
	for _, it := range b.Items {
		if !idPattern.MatchString(it.ID) {
			bad(it.line, "items.id", "%q is not an id (letters, digits, . _ -)", it.ID)
			continue
		}
		if ids[it.ID] {
			bad(it.line, "items.id", "%q appears twice", it.ID)
		}
		ids[it.ID] = true
	}
	for _, it := range b.Items {
		if !idPattern.MatchString(it.ID) {
			continue
		}
		out := item.Item{
			ID: item.MakeID(source, it.ID), Source: source,
			Ref: it.Ref, Kind: item.Kind(it.Kind), Type: it.Type,
			Title: it.Title, Body: it.Body, Status: it.Status,
			State: item.State(it.State), Resolution: it.Resolution,
			Labels: it.Labels, Assignees: it.Assignees, Reporter: it.Reporter,
			SecurityLevel: it.SecurityLevel, Fields: it.Fields,
			CommentsLoaded: true, CommentCount: len(it.Comments),
		}
		if out.Ref == "" {
			out.Ref = "#" + it.ID
		}
		switch out.Kind {
		case "":
			out.Kind = item.KindIssue
		case item.KindIssue, item.KindSubtask, item.KindEpic:
		default:
			bad(it.line, "items.kind", "%q is not issue, subtask or epic", it.Kind)
		}
		switch out.State {
		case "":
			out.State = item.Open
		case item.Open, item.Done, item.Cancelled:
		default:
			bad(it.line, "items.state", "%q is not open, done or cancelled", it.State)
		}
		if it.Parent != "" {
			if !ids[it.Parent] {
				bad(it.line, "items.parent", "no item %q on this board", it.Parent)
			}
			out.Parent = item.MakeID(source, it.Parent)
		}
		if it.Milestone != "" {
			if !msIDs[it.Milestone] {
				bad(it.line, "items.milestone", "no milestone %q on this board", it.Milestone)
			}
			out.Milestone = item.MakeID(source, "m-"+it.Milestone)
		}
		var err error
		if out.Created, err = parseTime(it.Created); err != nil {
			bad(it.line, "items.created", "%v", err)
		}
		if out.Updated, err = parseTime(it.Updated); err != nil {
			bad(it.line, "items.updated", "%v", err)
		}
		if out.Updated.IsZero() {
			out.Updated = out.Created
		}
		if out.Start, err = parseDue(it.Start); err != nil {
			bad(it.line, "items.start", "%v", err)
		}
		if out.Due, err = parseDue(it.Due); err != nil {
			bad(it.line, "items.due", "%v", err)
		}
		if it.Completed != "" {
			t, err := parseTime(it.Completed)
			if err != nil {
				bad(it.line, "items.completed", "%v", err)
			} else {
				out.Completed = &t
			}
		}
		cids := map[string]bool{}
		for _, c := range it.Comments {
			if !idPattern.MatchString(c.ID) || cids[c.ID] {
				bad(it.line, "items.comments.id", "%q is missing, not an id, or repeated", c.ID)
				continue
			}
			cids[c.ID] = true
			oc := item.Comment{ID: c.ID, Author: c.Author, Body: c.Body, Internal: c.Internal, Restricted: c.Restricted}
			if oc.Created, err = parseTime(c.Created); err != nil {
				bad(it.line, "items.comments.created", "%v", err)
			}
			if oc.Updated, err = parseTime(c.Updated); err != nil {
				bad(it.line, "items.comments.updated", "%v", err)
			}
			if oc.Updated.IsZero() {
				oc.Updated = oc.Created
			}
			out.Comments = append(out.Comments, oc)
		}
		snap.Items = append(snap.Items, out)
	}
	if len(errs) > 0 {
		return snap, errors.New(strings.Join(errs, "\n"))
	}
	return snap, nil
}

// yamlErr turns a yaml.v3 error ("yaml: line 4: ...") into "4: ...", on
// the line to fix: yaml.v3 names the 0-based line of a parser error's
// context, and for a tab the line of the scalar before it (the rules
// loader corrects the same way: config.parseError).
func yamlErr(err error, data []byte) string {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if line, err := strconv.Atoi(rest[:i]); err == nil {
				text := rest[i+2:]
				for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"} {
					if strings.HasPrefix(text, p) {
						line++
						break
					}
				}
				if strings.Contains(text, "tab character") {
					line = lineOfTab(data, line)
				}
				return strconv.Itoa(line) + ": board: " + text
			}
		}
	}
	return "1: board: " + msg
}

// lineOfTab finds the first line at or after line indented with a tab.
func lineOfTab(data []byte, line int) int {
	lines := strings.Split(string(data), "\n")
	for i := max(line-1, 0); i < len(lines) && i < line+50; i++ {
		l := lines[i]
		if strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t") {
			return i + 1
		}
	}
	return line
}

type lineIndex struct{ items, milestones []int }

func itemLines(root *yaml.Node) lineIndex {
	var li lineIndex
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return li
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return li
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		seq := m.Content[i+1]
		if seq.Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, n := range seq.Content {
			lines = append(lines, n.Line)
		}
		switch m.Content[i].Value {
		case "items":
			li.items = lines
		case "milestones":
			li.milestones = lines
		}
	}
	return li
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02) or time (RFC 3339)", s)
}

func parseDue(s string) (*item.Due, error) {
	if s == "" {
		return nil, nil
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return &item.Due{Date: s}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &item.Due{At: t}, nil
	}
	return nil, fmt.Errorf("%q is not a date (2006-01-02) or time (RFC 3339)", s)
}
