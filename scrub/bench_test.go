package scrub

import (
	"strings"
	"testing"
)

// issueBody is a typical 5 KB issue body: headings, a client section with
// an internal part, lists, links, a table, code, comments and mentions.
func issueBody() string {
	const part = `## Client summary

The new checkout goes live on **May 12**; see [the plan](https://acme.example/plan) and #123.
@anna reviewed it with ABC-42, org/web#7 is the follow-up.

<!-- internal -->Budget is 20% over, do not share.<!-- /internal -->

### Scope

- [x] Payment page ([mock-up](https://www.figma.com/file/xyz))
- [ ] Confirmation e-mail, see <https://acme.example/mail>
  - German copy by @ben
  - French copy

| Step | Owner | Due |
|------|-------|-----|
| QA | @carol | 2024-05-08 |
| Launch | Ops | 2024-05-12 |

### Internal

Rollback plan lives in the wiki, https://wiki.internal.example/rollback.

` + "```go\nfunc main() { fmt.Println(\"hello `world`\") }\n```" + `

![screenshot](https://user-images.githubusercontent.com/1/2.png)

`
	var b strings.Builder
	for b.Len() < 5*1024 {
		b.WriteString(part)
	}
	return b.String()
}

func BenchmarkBody(b *testing.B) {
	src := issueBody()
	o := Options{LinkDomains: acme, Section: "Client summary", InternalMarker: "Internal"}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Body(src, o)
	}
}

func BenchmarkRenderers(b *testing.B) {
	d := Body(issueBody(), Options{LinkDomains: acme, InternalMarker: "Internal"})
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Markdown()
		_ = d.Wiki()
		_ = d.HTML()
		_ = d.PlainText()
	}
}
