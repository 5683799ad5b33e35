package scrub

import (
	"strings"
	"testing"
)

func TestMarkdownInsideAnHTMLContainerIsDroppedWithIt(t *testing.T) {
	src := "Before\n\n<details><summary>Vendor pricing</summary>\n\nScandit licence cnryDETAILS\n\n- a list cnryLIST\n\n</details>\n\nAfter\n\n<div>\n\nunclosed cnryDIV\n"
	d := Body(src, Options{})
	out := d.Markdown() + d.HTML() + d.PlainText()
	for _, c := range []string{"cnryDETAILS", "cnryLIST", "cnryDIV"} {
		if strings.Contains(out, c) {
			t.Errorf("%s leaked from inside raw HTML: %q", c, d.PlainText())
		}
	}
	if !strings.Contains(d.PlainText(), "Before") || !strings.Contains(d.PlainText(), "After") {
		t.Errorf("text outside the elements was lost: %q", d.PlainText())
	}
}

func TestSelfClosedAndBalancedHTMLDoNotCut(t *testing.T) {
	d := Body("<div>one line</div>\n\nkept text\n\n<br/>\n\nalso kept", Options{})
	if got := d.PlainText(); !strings.Contains(got, "kept text") || !strings.Contains(got, "also kept") {
		t.Errorf("balanced HTML cut the text after it: %q", got)
	}
}
