package lossyfs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/lossyfs"
	"github.com/dlqkit/dlq/internal/testenv"
)

// helperEnv makes TestHelperProcess act; its value says how.
const helperEnv = "LOSSYFS_TEST_HELPER"

// TestHelperProcess is no test of its own. Run as a child, with
// LOSSYFS_TEST_HELPER set, by the tests below and by tools/mutants'
// tests, it hangs writes on its own lossyfs mounts, as a wedged test
// binary does:
//   - "deadline": a write hangs until the deadline watchdog aborts the
//     mount, and the test reports what the write returned;
//   - "leak": a subtest leaks a goroutine that writes to a file under its
//     mount without end, and the process then exits;
//   - "killed": writes hang on two mounts, the first one detached by a
//     crash, and the process kills itself with SIGKILL, which leaves it a
//     zombie until something aborts both connections.
func TestHelperProcess(t *testing.T) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
	case "deadline":
		m := lossyfs.Mount(t, "")
		m.HangWrites()
		err := os.WriteFile(filepath.Join(m.Dir(), "f"), []byte("x"), 0o600)
		fmt.Printf("the hung write returned: %v\n", err)
	case "leak":
		t.Run("leaks a writer", func(t *testing.T) {
			m := lossyfs.Mount(t, "")
			f, err := os.Create(filepath.Join(m.Dir(), "f"))
			require.NoError(t, err)
			go func() {
				for {
					_, _ = f.WriteAt([]byte("x"), 0)
				}
			}()
		})
		fmt.Println("the subtest is over")
	case "killed":
		m := lossyfs.Mount(t, "")
		hung := m.HangWrites()
		hangWrite(t, m.Dir(), "a")
		<-hung
		m.PowerOff() // detaches the mount, the write still in flight on it
		m.PowerOn()
		hangWrite(t, m.Dir(), "b")
		<-hung
		fmt.Println("writes hung on two mounts, one detached: killing the test binary")
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGKILL))
		select {}
	default:
		t.Fatalf("%s=%q: unknown", helperEnv, mode)
	}
}

// hangWrite starts a write to a new file name in dir, in a goroutine that
// never ends: HangWrites blocks it, and the process dies with it.
func hangWrite(t *testing.T, dir, name string) {
	f, err := os.Create(filepath.Join(dir, name))
	require.NoError(t, err)
	go func() { _, _ = f.WriteString("x") }()
}

// helper is a child running TestHelperProcess.
type helper struct {
	cmd   *exec.Cmd
	tmp   string // its TMPDIR: its mounts are below
	conns string // its ConnsEnv folder
	out   syncBuffer
	done  chan struct{} // closed once it has ended
	err   error         // how it ended
}

// startHelper runs TestHelperProcess in a child, in the given mode and
// with the given -test.timeout. However the test ends, the child is
// aborted and killed if it has not ended.
func startHelper(t *testing.T, mode, timeout string) *helper {
	t.Helper()
	if why := lossyfs.Available(); why != "" {
		testenv.SkipOrFail(t, why)
	}
	dir := t.TempDir()
	h := &helper{tmp: filepath.Join(dir, "tmp"), conns: filepath.Join(dir, "conns"), done: make(chan struct{})}
	require.NoError(t, os.Mkdir(h.tmp, 0o700))
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.timeout="+timeout)
	h.cmd.Env = append(os.Environ(), helperEnv+"="+mode, "TMPDIR="+h.tmp, lossyfs.ConnsEnv+"="+h.conns)
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	require.NoError(t, h.cmd.Start())
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
			return
		default:
		}
		// Whatever the test saw, a wedged child must not outlive it.
		_, err := lossyfs.Abort(h.tmp, h.conns)
		_ = h.cmd.Process.Kill()
		select {
		case <-h.done:
		case <-time.After(time.Minute):
			t.Errorf("the helper (pid %d) is still wedged after an abort (%v):\n%s", h.cmd.Process.Pid, err, h.out.String())
		}
	})
	return h
}

// wait reports whether the child ended before ctx did.
func (h *helper) wait(ctx context.Context) bool {
	select {
	case <-h.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitWedged waits until the child is wedged: killed, yet with threads
// that cannot die, waiting in the kernel uninterruptibly.
func (h *helper) waitWedged(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !wedged(h.cmd.Process.Pid) {
		select {
		case <-h.done:
			return fmt.Errorf("the helper ended by itself (%v) instead of wedging", h.err)
		case <-ctx.Done():
			return fmt.Errorf("the helper never wedged: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// wedged reports whether every thread of the process pid is either gone
// (a zombie) or in uninterruptible sleep with SIGKILL pending, and one is.
func wedged(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	stuck := 0
	for _, status := range tasks {
		b, err := os.ReadFile(status)
		if err != nil {
			return false
		}
		state, pending := field(b, "State:"), field(b, "SigPnd:")
		kill, err := strconv.ParseUint(pending, 16, 64)
		switch {
		case strings.HasPrefix(state, "Z"):
		case strings.HasPrefix(state, "D") && err == nil && kill&(1<<(syscall.SIGKILL-1)) != 0:
			stuck++
		default:
			return false
		}
	}
	return stuck > 0
}

// field is the value of a "Name:\tvalue" line of a /proc status file.
func field(status []byte, name string) string {
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer for a child's output, read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mountsUnder lists the mount points in dir or below.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

func TestAbortEndsAWedgedTestBinary(t *testing.T) {
	h := startHelper(t, "killed", "10m")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, h.waitWedged(ctx), h.out.String())
	aborted, err := lossyfs.Abort(h.tmp, h.conns)
	require.NoError(t, err)
	assert.Len(t, aborted, 2, "the mount, and the one the crash detached (found by its record)")
	require.True(t, h.wait(ctx), "the helper is still wedged after the abort of %v:\n%s", aborted, h.out.String())
	assert.Contains(t, h.out.String(), "killing the test binary")
	assert.Empty(t, mountsUnder(t, h.tmp), "Abort unmounts what it aborted")
}
