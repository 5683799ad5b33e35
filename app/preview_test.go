package app_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// `vitrine preview` is "exactly what that customer would see": the text
// form must carry what the page shows, earlier status updates and
// allow-listed custom fields included.
func TestPreviewTextShowsWhatThePageShows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "board.yaml"), `items:
  - id: a
    title: ItemA
    labels: [pub]
    fields: {estimate: EstimateValue42, cost: CostValue777}
    comments:
      - {id: s1, created: "2030-01-01T10:00:00Z", body: "/status on_track EarlierUpdateText"}
      - {id: s2, created: "2030-02-01T10:00:00Z", body: "/status at_risk LatestUpdateText"}
`)
	writeFile(t, filepath.Join(dir, "vitrine.yaml"), `customers:
  - id: shop
    name: Shop Inc
    sources:
      - file: {path: board.yaml}
    publish: {label: pub}
    show: {fields: [estimate]}
    targets:
      - page: {}
`)
	env := envFor(dir)
	mustRun(t, env, "sync")
	_, index, _, _ := shopPage(t, env)
	text := mustRun(t, env, "preview", "shop").Stdout
	for _, s := range []string{"ItemA", "LatestUpdateText", "EarlierUpdateText", "EstimateValue42"} {
		if !strings.Contains(index, s) {
			t.Fatalf("the page does not show %s: the test's premise is wrong", s)
		}
		if !strings.Contains(text, s) {
			t.Errorf("the page shows %q; `vitrine preview` (text) does not:\n%s", s, text)
		}
	}
	if strings.Contains(text, "CostValue777") || strings.Contains(index, "CostValue777") {
		t.Errorf("a field not in show.fields shows")
	}
}
