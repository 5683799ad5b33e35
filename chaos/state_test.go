package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	fake "vitrine/fake/github"
	"vitrine/item"
	"vitrine/mirror"
	"vitrine/store"
)

// The golden state is what a customer sees in its mirror repository:
// every live mirror issue (title, body, state, labels, milestone, vitrine's
// comments) and every live mirrored milestone, by the stable name of the
// source object it mirrors. Issue numbers, ids, the order mirrors were
// created in and mirrors retracted along the way differ between a clean
// and a faulty run of one seed and are left out; opaque keys are replaced
// by names (the fake's ids, which keys derive from, differ between runs).
// So is an issue's state_reason: GitHub takes one only with a change of
// state, so "reopened" or the reason a mirror was first closed with tells
// its history, not what it mirrors now.

type mirrorComment struct {
	Name   string `json:"name"`
	Author string `json:"author"`
	Body   string `json:"body"`
}

type mirrorIssue struct {
	Title     string          `json:"title"`
	Body      string          `json:"body"`
	State     string          `json:"state"`
	Labels    []string        `json:"labels"`
	Milestone string          `json:"milestone,omitempty"`
	Author    string          `json:"author"`
	Comments  []mirrorComment `json:"comments"`
}

type mirrorMilestone struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	State       string `json:"state"`
	DueOn       string `json:"due_on,omitempty"`
}

type mirrorState struct {
	Issues     map[string]mirrorIssue     `json:"issues"`
	Milestones map[string]mirrorMilestone `json:"milestones"`
}

func (s mirrorState) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return b.String()
}

var (
	markerRE = regexp.MustCompile(`<!-- vitrine:(v1[a-z2-7]{8,80})( retracted)? -->`)
	// A mirror comment's header: "**author** · 2026-01-05 09:13 UTC".
	// Markdown escaping may put a backslash before each '-'.
	commentTimeRE = regexp.MustCompile(`· (\d{4}\\?-\d{2}\\?-\d{2} \d{2}:\d{2}) UTC`)
)

// names maps every opaque key a run could have written for a pair to the
// stable name of its source object.
type names struct {
	byKey   map[string]string
	created map[string]string // comment name → its creation time as a mirror shows it
}

func namesOf(r *srcRepo) names {
	n := names{byKey: map[string]string{}, created: map[string]string{}}
	key := func(object string) string {
		return mirror.OpaqueKey([]byte(keySecret), r.p.customer, r.p.target(), object)
	}
	for _, is := range r.issues {
		id := item.MakeID(r.p.srcKey(), fmt.Sprint(is.id))
		n.byKey[key(id)] = is.name
		for _, c := range is.comments {
			n.byKey[key(mirror.CommentObject(id, fmt.Sprint(c.id)))] = c.name
			n.created[c.name] = c.created.UTC().Format("2006-01-02 15:04")
		}
	}
	for _, m := range r.milestones {
		n.byKey[key(mirror.MilestoneObject(item.MakeID(r.p.srcKey(), fmt.Sprintf("m-%d", m.id))))] = m.name
	}
	return n
}

func (n names) name(key string) string {
	if s, ok := n.byKey[key]; ok {
		return s
	}
	return "unknown-key:" + key
}

// renamed replaces the markers in text by names.
func (n names) renamed(text string) string {
	return markerRE.ReplaceAllStringFunc(text, func(m string) string {
		sm := markerRE.FindStringSubmatch(m)
		return "<!-- vitrine:" + n.name(sm[1]) + sm[2] + " -->"
	})
}

func lastKey(text string) (key string, retracted, ok bool) {
	ms := markerRE.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		return "", false, false
	}
	m := ms[len(ms)-1]
	return m[1], m[2] != "", true
}

func repoState(d fake.State, full string) fake.RepoState {
	for _, r := range d.Repos {
		if strings.EqualFold(r.Name, full) {
			return r
		}
	}
	panic("chaos: no repository " + full + " in the dump")
}

// inspection is what one pair's mirror repository holds.
type inspection struct {
	state      mirrorState
	duplicates []string // keys found on more than one issue, comment or milestone
	problems   []string // anything else that must not be there
	retracted  int
}

// inspect normalises the mirror repository of pair r from the fake's dump.
func inspect(d fake.State, r *srcRepo) inspection {
	n := namesOf(r)
	rs := repoState(d, r.p.dst)
	out := inspection{state: mirrorState{Issues: map[string]mirrorIssue{}, Milestones: map[string]mirrorMilestone{}}}
	issuesByKey := map[string][]int{}
	commentsOn := map[string][]int{} // comment key -> the issues it is on, once per copy
	for _, is := range rs.Issues {
		key, retracted, ok := lastKey(is.Body)
		if !ok {
			out.problems = append(out.problems, fmt.Sprintf("#%d %q carries no marker", is.Number, is.Title))
			continue
		}
		issuesByKey[key] = append(issuesByKey[key], is.Number)
		if strings.HasPrefix(n.name(key), "unknown-key:") {
			out.problems = append(out.problems, fmt.Sprintf("#%d carries a key no source object of %s has: %s", is.Number, r.p.customer, key))
		}
		if is.Author != bot {
			out.problems = append(out.problems, fmt.Sprintf("#%d written by %s", is.Number, is.Author))
		}
		var comments []mirrorComment
		for _, c := range is.Comments {
			ck, _, ok := lastKey(c.Body)
			if !ok {
				out.problems = append(out.problems, fmt.Sprintf("#%d: a comment without marker: %q", is.Number, c.Body))
				continue
			}
			commentsOn[ck] = append(commentsOn[ck], is.Number)
			name := n.name(ck)
			if strings.HasPrefix(name, "unknown-key:") {
				out.problems = append(out.problems, fmt.Sprintf("#%d: a comment carries a key no source comment has: %s", is.Number, ck))
			}
			body := n.renamed(c.Body)
			// The header shows when the source comment was written: check
			// it, then leave it out (the clock differs between runs).
			if m := commentTimeRE.FindStringSubmatch(body); m == nil || strings.ReplaceAll(m[1], `\`, "") != n.created[name] {
				out.problems = append(out.problems, fmt.Sprintf("#%d: comment %s shows another time than %s: %q", is.Number, name, n.created[name], c.Body))
			} else {
				body = strings.Replace(body, m[0], "· <created> UTC", 1)
			}
			comments = append(comments, mirrorComment{Name: name, Author: c.Author, Body: body})
		}
		if retracted {
			out.retracted++
			if r.p.deleteMode {
				out.problems = append(out.problems, fmt.Sprintf("#%d (%s) neutralised, but the target deletes", is.Number, n.name(key)))
			}
			if len(comments) > 0 || is.State != "closed" || len(is.Labels) > 0 || is.Milestone != "" {
				out.problems = append(out.problems, fmt.Sprintf("#%d (%s) retracted but shows %s, %d comments, labels %v, milestone %q",
					is.Number, n.name(key), is.State, len(comments), is.Labels, is.Milestone))
			}
			continue
		}
		sort.Slice(comments, func(i, j int) bool { return comments[i].Name < comments[j].Name })
		if comments == nil {
			comments = []mirrorComment{}
		}
		name := n.name(key)
		if _, dup := out.state.Issues[name]; dup {
			name += fmt.Sprintf(" (again as #%d)", is.Number)
		}
		out.state.Issues[name] = mirrorIssue{
			Title: is.Title, Body: n.renamed(is.Body), State: is.State,
			Labels: is.Labels, Milestone: is.Milestone, Author: is.Author, Comments: comments,
		}
	}
	for ck, nums := range commentsOn {
		if len(nums) > 1 {
			out.duplicates = append(out.duplicates, fmt.Sprintf("comment %s written %d times (on %v)", n.name(ck), len(nums), nums))
		}
	}
	for key, nums := range issuesByKey {
		if len(nums) > 1 {
			out.duplicates = append(out.duplicates, fmt.Sprintf("issue %s mirrored %d times: %v", n.name(key), len(nums), nums))
		}
	}
	msByKey := map[string][]int{}
	for _, m := range rs.Milestones {
		key, retracted, ok := lastKey(m.Description)
		if !ok {
			out.problems = append(out.problems, fmt.Sprintf("milestone %d %q carries no marker", m.Number, m.Title))
			continue
		}
		msByKey[key] = append(msByKey[key], m.Number)
		if strings.HasPrefix(n.name(key), "unknown-key:") {
			out.problems = append(out.problems, fmt.Sprintf("milestone %d carries a key no source milestone has: %s", m.Number, key))
		}
		if retracted {
			continue
		}
		out.state.Milestones[n.name(key)] = mirrorMilestone{Title: m.Title, Description: n.renamed(m.Description), State: m.State, DueOn: m.DueOn}
	}
	for key, nums := range msByKey {
		if len(nums) > 1 {
			out.duplicates = append(out.duplicates, fmt.Sprintf("milestone %s mirrored %d times: %v", n.name(key), len(nums), nums))
		}
	}
	sort.Strings(out.duplicates)
	sort.Strings(out.problems)
	return out
}

// expected is what the rules say a pair's mirror must show, from the
// source repository alone: published issues (label, no hide label on it or
// an ancestor, not closed as not planned), their public comments, and the
// milestones of published issues.
func expected(d fake.State, live []fake.Issue, r *srcRepo) (issues map[string][]string, milestones []string) {
	byID := map[int64]fake.Issue{}
	for _, x := range live {
		byID[x.ID] = x
	}
	names := map[int64]*srcIssue{}
	for _, is := range r.issues {
		names[is.id] = is
	}
	hidden := func(x fake.Issue) bool {
		for depth := 0; depth < 10; depth++ {
			if slices.Contains(x.Labels, labelHidden) {
				return true
			}
			p, ok := byID[x.ParentID]
			if x.ParentID == 0 || !ok {
				return false
			}
			x = p
		}
		return false
	}
	msTitle := map[int]string{}
	for _, m := range repoState(d, r.p.src).Milestones {
		msTitle[m.Number] = m.Title
	}
	msName := map[int]string{}
	for _, m := range r.milestones {
		if !m.deleted {
			msName[m.num] = m.name
		}
	}
	issues = map[string][]string{}
	seenMs := map[string]bool{}
	for _, x := range live {
		if !slices.Contains(x.Labels, labelVisible) || hidden(x) || (x.State == "closed" && x.StateReason == "not_planned") {
			continue
		}
		is := names[x.ID]
		comments := []string{}
		for _, c := range x.Comments {
			if strings.HasPrefix(c.Body, "[client]") {
				for _, sc := range is.comments {
					if sc.id == c.ID {
						comments = append(comments, sc.name)
					}
				}
			}
		}
		sort.Strings(comments)
		issues[is.name] = comments
		if x.Milestone != 0 && !seenMs[msName[x.Milestone]] {
			seenMs[msName[x.Milestone]] = true
			milestones = append(milestones, msName[x.Milestone])
		}
	}
	sort.Strings(milestones)
	return issues, milestones
}

// checkExpected compares a mirror with what the rules say it must show.
func checkExpected(d fake.State, live []fake.Issue, r *srcRepo, s mirrorState) []string {
	wantIssues, wantMs := expected(d, live, r)
	var out []string
	for name, comments := range wantIssues {
		got, ok := s.Issues[name]
		if !ok {
			out = append(out, "missing mirror of "+name)
			continue
		}
		var have []string
		for _, c := range got.Comments {
			have = append(have, c.Name)
		}
		if have == nil {
			have = []string{}
		}
		if !slices.Equal(have, comments) {
			out = append(out, fmt.Sprintf("%s: comments %v, want %v", name, have, comments))
		}
	}
	for name := range s.Issues {
		if _, ok := wantIssues[name]; !ok {
			out = append(out, "mirror of "+name+" should not be there")
		}
	}
	var haveMs []string
	for name := range s.Milestones {
		haveMs = append(haveMs, name)
	}
	sort.Strings(haveMs)
	if !slices.Equal(haveMs, wantMs) {
		out = append(out, fmt.Sprintf("milestones %v, want %v", haveMs, wantMs))
	}
	sort.Strings(out)
	return out
}

// auditDuplicates lists duplicates the applier found (and retracted) by
// key along the way: a duplicate that existed at all is a failure too.
func auditDuplicates(st store.Audit, customer string) ([]string, error) {
	es, err := st.ListAudit(bg, store.AuditQuery{Customer: customer})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.Action == "duplicate" {
			out = append(out, fmt.Sprintf("%s %s: %s", e.Target, e.Object, e.Detail))
		}
	}
	return out, nil
}

// diffLines is a small line diff for failure messages.
func diffLines(want, got string, most int) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < most; i++ {
		var x, y string
		if i < len(wl) {
			x = wl[i]
		}
		if i < len(gl) {
			y = gl[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d:\n  golden: %s\n  got:    %s\n", i+1, x, y)
			shown++
		}
	}
	return b.String()
}
