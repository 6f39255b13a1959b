package main

// configLines is the tests of the config loader's errors and their lines.
const configLines = "TestParseConfig|TestLoadConfig"

// inputMutations break the defences against hostile input: the config loader, ${VAR}
// expansion, terminal escapes in the command, planted symlinks, fingerprints.
var inputMutations = []mutation{
	// The config loader (issue 19, finding 11).
	{name: "config: aliases and merge keys not refused", file: "loadconfig.go",
		old: "\tif l.refuseAliases(doc.Content[0], \"\"); len(l.fields) > 0 {", new: "\tif false {",
		run: configLines},
	{name: "config: an alias in a list not refused", file: "loadconfig.go",
		old: "\t\tl.refuseAliases(c, fmt.Sprintf(\"%s[%d]\", path, i))", new: "\t\t_, _ = i, c",
		run: configLines},
	{name: "config: a merge key's alias not refused (only the key)", file: "loadconfig.go",
		old: "\t\t\tl.refuseAliases(v, full)\n", new: "\t\t\tif k.ShortTag() != \"!!merge\" {\n\t\t\t\tl.refuseAliases(v, full)\n\t\t\t}\n",
		run: configLines},
	{name: "config: list items' lines not recorded (validation points at the list)", file: "loadconfig.go",
		old: "l.lines[fmt.Sprintf(\"%s[%d]\", path, i)] = item.Line", new: "_, _ = i, item",
		run: configLines},
	{name: "config: a missing key's error has no line (no fallback to its section)", file: "loadconfig.go",
		old: "\t\tpath = path[:i]\n", new: "\t\t_ = i\n\t\tbreak\n",
		run: configLines},
	{name: "config: a key's line taken from its value (off by one for a section)", file: "loadconfig.go",
		old: "\t\tl.lines[full] = k.Line\n", new: "\t\tl.lines[full] = val.Line\n",
		run: configLines},
	{name: "config: an unknown key's line taken from its value", file: "loadconfig.go",
		old: "l.fail(k.Line, full, \"unknown key", new: "l.fail(val.Line, full, \"unknown key",
		run: configLines},
	{name: "config: a type error's line off by one", file: "loadconfig.go",
		old: "l.fail(n.Line, path, \"want %s, got %s\"", new: "l.fail(n.Line+1, path, \"want %s, got %s\"",
		run: configLines},
	{name: "config: yaml's own line dropped", file: "loadconfig.go",
		old: "\t\t\tline, _ = strconv.Atoi(m[1])\n", new: "\t\t\t_ = m\n",
		run: configLines},
	{name: "config: \"line 0\" printed for an error without a line", file: "errors.go",
		old: "\tif e.Line > 0 {", new: "\tif e.Line >= 0 {",
		run: configLines},

	// Terminal escapes in what the command prints (issue 19, finding 11).
	{name: "cmd: show prints source.topic raw", file: "cmd/dlq/show.go",
		old: "\tout := printable(s.Topic, 300)\n", new: "\tout := s.Topic\n",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow"},
	{name: "cmd: show prints the position (a file name) raw", file: "cmd/dlq/show.go",
		old: "field(\"position\", printable(rec.Position, 1000))", new: "field(\"position\", rec.Position)",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow"},
	{name: "cmd: fields printed raw (printable lets everything through)", file: "cmd/dlq/display.go",
		old: "\tif isPrintableText([]byte(s), false) {\n\t\treturn s + cut", new: "\tif true {\n\t\treturn s + cut",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow|TestTail|TestInspect"},
	{name: "cmd: a payload with a lone CR shown as text", file: "cmd/dlq/display.go",
		old: "r == '\\r' && strings.HasPrefix(s[i+1:], \"\\n\")", new: "r == '\\r' && i >= 0",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow"},
	{name: "cmd: --json output printed as the encoders wrote it (C1 controls raw)", file: "cmd/dlq/display.go",
		old: "func safeJSON(b []byte) []byte {\n", new: "func safeJSON(b []byte) []byte {\n\tif len(b) > 0 {\n\t\treturn b\n\t}\n",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow|TestTail|TestInspect"},
	{name: "cmd: --json escapes ASCII controls only", file: "cmd/dlq/display.go",
		old: "r != 0x7f || unicode.IsPrint(r):", new: "r != 0x7f || r >= utf8.RuneSelf:",
		pkg: "./cmd/dlq", run: "TestDisplay|TestShow|TestTail|TestInspect"},
	{name: "cmd: errors printed raw on the way out", file: "cmd/dlq/main.go",
		old: "printableLines(err.Error())", new: "err",
		pkg: "./cmd/dlq", run: "TestDisplay"},
}
