// Package mapping applies each customer's rules to the snapshots of that
// customer's sources and produces the curated View: the only thing renderers
// and mirror targets write from.
//
// Rules are compiled once (Compile); curating is a pure function of the
// snapshots (Curate), so the same input gives the same View and the same
// hashes, and a change to anything the customer cannot see changes nothing.
package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"vitrine/config"
)

// Defaults of the rules that mapping applies itself, so that a zero value
// never widens what leaves.
const (
	DefaultCommentMarker = "[client]"
	DefaultStatusWord    = "In progress"
	DefaultDoneWord      = "Done"
	CancelledRetract     = "retract"
	agencyTeam           = "Agency team"
)

// Set is every customer's compiled rules.
type Set struct {
	customers []*Customer
	byID      map[string]*Customer
}

// Customer is one customer's compiled rules.
type Customer struct {
	cfg       config.Customer
	loc       *time.Location
	sources   []string
	sourceSet map[string]bool
	when      *vm.Program

	// Resolved show and status settings (defaults applied).
	titleSection   bool
	body           string // none | section | all
	comments       bool
	commentMarker  string
	authorName     bool
	teamName       string
	msDescription  bool
	fieldNames     []string
	statusDefault  string
	statusDone     string
	cancelledWord  string // "" when cancelled items are retracted
	allowSecLevels map[string]bool
	statusAuthors  map[string]bool
}

// Compile checks and compiles every customer's rules. Errors are Problems
// naming the file and line of the offending value.
func Compile(r *config.Rules) (*Set, error) {
	s := &Set{byID: map[string]*Customer{}}
	var probs config.Problems
	for i := range r.Customers {
		c, ps := compileCustomer(&r.Customers[i])
		probs = append(probs, ps...)
		if c == nil {
			continue
		}
		if _, dup := s.byID[c.cfg.ID]; dup {
			probs.Add(c.cfg.PosOf("id"), field(c.cfg.ID, "id"), "customer %q appears twice", c.cfg.ID)
			continue
		}
		s.byID[c.cfg.ID] = c
		s.customers = append(s.customers, c)
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func compileCustomer(cc *config.Customer) (*Customer, config.Problems) {
	var probs config.Problems
	bad := func(name, format string, args ...any) {
		probs.Add(cc.PosOf(name), field(cc.ID, name), format, args...)
	}
	c := &Customer{cfg: copyCustomer(cc), sourceSet: map[string]bool{}}
	if cc.ID == "" {
		bad("customers.id", "missing")
	}

	tz := cc.Timezone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		bad("timezone", "%q is not an IANA time zone", tz)
		loc = time.UTC
	}
	c.loc = loc
	c.cfg.Timezone = tz

	for _, src := range cc.Sources {
		key := SourceKey(src)
		if key == "" {
			probs.Add(posOr(src.Pos, cc.PosOf("sources")), field(cc.ID, "sources"), "want exactly one of github (with repo), jira (with project), file (with path)")
			continue
		}
		if !c.sourceSet[key] {
			c.sourceSet[key] = true
			c.sources = append(c.sources, key)
		}
	}

	prog, perr := compileWhen(cc.Publish.When, loc)
	if perr != nil {
		probs.Add(posOr(cc.Publish.WhenPos, cc.PosOf("publish.when")), field(cc.ID, "publish.when"), "%s", perr)
	}
	c.when = prog

	sh := cc.Show
	switch sh.Title {
	case "", "source":
	case "section":
		c.titleSection = true
	default:
		bad("show.title", "%q is not source or section", sh.Title)
	}
	switch sh.Body {
	case "", "none":
		c.body = "none"
	case "section", "all":
		c.body = sh.Body
	default:
		bad("show.body", "%q is not none, section or all", sh.Body)
	}
	switch sh.Comments {
	case "", "none":
	case "marked":
		c.comments = true
	default:
		bad("show.comments", "%q is not none or marked", sh.Comments)
	}
	c.commentMarker = sh.CommentMarker
	if c.commentMarker == "" {
		c.commentMarker = DefaultCommentMarker
	}
	switch sh.CommentAuthor {
	case "", "team":
	case "name":
		c.authorName = true
	default:
		bad("show.comment_author", "%q is not team or name", sh.CommentAuthor)
	}
	c.teamName = sh.TeamName
	if c.teamName == "" {
		c.teamName = agencyTeam
		if cc.Name != "" {
			c.teamName = cc.Name + " team"
		}
	}
	switch sh.MilestoneDescription {
	case "", "none":
	case "section":
		c.msDescription = true
	default:
		bad("show.milestone_description", "%q is not none or section", sh.MilestoneDescription)
	}
	if (c.body == "section" || c.titleSection || c.msDescription) && sh.BodySection == "" {
		// Without a section name nothing can be cut out; keeping the whole
		// text instead would widen what leaves.
		bad("show.body_section", "missing: show.title, show.body or show.milestone_description use a section")
	}
	c.fieldNames = append([]string(nil), sh.Fields...)
	if cc.Dates.BufferDays < 0 {
		bad("dates.buffer_days", "%d is negative", cc.Dates.BufferDays)
	}

	st := cc.Statuses
	c.statusDefault = orDefault(st.Default, DefaultStatusWord)
	c.statusDone = orDefault(st.Done, DefaultDoneWord)
	if st.Cancelled != "" && st.Cancelled != CancelledRetract {
		c.cancelledWord = st.Cancelled
	}
	for _, k := range st.Map.Keys {
		if v, _ := st.Map.Get(k); v == "" {
			bad("statuses.map", "status %q maps to an empty word", k)
		}
	}

	c.allowSecLevels = setOf(cc.Publish.AllowSecurityLevels)
	c.statusAuthors = setOf(cc.Publish.StatusAuthors)
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

// copyCustomer keeps the compiled rules independent of later changes to
// the caller's config.
func copyCustomer(cc *config.Customer) config.Customer {
	c := *cc
	c.Sources = append([]config.Source(nil), cc.Sources...)
	c.Targets = append([]config.Target(nil), cc.Targets...)
	c.Publish.StatusAuthors = append([]string(nil), cc.Publish.StatusAuthors...)
	c.Publish.AllowSecurityLevels = append([]string(nil), cc.Publish.AllowSecurityLevels...)
	c.Show.LinkDomains = append([]string(nil), cc.Show.LinkDomains...)
	c.Show.Fields = append([]string(nil), cc.Show.Fields...)
	c.Statuses.Map.Keys = append([]string(nil), cc.Statuses.Map.Keys...)
	vals := make(map[string]string, len(cc.Statuses.Map.Values))
	for k, v := range cc.Statuses.Map.Values {
		vals[k] = v
	}
	c.Statuses.Map.Values = vals
	return c
}

// field is the readable path config.Problem uses: customers[acme].show.body.
func field(customer, name string) string {
	return "customers[" + customer + "]." + name
}

func posOr(p, fallback config.Pos) config.Pos {
	if p.File == "" && p.Line == 0 {
		return fallback
	}
	return p
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// SourceKey names one source container: the value of item.Item.Source for
// every item read from it. Connectors and the engine must form keys with
// this function so that the same container always has one key:
//
//	github:agency/acme-internal              (api_url set: github:<host>/agency/acme-internal)
//	jira:<url host or "default">/ACME        (one key per project; a jql is a per-customer filter)
//	file:deploy/demo/board.yaml              (the path as written)
//
// GitHub owner/repo and hosts are case-insensitive, so they are lower-cased;
// Jira project keys are upper-cased. It returns "" unless exactly one kind
// is set with its container named.
func SourceKey(s config.Source) string {
	n := 0
	for _, set := range []bool{s.GitHub != nil, s.Jira != nil, s.File != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return ""
	}
	switch {
	case s.GitHub != nil:
		repo := strings.ToLower(strings.TrimSpace(s.GitHub.Repo))
		if repo == "" {
			return ""
		}
		if h := APIHost(s.GitHub.APIURL); h != "" && h != "api.github.com" {
			return "github:" + h + "/" + repo
		}
		return "github:" + repo
	case s.Jira != nil:
		p := strings.ToUpper(strings.TrimSpace(s.Jira.Project))
		if p == "" {
			return ""
		}
		h := APIHost(s.Jira.URL)
		if h == "" {
			h = "default"
		}
		key := "jira:" + h + "/" + p
		// A customer's jql is a membership filter over the project: each
		// filter is a source of its own, polled and verified with its own
		// query, so no customer ever holds an item outside its filter.
		if q := strings.Join(strings.Fields(s.Jira.JQL), " "); q != "" {
			sum := sha256.Sum256([]byte(q))
			key += "~" + hex.EncodeToString(sum[:6])
		}
		return key
	default:
		if s.File.Path == "" {
			return ""
		}
		if s.File.Key != "" {
			return "file:" + s.File.Key // set by config.Load: one key per board
		}
		return "file:" + s.File.Path
	}
}

// APIHost is the lower-case host of an API or site URL (the raw value,
// trimmed, when it has none): it tells sources and targets on other
// GitHub or Jira installations apart in keys and names.
func APIHost(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.Trim(raw, "/"))
	}
	return strings.ToLower(u.Host)
}

// Customers returns the compiled customers in file order.
func (s *Set) Customers() []*Customer { return append([]*Customer(nil), s.customers...) }

// Customer returns one compiled customer.
func (s *Set) Customer(id string) (*Customer, bool) {
	c, ok := s.byID[id]
	return c, ok
}

// SourcesFor returns the source keys whose snapshots Curate needs for this
// customer: its own, then those of every customer sharing one of them (their
// selection decides conflicts in the shared sources).
func (s *Set) SourcesFor(customerID string) []string {
	c, ok := s.byID[customerID]
	if !ok {
		return nil
	}
	out := append([]string(nil), c.sources...)
	seen := setOf(out)
	for _, o := range s.sharing(c) {
		for _, k := range o.sources {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// sharing lists the other customers reading at least one of c's sources,
// under its key or another key of the same container.
func (s *Set) sharing(c *Customer) []*Customer {
	var out []*Customer
	for _, o := range s.customers {
		if o == c {
			continue
		}
	found:
		for _, k := range o.sources {
			for _, ck := range c.sources {
				if sameContainer(k, ck) {
					out = append(out, o)
					break found
				}
			}
		}
	}
	return out
}

// sameContainer reports whether two source keys may name one tracker
// container: the same key, a Jira project with and without a jql filter
// (each filter is a source of its own over the same issues), or a host
// left to the default on one side (the environment decides it; config's
// isolation check assumes the same). File keys name one board each
// (config.FileSource.Key).
func sameContainer(a, b string) bool {
	if a == b {
		return true
	}
	kind, ra, _ := strings.Cut(a, ":")
	kindB, rb, _ := strings.Cut(b, ":")
	if kind != kindB || (kind != "jira" && kind != "github") {
		return false
	}
	split := func(rest string) (host, name string) {
		if kind == "jira" { // jira:<host or "default">/<KEY>[~<jql hash>]
			rest, _, _ = strings.Cut(rest, "~")
			host, name, _ = strings.Cut(rest, "/")
			if host == "default" {
				host = ""
			}
			return host, name
		}
		if strings.Count(rest, "/") == 2 { // github:<host>/<owner>/<repo>
			host, name, _ = strings.Cut(rest, "/")
			return host, name
		}
		return "", rest
	}
	ha, na := split(ra)
	hb, nb := split(rb)
	return na == nb && (ha == hb || ha == "" || hb == "")
}

// ID is the customer's slug.
func (c *Customer) ID() string { return c.cfg.ID }

// Name is the customer's display name.
func (c *Customer) Name() string { return c.cfg.Name }

// Paused reports `paused: true`; Curate works the same, the engine decides.
func (c *Customer) Paused() bool { return c.cfg.Paused }

// Location is the customer's time zone (UTC by default).
func (c *Customer) Location() *time.Location { return c.loc }

// Sources returns the source keys this customer reads, in rules order.
func (c *Customer) Sources() []string { return append([]string(nil), c.sources...) }

// Config returns a copy of the customer's rules as written.
func (c *Customer) Config() config.Customer { return copyCustomer(&c.cfg) }
