package dlq

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

const (
	defaultFileDir    = "./dlq"
	defaultMaxSizeMB  = 100
	defaultMaxAgeDays = 30
	fileName          = "dlq.ndjson"
	megabyte          = 1 << 20
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

// fileBackend appends NDJSON lines to <dir>/<service>/dlq.ndjson through
// lumberjack, which renames, compresses and prunes old files. The backend
// decides every rotation itself, so that it can fsync a file before
// lumberjack moves it aside.
type fileBackend struct {
	dir      string // <dir>/<service>
	path     string
	rotation Rotation
	maxBytes int64
	clock    func() time.Time
	out      *lumberjack.Logger

	size       int64     // bytes in the current file, as lumberjack counts them
	period     time.Time // start of the hour or day the current file belongs to
	opened     bool      // the current file exists and size and period are known
	syncFD     *os.File  // a second descriptor on the current file, for fsync
	dirChanged bool      // a rotation renamed files since the last sync
	broken     bool      // the last write stopped inside a line
	lastRotate time.Time
	buf        []byte
}

func newFileBackend(cfg *Config) (*fileBackend, error) {
	fc := &cfg.File
	dir := filepath.Join(fc.dir(), cfg.Service)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict %s to its owner: %w", dir, err)
	}
	path := filepath.Join(dir, fileName)
	maxBytes := fc.maxBytes()
	return &fileBackend{
		dir:      dir,
		path:     path,
		rotation: fc.rotation(),
		maxBytes: maxBytes,
		clock:    cfg.clock(),
		out: &lumberjack.Logger{
			Filename:   path,
			MaxSize:    int(maxBytes / megabyte),
			MaxAge:     fc.maxAgeDays(),
			MaxBackups: fc.MaxBackups,
			Compress:   fc.Compress,
		},
	}, nil
}

// write appends the batch's lines. Lines are grouped into writes that never
// cross a rotation point; a write that fails part way marks exactly the
// entries whose lines did not get out whole.
func (f *fileBackend) write(_ context.Context, bt *batch) error {
	if err := f.open(); err != nil {
		for i := range bt.errs {
			bt.errs[i] = err
		}
		return err
	}
	periodOver := f.periodOf(f.clock()) != f.period
	var firstErr error
	start := 0 // first line of the pending chunk
	f.buf = f.buf[:0]
	for i, line := range bt.lines {
		n := int64(len(line) + 1)
		if n > f.maxBytes {
			bt.errs[i] = fmt.Errorf("%w: a %d-byte line exceeds the %d-byte file size limit", ErrOversize, n, f.maxBytes)
			if err := f.writeChunk(bt, start, i); err != nil && firstErr == nil {
				firstErr = err
			}
			start = i + 1
			continue
		}
		if f.size+int64(len(f.buf))+n > f.maxBytes || periodOver {
			periodOver = false
			if err := f.writeChunk(bt, start, i); err != nil && firstErr == nil {
				firstErr = err
			}
			start = i
			if err := f.rotate(); err != nil {
				for j := i; j < len(bt.lines); j++ {
					bt.errs[j] = err
				}
				return err
			}
		}
		f.buf = append(f.buf, line...)
		f.buf = append(f.buf, '\n')
	}
	if err := f.writeChunk(bt, start, len(bt.lines)); err != nil && firstErr == nil {
		firstErr = err
	}
	if cap(f.buf) > maxKeptArena {
		f.buf = nil
	}
	return firstErr
}

// writeChunk writes f.buf, which holds lines [from, to) of bt (less any
// oversize ones, which already carry their error), and empties it.
func (f *fileBackend) writeChunk(bt *batch, from, to int) error {
	if len(f.buf) == 0 {
		return nil
	}
	defer func() { f.buf = f.buf[:0] }()
	written := 0
	err := f.endTornLine()
	if err == nil {
		written, err = f.out.Write(f.buf)
		f.size += int64(written)
		if err == nil {
			return nil
		}
		// A torn line is left when the write stopped inside one.
		f.broken = written > 0 && f.buf[written-1] != '\n'
	}
	// Lines wholly within the bytes written are held; the rest failed.
	end := 0
	for i := from; i < to; i++ {
		if bt.errs[i] != nil {
			continue // oversize: not in the chunk
		}
		end += len(bt.lines[i]) + 1
		if end > written {
			bt.errs[i] = err
		}
	}
	return err
}

// endTornLine ends the partial line a failed write left, so that the next
// line starts on a line of its own. Readers skip the torn line: it is not
// valid JSON, and its entry was written again whole.
func (f *fileBackend) endTornLine() error {
	if !f.broken {
		return nil
	}
	n, err := f.out.Write([]byte{'\n'})
	f.size += int64(n)
	if err != nil {
		return err
	}
	f.broken = false
	return nil
}

// open learns the size and period of the current file before the first
// write.
func (f *fileBackend) open() error {
	if f.opened {
		return nil
	}
	info, err := os.Stat(f.path)
	switch {
	case err == nil:
		f.size = info.Size()
		f.period = f.periodOf(info.ModTime())
	case errors.Is(err, fs.ErrNotExist):
		f.size = 0
		f.period = f.periodOf(f.clock())
		f.dirChanged = true // the file's name is new to the folder
	default:
		return fmt.Errorf("stat %s: %w", f.path, err)
	}
	f.opened = true
	return nil
}

// periodOf returns the start of the hour or day t belongs to, in UTC; the
// zero time when rotation is not by time.
func (f *fileBackend) periodOf(t time.Time) time.Time {
	switch f.rotation {
	case RotateHourly:
		return t.UTC().Truncate(time.Hour)
	case RotateDaily:
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	default:
		return time.Time{}
	}
}

// rotate makes the current file durable, then has lumberjack move it aside
// (and compress and prune old ones) and start a new one.
func (f *fileBackend) rotate() error {
	if err := f.syncFile(); err != nil {
		return err
	}
	// lumberjack names a rotated file by the millisecond: two rotations in
	// one millisecond would give the second the first one's name.
	if wait := time.Millisecond - time.Since(f.lastRotate); wait > 0 {
		time.Sleep(wait)
	}
	if err := f.out.Rotate(); err != nil {
		return fmt.Errorf("rotate %s: %w", f.path, err)
	}
	f.lastRotate = time.Now()
	if f.syncFD != nil {
		_ = f.syncFD.Close() // read-only descriptor: nothing to lose
		f.syncFD = nil
	}
	f.size = 0
	f.period = f.periodOf(f.clock())
	f.dirChanged = true
	return nil
}

// sync fsyncs the current file and, after a rotation or creation, its
// folder.
func (f *fileBackend) sync(context.Context) error {
	if err := f.syncFile(); err != nil {
		return err
	}
	if !f.dirChanged {
		return nil
	}
	dir, err := os.Open(f.dir)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", f.dir, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.dir, err)
	}
	f.dirChanged = false
	return nil
}

// syncFile fsyncs the current file through a descriptor of its own:
// lumberjack does not expose its *os.File.
func (f *fileBackend) syncFile() error {
	if f.syncFD == nil {
		fd, err := os.Open(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing written yet
		}
		if err != nil {
			return fmt.Errorf("open %s for fsync: %w", f.path, err)
		}
		f.syncFD = fd
	}
	if err := f.syncFD.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.path, err)
	}
	return nil
}

func (f *fileBackend) close() error {
	var errs []error
	if f.syncFD != nil {
		errs = append(errs, f.syncFD.Close())
		f.syncFD = nil
	}
	errs = append(errs, f.out.Close())
	return errors.Join(errs...)
}
