package scrub

import (
	"reflect"
	"strings"
	"testing"
)

func TestLinkDomainsAllowTheDomainAndSubdomainsOnly(t *testing.T) {
	d := newDomains([]string{" ACME.example. ", "*.docs.example"})
	cases := map[string]bool{
		"https://acme.example/x":                true,
		"http://www.acme.example":               true,
		"HTTPS://Sub.ACME.Example/p":            true,
		"https://acme.example.:443/":            true,
		"https://a.docs.example/":               true,
		"https://docs.example/":                 true,
		"https://acme.example.evil.com/":        false,
		"https://evilacme.example/":             false,
		"https://acme.example@evil.com/":        false,
		"https://user:pw@acme.example/":         false,
		"https://evil.com\\@acme.example":       false,
		"https://evil.com%2Facme.example":       false,
		"https://acme%2Eexample/":               false,
		"https://[::1]/":                        false,
		"https://acme.example:x/":               false,
		"//acme.example/":                       false,
		"/relative":                             false,
		"javascript://acme.example/%0aalert(1)": false,
		"data:text/html,acme.example":           false,
		"ftp://acme.example/":                   false,
		"https:acme.example":                    false,
		"https://acme.example/a b":              true, // encoded as %20
		"https://acme.example/\x00":             false,
		"https://аcme.example/":                 false, // Cyrillic а
		"":                                      false,
	}
	for href, want := range cases {
		if _, got := d.allowedHref(href); got != want {
			t.Errorf("allowedHref(%q) = %v, want %v", href, got, want)
		}
	}
}

func TestMailtoNeedsOneAddressInAnAllowedDomain(t *testing.T) {
	d := newDomains(acme)
	cases := map[string]bool{
		"mailto:team@acme.example":                     true,
		"MAILTO:team@sub.acme.example":                 true,
		"mailto:boss@evil.example":                     false,
		"mailto:team@acme.example?cc=spy@evil.example": false,
		"mailto:team@acme.example,spy@evil.example":    false,
		"mailto:spy@evil.example@acme.example":         false,
		"mailto:team%40acme.example":                   false,
		"mailto://team@acme.example":                   false,
		"mailto:":                                      false,
		"mailto:team@acme.example#frag":                false,
		"mailto:\"quoted\"@acme.example":               false,
	}
	for href, want := range cases {
		if _, got := d.allowedHref(href); got != want {
			t.Errorf("allowedHref(%q) = %v, want %v", href, got, want)
		}
	}
}

func TestNoLinkDomainsMeansNoLinks(t *testing.T) {
	d := Body("[a](https://acme.example) <https://acme.example>", Options{})
	for _, x := range d.Blocks[0].Inlines {
		if x.Kind == Link {
			t.Errorf("link kept without link_domains: %+v", x)
		}
	}
}

func TestTokenizeFindsMentionsAndReferencesAtBoundariesOnly(t *testing.T) {
	cases := map[string][]Inline{
		"@anna":                    {{Kind: Mention, Text: "anna"}},
		"(@anna)":                  {txt("("), {Kind: Mention, Text: "anna"}, txt(")")},
		"@anna.":                   {{Kind: Mention, Text: "anna"}, txt(".")},
		"@john.doe-x_":             {{Kind: Mention, Text: "john.doe-x"}, txt("_")},
		"@org/team-a":              {{Kind: Mention, Text: "org/team-a"}},
		"a@b.example":              {txt("a@b.example")},
		"@@x":                      {txt("@@x")},
		"@-x @":                    {txt("@-x @")},
		"#12":                      {{Kind: XRef, Text: "#12"}},
		"#12a x#1 &#1 ##2":         {txt("#12a x#1 &#1 ##2")},
		"org/repo#4":               {{Kind: XRef, Text: "org/repo#4"}},
		"a-b/c.d_e#45,":            {{Kind: XRef, Text: "a-b/c.d_e#45"}, txt(",")},
		"x/y/z#4":                  {txt("x/y/z#4")},
		"ABC-12 GH-7 A1_B-3":       {{Kind: XRef, Text: "ABC-12"}, txt(" "), {Kind: XRef, Text: "GH-7"}, txt(" "), {Kind: XRef, Text: "A1_B-3"}},
		"A-1 abc-1 ABC-1x X-ABC-1": {txt("A-1 abc-1 ABC-1x X-ABC-1")},
		"éABC-1 ÉANNA@x":           {txt("éABC-1 ÉANNA@x")},
		"":                         nil,
	}
	for src, want := range cases {
		if got := tokenize(src); !reflect.DeepEqual(got, want) {
			t.Errorf("tokenize(%q) = %+v, want %+v", src, got, want)
		}
	}
}

func TestTitleIsOneTrimmedLine(t *testing.T) {
	got := Title("  Fix\t@anna\r\nnow \x00 ")
	want := []Inline{txt("Fix "), {Kind: Mention, Text: "anna"}, txt(" now \ufffd")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Title = %+v, want %+v", got, want)
	}
}

func TestBreaksCoverEveryTargetPattern(t *testing.T) {
	cases := map[string]string{
		"@anna a@b.c @ @-":                  "@|anna a@|b.c @ @-",
		"#1 # #a":                           "#|1 # #a",
		"ABC-1 abc-2 2024-05-01 -3 A_B-4":   "ABC-|1 abc-|2 2024-05-01 -3 A_B-|4",
		"https://x 1http://y ://z":          "https|://x 1http|://y |://z",
		"mailto:a javascript:b x: y :tada:": "mailto|:a javascript|:b x: y :tada:",
		"www.x WWW.y awww.z":                "www|.x WWW|.y awww|.z",
	}
	for in, want := range cases {
		if got := withBreaks(in, breaks(in), "|"); got != want {
			t.Errorf("breaks(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeHrefCanonicalFormIsAFixedPoint(t *testing.T) {
	for _, href := range []string{
		"https://acme.example/a b", "https://acme.example/ä?q=<x>&y=\"z\"#f|g", "HTTPS://ACME.EXAMPLE/%7e",
		"mailto:a.b+c@acme.example", "mailto:a`b@acme.example", "https://acme.example/[x]{y}",
		"http://acme.example:80/a/../b", "https://acme.example/%zz",
	} {
		c, _, ok := safeHref(href)
		if !ok {
			continue
		}
		c2, _, ok2 := safeHref(c)
		if !ok2 || c2 != c {
			t.Errorf("safeHref(%q) = %q, but safeHref of that = %q, %v", href, c, c2, ok2)
		}
		if strings.ContainsAny(c, "<>\"{}|\\^`[] ") {
			t.Errorf("canonical %q keeps a markup character", c)
		}
	}
}
