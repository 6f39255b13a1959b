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
}
