//go:build dlq_all

package chaos

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
)

const childDirEnv = "DLQ_CHAOS_CHILD_DIR"

// TestFlushThenSIGKILL runs a child process that sends N entries, calls
// Flush, prints that it returned, and is killed with SIGKILL at once: the
// parent must find all N entries in the file.
func TestFlushThenSIGKILL(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		runChild(dir)
		return
	}
	const n = 50000
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlushThenSIGKILL$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, "DLQ_CHAOS_CHILD_N="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	flushed := false
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "flushed ") {
			flushed = true
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // no Close, no deferred anything
	_ = cmd.Wait()
	if !flushed {
		t.Fatal("the child never reported that Flush returned")
	}
	held := map[string]int{}
	readFiles(t, filepath.Join(dir, "child"), false, held)
	missing := 0
	for i := range n {
		if held[fmt.Sprintf("child-%06d", i)] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d entries flushed before the SIGKILL are not in the file", missing, n)
	}
	t.Logf("all %d entries flushed before SIGKILL are in the file", n)
}

func runChild(dir string) {
	n, _ := strconv.Atoi(os.Getenv("DLQ_CHAOS_CHILD_N"))
	o, err := dlq.New(dlq.Config{Service: "child", File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateSize, MaxSizeMB: 2}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	for i := range n {
		if err := o.SendContext(ctx, dlq.Entry{ID: fmt.Sprintf("child-%06d", i), Reason: "r", Payload: []byte("p")}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	if err := o.Flush(ctx); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("flushed %d\n", n)
	time.Sleep(time.Minute) // wait for the SIGKILL
	os.Exit(1)
}
