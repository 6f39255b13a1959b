package dlq

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// renameWatch counts the files renamed into a folder under one name, the
// way `inotifywait -m -e moved_to DIR` would show them: every checkpoint
// write ends with such a rename.
type renameWatch struct {
	fd   int
	name string
}

func watchRenames(t *testing.T, dir, name string) *renameWatch {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	// IN_CREATE too: inotify merges an event with an identical one queued
	// just before it, and each write creates its temporary file between
	// two renames.
	_, err = syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO)
	require.NoError(t, err)
	return &renameWatch{fd: fd, name: name}
}

// count returns how many renames to the name happened since the last call.
func (w *renameWatch) count(t *testing.T) int {
	t.Helper()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		got, err := syscall.Read(w.fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			return n
		}
		require.NoError(t, err)
		for off := 0; off < got; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			require.Zero(t, ev.Mask&syscall.IN_Q_OVERFLOW, "the watch overflowed: more renames than it could count")
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			if ev.Mask&syscall.IN_MOVED_TO != 0 && string(bytes.TrimRight(name, "\x00")) == w.name {
				n++
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// TestCheckpointWritesAFewTimesASecond counts the checkpoint's writes (its
// renames into place, as inotify sees them): with a Rate N one per N/4
// confirmed entries and the last, whatever the machine's speed; without a
// Rate at most one per checkpointInterval of the run and the last.
// Before, it was rewritten at every rate wait: every ~34 messages at
// 5,000/s, after every message at 500/s.
func TestCheckpointWritesAFewTimesASecond(t *testing.T) {
	const n = 600
	src := writeNumbered(t, t.TempDir(), n)
	s := newReplaySink(t, nil)
	for _, rate := range []float64{4000, 1000, 0} {
		t.Run(fmt.Sprintf("rate %v", rate), func(t *testing.T) {
			dir := t.TempDir()
			cp := filepath.Join(dir, "replay.cp")
			w := watchRenames(t, dir, filepath.Base(cp))
			start := time.Now()
			_, err := Replay(t.Context(), src, s.url, ReplayOptions{Rate: rate, Checkpoint: cp})
			took := time.Since(start)
			require.NoError(t, err)
			writes := w.count(t)
			allowed := 1 // the last
			if every := checkpointEvery(rate); every > 0 {
				allowed += n / int(every)
			} else {
				allowed += int(took / checkpointInterval) // took can only be longer than the run
			}
			assert.LessOrEqual(t, writes, allowed, "checkpoint writes for %d entries in %v", n, took)
			assert.Positive(t, writes)
			assert.Equal(t, uint64(n), readCheckpoint(t, cp).Replayed)
			t.Logf("%d entries at rate %v: %d checkpoint writes in %v", n, rate, writes, took)
		})
	}
}
