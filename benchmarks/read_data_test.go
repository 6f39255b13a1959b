package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/benchmarks/internal/dlqgen"
	"github.com/dlqkit/dlq/internal/testenv"
)

// The reading benchmarks run on a folder dlqgen wrote, of $DLQ_BENCH_N
// entries (default 50,000, so that CI's one run of each benchmark stays
// short; benchmarks/read_table.sh sets 1,000,000) from seed $DLQ_BENCH_SEED
// (default 1). It is generated once and kept under $DLQ_BENCH_CACHE
// (default the temporary folder), named after the generator's version, the
// seed and N, for the next run to reuse.
const defaultBenchN = 50_000

func envInt(tb testing.TB, name string, def uint64) uint64 {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || v == 0 {
		tb.Fatalf("$%s=%q: want a positive number", name, s)
	}
	return v
}

// readData returns the output directory of the benchmarks' folder and its
// manifest, generating it when no earlier run left it.
func readData(tb testing.TB) (string, *dlqgen.Manifest) {
	tb.Helper()
	seed, n := envInt(tb, "DLQ_BENCH_SEED", 1), envInt(tb, "DLQ_BENCH_N", defaultBenchN)
	root := os.Getenv("DLQ_BENCH_CACHE")
	if root == "" {
		root = os.TempDir()
	}
	return generated(tb, root, seed, int(n))
}

// generated returns root/dlqgen-<version>-seed<seed>-n<n>, written by dlqgen
// unless a manifest is there already. A run writes into a folder of its own
// and renames it into place, so that two runs at once do not mix.
func generated(tb testing.TB, root string, seed uint64, n int) (string, *dlqgen.Manifest) {
	tb.Helper()
	dir := filepath.Join(root, fmt.Sprintf("%s-seed%d-n%d", strings.ReplaceAll(dlqgen.Version, "/", "-"), seed, n))
	if m, err := dlqgen.ReadManifest(dir); err == nil {
		return dir, m
	}
	tmp := fmt.Sprintf("%s.tmp-%d-%x", dir, os.Getpid(), rand.Uint32())
	start := time.Now()
	if _, err := dlqgen.Write(context.Background(), tmp, dlqgen.Options{Seed: seed, N: n}); err != nil {
		_ = os.RemoveAll(tmp)
		tb.Fatalf("generate %d entries: %v", n, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp) // another run put its copy there first
	}
	m, err := dlqgen.ReadManifest(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("generated %d entries into %s in %s", n, dir, time.Since(start).Round(time.Second))
	return dir, m
}

// builtDLQ is the dlq command the benchmarks exec, built once per test
// binary; TestMain removes its folder.
var builtDLQ struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// dlqBinary returns $DLQ_BIN, or the dlq command of this checkout built with
// every backend (go build -tags dlq_all). Executing the binary, rather than
// calling its code in process, puts it on the same footing as the shell
// pipelines it is measured against.
func dlqBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("DLQ_BIN"); bin != "" {
		return bin
	}
	b := &builtDLQ
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "dlq-bench-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "dlq")
		cmd := exec.Command("go", "build", "-tags", "dlq_all", "-o", b.path, "github.com/dlqkit/dlq/cmd/dlq")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build cmd/dlq: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// removeBuilt removes the folder dlqBinary built into.
func removeBuilt() {
	if builtDLQ.dir != "" {
		_ = os.RemoveAll(builtDLQ.dir)
	}
}

// needTool returns the path of a tool a peer needs; without it the peer is
// skipped with a message (under CI=true, which installs it, it fails).
func needTool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.SkipOrFail(tb, fmt.Sprintf("the %s peer needs %s on PATH (%s)", name, name, install))
	}
	return path
}

// execTimed executes a command and returns its standard output and how long it
// took; a failure fails the benchmark with its standard error.
func execTimed(tb testing.TB, stdin []byte, name string, args ...string) ([]byte, time.Duration) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes(), took
}

// pipeline runs a bash pipeline (with pipefail) over the folder's files in
// reading order, which it gets as "$@", under the C locale.
func pipeline(tb testing.TB, script string, files []string) ([]byte, time.Duration) {
	tb.Helper()
	return execTimed(tb, nil, "bash", append([]string{"-c", "set -o pipefail; " + script, "pipeline"}, files...)...)
}

// uniqCounts parses `sort | uniq -c` output into counts by value, with the
// value's quotes and any "prefix" taken off.
func uniqCounts(tb testing.TB, out []byte, prefix string) map[string]int {
	tb.Helper()
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		count, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			tb.Fatalf("not a line of uniq -c: %q", line)
		}
		counts[strings.Trim(strings.TrimPrefix(value, prefix), `"`)] += n
	}
	return counts
}
