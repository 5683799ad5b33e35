package app_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"vitrine/mirror/page"
)

var metaRE = regexp.MustCompile(`<meta (?:name|http-equiv)="([^"]+)" content="([^"]*)">`)

// The export carries the headers a static host cannot be trusted to send
// as <meta>, a generic title and no link-preview metadata; after a
// rotation the old folder is gone.
func TestExportCarriesHeadersAsMetaAndFollowsRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := envFor(dir)
	defaultShop().write(t, dir)
	mustRun(t, env, "sync")
	out := t.TempDir()
	mustRun(t, env, "export", "--out", out)
	pages := readExport(t, out)
	tok, index, _, _ := shopPage(t, env)
	if len(pages) != 2 || pages[tok] == nil {
		t.Fatalf("export folders %d, want one per customer with a page", len(pages))
	}
	meta := map[string]string{}
	for _, m := range metaRE.FindAllStringSubmatch(index, -1) {
		meta[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	if meta["content-security-policy"] != page.MetaCSP() {
		t.Errorf("meta CSP %q, want %q", meta["content-security-policy"], page.MetaCSP())
	}
	checkCSPHasNoExternalSource(t, "export meta", meta["content-security-policy"])
	if meta["referrer"] != "no-referrer" || !strings.Contains(meta["robots"], "noindex") {
		t.Errorf("meta referrer %q robots %q", meta["referrer"], meta["robots"])
	}
	if !strings.Contains(index, "<title>Project status</title>") {
		t.Errorf("the title is not the generic one")
	}
	for _, bad := range []string{`property="og:`, `name="twitter:`, `name="description"`, "Shop Inc</title>"} {
		if strings.Contains(index, bad) {
			t.Errorf("the page carries link-preview metadata %q", bad)
		}
	}

	mustRun(t, env, "links", "--rotate", "shop")
	mustRun(t, env, "export", "--out", out)
	again := readExport(t, out)
	if again[tok] != nil {
		t.Errorf("the folder of the rotated token is still exported")
	}
	if len(again) != 2 {
		t.Errorf("%d folders after the rotation, want 2", len(again))
	}
}
