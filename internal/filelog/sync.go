package dlq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// fileSyncer is the file backend's goroutine that fsyncs a dirty file at
// least every interval, so that durability without Flush does not rest on
// the kernel's writeback. A write wakes it; it waits one interval, then
// syncs.
type fileSyncer struct {
	interval time.Duration
	wakeup   chan struct{} // one pending wake-up at most
	stop     chan struct{}
	done     chan struct{}
}

func newFileSyncer(interval time.Duration) fileSyncer {
	return fileSyncer{
		interval: interval,
		wakeup:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// wake asks for a sync one interval from now, unless one is already asked.
func (s *fileSyncer) wake() {
	select {
	case s.wakeup <- struct{}{}:
	default:
	}
}

func (s *fileSyncer) stopAndWait() {
	close(s.stop)
	<-s.done
}

func (f *fileBackend) runSyncer() {
	s := &f.syncer
	defer close(s.done)
	timer := time.NewTimer(s.interval)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wakeup:
		}
		timer.Reset(s.interval)
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		f.backgroundSync()
		f.restoreLock()
	}
}

// restoreLock puts back a .lock removed under the writer, so that a second
// writer's ErrLocked names this process's pid again.
func (f *fileBackend) restoreLock() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if err := f.lock.restore(); err != nil {
		f.log.Warn("dlq: cannot put back the removed lock file", "file", f.lock.name, "error", err)
	}
}

// backgroundSync fsyncs the file without holding mu during the fsync, so
// that the drain's writes go on meanwhile; it then marks good what was
// written before the fsync began, keeping those lines in the copy: only a
// sync of the drain confirms them. A failure is logged, and the file is
// reopened with the kept lines written again.
func (f *fileBackend) backgroundSync() {
	f.mu.Lock()
	if f.closed || f.nothingWritten() || (f.size == f.good && !f.stale && !f.dirDirty) {
		f.mu.Unlock()
		return
	}
	if err := f.ready(); err != nil {
		f.mu.Unlock()
		f.log.Warn("dlq: background sync cannot reopen the file", "file", f.path, "error", err)
		f.syncer.wake()
		return
	}
	out, upto, gen := f.out, f.size, f.gen
	f.mu.Unlock()

	err := out.Sync()

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || gen != f.gen || f.stale {
		f.syncer.wake() // the file changed meanwhile: its lines are kept
		return
	}
	if err != nil {
		f.fsyncFailed(err)
		f.syncer.wake()
		return
	}
	if err := f.confirm(); err != nil {
		f.log.Warn("dlq: background sync failed", "file", f.path, "error", err)
		f.syncer.wake()
		return
	}
	if upto > f.good {
		f.markGood(upto)
	}
	if f.size > f.good {
		f.syncer.wake()
	}
}

// sync makes everything written so far durable: Flush's promise. It then
// lets the mill prune the files rotated before it (fileprune.go).
func (f *fileBackend) sync(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.syncLocked(); err != nil {
		return err
	}
	f.mill.confirmed()
	return nil
}

// maxSyncTries bounds syncLocked's attempts: a failed fsync, or a file
// that vanished, is worth one more try with the lines written again.
const maxSyncTries = 3

// syncLocked fsyncs the file and, when its entries changed, its folder. It
// returns nil only when every line written sits fsynced in the file linked
// at path, and then drops them from the copy: they are confirmed. After a
// failed fsync, or a file that vanished, it writes the kept lines again and
// tries once more.
func (f *fileBackend) syncLocked() error {
	if f.nothingWritten() {
		return nil
	}
	var err error
	for range maxSyncTries {
		if err = f.ready(); err != nil {
			return err
		}
		if f.size == f.good && !f.dirDirty {
			f.confirmKept(f.size) // ready found the file linked at path
			return nil
		}
		if err = f.out.Sync(); err != nil {
			f.fsyncFailed(err)
			err = fmt.Errorf("fsync %s: %w", f.path, err)
			continue
		}
		if err = f.confirm(); err != nil {
			continue
		}
		f.markGood(f.size)
		f.confirmKept(f.size)
		return nil
	}
	return err
}

// nothingWritten reports whether no file was opened yet and no line waits.
func (f *fileBackend) nothingWritten() bool { return f.out == nil && len(f.kept) == 0 }

// confirm fsyncs the folder when its entries changed, then checks that the
// fsynced file is still the one at path: an entry fsynced into a file that
// was meanwhile deleted is not durable.
func (f *fileBackend) confirm() error {
	if f.dirDirty {
		if err := syncDir(f.dir); err != nil {
			return err
		}
		f.dirDirty = false
	}
	linked, _, err := f.linked()
	if err != nil {
		return err
	}
	if !linked {
		f.stale = true
		return fmt.Errorf("%s was removed or renamed during fsync", f.path)
	}
	return nil
}

// fsyncFailed treats the lines since the last good fsync as not written:
// the kernel may have dropped them, and a later fsync would not say so. It
// cuts them off the file when it is still the one at path, and marks the
// file for reopening, which writes them again.
func (f *fileBackend) fsyncFailed(err error) {
	f.log.Warn("dlq: fsync failed; writing the lines since the last good one again",
		"file", f.path, "bytes", f.size-f.good, "error", err)
	if linked, size, _ := f.linked(); linked && size >= f.good {
		// If this fails too, the lines are written again after themselves:
		// duplicates, not losses.
		_ = f.out.Truncate(f.good)
	}
	f.stale = true
}

// markGood records that out's bytes up to upto are durable. They stay in
// the copy until a sync of the drain confirms them.
func (f *fileBackend) markGood(upto int64) {
	f.good = upto
	f.syncs.Add(1)
}

// confirmKept drops from the copy out's bytes up to upto, which a sync of
// the drain found durable in the file linked at path.
func (f *fileBackend) confirmKept(upto int64) {
	n := copy(f.kept, f.kept[upto-f.base:])
	f.kept = f.kept[:n]
	if n == 0 && cap(f.kept) > 4*maxKept { // after one huge batch
		f.kept = nil
	}
	f.base = upto
}

// syncDir fsyncs a folder, making the names in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
