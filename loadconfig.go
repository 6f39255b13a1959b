package dlq

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dlqkit/dlq/internal/editdist"
	"go.yaml.in/yaml/v3"
)

// LoadConfig reads the YAML (or JSON) config file at path with ParseConfig.
// Every error it returns matches ErrInvalidConfig; one for a file it could
// not read also matches the os error (fs.ErrNotExist, fs.ErrPermission), and
// a *ConfigError names the file in its File field.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cfg, err := ParseConfig(data)
	if ce, ok := errors.AsType[*ConfigError](err); ok {
		ce.File = path
	}
	return cfg, err
}

// ParseConfig decodes a Config from YAML, or JSON, which is YAML too, with
// the keys of Config's yaml tags, and validates it as New does. It is
// strict where yaml.Unmarshal is lenient:
//
//   - A key that is not a Config key is an error naming the key, its line
//     and the nearest known key: "line 3: queue_capacty: unknown key (did
//     you mean \"queue_capacity\"?)". So is a key given twice, and a value
//     of the wrong type or outside an enumeration ("mode: FAN_OUT").
//   - Values may reference environment variables as docker compose does:
//     ${VAR}, ${VAR:-default} (VAR unset or empty), ${VAR-default} (VAR
//     unset), ${VAR:?message}, ${VAR?message}, and $$ for a literal $.
//     References are expanded in values only, after parsing, so a variable
//     cannot change the document's structure, and a $ followed by anything
//     else stays as it is. Unlike compose, which substitutes an empty
//     string with a warning, an unset ${VAR} without a default is an error
//     naming VAR: write ${VAR:-} where empty is meant.
//   - The document holds one config; a second document (after ---) is an
//     error. An empty document is the zero Config, which lacks the required
//     service and so fails validation.
//   - Aliases (*name) and merge keys (<<) are refused, each an error naming
//     its line, before anything is decoded: a few hundred bytes of nested
//     aliases expand to billions of values, and a config has nothing to
//     repeat. An anchor (&name) alone is allowed and means nothing.
//
// Every error is a *ConfigError matching ErrInvalidConfig, and its fields
// carry the line they concern where there is one. On error ParseConfig returns the zero Config.
func ParseConfig(data []byte) (Config, error) {
	return parseConfig(data, os.LookupEnv)
}

// parseConfig is ParseConfig with the environment given.
func parseConfig(data []byte, lookup func(string) (string, bool)) (Config, error) {
	cfg, l := decodeConfig(data, lookup)
	if l.unreadable {
		return Config{}, &ConfigError{Fields: l.fields}
	}
	_, err := cfg.validate()
	if ce, ok := errors.AsType[*ConfigError](err); ok {
		for _, f := range ce.Fields {
			if !slices.ContainsFunc(l.fields, func(d *FieldError) bool { return d.Field == f.Field }) {
				f.Line = l.lineOf(f.Field)
				l.fields = append(l.fields, f)
			}
		}
	}
	if len(l.fields) > 0 {
		slices.SortStableFunc(l.fields, func(a, b *FieldError) int { return cmpLine(a.Line, b.Line) })
		return Config{}, &ConfigError{Fields: l.fields}
	}
	return cfg, nil
}

// decodeConfig decodes data without validating the result; the loader
// holds the problems found and the line of every key.
func decodeConfig(data []byte, lookup func(string) (string, bool)) (Config, *loader) {
	var cfg Config
	l := &loader{lookup: lookup, lines: map[string]int{}}
	if root := l.parse(data); root != nil {
		l.decodeStruct(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	return cfg, l
}

// cmpLine orders errors by line, those without one last.
func cmpLine(a, b int) int {
	switch {
	case a == b:
		return 0
	case a == 0:
		return 1
	case b == 0:
		return -1
	}
	return cmp.Compare(a, b)
}

// loader walks a parsed document along Config's type. It decodes each leaf
// with yaml itself, so values mean what yaml.Unmarshal makes of them, and
// reports what yaml.Unmarshal would ignore or report without a key.
type loader struct {
	lookup     func(string) (string, bool)
	unreadable bool // the document did not parse: nothing to validate
	fields     []*FieldError
	lines      map[string]int // key path, e.g. "kafka.acks" or "order[1]", to its line
}

func (l *loader) fail(line int, field, format string, args ...any) {
	l.fields = append(l.fields, &FieldError{Field: field, Line: line, Problem: fmt.Sprintf(format, args...)})
}

// yamlLine splits yaml's "yaml: line 3: message" into its parts.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// failYAML records an error from the yaml package.
func (l *loader) failYAML(err error, field string) {
	msgs := []string{err.Error()}
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		l.fail(line, field, "%s", strings.TrimPrefix(msg, "yaml: "))
	}
}

// parse returns the document's top node, nil when it is empty or does not
// parse (recorded).
func (l *loader) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err != io.EOF {
			l.failYAML(err, "")
			l.unreadable = true
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		l.failYAML(err, "")
		l.unreadable = true
		return nil
	default:
		l.fail(extra.Line, "", "a second YAML document: a config file holds one")
		l.unreadable = true
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	if l.refuseAliases(doc.Content[0], ""); len(l.fields) > 0 {
		l.unreadable = true
		return nil
	}
	return doc.Content[0]
}

// refuseAliases records every alias and merge key under n, whose key path
// is path. It never follows an alias, so its work is the document's size;
// the decoding that follows may then take every node to be met once.
func (l *loader) refuseAliases(n *yaml.Node, path string) {
	const refused = "a config file may not use aliases or merge keys (<<): write the values out"
	switch n.Kind {
	case yaml.AliasNode:
		l.fail(n.Line, path, "alias *%s: %s", n.Value, refused)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			full := joinKey(path, k.Value)
			switch {
			case k.Kind == yaml.AliasNode:
				l.fail(k.Line, joinKey(path, "*"+k.Value), "alias *%s as a key: %s", k.Value, refused)
			case k.ShortTag() == "!!merge":
				l.fail(k.Line, full, "merge key: %s", refused)
			default:
				l.refuseAliases(k, full)
			}
			l.refuseAliases(v, full)
		}
	default:
		for i, c := range n.Content {
			l.refuseAliases(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// decodeStruct decodes the mapping n into the struct v; path is v's key
// path ("" for the Config itself).
func (l *loader) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := path
		if what == "" {
			what, l.unreadable = "the config", true
		}
		l.fail(n.Line, path, "want a mapping of %s keys, got %s", what, describe(n))
		return
	}
	keys := yamlKeys(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, full := k.Value, joinKey(path, k.Value)
		if first, dup := seen[key]; dup {
			l.fail(k.Line, full, "given twice (first on line %d)", first)
			continue
		}
		seen[key] = k.Line
		index, ok := keys[key]
		if !ok {
			l.fail(k.Line, full, "unknown key%s", suggest(key, path, v.Type()))
			continue
		}
		l.lines[full] = k.Line
		field := v.FieldByIndex(index)
		if isSection(field.Type()) {
			l.decodeStruct(val, field, full)
			continue
		}
		l.decodeLeaf(val, field, full)
	}
}

// decodeLeaf expands n's references and decodes it into field.
func (l *loader) decodeLeaf(n *yaml.Node, field reflect.Value, path string) {
	if !l.expand(n, path) {
		return
	}
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			l.lines[fmt.Sprintf("%s[%d]", path, i)] = item.Line
		}
	}
	if isInt(field.Type()) && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		// yaml.v3 would truncate 1.5 to 1.
		l.fail(n.Line, path, "want a whole number, got %s", describe(n))
		return
	}
	if err := n.Decode(field.Addr().Interface()); err != nil {
		if te, ok := errors.AsType[*yaml.TypeError](err); ok && isScalar(field.Type()) && len(te.Errors) == 1 && strings.Contains(te.Errors[0], "cannot unmarshal") {
			l.fail(n.Line, path, "want %s, got %s", want(field.Type()), describe(n))
			return
		}
		l.failYAML(err, path)
	}
}

// expand replaces the environment references in every scalar value under
// n. It reports whether all of them expanded.
func (l *loader) expand(n *yaml.Node, path string) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := expandEnv(n.Value, l.lookup)
		if err != nil {
			l.fail(n.Line, path, "%v", err)
			return false
		}
		if v != n.Value && n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = "" // a plain scalar's type follows its expanded value
		}
		n.Value = v
	case yaml.MappingNode:
		ok := true
		for i := 1; i < len(n.Content); i += 2 {
			ok = l.expand(n.Content[i], path) && ok
		}
		return ok
	default:
		ok := true
		for _, c := range n.Content {
			ok = l.expand(c, path) && ok
		}
		return ok
	}
	return true
}

// lineOf returns the line of a validation error's key path, or of its
// nearest parent that is in the document, or 0.
func (l *loader) lineOf(path string) int {
	for path != "" {
		if line, ok := l.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlKeys maps the yaml keys of struct type t to their fields.
func yamlKeys(t reflect.Type) map[string][]int {
	keys := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys[name] = f.Index
	}
	return keys
}

var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// isSection reports whether a field of type t is a nested block of keys.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(yamlUnmarshaler)
}

// isScalar reports whether t is decoded from one plain value.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return !reflect.PointerTo(t).Implements(yamlUnmarshaler)
	}
	return false
}

// isInt reports whether t is an integer type.
func isInt(t reflect.Type) bool { return t.Kind() == reflect.Int || t.Kind() == reflect.Int64 }

// want names what a value of type t looks like.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	default:
		return "a string"
	}
}

// describe names what n holds, for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

// expandEnv replaces ${VAR} references in s as docker compose does:
//
//	${VAR}          VAR's value; an error when VAR is unset
//	${VAR:-default} default when VAR is unset or empty
//	${VAR-default}  default when VAR is unset
//	${VAR:?message} an error saying message when VAR is unset or empty
//	${VAR?message}  an error saying message when VAR is unset
//	$$              a literal $
//
// A default may itself hold references. A $ followed by anything else is
// kept as it is. A variable whose value holds CR, LF or NUL is an error:
// such a byte would split an HTTP header or cut a name, and is nearly
// always a secret read from a file with its trailing newline. Unlike compose, which warns and substitutes an empty
// string, an unset ${VAR} without a default is an error: an empty url
// silently turns a backend off, the very mistake strict loading exists to
// catch. Write ${VAR:-} for an empty default.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("%q has no closing }", s[i:])
			}
			v, err := expandRef(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// closingBrace returns the index of the } that closes a reference whose
// body starts at from, skipping nested references, or -1.
func closingBrace(s string, from int) int {
	depth := 0
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// expandRef expands the body of one ${...} reference.
func expandRef(body string, lookup func(string) (string, bool)) (string, error) {
	n := 0
	for n < len(body) && (body[n] == '_' || body[n] >= 'A' && body[n] <= 'Z' || body[n] >= 'a' && body[n] <= 'z' || n > 0 && body[n] >= '0' && body[n] <= '9') {
		n++
	}
	name, rest := body[:n], body[n:]
	if name == "" {
		return "", fmt.Errorf("${%s}: a variable name starts with a letter or _ and holds letters, digits and _", body)
	}
	value, set := lookup(name)
	colon := strings.HasPrefix(rest, ":")
	if colon {
		rest = rest[1:]
	}
	missing := !set || colon && value == ""
	switch {
	case rest == "" && !colon:
		if !set {
			return "", fmt.Errorf("${%s}: environment variable %s is not set (write ${%s:-default} for a default)", name, name, name)
		}
		return envValue(body, name, value)
	case strings.HasPrefix(rest, "-"):
		if missing {
			return expandEnv(rest[1:], lookup)
		}
		return envValue(body, name, value)
	case strings.HasPrefix(rest, "?"):
		if !missing {
			return envValue(body, name, value)
		}
		why := "is not set"
		if set {
			why = "is empty"
		}
		if msg := rest[1:]; msg != "" {
			why += ": " + msg
		}
		return "", fmt.Errorf("${%s}: environment variable %s %s", body, name, why)
	default:
		return "", fmt.Errorf("${%s}: unsupported; use ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} or ${VAR?message}", body)
	}
}

// envValue returns the value of the variable name that the reference body
// expands to, or an error when it holds CR, LF or NUL. The value is not
// shown: it may be a secret.
func envValue(body, name, value string) (string, error) {
	if i := strings.IndexAny(value, "\r\n\x00"); i >= 0 {
		return "", fmt.Errorf("${%s}: environment variable %s holds %s at byte %d: CR, LF and NUL are not allowed in a value (a trailing newline from a file?)",
			body, name, controlName(value[i]), i)
	}
	return value, nil
}

// suggest returns " (did you mean ...?)" naming the known key nearest to
// key: a close spelling among the keys of struct t at path, or the same key
// in another section; or "".
func suggest(key, path string, t reflect.Type) string {
	best, bestDist := "", len(key)/3+1
	for k := range yamlKeys(t) {
		if d := editdist.Distance(strings.ToLower(key), k); d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if elsewhere := findKey(reflect.TypeFor[Config](), "", strings.ToLower(key)); elsewhere != "" && elsewhere != joinKey(path, key) {
		return fmt.Sprintf(" (did you mean %q?)", elsewhere)
	}
	return ""
}

// findKey returns the path of the first key named key in struct t, depth
// first, or "".
func findKey(t reflect.Type, path, key string) string {
	keys := yamlKeys(t)
	if _, ok := keys[key]; ok {
		return joinKey(path, key)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "-" && f.IsExported() && isSection(f.Type) {
			if p := findKey(f.Type, joinKey(path, name), key); p != "" {
				return p
			}
		}
	}
	return ""
}
