package jira

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The JQL subset the fake understands. Anything else is answered 400 with
// Jira's errorMessages shape (never silently ignored):
//
//	clause   := field op value | field (in | not in) (v, …) | field is [not] (EMPTY | NULL)
//	query    := [or] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
//	or       := and {OR and};  and := not {AND not};  not := NOT not | ( or ) | clause
//	fields   := project, key/issuekey, id, labels, component, issuetype/type, status,
//	            statusCategory, resolution, fixVersion, parent, updated, created
//	ops      := = != > >= < <= (dates, ids), in, not in, is, is not
//	dates    := "yyyy/MM/dd HH:mm", "yyyy-MM-dd HH:mm", "yyyy/MM/dd", "yyyy-MM-dd",
//	            or -N(m|h|d|w); read in the searching user's time zone
//	order by := updated, created, id, key (ties broken by id ascending)
//
// Like Jira, `!=` and `not in` never match an issue whose field is empty
// (`labels != x` skips unlabelled issues).

type jqlError struct{ msg string }

func (e *jqlError) Error() string { return e.msg }

func jqlErrf(format string, a ...any) error { return &jqlError{msg: fmt.Sprintf(format, a...)} }

type token struct {
	kind   byte // 'w' word, 's' quoted string, 'o' operator, '(' ')' ','
	text   string
	pos    int
	quoted bool
}

func lexJQL(q string) ([]token, error) {
	var out []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')' || r == ',':
			out = append(out, token{kind: byte(r), text: string(r), pos: i})
			i++
		case r == '"' || r == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, jqlErrf("Error in the JQL Query: The quoted string '%s' has not been completed. (line 1, character %d)", string(rs[i:]), i+1)
			}
			out = append(out, token{kind: 's', text: b.String(), pos: i, quoted: true})
			i = j + 1
		case strings.ContainsRune("=!<>~", r):
			j := i + 1
			if j < len(rs) && (rs[j] == '=' || (r == '!' && rs[j] == '~')) {
				j++
			}
			op := string(rs[i:j])
			if op == "!" {
				return nil, jqlErrf("Error in the JQL Query: The character '!' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0021' instead. (line 1, character %d)", i+1)
			}
			out = append(out, token{kind: 'o', text: op, pos: i})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("()=!<>~,\"'", rs[j]) {
				j++
			}
			out = append(out, token{kind: 'w', text: string(rs[i:j]), pos: i})
			i = j
		}
	}
	return out, nil
}

type jqlQuery struct {
	where node
	order []orderKey
}

type orderKey struct {
	field string
	desc  bool
}

type node interface {
	eval(is *issue) bool
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

func (n andNode) eval(is *issue) bool { return n.l.eval(is) && n.r.eval(is) }
func (n orNode) eval(is *issue) bool  { return n.l.eval(is) || n.r.eval(is) }
func (n notNode) eval(is *issue) bool { return !n.x.eval(is) }

// predNode is a compiled clause.
type predNode struct{ f func(is *issue) bool }

func (n predNode) eval(is *issue) bool { return n.f(is) }

type jqlParser struct {
	toks []token
	i    int
	c    *jqlCompiler
}

func (p *jqlParser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *jqlParser) isWord(words ...string) bool {
	t := p.peek()
	if t == nil || t.kind != 'w' {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *jqlParser) errAt(expect string) error {
	t := p.peek()
	if t == nil {
		return jqlErrf("Error in the JQL Query: Expecting %s but reached the end of the query.", expect)
	}
	return jqlErrf("Error in the JQL Query: Expecting %s but got '%s'. (line 1, character %d)", expect, t.text, t.pos+1)
}

// parseJQL parses and compiles a query for one searcher.
func parseJQL(q string, c *jqlCompiler) (*jqlQuery, error) {
	toks, err := lexJQL(q)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks, c: c}
	out := &jqlQuery{}
	if p.peek() != nil && !p.isWord("order") {
		if out.where, err = p.parseOr(); err != nil {
			return nil, err
		}
	}
	if p.isWord("order") {
		p.i++
		if !p.isWord("by") {
			return nil, p.errAt("'by'")
		}
		p.i++
		for {
			t := p.peek()
			if t == nil || (t.kind != 'w' && t.kind != 's') {
				return nil, p.errAt("a field name")
			}
			p.i++
			f := strings.ToLower(t.text)
			switch f {
			case "updated", "updateddate":
				f = "updated"
			case "created", "createddate":
				f = "created"
			case "issuekey", "key":
				f = "key"
			case "id":
			default:
				if fieldClause(f) == "" && !fieldByName(t.text) {
					return nil, jqlErrf("Field '%s' does not exist or you do not have permission to view it.", t.text)
				}
				return nil, jqlErrf("Not able to sort using field '%s'.", t.text)
			}
			k := orderKey{field: f}
			if p.isWord("asc") {
				p.i++
			} else if p.isWord("desc") {
				k.desc = true
				p.i++
			}
			out.order = append(out.order, k)
			if t := p.peek(); t != nil && t.kind == ',' {
				p.i++
				continue
			}
			break
		}
	}
	if p.peek() != nil {
		return nil, p.errAt("either 'OR' or 'AND'")
	}
	return out, nil
}

func (p *jqlParser) parseOr() (node, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") || p.isWord("||") {
		p.i++
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *jqlParser) parseAnd() (node, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") || p.isWord("&&") {
		p.i++
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *jqlParser) parseNot() (node, error) {
	if p.isWord("not") {
		p.i++
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	if t := p.peek(); t != nil && t.kind == '(' {
		p.i++
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t == nil || t.kind != ')' {
			return nil, p.errAt("')'")
		}
		p.i++
		return x, nil
	}
	return p.parseClause()
}

func (p *jqlParser) parseClause() (node, error) {
	ft := p.peek()
	if ft == nil || (ft.kind != 'w' && ft.kind != 's') || p.isWord("and", "or", "order") {
		return nil, p.errAt("a field name")
	}
	p.i++
	field := ft.text
	var op string
	switch t := p.peek(); {
	case t == nil:
		return nil, p.errAt("operator")
	case t.kind == 'o':
		op = t.text
		p.i++
	case p.isWord("in"):
		op = "in"
		p.i++
	case p.isWord("is"):
		p.i++
		op = "is"
		if p.isWord("not") {
			op = "is not"
			p.i++
		}
	case p.isWord("not"):
		p.i++
		if !p.isWord("in") {
			return nil, p.errAt("'in'")
		}
		p.i++
		op = "not in"
	case p.isWord("was", "changed"):
		return nil, jqlErrf("fake/jira: the '%s' operator is not supported by this fake (line 1, character %d)", t.text, t.pos+1)
	default:
		return nil, jqlErrf("Error in the JQL Query: Expecting operator but got '%s'. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character %d)", t.text, t.pos+1)
	}
	var vals []token
	empty := false
	switch op {
	case "in", "not in":
		if t := p.peek(); t == nil || t.kind != '(' {
			return nil, p.errAt("'('")
		}
		p.i++
		for {
			t := p.peek()
			if t == nil || (t.kind != 'w' && t.kind != 's') {
				return nil, p.errAt("a value")
			}
			p.i++
			if err := p.rejectFunction(t); err != nil {
				return nil, err
			}
			vals = append(vals, *t)
			if t := p.peek(); t != nil && t.kind == ',' {
				p.i++
				continue
			}
			break
		}
		if t := p.peek(); t == nil || t.kind != ')' {
			return nil, p.errAt("')'")
		}
		p.i++
	case "is", "is not":
		if !p.isWord("empty", "null") {
			return nil, p.errAt("EMPTY or NULL")
		}
		p.i++
		empty = true
	default:
		t := p.peek()
		if t == nil || (t.kind != 'w' && t.kind != 's') {
			return nil, p.errAt("either a value, list or function")
		}
		p.i++
		if err := p.rejectFunction(t); err != nil {
			return nil, err
		}
		if !t.quoted && (strings.EqualFold(t.text, "empty") || strings.EqualFold(t.text, "null")) {
			empty = true
		}
		vals = append(vals, *t)
	}
	return p.c.compile(field, op, vals, empty)
}

func (p *jqlParser) rejectFunction(t *token) error {
	if n := p.peek(); n != nil && n.kind == '(' && !t.quoted {
		return jqlErrf("fake/jira: JQL function %s() is not supported by this fake (line 1, character %d)", t.text, t.pos+1)
	}
	return nil
}

// jqlCompiler resolves field names and values for one searcher.
type jqlCompiler struct {
	s        *Server
	cred     *credState
	loc      *time.Location
	now      time.Time
	projects []string // project keys the JQL named
}

func fieldClause(name string) string {
	switch strings.ToLower(name) {
	case "project":
		return "project"
	case "key", "issuekey", "issue":
		return "key"
	case "id":
		return "id"
	case "labels", "label":
		return "labels"
	case "component", "components":
		return "component"
	case "issuetype", "type":
		return "issuetype"
	case "status":
		return "status"
	case "statuscategory":
		return "statusCategory"
	case "resolution":
		return "resolution"
	case "fixversion":
		return "fixVersion"
	case "parent":
		return "parent"
	case "updated", "updateddate":
		return "updated"
	case "created", "createddate":
		return "created"
	}
	return ""
}

var relDate = regexp.MustCompile(`^-(\d+)([mhdw])$`)

func (c *jqlCompiler) date(field, v string) (time.Time, error) {
	if m := relDate.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return c.now.Add(-time.Duration(n) * unit), nil
	}
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, c.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, jqlErrf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v, field)
}

var eqOps = []string{"=", "!=", "in", "not in"}

func (c *jqlCompiler) compile(name, op string, vals []token, empty bool) (node, error) {
	field := fieldClause(name)
	if field == "" {
		if fieldByName(name) {
			return nil, jqlErrf("fake/jira: searching by field '%s' is not supported by this fake.", name)
		}
		return nil, jqlErrf("Field '%s' does not exist or you do not have permission to view it.", name)
	}
	allowed := map[string][]string{
		"project": eqOps, "key": append(eqOps, ">", ">=", "<", "<="), "id": append(eqOps, ">", ">=", "<", "<="),
		"labels": eqOps, "component": eqOps, "issuetype": eqOps, "status": eqOps, "statusCategory": eqOps,
		"resolution": eqOps, "fixVersion": eqOps, "parent": eqOps,
		"updated": {"=", "!=", ">", ">=", "<", "<="}, "created": {"=", "!=", ">", ">=", "<", "<="},
	}[field]
	emptyable := map[string]bool{"labels": true, "component": true, "resolution": true, "fixVersion": true, "parent": true}
	if empty {
		if !emptyable[field] {
			return nil, jqlErrf("The field '%s' does not support searching for EMPTY values.", name)
		}
		get := c.multi(field)
		want := op == "is" || op == "="
		return predNode{func(is *issue) bool { return (len(get(is)) == 0) == want }}, nil
	}
	if !slices.Contains(allowed, op) {
		return nil, jqlErrf("The operator '%s' is not supported by the '%s' field.", op, name)
	}
	if op == "in" || op == "not in" || op == "=" || op == "!=" {
		if field == "updated" || field == "created" {
			return c.dateClause(field, op, vals[0].text)
		}
		set, err := c.valueSet(field, vals)
		if err != nil {
			return nil, err
		}
		get := c.multi(field)
		positive := op == "in" || op == "="
		return predNode{func(is *issue) bool {
			have := get(is)
			if len(have) == 0 {
				// Jira: != and NOT IN never match an empty field.
				return false
			}
			hit := slices.ContainsFunc(have, func(h string) bool { return set[strings.ToLower(h)] })
			return hit == positive
		}}, nil
	}
	switch field {
	case "updated", "created":
		return c.dateClause(field, op, vals[0].text)
	case "id":
		n, err := strconv.ParseInt(vals[0].text, 10, 64)
		if err != nil {
			return nil, jqlErrf("The value '%s' is not a valid issue id.", vals[0].text)
		}
		return predNode{func(is *issue) bool { return cmpInt(is.id, n, op) }}, nil
	case "key":
		id, ok := c.keyID(vals[0].text)
		if !ok {
			return nil, jqlErrf("An issue with key '%s' does not exist for field 'key'.", vals[0].text)
		}
		return predNode{func(is *issue) bool { return cmpInt(is.id, id, op) }}, nil
	}
	return nil, jqlErrf("The operator '%s' is not supported by the '%s' field.", op, name)
}

func fieldByName(name string) bool {
	for _, f := range fieldCatalog {
		if strings.EqualFold(f.id, name) || strings.EqualFold(f.name, name) || slices.ContainsFunc(f.clauses, func(c string) bool { return strings.EqualFold(c, name) }) {
			return true
		}
	}
	return false
}

func cmpInt(a, b int64, op string) bool {
	switch op {
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	return false
}

func (c *jqlCompiler) dateClause(field, op, v string) (node, error) {
	t, err := c.date(field, v)
	if err != nil {
		return nil, err
	}
	get := func(is *issue) time.Time { return is.updated }
	if field == "created" {
		get = func(is *issue) time.Time { return is.created }
	}
	return predNode{func(is *issue) bool {
		// Jira keeps milliseconds; a JQL date has minutes at most.
		x := get(is)
		switch op {
		case "=":
			return x.Truncate(time.Minute).Equal(t)
		case "!=":
			return !x.Truncate(time.Minute).Equal(t)
		case ">":
			return x.After(t)
		case ">=":
			return !x.Before(t)
		case "<":
			return x.Before(t)
		case "<=":
			return !x.After(t)
		}
		return false
	}}, nil
}

// multi returns the (lower-cased where Jira compares case-insensitively)
// values an issue has for a field.
func (c *jqlCompiler) multi(field string) func(is *issue) []string {
	switch field {
	case "project":
		return func(is *issue) []string { return []string{is.project} }
	case "key":
		return func(is *issue) []string { return append([]string{is.key}, is.oldKeys...) }
	case "id":
		return func(is *issue) []string { return []string{strconv.FormatInt(is.id, 10)} }
	case "labels":
		return func(is *issue) []string { return is.labels }
	case "component":
		return func(is *issue) []string { return is.components }
	case "issuetype":
		return func(is *issue) []string { return []string{is.typ} }
	case "status":
		return func(is *issue) []string { return []string{is.status} }
	case "statusCategory":
		return func(is *issue) []string { return []string{statusByName(is.status).category.name} }
	case "resolution":
		return func(is *issue) []string {
			if is.resolution == "" {
				return nil
			}
			return []string{is.resolution}
		}
	case "fixVersion":
		return func(is *issue) []string { return is.fixVersions }
	case "parent":
		return func(is *issue) []string {
			if is.parentID == 0 {
				return nil
			}
			return []string{strconv.FormatInt(is.parentID, 10)}
		}
	}
	return func(*issue) []string { return nil }
}

// valueSet resolves the values of an equality clause to the lower-cased
// names multi() returns, validating them as Jira does.
func (c *jqlCompiler) valueSet(field string, vals []token) (map[string]bool, error) {
	set := map[string]bool{}
	for _, t := range vals {
		v := t.text
		switch field {
		case "project":
			p := c.s.projectByIDOrKey(v)
			if p == nil {
				for _, q := range c.s.projects {
					if strings.EqualFold(q.name, v) {
						p = q
					}
				}
			}
			if p == nil || (c.cred != nil && (c.cred.perms[p.key]&PermBrowse == 0 || c.cred.lost[p.key] == 404)) {
				return nil, jqlErrf("The value '%s' does not exist for the field 'project'.", v)
			}
			c.projects = append(c.projects, p.key)
			set[strings.ToLower(p.key)] = true
		case "key":
			id, ok := c.keyID(v)
			if !ok {
				return nil, jqlErrf("An issue with key '%s' does not exist for field 'key'.", v)
			}
			set[strings.ToLower(c.s.issueByID(id).key)] = true
			for _, k := range c.s.issueByID(id).oldKeys {
				set[strings.ToLower(k)] = true
			}
		case "id":
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return nil, jqlErrf("The value '%s' is not a valid issue id.", v)
			}
			set[v] = true
		case "issuetype":
			it := issueTypeByName(v)
			if it == nil {
				return nil, jqlErrf("The value '%s' does not exist for the field 'issuetype'.", v)
			}
			set[strings.ToLower(it.name)] = true
		case "status":
			st := statusByName(v)
			if st == nil {
				return nil, jqlErrf("The value '%s' does not exist for the field 'status'.", v)
			}
			set[strings.ToLower(st.name)] = true
		case "statusCategory":
			cat := categoryByName(v)
			if cat == nil {
				return nil, jqlErrf("The value '%s' does not exist for the field 'statusCategory'.", v)
			}
			set[strings.ToLower(cat.name)] = true
		case "resolution":
			if strings.EqualFold(v, "unresolved") {
				return nil, jqlErrf("fake/jira: use 'resolution is EMPTY' instead of 'Unresolved' with this fake.")
			}
			r := resolutionByName(v)
			if r == nil {
				return nil, jqlErrf("The value '%s' does not exist for the field 'resolution'.", v)
			}
			set[strings.ToLower(r.name)] = true
		case "parent":
			id, ok := c.keyID(v)
			if !ok {
				return nil, jqlErrf("An issue with key '%s' does not exist for field 'parent'.", v)
			}
			set[strconv.FormatInt(id, 10)] = true
		default: // labels, component, fixVersion: free text
			set[strings.ToLower(v)] = true
		}
	}
	return set, nil
}

// keyID resolves an issue key or id the searcher may see.
func (c *jqlCompiler) keyID(v string) (int64, bool) {
	id, ok := c.s.lookupIDLocked(v)
	if !ok {
		return 0, false
	}
	is := c.s.issues[id]
	if is == nil {
		return 0, false
	}
	if c.cred != nil && !c.s.canSee(c.cred, is) {
		return 0, false
	}
	return id, true
}

// sortIssues orders search results; ties (and no ORDER BY) fall back to id.
func sortIssues(list []*issue, order []orderKey) {
	if len(order) == 0 {
		order = []orderKey{{field: "id", desc: true}}
	}
	slices.SortStableFunc(list, func(a, b *issue) int {
		for _, k := range order {
			var c int
			switch k.field {
			case "updated":
				c = a.updated.Compare(b.updated)
			case "created":
				c = a.created.Compare(b.created)
			case "id":
				c = cmp64(a.id, b.id)
			case "key":
				pa, na := splitKey(a.key)
				pb, nb := splitKey(b.key)
				c = strings.Compare(pa, pb)
				if c == 0 {
					c = na - nb
				}
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp64(a.id, b.id)
	})
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func splitKey(k string) (string, int) {
	i := strings.LastIndexByte(k, '-')
	n, _ := strconv.Atoi(k[i+1:])
	return k[:i], n
}
