package jira_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"vitrine/fake/jira"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDumpGolden pins Dump's shape and determinism on a board built by the
// agency and by go-jira's typed calls (whose bodies carry read-only and
// unknown properties that Jira ignores).
func TestDumpGolden(t *testing.T) {
	f := jira.NewStandard(t, jira.Options{})
	src := f.CreateIssue(jira.SourceProject, jira.Fields{Type: "Story", Summary: "Launch", Description: "h1. Client summary\nSoon.",
		Labels: []string{"client-visible"}, FixVersions: []string{"1.0"}, Custom: map[string]any{jira.BudgetField: 5000}})
	f.AddComment(src, jira.PublicComment("pm-anna", "[client] on track"))
	f.AddComment(src, jira.JSMInternalComment("dev-bob", "margin is thin"))
	f.AddComment(src, jira.GroupComment("dev-bob", "staff only", jira.GroupStaff))
	f.Advance(time.Minute)

	w := client(t, f, jira.WriterCred)
	made, _, err := w.Issue.Create(&gojira.Issue{Fields: &gojira.IssueFields{
		Project: gojira.Project{Key: jira.TargetProject}, Type: gojira.IssueType{Name: "Task"},
		Summary: "Launch", Description: "h1. Launch\nSoon.", Labels: []string{"vitrine"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// go-jira's Update sends the whole Issue, key included; Jira ignores it.
	if _, _, err := w.Issue.Update(&gojira.Issue{Key: made.Key, Fields: &gojira.IssueFields{Summary: "Launch (mirrored)"}}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// go-jira's Comment always sends author/updateAuthor: read-only, ignored.
	c, _, err := w.Issue.AddComment(made.ID, &gojira.Comment{Body: "On track."})
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if _, _, err := w.Issue.UpdateComment(made.ID, &gojira.Comment{ID: c.ID, Body: "On track!"}); err != nil {
		t.Fatalf("UpdateComment: %v", err)
	}
	if _, err := do(t, w, "PUT", "rest/api/2/issue/"+made.ID+"/properties/vitrine", map[string]any{"v": 1, "key": "opaque"}, nil); err != nil {
		t.Fatal(err)
	}

	got, err := json.MarshalIndent(f.Dump(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "dump.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("Dump differs from %s (run with -update after checking):\n%s", path, got)
	}
}
