// Command mutants checks that the tests bite: it copies the module to a
// temporary folder, applies each mutation in mutations.go there (one at a
// time), runs the tests that guard the promise it breaks, and reports
// whether they failed (caught) or passed (missed). The working tree is
// never touched.
//
//	go run ./internal/mutants            # every mutation
//	go run ./internal/mutants -only fsync
//
// Each mutation's tests first run unmutated: a mutation whose tests already
// fail is reported BASE, not caught. It needs what the tests need (root for
// the power-loss and tmpfs tests, redis-server). It exits 1 when a mutation
// is missed, stale or BASE.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	only := flag.String("only", "", "run only the mutations whose name contains this")
	keep := flag.Bool("v", false, "print the test output of every mutation")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	work, err := os.MkdirTemp("", "dlq-mutants-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(work)
	if out, err := exec.Command("cp", "-a", root+"/.", work).CombinedOutput(); err != nil {
		fatal(fmt.Errorf("copy the module: %v: %s", err, out))
	}
	var caught, missed, stale int
	baseline := map[string]error{} // by test command: nil when it passes unmutated
	for _, m := range mutations {
		if *only != "" && !strings.Contains(m.name, *only) {
			continue
		}
		key := strings.Join(testArgs(m), " ")
		if _, done := baseline[key]; !done {
			out, err := runTests(work, m)
			if err != nil {
				err = fmt.Errorf("%w\n%s", err, indent(out))
			}
			baseline[key] = err
		}
		if err := baseline[key]; err != nil {
			stale++
			fmt.Printf("%-7s %-66s (its tests fail without the mutation)\n%v\n", "BASE", m.name, err)
			continue
		}
		verdict, out, took := try(work, m)
		switch verdict {
		case "caught":
			caught++
		case "MISSED":
			missed++
		default:
			stale++
		}
		fmt.Printf("%-7s %-66s %6.1fs\n", verdict, m.name, took.Seconds())
		if *keep || verdict == "MISSED" {
			fmt.Println(indent(out))
		}
	}
	total := caught + missed + stale
	fmt.Printf("\nscore: %d of %d mutations caught (%d missed, %d stale or failing without the mutation)\n", caught, total, missed, stale)
	if missed+stale > 0 {
		os.Exit(1)
	}
}

// try applies m in the copy at work, runs its tests and restores the file.
func try(work string, m mutation) (verdict, output string, took time.Duration) {
	path := filepath.Join(work, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "STALE", err.Error(), 0
	}
	if strings.Count(string(orig), m.old) != 1 {
		return "STALE", fmt.Sprintf("%q is not in %s exactly once: update the mutation", m.old, m.file), 0
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(orig), m.old, m.new, 1)), 0o644); err != nil {
		return "STALE", err.Error(), 0
	}
	defer os.WriteFile(path, orig, 0o644)
	start := time.Now()
	out, err := runTests(work, m)
	took = time.Since(start)
	if err == nil {
		return "MISSED", string(out), took
	}
	if strings.Contains(string(out), "[build failed]") || strings.Contains(string(out), "[setup failed]") {
		return "BROKEN", string(out), took // the mutation does not compile: fix it
	}
	return "caught", string(out), took
}

// testArgs is the go test command line of m's tests.
func testArgs(m mutation) []string {
	pkg := m.pkg
	if pkg == "" {
		pkg = "."
	}
	timeout := m.timeout
	if timeout == "" {
		timeout = "300s"
	}
	args := []string{"test", "-count=1", "-timeout", timeout, "-run", m.run}
	if m.skip != "" {
		args = append(args, "-skip", m.skip)
	}
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	return append(args, pkg)
}

func runTests(work string, m mutation) (string, error) {
	cmd := exec.Command("go", testArgs(m)...)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run it inside the dlq module")
	}
	return filepath.Dir(mod), nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = append(lines[:20], append([]string{"\t..."}, lines[len(lines)-20:]...)...)
	}
	return "\t" + strings.Join(lines, "\n\t")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutants:", err)
	os.Exit(2)
}
