// Command mutants checks that the tests bite: it copies the module to a
// temporary folder, applies each mutation in mutations.go there (one at a
// time), runs the tests that guard the promise it breaks, and reports
// whether they failed (caught) or passed (missed). The working tree is
// never touched.
//
//	go run ./tools/mutants            # every mutation
//	go run ./tools/mutants -only fsync
//	go run ./tools/mutants -check      # every mutation still applies, no test run
//
// Each mutation's tests first run unmutated: a mutation whose tests already
// fail is reported BASE, not caught. It needs what the tests need (root for
// the power-loss and tmpfs tests, redis-server). It exits 1 when a mutation
// is missed, stale or BASE.
//
// A go test that outlives its -timeout by -grace (building included) is
// ended: a test binary can wedge on its own lossyfs mount, where neither
// its -timeout nor SIGKILL can end it, so the FUSE connections its tests
// made (mounted under the run's TMPDIR, or recorded under LOSSYFS_CONNS)
// are aborted before its process group is killed. The mutation is then
// reported caught, "hung", with the connections aborted.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dlqkit/dlq/internal/lossyfs"
)

func main() {
	only := flag.String("only", "", "run only the mutations whose name contains this")
	keep := flag.Bool("v", false, "print the test output of every mutation")
	grace := flag.Duration("grace", 3*time.Minute, "how long a go test may outlive its -timeout, building included, before it is ended")
	checkOnly := flag.Bool("check", false, "only check that every mutation still applies and names a test, without running one")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	if *checkOnly {
		problems := check(root)
		for _, p := range problems {
			fmt.Println("STALE", p)
		}
		fmt.Printf("%d mutations checked, %d stale\n", len(mutations), len(problems))
		if len(problems) > 0 {
			os.Exit(1)
		}
		return
	}
	r, err := newRunner(root, *grace)
	if err != nil {
		fatal(err)
	}
	var caught, missed, stale int
	baseline := map[string]error{} // by test command: nil when it passes unmutated
	for _, m := range mutations {
		if *only != "" && !strings.Contains(m.name, *only) {
			continue
		}
		key := m.pkg + " " + strings.Join(testArgs(m), " ")
		if _, done := baseline[key]; !done {
			o := r.runTests(m)
			err := o.err
			if err != nil {
				err = fmt.Errorf("%w%s\n%s", err, o.note(), indent(o.out))
			}
			baseline[key] = err
		}
		if err := baseline[key]; err != nil {
			stale++
			fmt.Printf("%-7s %-66s (its tests fail without the mutation)\n%v\n", "BASE", m.name, err)
			continue
		}
		res := r.try(m)
		switch res.verdict {
		case "caught":
			caught++
		case "MISSED":
			missed++
		default:
			stale++
		}
		fmt.Printf("%-7s %-66s %6.1fs%s\n", res.verdict, m.name, res.took.Seconds(), res.note())
		if *keep || res.verdict == "MISSED" || res.hung {
			fmt.Println(indent(res.out))
		}
	}
	r.close()
	total := caught + missed + stale
	fmt.Printf("\nscore: %d of %d mutations caught (%d missed, %d stale or failing without the mutation)\n", caught, total, missed, stale)
	if missed+stale > 0 {
		os.Exit(1)
	}
}

// runner runs the tests of one mutation at a time in a copy of the module.
type runner struct {
	work  string        // the copy is in work/mod; run n keeps its TMPDIR in work/n
	grace time.Duration // how long a go test may outlive its -timeout
	runs  int
	kept  bool // a run left a wedged process: work must stay
}

// newRunner copies the module at root to a new temporary folder.
func newRunner(root string, grace time.Duration) (*runner, error) {
	work, err := os.MkdirTemp("", "dlq-mutants-")
	if err != nil {
		return nil, err
	}
	r := &runner{work: work, grace: grace}
	if out, err := exec.Command("cp", "-a", root+"/.", r.mod()).CombinedOutput(); err != nil {
		r.close()
		return nil, fmt.Errorf("copy the module: %v: %s", err, out)
	}
	return r, nil
}

func (r *runner) mod() string { return filepath.Join(r.work, "mod") }

// close removes the copy, unless a wedged process may still hold a mount
// in it: RemoveAll would wedge there too.
func (r *runner) close() {
	if r.kept {
		fmt.Fprintf(os.Stderr, "mutants: %s kept: a process wedged there\n", r.work)
		return
	}
	_ = os.RemoveAll(r.work)
}

// result is the verdict on one mutation.
type result struct {
	verdict string // caught, MISSED, STALE or BROKEN
	outcome
}

// try applies m in the copy, runs its tests and restores the file.
func (r *runner) try(m mutation) result {
	path := filepath.Join(r.mod(), m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return result{verdict: "STALE", outcome: outcome{out: err.Error()}}
	}
	if strings.Count(string(orig), m.old) != 1 {
		return result{verdict: "STALE", outcome: outcome{out: fmt.Sprintf("%q is not in %s exactly once: update the mutation", m.old, m.file)}}
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(orig), m.old, m.new, 1)), 0o644); err != nil {
		return result{verdict: "STALE", outcome: outcome{out: err.Error()}}
	}
	defer os.WriteFile(path, orig, 0o644)
	o := r.runTests(m)
	switch {
	case o.hung:
		return result{"caught", o} // its tests never passed
	case o.err == nil:
		return result{"MISSED", o}
	case strings.Contains(o.out, "[build failed]") || strings.Contains(o.out, "[setup failed]"):
		return result{"BROKEN", o} // the mutation does not compile: fix it
	}
	return result{"caught", o}
}

// outcome is how one go test ended.
type outcome struct {
	out      string
	err      error // nil when the tests passed
	took     time.Duration
	hung     bool          // it outlived its -timeout by the grace, and was ended
	deadline time.Duration // its -timeout and the grace
	aborted  []uint32      // the FUSE connections aborted to end it
	endErr   error         // what went wrong while ending it
	wedged   bool          // a process of it still could not die
}

// note says how a hung go test was ended, or is "".
func (o outcome) note() string {
	if !o.hung {
		return ""
	}
	s := fmt.Sprintf("  (hung: ended at its deadline, %s: ", o.deadline)
	if len(o.aborted) > 0 {
		s += fmt.Sprintf("aborted FUSE connections %v, ", o.aborted)
	}
	s += "killed its processes"
	if o.endErr != nil {
		s += fmt.Sprintf("; %v", o.endErr)
	}
	if o.wedged {
		s += "; a process is still wedged: abort its FUSE connection by hand (/sys/fs/fuse/connections/N/abort)"
	}
	return s + ")"
}

// runTests runs m's tests in their own process group, with a TMPDIR and
// a LOSSYFS_CONNS folder of their own, until they end or their deadline
// (-timeout and the grace) passes: then they are ended.
func (r *runner) runTests(m mutation) outcome {
	r.runs++
	dir := filepath.Join(r.work, strconv.Itoa(r.runs))
	tmp, conns := filepath.Join(dir, "tmp"), filepath.Join(dir, "conns")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return outcome{err: err, out: err.Error()}
	}
	var out bytes.Buffer
	cmd := exec.Command("go", testArgs(m)...)
	cmd.Dir = testDir(r.mod(), m)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, lossyfs.ConnsEnv+"="+conns)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Minute // for the pipes, should a wedged process hold them
	o := outcome{deadline: testTimeout(m) + r.grace}
	defer func() {
		if o.wedged {
			r.kept = true // dir may hold a mount that would wedge RemoveAll too
			return
		}
		_ = os.RemoveAll(dir)
	}()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return outcome{err: err, out: err.Error()}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	deadline := time.NewTimer(o.deadline)
	defer deadline.Stop()
	select {
	case o.err = <-waited:
	case <-deadline.C:
		o.hung = true
		o.aborted, o.endErr, o.wedged = end(cmd.Process.Pid, tmp, conns)
		o.err = <-waited
	}
	o.took = time.Since(start)
	o.out = out.String()
	return o
}

// end ends the process group pgid, a go test and the test binary it runs,
// which may be wedged on its own lossyfs mount: it aborts the FUSE
// connections made under tmp or recorded in conns, then kills the group,
// and repeats both until no process of the group is left running (for a
// minute at most). It returns the connections it aborted, and whether a
// process is still wedged.
func end(pgid int, tmp, conns string) (aborted []uint32, err error, wedged bool) {
	giveUp := time.Now().Add(time.Minute)
	for try := 0; ; try++ {
		if try%20 == 0 { // every 2 s: a connection made since the last try
			n, aerr := lossyfs.Abort(tmp, conns)
			aborted = append(aborted, n...)
			if aerr != nil {
				err = aerr
			}
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if !groupRunning(pgid) {
			break
		}
		if time.Now().After(giveUp) {
			wedged = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(aborted)
	return slices.Compact(aborted), err, wedged
}

// groupRunning reports whether a thread of some process in the process
// group pgid has not exited: zombies do not count.
func groupRunning(pgid int) bool {
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/stat")
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		if f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// testTimeout is the -timeout of m's tests.
func testTimeout(m mutation) time.Duration {
	d, err := time.ParseDuration(m.timeout)
	if err != nil {
		return 300 * time.Second
	}
	return d
}

// testArgs is the go test command line of m's tests, to run in the
// package's folder (testDir): given no package, go test streams the test
// binary's output, so a run ended at its deadline still shows it.
func testArgs(m mutation) []string {
	args := []string{"test", "-count=1", "-timeout", testTimeout(m).String(), "-run", m.run}
	if m.skip != "" {
		args = append(args, "-skip", m.skip)
	}
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	if m.race {
		args = append(args, "-race")
	}
	return args
}

// testDir is the folder of m's package in the module at mod.
func testDir(mod string, m mutation) string { return filepath.Join(mod, m.pkg) }

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
