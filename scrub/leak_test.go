package scrub

import (
	"encoding/json"

	"html"
	"net/url"
	"strings"
	"testing"
)

// leakDoc puts a canary in every place that must never leave, and one
// (canaryvisible) that must, as a control that the search works. Canaries
// are lower-case letters and digits: no renderer escapes or breaks those,
// so a leak cannot hide behind an inserted joiner or backslash.
const leakDoc = `# Plan

Team-only intro canaryoutsidesection.

<!-- canaryblockcomment -->

<!--
canarymultilinecomment
-->

## Client summary

Visible canaryvisible text <!-- canaryinlinecomment --> and more, <img src="canaryinlineimg.png" alt="canaryinlineimgalt">.

Inline <!-- internal -->canaryinlineinternal<!-- /internal --> cut.

<!-- internal -->
canaryblockinternal paragraph

- canaryinternallist
<!-- /internal -->

### Internal

canaryheadinginternal under the internal heading.

### Links

[ref link][secret] and [ok](https://acme.example/ok "canarylinktitle") and
[evil](https://canaryevilhost.example/canaryevilpath?q=canaryevilquery) and
[js](javascript:canaryjavascript) and [creds](https://canaryuser:canarypass@acme.example/) and
[mail](mailto:canarymail@evil.example) and [suffix](https://acme.example.canarysuffix.com/).

![canaryimagealt](https://acme.example/canaryimageurl.png "canaryimagetitle")
![canaryrefimagealt][img] [![canarynestedalt](https://x.example/canarynestedimg.png)](https://acme.example/ci)

<img alt="canaryhtmlimgalt" src="https://acme.example/canaryhtmlimgsrc.png">

Inline <span title="canaryattr">span text</span> and <a href="https://canaryanchor.example">anchor text</a>.

<details>
<summary>canarysummary</summary>
<div>canaryhtmldiv</div>
</details>

<script>canaryscript()</script>

> canaryquote in a comment
>> canarynestedquote

[secret]: https://canaryrefdef.example/canaryrefpath "canaryreftitle"
[img]: https://canaryrefimg.example/i.png
[unused]: https://canaryunused.example/

## After

canaryaftersection paragraph.

<!-- internal -->
canaryunclosedinternal to the end.
`

// leakForms are the shapes a canary could take in an output.
func leakForms(c string) []string {
	return []string{c, html.EscapeString(c), url.QueryEscape(c), url.PathEscape(c)}
}

// leakViews are what the outputs look like to the search: as written, and
// with joiners, entities and backslashes taken out, lower-cased.
func leakViews(out string) []string {
	plain := strings.NewReplacer(zwsp64, "", zwsp, "", wj, "", `\`, "").Replace(out)
	return []string{out, strings.ToLower(html.UnescapeString(plain))}
}

func leakOutputs(d Doc) map[string]string {
	j, _ := json.Marshal(d)
	out := map[string]string{
		"json": string(j), "markdown": d.Markdown(), "wiki": d.Wiki(), "html": d.HTML(), "plain": d.PlainText(),
	}
	fl := FirstLine(d)
	for name, style := range map[string]TitleStyle{"title-plain": TitlePlain, "title-github": TitleGitHub, "title-jira": TitleJira} {
		out[name] = InlineText(fl, style)
	}
	out["title-html"] = InlineHTML(fl)
	return out
}

func TestCanariesInDroppedPlacesNeverLeave(t *testing.T) {
	hidden := []string{
		"canaryblockcomment", "canarymultilinecomment", "canaryinlinecomment",
		"canaryinlineinternal", "canaryblockinternal", "canaryinternallist", "canaryheadinginternal",
		"canarylinktitle", "canaryevilhost", "canaryevilpath", "canaryevilquery", "canaryjavascript",
		"canaryuser", "canarypass", "canarymail", "canarysuffix",
		"canaryimagealt", "canaryimageurl", "canaryimagetitle", "canaryrefimagealt", "canarynestedalt", "canarynestedimg",
		"canaryhtmlimgalt", "canaryhtmlimgsrc", "canaryinlineimg", "canaryattr", "canaryanchor",
		"canarysummary", "canaryhtmldiv", "canaryscript",
		"canaryrefdef", "canaryrefpath", "canaryreftitle", "canaryrefimg", "canaryunused",
		"canaryunclosedinternal",
	}
	outsideSection := []string{"canaryoutsidesection", "canaryaftersection"}
	quotes := []string{"canaryquote", "canarynestedquote"}

	configs := []struct {
		name   string
		opt    Options
		hidden []string
	}{
		{"comment in section", Options{LinkDomains: acme, Section: "Client summary", InternalMarker: "Internal", Comment: true},
			concat(hidden, outsideSection, quotes)},
		{"body in section", Options{LinkDomains: acme, Section: "Client summary", InternalMarker: "Internal"},
			concat(hidden, outsideSection)},
		{"comment whole text", Options{LinkDomains: acme, InternalMarker: "Internal", Comment: true},
			concat(hidden, quotes)},
	}
	for _, cfg := range configs {
		d := Body(leakDoc, cfg.opt)
		for name, out := range leakOutputs(d) {
			for _, view := range leakViews(out) {
				for _, c := range cfg.hidden {
					for _, form := range leakForms(c) {
						if strings.Contains(view, form) {
							t.Errorf("%s: %s leaked %q:\n%s", cfg.name, name, form, out)
						}
					}
				}
			}
			if !strings.HasPrefix(name, "title") && !strings.Contains(out, "canaryvisible") {
				t.Errorf("%s: %s lost the visible control canary:\n%s", cfg.name, name, out)
			}
		}
	}
}

// The search itself must be able to fail: a canary left in the text is
// found in every output.
func TestLeakSearchFindsAVisibleCanary(t *testing.T) {
	d := Body("see canaryfound and @anna", Options{})
	for name, out := range leakOutputs(d) {
		found := false
		for _, view := range leakViews(out) {
			found = found || strings.Contains(view, "canaryfound")
		}
		if !found {
			t.Errorf("%s: canary not found in %q", name, out)
		}
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
