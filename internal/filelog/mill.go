package filelog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"compress/gzip"
)

// fileMill is the file backend's goroutine that compresses and prunes
// rotated files (prune.go), after each rotation, after a Sync that lets a file go, and once at start (to finish what a crash
// interrupted). A compressed file is fsynced, and renamed into place
// and its folder fsynced, before the plain file it replaces is removed: at
// every moment one of the two holds every line durably.
type fileMill struct {
	dir        string
	compress   bool
	maxAge     time.Duration
	maxBackups int
	log        *slog.Logger
	wakeup     chan struct{}
	stop       chan struct{}
	done       chan struct{}

	// started anchors the time pruning goes by (prune.go).
	started time.Time
	pruned  atomic.Uint64 // entries removed with pruned files: Pruned

	// asked counts wake calls; answered is the asked count the last pass
	// read before it began, so a pass has seen every rotation before a wake
	// once answered reaches that wake's count (tests wait on it).
	asked, answered atomic.Uint64

	mu   sync.Mutex
	ours map[string]*rotation // this process's rotated files, by plain name
	seq  uint64               // rotations so far
}

func newFileMill(o *Options) *fileMill {
	return &fileMill{
		dir:        o.Dir,
		compress:   o.Compress,
		maxAge:     o.MaxAge,
		maxBackups: o.MaxBackups,
		log:        o.Logger,
		wakeup:     make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		started:    time.Now(),
		ours:       map[string]*rotation{},
	}
}

// wake asks for a pass over the rotated files.
func (m *fileMill) wake() {
	m.asked.Add(1)
	select {
	case m.wakeup <- struct{}{}:
	default:
	}
}

// stopAndWait ends the goroutine after the pass asked for, if any.
func (m *fileMill) stopAndWait() {
	close(m.stop)
	<-m.done
}

func (m *fileMill) run() {
	defer close(m.done)
	for {
		select {
		case <-m.wakeup:
			m.answer()
		case <-m.stop:
			select {
			case <-m.wakeup:
				m.answer()
			default:
			}
			return
		}
	}
}

// answer makes a pass for every wake made before it begins.
func (m *fileMill) answer() {
	n := m.asked.Load()
	m.pass()
	m.answered.Store(n)
}

func (m *fileMill) remove(name string) {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("dlq: cannot remove a rotated file", "file", name, "error", err)
	}
}

// compressFile gzips plain into plain.gz through a hidden temporary file,
// fsyncs it, renames it into place, fsyncs the folder, and only then
// removes plain, fsyncing the folder once more.
func (m *fileMill) compressFile(plain string) (err error) {
	in, err := os.Open(plain)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := tempName(plain)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("gzip %s: %w", plain, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip %s: %w", plain, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The .gz keeps the plain file's modification time, which pruning
	// goes by.
	if info, err := in.Stat(); err == nil {
		if err := os.Chtimes(tmp, time.Time{}, info.ModTime()); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, plain+GzSuffix); err != nil {
		return err
	}
	if err := syncDir(m.dir); err != nil {
		return err
	}
	if err := os.Remove(plain); err != nil {
		return err
	}
	// Make the removal durable too: after a power loss, a plain file next
	// to its .gz would be read twice.
	return syncDir(m.dir)
}
