package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// check reports every mutation that could not run as written, without
// running a test: its file is gone, its old text is not there exactly
// once, or its run pattern names no test of its package (a test renamed or
// moved away). It is quick, so CI runs it on every change.
func check(root string) (problems []string) {
	listed := map[string][]string{} // by package and tags: the test names go test -list prints
	for _, m := range mutations {
		orig, err := os.ReadFile(filepath.Join(root, m.file))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", m.name, err))
		case strings.Count(string(orig), m.old) != 1:
			problems = append(problems, fmt.Sprintf("%s: %q is not in %s exactly once", m.name, m.old, m.file))
		}
		key := m.pkg + " " + m.tags
		if _, ok := listed[key]; !ok {
			names, err := listTests(root, m)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", m.name, err))
			}
			listed[key] = names
		}
		if !namesATest(m.run, listed[key]) {
			problems = append(problems, fmt.Sprintf("%s: -run %q matches no test in %s (tags %q)", m.name, m.run, pkgName(m), m.tags))
		}
	}
	return problems
}

// listTests is the names of the tests, examples and benchmarks of m's package.
func listTests(root string, m mutation) ([]string, error) {
	args := []string{"test", "-list", "."}
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = testDir(root, m)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -list in %s: %w", pkgName(m), err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Test") || strings.HasPrefix(line, "Example") || strings.HasPrefix(line, "Fuzz") {
			names = append(names, line)
		}
	}
	return names, nil
}

// namesATest reports whether the top-level part of the -run pattern run
// matches one of names, as go test matches it.
func namesATest(run string, names []string) bool {
	top, _, _ := strings.Cut(run, "/")
	re, err := regexp.Compile(top)
	if err != nil {
		return false
	}
	for _, n := range names {
		if re.MatchString(n) {
			return true
		}
	}
	return false
}

func pkgName(m mutation) string {
	if m.pkg == "" {
		return "the module root"
	}
	return m.pkg
}
