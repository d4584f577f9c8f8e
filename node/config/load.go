package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest node.yaml Load reads. The real file is a few
// KiB; the cap keeps a wrong path (a log, a device) from being read whole.
const MaxFileSize = 1 << 20

// file is node.yaml as a whole: the format version, then the settings.
type file struct {
	Version int `yaml:"version"`
	Config  `yaml:",inline"`
}

// Load reads, checks and returns the configuration in the file at path.
// Settings the file leaves out take their defaults. Every problem with the
// contents, from a YAML syntax error to a value Validate refuses, is a
// *FieldError naming path, the line and the setting, and Load reports all it
// finds (see Problems). A file that cannot be read gives the os error,
// wrapped: errors.Is(err, fs.ErrNotExist) tells a missing file.
//
// The returned Config has Dir set to the file's directory (made absolute
// when possible), and IdentityKey, StorageKey.File, DataDir, TLS.Cert and
// TLS.Key resolved against it, so they can be used as they are. (A
// StorageKey.Command runs in that directory, so its relative paths need no
// resolving.)
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := parse(data)
	if err != nil {
		for _, fe := range Problems(err) {
			fe.File = path
		}
		return nil, err
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.Dir = dir
	c.IdentityKey = c.Path(c.IdentityKey)
	c.StorageKey.File = c.Path(c.StorageKey.File)
	c.DataDir = c.Path(c.DataDir)
	c.TLS.Cert = c.Path(c.TLS.Cert)
	c.TLS.Key = c.Path(c.TLS.Key)
	return c, nil
}

// parse turns the bytes of a node.yaml into a valid Config, with paths as
// written. Its errors are FieldErrors without File.
func parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, &FieldError{Msg: fmt.Sprintf("the file is larger than %d KiB; is it the right file?", MaxFileSize>>10)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &FieldError{Msg: "the file is empty; custosd init writes one with every setting"}
		}
		return nil, syntaxError(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		line := extra.Line
		if err != nil {
			return nil, syntaxError(data, err)
		}
		return nil, &FieldError{Line: line, Msg: "a second YAML document (after ---) is not allowed"}
	}
	if len(doc.Content) == 0 {
		return nil, &FieldError{Msg: "the file is empty; custosd init writes one with every setting"}
	}

	// Check the shape of the file against the settings first: this gives
	// messages that name the setting, and it bounds the work done on a
	// file of garbage before yaml decodes it into the struct.
	w := walker{lines: make(map[string]int)}
	w.value(doc.Content[0], reflect.TypeFor[file](), "")
	if err := w.p.err(); err != nil {
		return nil, err
	}

	f := file{Config: Default("")}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		// The walk should have caught everything; this keeps the file's
		// line and yaml's message if it did not.
		return nil, w.decodeError(data, err)
	}

	var p problems
	if _, ok := w.lines["version"]; !ok {
		p.addLine(1, "version", "missing; the file must start with version: %d", Version)
	} else if f.Version != Version {
		p.addLine(w.lines["version"], "version", "%d is not a format this custosd knows (it knows %d); was the file written by a newer custosd?", f.Version, Version)
	}
	c := f.Config
	if len(c.Listen) == 0 {
		c.Listen = nil
	}
	if len(c.Auditors) == 0 {
		c.Auditors = nil
	}
	c.validate(&p)
	err := p.err()
	for _, fe := range Problems(err) {
		if fe.Line == 0 {
			fe.Line = w.line(fe.Field)
		}
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError turns yaml's syntax error about data into a FieldError at
// the line of the problem: the last line of the shortest start of the file
// that yaml refuses with the same message. (yaml's messages carry a line,
// but counted from 0 or from 1 depending on which of its stages found the
// problem; the search needs neither that count nor the message's wording.)
func syntaxError(data []byte, err error) error {
	msg := yamlMessage(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	lo, hi := 1, len(lines) // the first hi lines fail with msg
	for lo < hi {
		mid := (lo + hi) / 2
		if yamlMessage(decodeAll(bytes.Join(lines[:mid], nil))) == msg {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &FieldError{Line: hi, Msg: "YAML syntax: " + msg}
}

// decodeAll decodes every YAML document of data, and returns the first
// error other than the end of the input.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// yamlMessage is err's message without yaml's prefix and line, "" for nil.
func yamlMessage(err error) string {
	if err == nil {
		return ""
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// decodeError turns a yaml.TypeError into FieldErrors at their lines.
func (w *walker) decodeError(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(data, err)
	}
	var p problems
	for _, e := range te.Errors {
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.addLine(line, w.fieldAt(line), "%s", m[2])
		} else {
			p.add("", "%s", e)
		}
	}
	return p.err()
}

// walker checks a YAML node tree against the Go type it will be decoded
// into, and records the line of every setting it meets.
type walker struct {
	p     problems
	lines map[string]int // setting path -> line
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	keySourceType = reflect.TypeFor[KeySource]()
)

// line returns the line of field, or of the closest enclosing setting that
// the file has (a missing limits.max_batch inside a present limits: section
// points at the section), or 0.
func (w *walker) line(field string) int {
	for field != "" {
		if l, ok := w.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0
}

// fieldAt returns the setting on line, if exactly one is there.
func (w *walker) fieldAt(line int) string {
	found := ""
	for f, l := range w.lines {
		if l == line {
			if found != "" {
				return ""
			}
			found = f
		}
	}
	return found
}

func (w *walker) value(n *yaml.Node, t reflect.Type, path string) {
	if !w.plain(n, path) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return // an empty section keeps its defaults
		}
		if n.Kind != yaml.MappingNode {
			w.mismatch(n, t, path)
			return
		}
		w.mapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return // an empty list
		}
		if n.Kind != yaml.SequenceNode {
			w.mismatch(n, t, path)
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = item.Line
			w.value(item, t.Elem(), p)
		}
	default:
		w.scalar(n, t, path)
	}
}

// plain refuses anchors, aliases and explicit tags: a settings file has no
// use for them, and refusing them keeps what an operator reads what the node
// gets.
func (w *walker) plain(n *yaml.Node, path string) bool {
	switch {
	case n.Kind == yaml.AliasNode || n.Anchor != "":
		w.p.addLine(n.Line, path, "YAML anchors and aliases (& and *) are not supported here")
	case n.Style&yaml.TaggedStyle != 0:
		w.p.addLine(n.Line, path, "YAML tags such as %s are not supported here", n.Tag)
	default:
		return true
	}
	return false
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.mismatch(n, t, path)
		return
	}
	if n.ShortTag() == "!!null" {
		w.p.addLine(n.Line, path, "no value; give one, or delete the line to use the default")
		return
	}
	switch {
	case t == durationType:
		var d time.Duration
		if err := n.Decode(&d); err != nil {
			hint := ""
			if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
				hint = " (a unit is needed)"
			}
			w.p.addLine(n.Line, path, "%q is not a duration%s; write it like 90s, 15m or 1h30m", n.Value, hint)
		}
	case t.Kind() == reflect.Int:
		var i int
		if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			w.p.addLine(n.Line, path, "%q is not a whole number", n.Value)
		}
	case t.Kind() == reflect.String:
		// Any scalar is text; Validate judges the value.
	default:
		panic("config: internal error: no rule for settings of type " + t.String())
	}
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := settings(t)
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.plain(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.p.addLine(k.Line, path, "a setting's name must be a plain word, not a list or a section")
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.p.addLine(k.Line, p, "set twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			w.p.addLine(k.Line, p, "unknown setting%s", suggest(k.Value, path, fields))
			continue
		}
		w.lines[p] = k.Line
		w.value(v, ft, p)
	}
}

func (w *walker) mismatch(n *yaml.Node, t reflect.Type, path string) {
	var got string
	switch n.Kind {
	case yaml.MappingNode:
		got = "a section of settings"
	case yaml.SequenceNode:
		got = "a list"
	default:
		got = strconv.Quote(n.Value)
	}
	var want string
	switch {
	case t == keySourceType:
		want = "a section naming where the key comes from, such as {file: storage.key}"
	case t == durationType:
		want = "a duration such as 15m"
	case t.Kind() == reflect.Int:
		want = "a whole number"
	case t.Kind() == reflect.String:
		want = "a single value"
	case t.Kind() == reflect.Slice:
		want = "a list (lines starting with - )"
	case t.Kind() == reflect.Struct:
		want = "a section (indented key: value lines)"
	}
	w.p.addLine(n.Line, path, "want %s, got %s", want, got)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// settings maps the YAML keys of struct type t to their field types,
// flattening inline fields.
func settings(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case opts == "inline":
			for k, v := range settings(f.Type) {
				m[k] = v
			}
		default:
			m[name] = f.Type
		}
	}
	return m
}

// suggest names the setting an unknown key was probably meant to be: one in
// the same section spelled nearly the same, or one of the same name in
// another section.
func suggest(key, path string, fields map[string]reflect.Type) string {
	// Allow one slip in a short name, two in a longer one.
	nk := normalize(key)
	best, bestDist := "", 2
	if len(nk) > 5 {
		bestDist = 3
	}
	for name := range fields {
		if d := distance(nk, normalize(name)); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", join(path, best))
	}
	var elsewhere []string
	var find func(t reflect.Type, at string)
	find = func(t reflect.Type, at string) {
		for name, ft := range settings(t) {
			p := join(at, name)
			if normalize(name) == normalize(key) && at != path {
				elsewhere = append(elsewhere, p)
			}
			if ft.Kind() == reflect.Struct {
				find(ft, p)
			}
		}
	}
	find(reflect.TypeFor[file](), "")
	if len(elsewhere) == 1 {
		return fmt.Sprintf("; did you mean %s?", elsewhere[0])
	}
	return ""
}

// normalize folds the spellings people use for a key (maxBatch, max-batch,
// MAX_BATCH) into one.
func normalize(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(s))
}

// distance is the Levenshtein distance between a and b, giving up (with a
// large result) on long inputs.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
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
