package jira

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDerivedCommentVariantsAreNeverPublic decodes the comment of a real
// Cloud delivery and its derived internal and restricted variants with the
// decoder the REST path uses.
func TestDerivedCommentVariantsAreNeverPublic(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "fixtures", "jira-webhooks", "mattermost-plugin-jira", "webhook-cloud-comment-created.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Comment map[string]any `json:"comment"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	decode := func(c map[string]any) (internal, restricted bool) {
		b, _ := json.Marshal(c)
		var cj commentJSON
		if err := json.Unmarshal(b, &cj); err != nil {
			t.Fatal(err)
		}
		d := decodeComment(cj)
		return d.Internal, d.Restricted
	}
	if i, r := decode(payload.Comment); i || r {
		t.Fatalf("the delivery's public comment reads internal=%v restricted=%v", i, r)
	}
	clone := func() map[string]any {
		var m map[string]any
		b, _ := json.Marshal(payload.Comment)
		json.Unmarshal(b, &m)
		return m
	}
	for name, tc := range map[string]struct {
		mod                  func(map[string]any)
		internal, restricted bool
	}{
		"jsdPublic false": {func(c map[string]any) { c["jsdPublic"] = false }, true, false},
		"sd.public.comment": {func(c map[string]any) {
			c["properties"] = []any{map[string]any{"key": sdPublicComment, "value": map[string]any{"internal": true}}}
		}, true, false},
		"sd.public.comment string": {func(c map[string]any) {
			c["properties"] = []any{map[string]any{"key": sdPublicComment, "value": map[string]any{"internal": "true"}}}
		}, true, false},
		"sd.public.comment garbled": {func(c map[string]any) {
			c["properties"] = []any{map[string]any{"key": sdPublicComment, "value": "internal"}}
		}, true, false},
		"sd.public.comment public": {func(c map[string]any) {
			c["properties"] = []any{map[string]any{"key": sdPublicComment, "value": map[string]any{"internal": false}}}
		}, false, false},
		"role":                {func(c map[string]any) { c["visibility"] = map[string]any{"type": "role", "value": "Developers"} }, false, true},
		"group":               {func(c map[string]any) { c["visibility"] = map[string]any{"type": "group", "value": "staff"} }, false, true},
		"group by identifier": {func(c map[string]any) { c["visibility"] = map[string]any{"type": "group", "identifier": "0a1b"} }, false, true},
		"ADF body":            {func(c map[string]any) { c["body"] = map[string]any{"type": "doc"} }, true, false},
	} {
		c := clone()
		tc.mod(c)
		if i, r := decode(c); i != tc.internal || r != tc.restricted {
			t.Errorf("%s: internal=%v restricted=%v, want %v %v", name, i, r, tc.internal, tc.restricted)
		}
	}
}
