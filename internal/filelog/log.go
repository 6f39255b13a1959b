package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultFileDir        = "./dlq"
	defaultMaxSizeMB      = 100
	defaultMaxAgeDays     = 30
	defaultSyncIntervalMS = 1000
	fileName              = "dlq.ndjson"
	megabyte              = 1 << 20
	// maxKept bounds the copy of the lines written since the last point a
	// Flush confirmed: a write that takes it past this many bytes fsyncs
	// and confirms at once, and the copy restarts from there.
	maxKept = 8 << 20
)

func (f *FileConfig) dir() string {
	if f.Dir == "" {
		return defaultFileDir
	}
	return f.Dir
}

func (f *FileConfig) rotation() Rotation {
	if f.Rotation == "" {
		return RotateHourly
	}
	return f.Rotation
}

func (f *FileConfig) maxSizeMB() int  { return orDefault(f.MaxSizeMB, defaultMaxSizeMB) }
func (f *FileConfig) maxAgeDays() int { return orDefault(f.MaxAgeDays, defaultMaxAgeDays) }
func (f *FileConfig) maxBytes() int64 {
	if f.rotation() == RotateNone {
		return math.MaxInt64 / 2
	}
	return int64(f.maxSizeMB()) * megabyte
}

func (f *FileConfig) syncInterval() time.Duration {
	return ms(orDefault(f.SyncIntervalMS, defaultSyncIntervalMS))
}

// fileBackend appends NDJSON lines to <dir>/<service>/dlq.ndjson, which it
// alone writes: it holds the folder's lock. It decides every rotation
// itself and keeps a copy of the lines written since the last confirmed
// sync (a Flush, a rotation, or the copy reaching maxKept), so that it can
// write them again when the file vanishes or an fsync fails. A background
// fsync makes lines durable but keeps them in the copy: when the file is
// removed or renamed before a Flush, its lines are written again even if
// they had been fsynced into the file that left.
// Its syncer goroutine fsyncs a dirty file every sync interval, and its mill
// goroutine compresses and prunes rotated files.
//
// The drain calls write, sync and close; the syncer calls backgroundSync.
// mu serialises them, except for the fsync of the file itself, which the
// syncer makes without it.
type fileBackend struct {
	dir      string // <dir>/<service>
	path     string
	rotation Rotation
	maxBytes int64
	clock    func() time.Time
	log      *slog.Logger
	lock     *folderLock // held until close
	syncer   fileSyncer
	mill     *fileMill
	syncs    atomic.Uint64 // good fsyncs of the file

	mu       sync.Mutex
	out      *os.File // the current file, read-write in append mode
	gen      uint64   // bumped each time out changes
	size     int64    // bytes in out
	good     int64    // bytes of out fsynced while it was linked at path
	base     int64    // bytes of out confirmed by a sync of the drain; base <= good
	kept     []byte   // out's bytes from base to size: whole lines
	stale    bool     // out must be reopened and kept written again
	dirDirty bool     // the folder's entries changed since its last fsync
	period   time.Time
	closed   bool
}

func newFileBackend(cfg *Config) (*fileBackend, error) {
	fc := &cfg.File
	dir := filepath.Join(fc.dir(), cfg.Service)
	log := cfg.logger()
	if err := makeDir(dir, log); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir, cfg.Service)
	if err != nil {
		return nil, err
	}
	f := &fileBackend{
		dir:      dir,
		path:     filepath.Join(dir, fileName),
		rotation: fc.rotation(),
		maxBytes: fc.maxBytes(),
		clock:    cfg.clock(),
		log:      log,
		lock:     lock,
		syncer:   newFileSyncer(fc.syncInterval()),
	}
	if err := refuseLink(f.path); err != nil {
		_ = lock.Close()
		return nil, err
	}
	if exists(f.path) { // cut a torn line now; create the file at the first write
		if err := f.reopen(); err != nil {
			_ = lock.Close()
			return nil, err
		}
	}
	f.mill = newFileMill(dir, fc, log)
	go f.runSyncer()
	go f.mill.run()
	f.mill.wake() // finish what a crash left: compression, pruning
	return f, nil
}

// write appends the batch's lines. Lines are grouped into writes that never
// cross a rotation point; a write that fails part way is cut back to its
// last whole line at once, and marks exactly the entries whose lines did not
// get out whole.
func (f *fileBackend) write(_ context.Context, bt *batch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.ready(); err != nil {
		for i := range bt.errs {
			bt.errs[i] = err
		}
		return err
	}
	f.reserve(bt.lines)
	periodOver := f.periodOf(f.clock()) != f.period
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	start, chunk := 0, len(f.kept) // first line and first byte of the pending chunk
	for i, line := range bt.lines {
		n := int64(len(line) + 1)
		if n > f.maxBytes {
			bt.errs[i] = fmt.Errorf("%w: a %d-byte line exceeds the %d-byte file size limit", ErrOversize, n, f.maxBytes)
			keep(f.writeChunk(bt, start, i, chunk))
			start, chunk = i+1, len(f.kept)
			continue
		}
		if f.size+int64(len(f.kept)-chunk)+n > f.maxBytes || periodOver {
			periodOver = false
			keep(f.writeChunk(bt, start, i, chunk))
			start = i
			if err := f.rotate(); err != nil {
				for j := i; j < len(bt.lines); j++ {
					bt.errs[j] = err
				}
				return err
			}
			chunk = len(f.kept)
		}
		f.kept = append(f.kept, line...)
		f.kept = append(f.kept, '\n')
	}
	keep(f.writeChunk(bt, start, len(bt.lines), chunk))
	if f.size > f.good {
		f.syncer.wake()
	}
	if len(f.kept) > maxKept {
		if err := f.syncLocked(); err != nil {
			// The lines stay in the copy and are written again.
			f.log.Warn("dlq: fsync failed", "file", f.path, "error", err)
		}
	}
	return firstErr
}

// reserve makes room in kept for lines, doubling its capacity: the
// buffer lives as long as the backend, and growing it by the quarter, as
// append does at this size, would copy it over and over.
func (f *fileBackend) reserve(lines [][]byte) {
	need := len(lines)
	for _, line := range lines {
		need += len(line)
	}
	if free := cap(f.kept) - len(f.kept); free < need {
		grown := make([]byte, len(f.kept), max(2*cap(f.kept), len(f.kept)+need))
		copy(grown, f.kept)
		f.kept = grown
	}
}

// writeChunk writes kept[chunk:], which holds lines [from, to) of bt
// (less any oversize ones, which already carry their error). A write that
// fails is cut back to its last whole line, so that the next line never
// glues onto a fragment; the lines not written whole get the error.
func (f *fileBackend) writeChunk(bt *batch, from, to, chunk int) error {
	data := f.kept[chunk:]
	if len(data) == 0 {
		return nil
	}
	n, err := f.out.Write(data)
	if err == nil {
		f.size += int64(n)
		return nil
	}
	whole := bytes.LastIndexByte(data[:n], '\n') + 1
	if whole < n {
		if terr := f.out.Truncate(f.size + int64(whole)); terr != nil {
			f.stale = true // reopening cuts the torn line
			f.log.Warn("dlq: cannot cut a torn line", "file", f.path, "error", terr)
		}
	}
	f.size += int64(whole)
	f.kept = f.kept[:chunk+whole]
	end := 0
	for i := from; i < to; i++ {
		if bt.errs[i] != nil {
			continue // oversize: not in the chunk
		}
		end += len(bt.lines[i]) + 1
		if end > whole {
			bt.errs[i] = err
		}
	}
	return err
}

// close makes what is unsynced durable, stops the goroutines and releases
// the folder's lock. It waits for a compression in progress. When the
// kept lines cannot be made durable (the file cannot
// be reopened or synced), they existed only in memory and go with the
// process: the error and an error log say how many entries that is. Stats
// had counted them Written; they are not counted again as lost.
func (f *fileBackend) close(context.Context) error {
	f.syncer.stopAndWait()
	f.mu.Lock()
	var errs []error
	if len(f.kept) > 0 || f.size > f.good || f.stale || f.dirDirty {
		if err := f.syncLocked(); err != nil {
			errs = append(errs, f.notDurable(err))
		}
	}
	if f.out != nil {
		errs = append(errs, f.out.Close())
		f.out = nil
	}
	f.closed = true
	lock := f.lock
	f.mu.Unlock()
	f.mill.stopAndWait()
	errs = append(errs, lock.Close())
	return errors.Join(errs...)
}
