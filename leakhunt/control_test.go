package leakhunt

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"vitrine/mapping"
	"vitrine/scrub"
)

// The hunt must be able to fail: a canary planted in a view, a published
// item taken out of it, or one the oracle does not expect, are reported.
func TestHuntReportsPlantedLeaksAndWrongSelections(t *testing.T) {
	dir := t.TempDir()
	checked := 0
	for seed := uint64(1); seed < 200 && checked < 5; seed++ {
		h := generate(seed, gates{}, dir)
		set, err := mapping.Compile(h.rules)
		if err != nil {
			t.Fatal(err)
		}
		w := h.world()
		exp := h.oracle(w)
		for _, c := range h.custs {
			res, err := set.Curate(c.id, h.snaps, curationTime)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.View.Items) == 0 || len(res.View.Items[0].Comments) == 0 {
				continue
			}
			checked++
			if errs := append(h.compare(w, c, exp[c], res), h.hunt(c, exp[c], res.View)...); len(errs) > 0 {
				t.Fatalf("seed %d: unplanted case fails: %v", seed, errs)
			}
			var hidden string
			for tok := range h.reg.toks {
				if !exp[c].vis.toks[tok] {
					hidden = tok
					break
				}
			}
			var hiddenNum, hiddenDay string
			for n := range h.reg.nums {
				if !exp[c].vis.nums[n] {
					hiddenNum = n
				}
			}
			for d := range h.reg.dates {
				if !exp[c].vis.days[d] {
					hiddenDay = d
				}
			}
			plants := map[string]func(v *mapping.View){
				"title": func(v *mapping.View) {
					v.Items[0].Title = append(v.Items[0].Title, scrub.Inline{Kind: scrub.Text, Text: " " + strings.ToUpper(hidden)})
				},
				"comment": func(v *mapping.View) {
					v.Items[0].Comments[0].Body = scrub.Body("x "+hidden[:6]+"&#"+strconv.Itoa(int(hidden[6]))+";"+hidden[7:], scrub.Options{})
				},
				"link": func(v *mapping.View) {
					v.Items[0].Body = scrub.Body("[x](https://acme.example/"+hidden+")", scrub.Options{LinkDomains: []string{"acme.example"}})
				},
				"field": func(v *mapping.View) {
					v.Items[0].Fields = append(v.Items[0].Fields, mapping.Field{Name: "n", Value: hiddenNum})
				},
				"author": func(v *mapping.View) {
					d, _ := time.Parse(time.DateOnly, hiddenDay)
					v.Items[0].Comments[0].Time = d.Add(12 * time.Hour)
				},
			}
			for name, plant := range plants {
				if (name == "field" && hiddenNum == "") || (name == "author" && hiddenDay == "") {
					continue
				}
				v := cloneView(res.View)
				plant(&v)
				errs := h.hunt(c, exp[c], v)
				if !strings.Contains(strings.Join(errs, "\n"), "LEAK") {
					t.Errorf("seed %d: a canary planted in the %s was not found", seed, name)
				}
			}
			r2 := res
			r2.View = cloneView(res.View)
			r2.View.Items = r2.View.Items[1:]
			if errs := h.compare(w, c, exp[c], r2); !strings.Contains(strings.Join(errs, "\n"), "must be published") {
				t.Errorf("seed %d: a published item taken out of the view was not reported: %v", seed, errs)
			}
			e2 := *exp[c]
			e2.items = map[string]*expItem{}
			if errs := h.compare(w, c, &e2, res); !strings.Contains(strings.Join(errs, "\n"), "must not be published") {
				t.Errorf("seed %d: an item the oracle does not publish was not reported", seed)
			}
			e3 := *exp[c]
			v3 := *e3.vis
			v3.need = map[string]string{hidden: "planted"}
			e3.vis = &v3
			if errs := h.hunt(c, &e3, res.View); !strings.Contains(strings.Join(errs, "\n"), "missing") {
				t.Errorf("seed %d: a canary that must show but does not was not reported", seed)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d customers with a published, commented item in 200 seeds", checked)
	}
}

func cloneView(v mapping.View) mapping.View {
	v.Items = append([]mapping.Item(nil), v.Items...)
	for i := range v.Items {
		v.Items[i].Comments = append([]mapping.Comment(nil), v.Items[i].Comments...)
		v.Items[i].Fields = append([]mapping.Field(nil), v.Items[i].Fields...)
	}
	return v
}

// The search finds a canary in every form an output could carry it.
func TestScanFindsEveryForm(t *testing.T) {
	const tok = "cnryabcdefgh23"
	forms := map[string]string{
		"raw":           "x " + tok + " y",
		"upper":         "KEY-" + strings.ToUpper(tok),
		"entity":        "cnr&#121;abcdefgh23",
		"named entity":  "cnry&#x61;bcdefgh23",
		"percent":       "https://e.example/cnr%79abcdefgh23",
		"json":          `{"t":"\u0063nryabcdefgh23"}`,
		"joiner":        "cnry\u200babcdefgh23",
		"word joiner":   "cnryabc\u2060defgh23",
		"md entity":     "cnryab&#8203;cdefgh23",
		"backslash":     `cnry\abcdefgh23`,
		"html in xml":   "cnr&amp;#121;abcdefgh23",
		"joiner in xml": "cnry&amp;#8203;abcdefgh23",
		"inside a word": "xcnryabcdefgh23x",
	}
	for name, out := range forms {
		f := scan(out)
		if len(f.toks) == 0 || f.toks[0] != tok {
			t.Errorf("%s: %q gives %v", name, out, f.toks)
		}
	}
	f := scan("n=712345678 due 1409-06-26, 26 Jun 1409, Jun 26, 1409; 1234567890")
	if len(f.nums) != 1 || f.nums[0] != "712345678" {
		t.Errorf("numbers: %v", f.nums)
	}
	if len(f.days) != 3 {
		t.Errorf("dates: %v", f.days)
	}
	for _, d := range f.days {
		if d.iso != "1409-06-26" {
			t.Errorf("date %q read as %s", d.as, d.iso)
		}
	}
	if f := scan("cnryab" + "\u00e9"); len(f.mangled) != 1 {
		t.Errorf("a cut canary is not reported: %v", f)
	}
}
