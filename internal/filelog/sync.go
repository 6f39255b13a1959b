package filelog

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// syncer is the log's goroutine that fsyncs a dirty file at least every
// interval, so that durability without Flush does not rest on the
// kernel's writeback. A write wakes it; it waits one interval, then
// syncs.
type syncer struct {
	interval time.Duration
	wakeup   chan struct{} // one pending wake-up at most
	stop     chan struct{}
	done     chan struct{}
}

func newSyncer(interval time.Duration) syncer {
	return syncer{
		interval: interval,
		wakeup:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// wake asks for a sync one interval from now, unless one is already asked.
func (s *syncer) wake() {
	select {
	case s.wakeup <- struct{}{}:
	default:
	}
}

func (s *syncer) stopAndWait() {
	close(s.stop)
	<-s.done
}

func (l *Log) runSyncer() {
	s := &l.syncer
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
		l.backgroundSync()
		l.restoreLock()
	}
}

// restoreLock puts back a .lock removed under the writer, so that a second
// writer's ErrLocked names this process's pid again.
func (l *Log) restoreLock() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if err := l.lock.restore(); err != nil {
		l.log.Warn("dlq: cannot put back the removed lock file", "file", l.lock.name, "error", err)
	}
}

// backgroundSync fsyncs the file without holding mu during the fsync, so
// that the drain's writes go on meanwhile; it then marks good what was
// written before the fsync began, keeping those lines in the copy: only a
// Sync confirms them. A failure is logged, and the file is
// reopened with the kept lines written again.
func (l *Log) backgroundSync() {
	l.mu.Lock()
	if l.closed || l.nothingWritten() || (l.size == l.good && !l.stale && !l.dirDirty) {
		l.mu.Unlock()
		return
	}
	if err := l.ready(); err != nil {
		l.mu.Unlock()
		l.log.Warn("dlq: background sync cannot reopen the file", "file", l.path, "error", err)
		l.syncer.wake()
		return
	}
	out, upto, gen := l.out, l.size, l.gen
	l.mu.Unlock()

	err := out.Sync()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || gen != l.gen || l.stale {
		l.syncer.wake() // the file changed meanwhile: its lines are kept
		return
	}
	if err != nil {
		l.fsyncFailed(err)
		l.syncer.wake()
		return
	}
	if err := l.confirm(); err != nil {
		l.log.Warn("dlq: background sync failed", "file", l.path, "error", err)
		l.syncer.wake()
		return
	}
	if upto > l.good {
		l.markGood(upto)
	}
	if l.size > l.good {
		l.syncer.wake()
	}
}

// Sync makes everything written so far durable: Flush's promise. It then
// lets the mill prune the files rotated before it (mill.confirmed).
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.syncLocked(); err != nil {
		return err
	}
	l.mill.confirmed()
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
func (l *Log) syncLocked() error {
	if l.nothingWritten() {
		return nil
	}
	var err error
	for range maxSyncTries {
		if err = l.ready(); err != nil {
			return err
		}
		if l.size == l.good && !l.dirDirty {
			l.confirmKept(l.size) // ready found the file linked at path
			return nil
		}
		if err = l.out.Sync(); err != nil {
			l.fsyncFailed(err)
			err = fmt.Errorf("fsync %s: %w", l.path, err)
			continue
		}
		if err = l.confirm(); err != nil {
			continue
		}
		l.markGood(l.size)
		l.confirmKept(l.size)
		return nil
	}
	return err
}

// nothingWritten reports whether no file was opened yet and no line waits.
func (l *Log) nothingWritten() bool { return l.out == nil && len(l.kept) == 0 }

// confirm fsyncs the folder when its entries changed, then checks that the
// fsynced file is still the one at path: an entry fsynced into a file that
// was meanwhile deleted is not durable.
func (l *Log) confirm() error {
	if l.dirDirty {
		if err := syncDir(l.dir); err != nil {
			return err
		}
		l.dirDirty = false
	}
	linked, _, err := l.linked()
	if err != nil {
		return err
	}
	if !linked {
		l.stale = true
		return fmt.Errorf("%s was removed or renamed during fsync", l.path)
	}
	return nil
}

// fsyncFailed treats the lines since the last good fsync as not written:
// the kernel may have dropped them, and a later fsync would not say so. It
// cuts them off the file when it is still the one at path, and marks the
// file for reopening, which writes them again.
func (l *Log) fsyncFailed(err error) {
	l.log.Warn("dlq: fsync failed; writing the lines since the last good one again",
		"file", l.path, "bytes", l.size-l.good, "error", err)
	if linked, size, _ := l.linked(); linked && size >= l.good {
		// If this fails too, the lines are written again after themselves:
		// duplicates, not losses.
		_ = l.out.Truncate(l.good)
	}
	l.stale = true
}

// markGood records that out's bytes up to upto are durable. They stay in
// the copy until a Sync confirms them.
func (l *Log) markGood(upto int64) {
	l.good = upto
	l.syncs.Add(1)
}

// confirmKept drops from the copy out's bytes up to upto, which a sync of
// the drain found durable in the file linked at path.
func (l *Log) confirmKept(upto int64) {
	n := copy(l.kept, l.kept[upto-l.base:])
	l.kept = l.kept[:n]
	if n == 0 && cap(l.kept) > 4*maxKept { // after one huge batch
		l.kept = nil
	}
	l.base = upto
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
