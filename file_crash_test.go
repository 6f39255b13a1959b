package dlq

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashCycles bounds the SIGKILL-and-restart loop: about 15 child starts.
const crashCycles = 15

func TestFileSurvivesSIGKILLAndRestart(t *testing.T) {
	// A process's death loses nothing the page cache holds, so a tmpfs is
	// as real as a disk here, and without fsync's wait the kills land
	// inside writes more often.
	dir := mountTmpfs(t, "256m")
	svc := filepath.Join(dir, "crash")
	var flushed []string // every id some Flush confirmed
	torn := 0
	for cycle := range crashCycles {
		flushed = append(flushed, runCrashChild(t, dir, cycle)...)
		// Before any restart's repair: only dlq.ndjson's last line may be
		// torn; a restart that glued onto it would leave one in the middle.
		if data, err := os.ReadFile(filepath.Join(svc, filelog.LiveName)); err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
			torn++
		}
	}
	t.Logf("%d cycles, %d flushed entries, %d torn last lines left by SIGKILL", crashCycles, len(flushed), torn)

	o, err := New(Config{Service: "crash", Logger: discardLogger(), File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err, "the restart after the last kill")
	closeOK(t, o)
	counts := idCounts(t, svc)
	for _, id := range flushed {
		require.Equal(t, 1, counts[id], "flushed entry %s: present once", id)
	}
	for id, n := range counts {
		require.Equal(t, 1, n, "entry %s written once", id)
	}
}

// runCrashChild starts a child that sends and flushes in a loop, kills it
// with SIGKILL at a random moment, and returns the ids it reported flushed.
func runCrashChild(t *testing.T, dir string, cycle int) []string {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^TestFileCrashChild$")
	child.Env = append(os.Environ(), "DLQ_CRASH_DIR="+dir, "DLQ_CRASH_CYCLE="+strconv.Itoa(cycle))
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	killAfter := 1 + rand.IntN(3) // flushes
	var flushed []string
	lines := bufio.NewScanner(stdout)
	killed := false
	for lines.Scan() {
		n, ok := strings.CutPrefix(lines.Text(), "flushed ")
		if !ok {
			continue
		}
		last, err := strconv.Atoi(n)
		require.NoError(t, err)
		for i := len(flushed); i <= last; i++ {
			flushed = append(flushed, crashID(cycle, i))
		}
		if !killed && len(flushed) >= killAfter*crashBatch {
			// A random moment inside the next batch's writes.
			time.Sleep(time.Duration(rand.IntN(40000)) * time.Microsecond)
			require.NoError(t, child.Process.Kill())
			killed = true
		}
	}
	_ = child.Wait()
	require.True(t, killed, "the child ended before its kill: see its stderr")
	return flushed
}

const crashBatch = 200

func crashID(cycle, i int) string { return fmt.Sprintf("c%02d-%07d", cycle, i) }

// TestFileCrashChild is the child of TestFileSurvivesSIGKILLAndRestart: it
// sends batches of entries of random sizes and reports each flushed batch
// on stdout until it is killed.
func TestFileCrashChild(t *testing.T) {
	dir := os.Getenv("DLQ_CRASH_DIR")
	if dir == "" {
		t.Skip("runs as a child of TestFileSurvivesSIGKILLAndRestart")
	}
	cycle, err := strconv.Atoi(os.Getenv("DLQ_CRASH_CYCLE"))
	require.NoError(t, err)
	o, err := New(Config{Service: "crash", Logger: discardLogger(), BatchSize: 64,
		File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	for i := 0; ; {
		for range crashBatch {
			payload := strings.Repeat("x", rand.IntN(6000))
			require.NoError(t, o.SendContext(context.Background(), Entry{ID: crashID(cycle, i), Reason: "r", Payload: []byte(payload)}))
			i++
		}
		require.NoError(t, o.Flush(context.Background()))
		fmt.Println("flushed", i-1)
	}
}

func TestFileRestartCutsATornLastLine(t *testing.T) {
	for _, test := range []struct {
		name     string
		fragment string
	}{
		{"after whole lines", `{"id":"torn","rea`},
		{"no newline at all", `{"id":"torn"`},
		{"longer than one read", `{"id":"torn","payload":"` + strings.Repeat("y", 3*64<<10)},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			svc := filepath.Join(dir, "svc")
			if test.name != "no newline at all" {
				o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
				require.NoError(t, err)
				sendIDs(t, o, idRange("before", 5), 10)
				closeOK(t, o)
			} else {
				require.NoError(t, os.MkdirAll(svc, 0o700))
			}
			f, err := os.OpenFile(filepath.Join(svc, filelog.LiveName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			require.NoError(t, err)
			_, err = f.WriteString(test.fragment) // what a kill mid-write leaves
			require.NoError(t, err)
			require.NoError(t, f.Close())

			logs := &logBuffer{}
			o, err := New(Config{Service: "svc", Logger: logs.logger(), File: FileConfig{Dir: dir}})
			require.NoError(t, err)
			assert.Contains(t, logs.String(), "cut a torn last line")
			assert.Contains(t, logs.String(), fmt.Sprintf("bytes=%d", len(test.fragment)))
			sendIDs(t, o, idRange("after", 5), 10)
			closeOK(t, o)

			counts := idCounts(t, svc)
			requireAll(t, counts, idRange("after", 5))
			assert.NotContains(t, counts, "torn")
		})
	}
}
