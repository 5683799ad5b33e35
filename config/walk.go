package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The rules are decoded by walking the yaml.Node tree alongside the Go type,
// not with yaml.v3's Decode and KnownFields: that stops at the first unknown
// key, names no file and no field path, and a user fixing a rules file wants
// every problem in one run. Leaves are still decoded by yaml.v3 so that
// scalars resolve exactly as YAML says.

var (
	durationType   = reflect.TypeFor[Duration]()
	orderedMapType = reflect.TypeFor[OrderedMap]()
	customerType   = reflect.TypeFor[Customer]()
	publishType    = reflect.TypeFor[Publish]()
	posType        = reflect.TypeFor[Pos]()
)

// slug is a customer id; ids that are not slugs are not used in field
// paths, which must stay free of colons.
var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

type decoder struct {
	file  string
	probs *Problems

	// budget bounds the nodes visited: aliases let a small file name a huge
	// tree (the "billion laughs"), and this walk expands them.
	budget int
	spent  bool

	// Positions of keys and list items, by field path relative to base:
	// a customer's own paths ("show.body") inside a customer, else the
	// file's ("include[0]").
	base string
	keys map[string]Pos
	bad  map[string]bool
}

func newDecoder(file string, size int, probs *Problems) *decoder {
	return &decoder{
		file:   file,
		probs:  probs,
		budget: 100_000 + 20*size,
		keys:   map[string]Pos{},
		bad:    map[string]bool{},
	}
}

type pair struct{ k, v *yaml.Node }

// rel is path relative to the current base.
func (d *decoder) rel(path string) string {
	if d.base == "" {
		return path
	}
	r := strings.TrimPrefix(path, d.base)
	return strings.TrimPrefix(r, ".")
}

func (d *decoder) record(path string, n *yaml.Node) {
	if r := d.rel(path); r != "" {
		d.keys[r] = Pos{File: d.file, Line: n.Line}
	}
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.probs.Add(Pos{File: d.file, Line: n.Line}, path, format, args...)
	d.bad[d.rel(path)] = true
}

func (d *decoder) spend() bool {
	d.budget--
	return d.budget < 0
}

// resolve follows aliases. The parser rejects unknown anchors, so a nil
// Alias only comes from a hand-built tree.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", clip(n.Value))
	}
	return "an unknown node"
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

const emptyValue = "empty value (remove the key to use the default)"

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if d.spend() {
		if !d.spent {
			d.spent = true
			d.fail(n, path, "the document expands to too many values (aliases)")
		}
		return
	}
	n = resolve(n)
	if n == nil {
		return
	}
	t := v.Type()
	switch t {
	case durationType:
		d.duration(n, v, path)
		return
	case orderedMapType:
		d.orderedMap(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		// A kind named with nothing under it (`- page:`) is that kind with
		// its defaults.
		e := reflect.New(t.Elem())
		d.value(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.String, reflect.Bool, reflect.Int:
		d.scalar(n, v, path)
	default:
		panic("config: no decoder for " + t.String())
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	want := map[reflect.Kind]string{
		reflect.String: "a text value",
		reflect.Bool:   "true or false",
		reflect.Int:    "a whole number",
	}[v.Kind()]
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", want, describe(n))
		return
	}
	if isNull(n) || (v.Kind() == reflect.String && n.Value == "") {
		// An explicit empty value is a mistake more often than a wish:
		// `comment_marker: ""` would make every comment public.
		d.fail(n, path, emptyValue)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if err := n.Decode(&b); err != nil {
			d.fail(n, path, "want %s, got %s", want, describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if err := n.Decode(&i); err != nil {
			d.fail(n, path, "want %s, got %s", want, describe(n))
			return
		}
		v.SetInt(int64(i))
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		d.fail(n, path, emptyValue)
		return
	}
	dur, err := parseDuration(n)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	v.Set(reflect.ValueOf(Duration{dur}))
}

func (d *decoder) orderedMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of internal status to customer word, got %s", describe(n))
		return
	}
	m := OrderedMap{Values: map[string]string{}}
	for i, p := range d.pairs(n, path, true) {
		kp := path + "[" + mapLabel(p.k.Value, i) + "]"
		d.record(kp, p.k)
		val := resolve(p.v)
		if val == nil {
			continue
		}
		if val.Kind != yaml.ScalarNode {
			d.fail(val, kp, "want a customer status word, got %s", describe(val))
			continue
		}
		if isNull(val) || strings.TrimSpace(val.Value) == "" {
			d.fail(val, kp, "empty status word")
			continue
		}
		m.Keys = append(m.Keys, p.k.Value)
		m.Values[p.k.Value] = val.Value
	}
	v.Set(reflect.ValueOf(m))
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", describe(n))
		return
	}
	t := v.Type()
	s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		if t.Elem() == customerType {
			if id := customerID(item); id != "" {
				ip = path + "[" + id + "]"
			}
		}
		d.record(ip, item)
		e := s.Index(i)
		if t.Elem().Kind() == reflect.Struct {
			// Customers, sources and targets are placed even when they
			// are not mappings, so that later problems point at them.
			if f := e.FieldByName("Pos"); f.IsValid() && f.Type() == posType {
				f.Set(reflect.ValueOf(Pos{File: d.file, Line: item.Line}))
			}
		}
		if t.Elem() == customerType {
			c := e.Addr().Interface().(*Customer)
			c.ref = ip
			if r := resolve(item); r == nil || r.Kind != yaml.MappingNode {
				c.bad = map[string]bool{"": true}
			}
		}
		if r := resolve(item); r != nil && isNull(r) && t.Elem().Kind() != reflect.String {
			// `- ` alone: an entry with nothing in it is a slip, not a
			// customer, source or target with every default.
			d.fail(item, ip, "empty entry")
			continue
		}
		d.value(item, e, ip)
	}
	v.Set(s)
}

// customerID is the id written in a customer's mapping, when it is a slug.
func customerID(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			v := resolve(n.Content[i+1])
			if v != nil && v.Kind == yaml.ScalarNode && slug.MatchString(v.Value) {
				return v.Value
			}
			return ""
		}
	}
	return ""
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for i, p := range d.pairs(n, path, true) {
		kp := path + "[" + mapLabel(p.k.Value, i) + "]"
		d.record(kp, p.k)
		e := reflect.New(t.Elem()).Elem()
		d.value(p.v, e, kp)
		m.SetMapIndex(reflect.ValueOf(p.k.Value), e)
	}
	v.Set(m)
}

// mapLabel names a map entry in a field path: its key, unless the key would
// make the path ambiguous; then its position.
func mapLabel(key string, i int) string {
	if safeName(key) && !strings.ContainsAny(key, "[]") {
		return key
	}
	return fmt.Sprint(i)
}

func safeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r == ':' || r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// pairs lists a mapping's entries with merge keys (`<<: *defaults`) applied:
// written keys win over merged ones. Keys that are not plain scalars and
// keys written twice are problems.
func (d *decoder) pairs(n *yaml.Node, path string, isMap bool) []pair {
	return d.pairsDepth(n, path, isMap, 0)
}

func (d *decoder) pairsDepth(n *yaml.Node, path string, isMap bool, depth int) []pair {
	var out []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.fail(k, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			kp := keyPath(path, k.Value)
			if isMap {
				kp = path + "[" + mapLabel(k.Value, i/2) + "]"
			}
			d.fail(k, kp, "key %q written twice (first at line %d)", clip(k.Value), first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	for _, m := range merges {
		m = resolve(m)
		if m == nil {
			continue
		}
		var maps []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			maps = append(maps, m)
		case yaml.SequenceNode:
			for _, e := range m.Content {
				if e = resolve(e); e != nil && e.Kind == yaml.MappingNode {
					maps = append(maps, e)
				} else if e != nil {
					d.fail(e, path, "a merge (<<) takes mappings, got %s", describe(e))
				}
			}
		default:
			d.fail(m, path, "a merge (<<) takes a mapping, got %s", describe(m))
		}
		for _, mm := range maps {
			if depth >= 8 || d.spend() {
				d.fail(mm, path, "merges (<<) nested too deep")
				continue
			}
			for _, p := range d.pairsDepth(mm, path, isMap, depth+1) {
				if _, ok := seen[p.k.Value]; ok {
					continue
				}
				seen[p.k.Value] = p.k
				out = append(out, p)
			}
		}
	}
	return out
}

// keyPath is the field path of a key, when the key can be part of one.
func keyPath(path, key string) string {
	if safeName(key) {
		return join(path, key)
	}
	return path
}

type structInfo struct {
	index map[string]int
	names []string
}

var structInfos sync.Map // reflect.Type -> *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		si.index[name] = i
		si.names = append(si.names, name)
	}
	structInfos.Store(t, si)
	return si
}

// unknownKey says what a misspelt key probably meant.
func (si *structInfo) unknownKey(key string) string {
	best, bestD := "", 3
	for _, name := range si.names {
		if d := distance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" && bestD <= len(best)/2 {
		return fmt.Sprintf("unknown key (did you mean %q?)", best)
	}
	names := append([]string(nil), si.names...)
	sort.Strings(names)
	return "unknown key (want one of " + strings.Join(names, ", ") + ")"
}

// distance is the Levenshtein distance, for suggestions only.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (key: value), got %s", describe(n))
		return
	}
	t := v.Type()
	if t == customerType {
		// A customer's positions travel with it, so that validation and
		// later stages report file:line of any of its fields.
		oldBase, oldKeys, oldBad := d.base, d.keys, d.bad
		d.base, d.keys, d.bad = path, map[string]Pos{}, map[string]bool{}
		defer func() {
			c := v.Addr().Interface().(*Customer)
			c.Pos = Pos{File: d.file, Line: n.Line}
			c.keys, c.bad, c.ref = d.keys, d.bad, path
			d.base, d.keys, d.bad = oldBase, oldKeys, oldBad
		}()
	}
	si := infoOf(t)
	for _, p := range d.pairs(n, path, false) {
		name := p.k.Value
		i, ok := si.index[name]
		if !ok {
			if safeName(name) {
				d.fail(p.k, join(path, name), "%s", si.unknownKey(name))
			} else {
				d.fail(p.k, path, "unknown key %q", clip(name))
			}
			continue
		}
		fp := join(path, name)
		d.record(fp, p.k)
		d.value(p.v, v.Field(i), fp)
		if t == publishType && name == "when" {
			if wn := resolve(p.v); wn != nil {
				v.Addr().Interface().(*Publish).WhenPos = Pos{File: d.file, Line: wn.Line}
			}
		}
	}
	switch x := v.Addr().Interface().(type) {
	case *Source:
		x.Pos = Pos{File: d.file, Line: n.Line}
	case *Target:
		x.Pos = Pos{File: d.file, Line: n.Line}
	}
}

// parseError turns a yaml.v3 parse error into the file:line it happened
// at. yaml.v3 prints lines of its scanner 1-based, of its parser 0-based,
// and leaves out the line when that 0-based line is 0; some reader errors
// carry no position at all, so the offending byte is found here.
func parseError(file string, data []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
		if isParserError(msg) {
			line++
		}
	}
	if strings.Contains(msg, "tab character") {
		line = lineOfTab(data, line)
	}
	if line == 0 {
		line = 1
		if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
			line = lineOfAlias(data, m[1])
		} else if isReaderError(msg) {
			line = lineOfBadChar(data)
		}
	}
	return Problem{Pos: Pos{File: file, Line: line}, Field: "yaml", Msg: msg}
}

var (
	yamlLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

func isParserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func isReaderError(msg string) bool {
	for _, p := range []string{"invalid leading UTF-8", "invalid trailing UTF-8", "incomplete UTF-8", "invalid Unicode character", "control characters are not allowed", "invalid length of a UTF-8"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// lineOfTab finds the line indented with a tab that a scanner error
// reported at line: yaml.v3 names the line the scalar before it started on.
func lineOfTab(data []byte, line int) int {
	lines := strings.Split(string(data), "\n")
	for i := max(line-1, 0); i < len(lines) && i < line+50; i++ {
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
		if strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return line
}

func lineOfAlias(data []byte, name string) int {
	re, err := regexp.Compile(`\*` + regexp.QuoteMeta(name) + `(?:[\s,\]\}]|$)`)
	if err != nil {
		return 1
	}
	loc := re.FindIndex(data)
	if loc == nil {
		return 1
	}
	return 1 + strings.Count(string(data[:loc[0]]), "\n")
}

// lineOfBadChar finds the first character YAML does not allow in a stream.
func lineOfBadChar(data []byte) int {
	line := 1
	s := string(data)
	for i, r := range s {
		bad := r == 0xFFFD && !strings.HasPrefix(s[i:], "\uFFFD") ||
			r < 0x20 && r != '\t' && r != '\n' && r != '\r' ||
			r == 0x7f || r >= 0x80 && r <= 0x9f && r != 0x85 ||
			r == 0xFFFE || r == 0xFFFF
		if bad {
			return line
		}
		if r == '\n' {
			line++
		}
	}
	return 1
}
