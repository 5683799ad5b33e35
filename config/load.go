package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds what one rules file may hold: an include glob that
// matches something other than rules (a log, /dev/zero) fails instead of
// filling memory.
const maxFileSize = 8 << 20

// includedFile is what a file named by `include` may hold.
type includedFile struct {
	Customers []Customer `yaml:"customers"`
	Include   []string   `yaml:"include"`
}

// Load reads the rules file at path and every file it includes, applies the
// defaults and validates the result.
//
// Problems in the rules come back as Problems, every one of them, sorted;
// then the Rules are nil. A main file that cannot be read is an ordinary
// error (errors.Is(err, fs.ErrNotExist) works).
func Load(path string) (*Rules, error) {
	data, err := readRules(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	l := &loader{seen: map[string]Pos{}}
	r := &Rules{Files: []string{path}}
	d := l.decode(path, data, reflect.ValueOf(r).Elem())
	r.keys = d.keys
	l.exhausted = d.spent
	if d.bad[""] {
		return nil, l.probs.Err()
	}
	self := fileKey(path)
	l.seen[self] = Pos{File: path}
	var customers []Customer
	l.include(path, r.Include, d.keys, []string{self}, &customers, &r.Files)
	r.Customers = append(r.Customers, customers...)

	r.ApplyDefaults()
	r.resolveFiles()
	if l.exhausted {
		// The file is hostile or broken past use: validating what little
		// was decoded would only bury the problem.
		return nil, l.probs.Err()
	}
	if err := r.Validate(); err != nil {
		l.probs = append(l.probs, err.(Problems)...)
	}
	if err := l.probs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

type loader struct {
	probs Problems
	seen  map[string]Pos // files read, by fileKey, with the include that named them
	// exhausted: a file expanded past the decoder's budget.
	exhausted bool
}

// decode parses one file into v. A problem that leaves nothing to walk
// (malformed YAML, a top level that is not a mapping) is marked bad at "".
func (l *loader) decode(file string, data []byte, v reflect.Value) *decoder {
	d := newDecoder(file, len(data), &l.probs)
	root, ok := l.parse(file, data)
	if !ok {
		d.bad[""] = true
		return d
	}
	if root == nil {
		return d
	}
	if root.Kind != yaml.MappingNode && !isNull(root) {
		d.fail(root, "", "want a mapping with customers, got %s", describe(root))
		d.bad[""] = true
		return d
	}
	d.value(root, v, "")
	return d
}

// parse reads one YAML document; nil for an empty file.
func (l *loader) parse(file string, data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; a rules file is
		// never worth a crash.
		if p := recover(); p != nil {
			l.probs.Add(Pos{File: file, Line: 1}, "yaml", "the YAML parser failed: %v", p)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		l.probs = append(l.probs, parseError(file, data, err))
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		l.probs.Add(Pos{File: file, Line: line}, "yaml", "a second YAML document (---) is not allowed: use include for more files")
		return nil, false
	case !errors.Is(err, io.EOF):
		l.probs = append(l.probs, parseError(file, data, err))
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

// include reads the files the patterns of file name, depth first, in the
// order written and, within a pattern, in lexical order. stack is the chain
// of files that led here, for cycles.
func (l *loader) include(file string, patterns []string, keys map[string]Pos, stack []string, out *[]Customer, files *[]string) {
	dir := filepath.Dir(file)
	for i, pat := range patterns {
		field := fmt.Sprintf("include[%d]", i)
		pos, ok := keys[field]
		if !ok {
			pos = Pos{File: file, Line: 1}
		}
		full := pat
		if !filepath.IsAbs(pat) {
			full = filepath.Join(dir, pat)
		}
		matches, err := filepath.Glob(full)
		if err != nil {
			l.probs.Add(pos, field, "bad pattern %q: %v", clip(pat), err)
			continue
		}
		if len(matches) == 0 {
			if strings.ContainsAny(pat, `*?[\`) {
				l.probs.Add(pos, field, "%q matches no file (looked for %s)", clip(pat), clip(full))
			} else {
				l.probs.Add(pos, field, "no such file %q (looked for %s)", clip(pat), clip(full))
			}
			continue
		}
		for _, m := range matches {
			key := fileKey(m)
			if at := indexOf(stack, key); at >= 0 {
				chain := append(append([]string(nil), stack[at:]...), key)
				for j := range chain {
					chain[j] = filepath.Base(chain[j])
				}
				l.probs.Add(pos, field, "include cycle: %s", strings.Join(chain, " -> "))
				continue
			}
			if first, dup := l.seen[key]; dup {
				l.probs.Add(pos, field, "%s is already included (at %s)", m, first)
				continue
			}
			l.seen[key] = pos
			data, err := readRules(m)
			if err != nil {
				l.probs.Add(pos, field, "%v", err)
				continue
			}
			*files = append(*files, m)
			var inc includedFile
			d := l.decode(m, data, reflect.ValueOf(&inc).Elem())
			l.exhausted = l.exhausted || d.spent
			*out = append(*out, inc.Customers...)
			l.include(m, inc.Include, d.keys, append(stack[:len(stack):len(stack)], key), out, files)
		}
	}
}

func readRules(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxFileSize>>20)
	}
	return data, nil
}

// fileKey identifies a file however it was named, for cycles and repeats.
func fileKey(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// resolveFiles sets FileSource.Resolved against the file that names it,
// and Key relative to the main rules file's folder.
func (r *Rules) resolveFiles() {
	var base string
	if len(r.Files) > 0 {
		base = filepath.Dir(resolvePath(r.Files[0], filepath.Base(r.Files[0])))
	}
	for i := range r.Customers {
		for j := range r.Customers[i].Sources {
			s := &r.Customers[i].Sources[j]
			if s.File != nil && s.File.Path != "" {
				s.File.Resolved = resolvePath(s.Pos.File, s.File.Path)
				s.File.Key = s.File.Resolved
				if rel, err := filepath.Rel(base, s.File.Resolved); err == nil && base != "" {
					s.File.Key = filepath.ToSlash(rel)
				}
			}
		}
	}
}

func resolvePath(rulesFile, path string) string {
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(rulesFile), p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// PosOf is where a field of the main rules file was written
// ("reconcile.interval", "include[0]"); the file's first line when unknown.
func (r *Rules) PosOf(field string) Pos {
	if p, ok := lookupPos(r.keys, field); ok {
		return p
	}
	file := ""
	if len(r.Files) > 0 {
		file = r.Files[0]
	}
	return Pos{File: file, Line: 1}
}

// PosOf is where a field of the customer was written, by its path relative
// to the customer ("show.body", "sources[0].github.repo",
// "statuses.map[QA]"). A field not written falls back to the nearest
// written parent, then to the customer itself.
func (c *Customer) PosOf(field string) Pos {
	if p, ok := lookupPos(c.keys, field); ok {
		return p
	}
	return c.Pos
}

func lookupPos(keys map[string]Pos, field string) (Pos, bool) {
	for p := field; p != ""; p = parentPath(p) {
		if pos, ok := keys[p]; ok {
			return pos, true
		}
	}
	return Pos{}, false
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// failed reports whether decoding a field of the customer (or one under it)
// already produced a problem, so that validation does not add a second,
// derived one ("at least one source" after "want a list").
func (c *Customer) failed(field string) bool {
	for k := range c.bad {
		if k == field || strings.HasPrefix(k, field+".") || strings.HasPrefix(k, field+"[") {
			return true
		}
	}
	return false
}

// field is the readable path of a customer field for problems.
func (c *Customer) field(i int, rel string) string {
	ref := c.ref
	if ref == "" {
		if slug.MatchString(c.ID) {
			ref = "customers[" + c.ID + "]"
		} else {
			ref = fmt.Sprintf("customers[%d]", i)
		}
	}
	return join(ref, rel)
}
