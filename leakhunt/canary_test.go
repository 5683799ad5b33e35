package leakhunt

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"

	"vitrine/item"
)

// Canaries are "cnry" and ten characters of [a-z2-7]: no renderer escapes,
// encodes or breaks those characters (HTML, URL query and path, JSON and
// Markdown escaping leave them alone; joiners go only before '@', '#',
// ':', '.', a digit after '-'), so one search over an output finds a canary
// in every form it could take. The search also runs over each output with
// joiners, backslashes, entities and percent-escapes decoded, so a canary
// split by one of those is found too. Hidden numbers are nine digits, and
// hidden dates sit in years no other date uses.
const b32 = "abcdefghijklmnopqrstuvwxyz234567"

type registry struct {
	r     *rand.Rand
	toks  map[string]string // canary → where it was put
	text  map[string]bool   // canaries that only ever are text: no rule reads them
	nums  map[string]string
	dates map[string]string // ISO day of a date canary, and the days next to it → where
	year  int
}

func newRegistry(r *rand.Rand) *registry {
	return &registry{r: r, toks: map[string]string{}, text: map[string]bool{}, nums: map[string]string{}, dates: map[string]string{}, year: 1103}
}

func (g *registry) tok(where string) string {
	for {
		b := []byte("cnry")
		for i := 0; i < 10; i++ {
			b = append(b, b32[g.r.IntN(len(b32))])
		}
		s := string(b)
		// No "cnry" inside a canary, nor a start of one at its end: the
		// search reads "cnry" and the ten characters after it.
		tail := s[4:]
		if strings.Contains(tail, "cnry") || strings.HasSuffix(s, "c") || strings.HasSuffix(s, "cn") || strings.HasSuffix(s, "cnr") {
			continue
		}
		if _, dup := g.toks[s]; !dup {
			g.toks[s] = where
			return s
		}
	}
}

// textTok is a canary that no rule reads (not a label, id, ref, name a
// rule compares): changing it must change nothing a customer cannot see.
func (g *registry) textTok(where string) string {
	t := g.tok(where)
	g.text[t] = true
	return t
}

func (g *registry) num(where string) int {
	for {
		n := 700000000 + g.r.IntN(99999999)
		s := fmt.Sprint(n)
		if _, dup := g.nums[s]; !dup {
			g.nums[s] = where
			return n
		}
	}
}

// date is an instant in a year of its own (and the next, which buffered
// due dates may reach), months February to November so that no time zone
// moves it to another year.
func (g *registry) date(where string) time.Time {
	y := g.year
	g.year += 3
	t := time.Date(y, time.Month(2+g.r.IntN(10)), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), 0, 0, time.UTC)
	for d := -1; d <= 1; d++ {
		g.dates[t.AddDate(0, 0, d).Format(time.DateOnly)] = where
	}
	return t
}

// fpol is where a canonical field's value may show.
type fpol int

const (
	fKey       fpol = iota // identity: only in key positions of the View, which renderers never print
	fNever                 // never leaves: the test fills it with a canary
	fPool                  // never leaves, but rules read it: values from canary pools the generator picks
	fEnum                  // a fixed vocabulary (kind, state): cannot hold a canary
	fBool                  // cannot hold a canary
	fTitle                 // with a published item: title source, or title section's fallback
	fBody                  // by show.body / show.title section, minus every hidden place
	fAssignees             // show.assignees
	fDue                   // show.dates, buffered
	fFields                // show.fields, by name
	fComments              // walked with commentPolicy
	fCAuthor               // comment_author: name, on a shown comment or update
	fCCreated              // time of a shown comment or update
	fCBody                 // the part after the marker or the /status health
	fMsName                // a shown milestone
	fMsDesc                // milestone_description: section
	fMsDue                 // a shown milestone, show.dates, buffered
)

// Every field of the canonical types must be listed: a field added to
// item.Item, item.Comment or item.Milestone fails the hunt until someone
// decides where its value may show and the generator gives it a canary.
var (
	itemPolicy = map[string]fpol{
		"ID": fKey, "Source": fKey, "Ref": fPool, "URL": fNever,
		"Kind": fEnum, "Type": fPool, "Title": fTitle, "Body": fBody,
		"Status": fPool, "State": fEnum, "Resolution": fNever,
		"Labels": fPool, "Parent": fKey, "Milestone": fKey, "Assignees": fAssignees, "Reporter": fNever,
		"Created": fNever, "Updated": fNever, "Start": fNever, "Due": fDue, "Completed": fNever,
		"Fields": fFields, "SecurityLevel": fPool,
		"Comments": fComments, "CommentCount": fNever, "CommentsLoaded": fBool,
	}
	commentPolicy = map[string]fpol{
		"ID": fKey, "Author": fCAuthor, "Created": fCCreated, "Updated": fNever, "Body": fCBody,
		"Internal": fBool, "Restricted": fBool,
	}
	milestonePolicy = map[string]fpol{
		"ID": fKey, "Source": fKey, "Name": fMsName, "Description": fMsDesc, "Due": fMsDue,
		"Closed": fBool, "URL": fNever, "Updated": fNever,
	}
)

// policyErrors checks that every field of the canonical types has a policy
// and every policy a field.
func policyErrors() []string {
	var out []string
	check := func(t reflect.Type, pols map[string]fpol) {
		seen := map[string]bool{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			seen[f.Name] = true
			p, ok := pols[f.Name]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s has no canary policy in leakhunt: decide where it may show, add it to the policy table and give it a canary", t.Name(), f.Name))
				continue
			}
			if p == fNever && !fillable(f.Type) {
				out = append(out, fmt.Sprintf("%s.%s (%s) must never leave but leakhunt cannot fill that type with a canary: extend fillNever", t.Name(), f.Name, f.Type))
			}
			if p == fBool && f.Type.Kind() != reflect.Bool {
				out = append(out, fmt.Sprintf("%s.%s is not a bool: give it a canary policy", t.Name(), f.Name))
			}
		}
		for name := range pols {
			if !seen[name] {
				out = append(out, fmt.Sprintf("%s.%s has a canary policy but no longer exists", t.Name(), name))
			}
		}
	}
	check(reflect.TypeOf(item.Item{}), itemPolicy)
	check(reflect.TypeOf(item.Comment{}), commentPolicy)
	check(reflect.TypeOf(item.Milestone{}), milestonePolicy)
	return out
}

var (
	tString  = reflect.TypeOf("")
	tStrings = reflect.TypeOf([]string(nil))
	tTime    = reflect.TypeOf(time.Time{})
	tTimeP   = reflect.TypeOf(&time.Time{})
	tDueP    = reflect.TypeOf(&item.Due{})
	tMap     = reflect.TypeOf(map[string]any{})
)

func fillable(t reflect.Type) bool {
	switch t {
	case tString, tStrings, tTime, tTimeP, tDueP, tMap:
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int64:
		return true
	}
	return false
}

// fillNever puts a canary in every fNever field of v (a struct), walking
// the type so that a new field is filled as soon as it has a policy.
func fillNever(g *registry, v reflect.Value, pols map[string]fpol, where string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if pols[f.Name] != fNever {
			continue
		}
		fv := v.Field(i)
		w := where + "." + f.Name
		switch {
		case f.Type == tStrings:
			fv.Set(reflect.ValueOf([]string{g.textTok(w)}))
		case f.Type == tTime:
			fv.Set(reflect.ValueOf(g.date(w)))
		case f.Type == tTimeP:
			d := g.date(w)
			fv.Set(reflect.ValueOf(&d))
		case f.Type == tDueP:
			d := g.date(w)
			if g.r.IntN(2) == 0 {
				fv.Set(reflect.ValueOf(&item.Due{Date: d.Format(time.DateOnly)}))
			} else {
				fv.Set(reflect.ValueOf(&item.Due{At: d}))
			}
		case f.Type == tMap:
			fv.Set(reflect.ValueOf(map[string]any{g.textTok(w + " key"): g.textTok(w + " value")}))
		case f.Type.Kind() == reflect.String:
			fv.SetString(g.textTok(w))
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			fv.SetInt(int64(g.num(w)))
		}
	}
}
