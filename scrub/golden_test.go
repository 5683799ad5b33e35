package scrub

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var acme = []string{"acme.example"}

// goldenCases gives each testdata/*.md input its options; every input must
// be listed, so a new file cannot go untested.
var goldenCases = map[string]Options{
	"mentions":              {LinkDomains: acme},
	"refs":                  {LinkDomains: acme},
	"comments":              {LinkDomains: acme},
	"internal_markers":      {LinkDomains: acme},
	"internal_unclosed":     {LinkDomains: acme},
	"internal_headings":     {LinkDomains: acme, InternalMarker: "Internal"},
	"section":               {LinkDomains: acme, Section: "client summary", InternalMarker: "Internal"},
	"section_marker_before": {LinkDomains: acme, Section: "Client summary"},
	"section_missing":       {LinkDomains: acme, Section: "Client summary"},
	"raw_html":              {LinkDomains: acme},
	"links":                 {LinkDomains: acme},
	"blocks":                {LinkDomains: acme},
	"escaping":              {LinkDomains: acme},
	"comment_quotes":        {LinkDomains: acme, Comment: true},
}

// goldenOutputs are the files written per input.
var goldenOutputs = []struct {
	ext    string
	render func(Doc) string
}{
	{".json", func(d Doc) string { b, _ := json.MarshalIndent(d, "", "  "); return string(b) + "\n" }},
	{".md", Doc.Markdown},
	{".wiki", Doc.Wiki},
	{".html", Doc.HTML},
	{".txt", Doc.PlainText},
}

func goldenInputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		if _, ok := goldenCases[strings.TrimSuffix(filepath.Base(f), ".md")]; !ok {
			t.Errorf("%s has no entry in goldenCases", f)
		}
	}
	return files
}

func TestGoldenOutputs(t *testing.T) {
	for _, f := range goldenInputs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d := Body(string(src), goldenCases[name])
			for _, o := range goldenOutputs {
				got := o.render(d)
				path := filepath.Join("testdata", name+o.ext+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./scrub -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", o.ext, path, got, want)
				}
			}
		})
	}
}

// The golden documents, rendered, pass every escaping check: no image, raw
// HTML, autolink or foreign link in the Markdown as goldmark reads it, no
// stray markup in the wiki, nothing the strict HTML policy would change.
func TestGoldenOutputsPassEscapingChecks(t *testing.T) {
	for _, f := range goldenInputs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o := goldenCases[name]
		d := Body(string(src), o)
		if err := checkAll(d, domainCheck(o.LinkDomains), true); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := policy.Sanitize(d.rawHTML()); got != d.rawHTML() {
			t.Errorf("%s: policy changed the HTML:\n%s\nvs\n%s", name, got, d.rawHTML())
		}
	}
}

// The same input gives the same Doc JSON (it is hashed for change
// detection) and the same bytes from every renderer.
func TestGoldenOutputsAreDeterministic(t *testing.T) {
	for _, f := range goldenInputs(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, b := Body(string(src), goldenCases[name]), Body(string(src), goldenCases[name])
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s: Doc JSON differs between runs", name)
		}
		for _, o := range goldenOutputs {
			if o.render(a) != o.render(b) {
				t.Errorf("%s: %s output differs between runs", name, o.ext)
			}
		}
	}
}
