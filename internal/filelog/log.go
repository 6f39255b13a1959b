package filelog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Log. The zero value of a field means what its
// comment says; the caller (the dlq package) fills in its own defaults.
type Options struct {
	// Dir is the folder the log owns: made 0700 when missing (each folder
	// made fsynced into its parent), locked while the log is open.
	Dir string
	// Owner names the log in the error a second writer gets (a service).
	Owner string
	// Period is when the log starts a new file besides MaxBytes.
	Period Period
	// MaxBytes is the size at which the file rotates; a line larger than
	// it is refused with a *TooLargeError.
	MaxBytes int64
	// MaxAge prunes rotated files older than it (by their own age).
	MaxAge time.Duration
	// MaxBackups prunes the oldest rotated files beyond it; 0 keeps all.
	MaxBackups int
	// Compress gzips rotated files.
	Compress bool
	// SyncInterval is how long a written line waits for the background
	// fsync at most.
	SyncInterval time.Duration
	// Clock names rotated files and places them in a Period.
	Clock func() time.Time
	// Logger gets the warnings: torn lines cut, files replaced under the
	// writer, failed fsyncs, pruned files.
	Logger *slog.Logger
}

// Log appends NDJSON lines to <Dir>/dlq.ndjson, which it alone writes: it
// holds the folder's lock. It decides every rotation itself and keeps a
// copy of the lines written since the last confirmed sync (a Sync, a
// rotation, or the copy reaching maxKept), so that it can write them
// again when the file vanishes or an fsync fails. A background fsync
// makes lines durable but keeps them in the copy: when the file is removed
// or renamed before a Sync, its lines are written again even if they had
// been fsynced into the file that left.
// Its syncer goroutine fsyncs a dirty file every sync interval, and its mill
// goroutine compresses and prunes rotated files.
//
// One goroutine calls Write, Sync and Close (the dlq drain); the syncer
// calls backgroundSync. mu serialises them, except for the fsync of the
// file itself, which the syncer makes without it.
type Log struct {
	dir      string
	path     string
	period   Period
	maxBytes int64
	clock    func() time.Time
	log      *slog.Logger
	lock     *folderLock // held until close
	syncer   syncer
	mill     *mill
	syncs    atomic.Uint64 // good fsyncs of the file

	mu       sync.Mutex
	out      *os.File // the current file, read-write in append mode
	gen      uint64   // bumped each time out changes
	size     int64    // bytes in out
	good     int64    // bytes of out fsynced while it was linked at path
	base     int64    // bytes of out confirmed by a Sync; base <= good
	kept     []byte   // out's bytes from base to size: whole lines
	stale    bool     // out must be reopened and kept written again
	dirDirty bool     // the folder's entries changed since its last fsync
	current  time.Time
	closed   bool
	// lastBackup is the time in the newest rotated file's name: the next
	// one is named after it even when the clock went back, so that names
	// keep the order files were written in and no file's name is earlier
	// than a line in it.
	lastBackup time.Time
}

// maxKept bounds the copy of the lines written since the last point a
// Sync confirmed: a write that takes it past this many bytes fsyncs and
// confirms at once, and the copy restarts from there.
const maxKept = 8 << 20

// Open makes the folder, takes its lock, cuts a torn last line off the
// live file when there is one, and starts the syncer and the mill (which
// first finishes what a crash left: compression, pruning). When another
// writer holds the folder, the error matches ErrLocked.
func Open(o Options) (*Log, error) {
	if err := makeDir(o.Dir, o.Logger); err != nil {
		return nil, err
	}
	lock, err := lockDir(o.Dir, o.Owner)
	if err != nil {
		return nil, err
	}
	l := &Log{
		dir:      o.Dir,
		path:     filepath.Join(o.Dir, LiveName),
		period:   o.Period,
		maxBytes: o.MaxBytes,
		clock:    o.Clock,
		log:      o.Logger,
		lock:     lock,
		syncer:   newSyncer(o.SyncInterval),
	}
	l.lastBackup, err = newestBackup(o.Dir)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	if err := refuseLink(l.path); err != nil {
		_ = lock.Close()
		return nil, err
	}
	if exists(l.path) { // cut a torn line now; create the file at the first write
		if err := l.reopen(); err != nil {
			_ = lock.Close()
			return nil, err
		}
	}
	l.mill = newMill(&o)
	go l.runSyncer()
	go l.mill.run()
	l.mill.wake() // finish what a crash left: compression, pruning
	return l, nil
}

// Syncs returns how many fsyncs of the file succeeded so far.
func (l *Log) Syncs() uint64 { return l.syncs.Load() }

// Pruned returns how many lines the pruned rotated files held.
func (l *Log) Pruned() uint64 { return l.mill.pruned.Load() }

// Durable reports whether every line written sits fsynced in the file
// linked at its path, its folder fsynced too: what the syncer reaches
// without a Sync.
func (l *Log) Durable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out != nil && l.size == l.good && !l.stale && !l.dirDirty
}

// Unconfirmed returns how many bytes of lines the log keeps to write again
// should the file vanish: those written since the last confirmed sync.
func (l *Log) Unconfirmed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.kept)
}

// Write appends lines, each without its newline, and sets errs[i] for
// each line it did not write (errs has one slot per line, all nil). Lines
// are grouped into writes that never cross a rotation point; a write that
// fails part way is cut back to its last whole line at once, and marks
// exactly the lines that did not get out whole. A line longer than
// MaxBytes gets a *TooLargeError of its own and is skipped. It returns
// the first error of a write to the file, nil when every line that fit was
// written.
func (l *Log) Write(lines [][]byte, errs []error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.ready(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return err
	}
	l.reserve(lines)
	periodOver := l.periodOf(l.clock()) != l.current
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	start, chunk := 0, len(l.kept) // first line and first byte of the pending chunk
	for i, line := range lines {
		n := int64(len(line) + 1)
		if n > l.maxBytes {
			errs[i] = &TooLargeError{Size: n, Limit: l.maxBytes}
			keep(l.writeChunk(lines, errs, start, i, chunk))
			start, chunk = i+1, len(l.kept)
			continue
		}
		if l.size+int64(len(l.kept)-chunk)+n > l.maxBytes || periodOver {
			periodOver = false
			keep(l.writeChunk(lines, errs, start, i, chunk))
			start = i
			if err := l.rotate(); err != nil {
				for j := i; j < len(lines); j++ {
					errs[j] = err
				}
				return err
			}
			chunk = len(l.kept)
		}
		l.kept = append(l.kept, line...)
		l.kept = append(l.kept, '\n')
	}
	keep(l.writeChunk(lines, errs, start, len(lines), chunk))
	if l.size > l.good {
		l.syncer.wake()
	}
	if len(l.kept) > maxKept {
		if err := l.syncLocked(); err != nil {
			// The lines stay in the copy and are written again.
			l.log.Warn("dlq: fsync failed", "file", l.path, "error", err)
		}
	}
	return firstErr
}

// reserve makes room in kept for lines, doubling its capacity: the
// buffer lives as long as the backend, and growing it by the quarter, as
// append does at this size, would copy it over and over.
func (l *Log) reserve(lines [][]byte) {
	need := len(lines)
	for _, line := range lines {
		need += len(line)
	}
	if free := cap(l.kept) - len(l.kept); free < need {
		grown := make([]byte, len(l.kept), max(2*cap(l.kept), len(l.kept)+need))
		copy(grown, l.kept)
		l.kept = grown
	}
}

// writeChunk writes kept[chunk:], which holds lines [from, to)
// (less any oversize ones, which already carry their error). A write that
// fails is cut back to its last whole line, so that the next line never
// glues onto a fragment; the lines not written whole get the error.
func (l *Log) writeChunk(lines [][]byte, errs []error, from, to, chunk int) error {
	data := l.kept[chunk:]
	if len(data) == 0 {
		return nil
	}
	n, err := l.out.Write(data)
	if err == nil {
		l.size += int64(n)
		return nil
	}
	whole := bytes.LastIndexByte(data[:n], '\n') + 1
	if whole < n {
		if terr := l.out.Truncate(l.size + int64(whole)); terr != nil {
			l.stale = true // reopening cuts the torn line
			l.log.Warn("dlq: cannot cut a torn line", "file", l.path, "error", terr)
		}
	}
	l.size += int64(whole)
	l.kept = l.kept[:chunk+whole]
	end := 0
	for i := from; i < to; i++ {
		if errs[i] != nil {
			continue // oversize: not in the chunk
		}
		end += len(lines[i]) + 1
		if end > whole {
			errs[i] = err
		}
	}
	return err
}

// Close makes what is unsynced durable, stops the goroutines and releases
// the folder's lock. It waits for a compression in progress. When the
// kept lines cannot be made durable (the file cannot
// be reopened or synced), they existed only in memory and go with the
// process: the error and an error log say how many lines that is.
func (l *Log) Close() error {
	l.syncer.stopAndWait()
	l.mu.Lock()
	var errs []error
	if len(l.kept) > 0 || l.size > l.good || l.stale || l.dirDirty {
		if err := l.syncLocked(); err != nil {
			errs = append(errs, l.notDurable(err))
		}
	}
	if l.out != nil {
		errs = append(errs, l.out.Close())
		l.out = nil
	}
	l.closed = true
	lock := l.lock
	l.mu.Unlock()
	l.mill.stopAndWait()
	errs = append(errs, lock.Close())
	return errors.Join(errs...)
}

// notDurable reports, at close, the entries whose lines were written but
// never confirmed durable in the file at path: they are held in the kept
// copy, and the last sync failed with err. It logs them at error level and
// returns err with their count.
func (l *Log) notDurable(err error) error {
	n := bytes.Count(l.kept, []byte{'\n'})
	if n == 0 {
		return err
	}
	l.log.Error("dlq: entries written to the file were never made durable and are lost at close",
		"file", l.path, "entries", n, "bytes", len(l.kept), "error", err)
	return fmt.Errorf("%d entries not made durable (lost with this process): %w", n, err)
}
