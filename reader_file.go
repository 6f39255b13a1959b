package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	liveFileName  = "dlq.ndjson"
	rotatedPrefix = "dlq-"
	rotatedSuffix = ".ndjson"
	gzipSuffix    = ".gz"
	// rotationTimeFormat is lumberjack's backup time format, in UTC.
	rotationTimeFormat = "2006-01-02T15-04-05.000"
	readBufferSize     = 256 << 10
)

// fileSource reads one NDJSON file (plain or gzipped), a service folder,
// or a folder of service folders.
type fileSource struct {
	path string
}

// fileToRead is one file of a folder, in reading order.
type fileToRead struct {
	name  string // relative to the source path: the Position's file part
	path  string
	gz    bool
	live  bool   // the folder's dlq.ndjson, which grows
	limit int64  // bytes held at the start; lines starting past it are not read (live only)
	stamp string // ":MS" after the offset of a folder's live file: when it was opened
}

func (s *fileSource) each(ctx context.Context, r *Reader, emit func(Record) bool) error {
	info, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("dlq: source: %w", err)
	}
	var files []fileToRead
	if info.IsDir() {
		if files, err = folderFiles(s.path); err != nil {
			return err
		}
	} else {
		files = []fileToRead{{name: filepath.Base(s.path), path: s.path, gz: strings.HasSuffix(s.path, gzipSuffix),
			live: !strings.HasSuffix(s.path, gzipSuffix), limit: info.Size()}}
	}
	if r.opts.Follow && info.IsDir() && (len(files) == 0 || !files[len(files)-1].live) && !strings.Contains(lastName(files), "/") {
		// A service folder whose live file is yet to come.
		files = append(files, fileToRead{name: liveFileName, path: filepath.Join(s.path, liveFileName), live: true})
	}
	if r.opts.Follow && len(files) > 0 && !files[len(files)-1].live {
		return fmt.Errorf("dlq: source %s: follow needs one file or one service folder", s.path)
	}
	files, skip, err := resumeAt(files, r.opts.After)
	if err != nil {
		return err
	}
	for i := range files {
		f := &files[i]
		if r.opts.Follow && i == len(files)-1 {
			return followFile(ctx, r, f, skip, emit)
		}
		more, _, err := readFile(ctx, r, f, skip, false, emit)
		if err != nil || !more {
			return err
		}
		skip = 0
	}
	return nil
}

func lastName(files []fileToRead) string {
	if len(files) == 0 {
		return ""
	}
	return files[len(files)-1].name
}

// folderFiles lists what a folder holds in reading order: for a service
// folder, rotated files oldest first (lumberjack's names sort by time) and
// the live file last; for a folder of service folders, each in name order.
// Other files are foreign and ignored.
func folderFiles(dir string) ([]fileToRead, error) {
	files, err := serviceFiles(dir, "")
	if err != nil || len(files) > 0 {
		return files, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: source: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := serviceFiles(filepath.Join(dir, e.Name()), e.Name()+"/")
		if err != nil {
			return nil, err
		}
		files = append(files, sub...)
	}
	return files, nil
}

func serviceFiles(dir, prefix string) ([]fileToRead, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: source: %w", err)
	}
	var rotated []string
	var live *fileToRead
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case name == liveFileName:
			info, err := e.Info()
			if err != nil {
				continue // rotated away since the listing
			}
			live = &fileToRead{name: prefix + name, path: filepath.Join(dir, name), live: true, limit: info.Size()}
		case strings.HasPrefix(name, rotatedPrefix) && (strings.HasSuffix(name, rotatedSuffix) || strings.HasSuffix(name, rotatedSuffix+gzipSuffix)):
			rotated = append(rotated, name)
		}
	}
	slices.SortFunc(rotated, func(a, b string) int {
		return strings.Compare(strings.TrimSuffix(a, gzipSuffix), strings.TrimSuffix(b, gzipSuffix))
	})
	var files []fileToRead
	for i, name := range rotated {
		// A plain file beside its gzipped copy is being compressed: the
		// plain one is whole, the copy may not be yet.
		if strings.HasSuffix(name, gzipSuffix) && i > 0 && rotated[i-1] == strings.TrimSuffix(name, gzipSuffix) {
			continue
		}
		files = append(files, fileToRead{name: prefix + name, path: filepath.Join(dir, name), gz: strings.HasSuffix(name, gzipSuffix)})
	}
	if live != nil {
		files = append(files, *live)
	}
	return files, nil
}

// resumeAt drops the files before the one position names and returns the
// offset to skip in it. A rotated file compressed since keeps its place; a
// live file rotated since is found by the time in its position: it is the
// first file rotated (lumberjack names them by the time of rotation) after
// it was read.
func resumeAt(files []fileToRead, after string) ([]fileToRead, int64, error) {
	if after == "" {
		return files, 0, nil
	}
	parts := strings.Split(after, ":")
	var offset, opened int64
	var err error
	if len(parts) >= 2 {
		offset, err = strconv.ParseInt(parts[1], 10, 64)
	}
	if len(parts) == 3 && err == nil {
		opened, err = strconv.ParseInt(parts[2], 10, 64)
	}
	if len(parts) < 2 || len(parts) > 3 || err != nil || offset < 0 {
		return nil, 0, fmt.Errorf("dlq: resume position %q is not FILE:OFFSET", after)
	}
	name := strings.TrimSuffix(parts[0], gzipSuffix)
	if dir, base := filepath.Split(name); base == liveFileName && opened > 0 {
		for i, f := range files {
			if rotatedAt, ok := rotationTime(f.name, dir); ok && rotatedAt >= opened {
				return files[i:], offset, nil
			}
		}
	}
	for i, f := range files {
		if strings.TrimSuffix(f.name, gzipSuffix) == name {
			return files[i:], offset, nil
		}
	}
	// The file is gone (pruned): resume with the first file after it.
	for i, f := range files {
		if compareFileNames(f.name, name) > 0 {
			return files[i:], 0, nil
		}
	}
	return nil, 0, nil
}

// rotationTime reads the time (epoch ms) in the name of a file lumberjack
// rotated in folder dir ("" or "svc/").
func rotationTime(name, dir string) (int64, bool) {
	d, base := filepath.Split(name)
	if d != dir || !strings.HasPrefix(base, rotatedPrefix) {
		return 0, false
	}
	ts := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(base, rotatedPrefix), gzipSuffix), rotatedSuffix)
	t, err := time.Parse(rotationTimeFormat, ts)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// openStamp returns ":MS", the time the live file was opened: a rotation
// named at or after it moved this file aside. Taken after the open, unless
// the file was rotated in between (then before it).
func openStamp(file *os.File, path string, before time.Time) string {
	after := time.Now()
	now, err1 := os.Stat(path)
	mine, err2 := file.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(now, mine) {
		after = before
	}
	return ":" + strconv.FormatInt(after.UnixMilli(), 10)
}

// compareFileNames orders names as folderFiles does: each service's live
// file after its rotated ones.
func compareFileNames(a, b string) int {
	key := func(n string) string {
		n = strings.TrimSuffix(n, gzipSuffix)
		if dir, base := filepath.Split(n); base == liveFileName {
			return dir + "\xff"
		}
		return n
	}
	return strings.Compare(key(a), key(b))
}

// readFile reads f's lines, skipping the first skip bytes, and emits each
// envelope. It returns false when emit asked to stop. Following, it keeps
// reading as the file grows and returns rotated once another file took
// its name and it has read the old one to its end.
func readFile(ctx context.Context, r *Reader, f *fileToRead, skip int64, follow bool, emit func(Record) bool) (more, rotated bool, err error) {
	before := time.Now()
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) && !f.live {
		if file, err = os.Open(f.path + gzipSuffix); err == nil {
			f.gz = true // compressed between the listing and now
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return true, follow, nil // pruned or rotated away between the listing and now
	}
	if err != nil {
		return false, false, fmt.Errorf("dlq: source: %w", err)
	}
	defer func() { _ = file.Close() }()
	if f.live && filepath.Base(f.name) == liveFileName {
		f.stamp = openStamp(file, f.path, before)
	}
	lr, err := newLineReader(file, f, skip, r.opts.maxLineBytes())
	if err != nil {
		r.unreadable()
		return true, false, nil // a gzip header that does not read: a foreign file
	}
	draining := false // the file was rotated: read it to its end, then stop
	for n := 0; ; n++ {
		if n&255 == 0 && ctx.Err() != nil {
			return false, false, ctx.Err()
		}
		if f.live && !follow && lr.off >= f.limit {
			return true, false, nil // what the file held at the start
		}
		line, err := lr.next()
		switch {
		case err == nil:
			if !r.decode(line, f, lr.off, emit) {
				return false, false, nil
			}
			continue
		case errors.Is(err, errLineTooLong):
			r.unreadable()
			continue
		case err != io.EOF:
			if f.gz {
				r.unreadable() // a corrupt or truncated archive: skip its rest
				return true, false, nil
			}
			return false, false, fmt.Errorf("dlq: source %s: %w", f.path, err)
		}
		if !follow || draining {
			if lr.tooLong {
				r.unreadable()
			} else if len(lr.buf) > 0 && !r.decode(lr.buf, f, lr.off, emit) {
				return false, false, nil
			}
			return true, draining, nil
		}
		r.caughtUp()
		if draining, err = lr.rotated(f.path); draining {
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, false, fmt.Errorf("dlq: source: %w", err)
			}
			continue
		}
		if !sleepCtx(ctx, r.opts.pollInterval()) {
			return false, false, ctx.Err()
		}
	}
}

// followFile reads f and, each time it is rotated, the file that takes its
// name, until ctx ends or emit asks to stop.
func followFile(ctx context.Context, r *Reader, f *fileToRead, skip int64, emit func(Record) bool) error {
	for {
		more, rotated, err := readFile(ctx, r, f, skip, true, emit)
		if err != nil || !more || !rotated {
			return err
		}
		skip = 0
		r.caughtUp()
		for {
			if _, err := os.Stat(f.path); err == nil {
				break
			}
			if !sleepCtx(ctx, r.opts.pollInterval()) {
				return ctx.Err()
			}
		}
	}
}

// sleepCtx waits d and reports true, or false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// decode parses one line and emits it; a line that is not an envelope is
// counted, a blank one ignored. It returns false when emit asked to stop.
func (r *Reader) decode(line []byte, f *fileToRead, off int64, emit func(Record) bool) bool {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(bytes.TrimSpace(line)) == 0 {
		return true
	}
	e, err := parseLine(line)
	if err != nil {
		r.unreadable()
		return true
	}
	return emit(Record{Entry: e, Position: f.name + ":" + strconv.FormatInt(off, 10) + f.stamp})
}

var errLineTooLong = errors.New("dlq: line too long")

// lineReader reads NDJSON lines of any length up to max with a fixed
// buffer, holding a long line only once; off counts the bytes consumed.
type lineReader struct {
	file    *os.File
	br      *bufio.Reader
	buf     []byte // a line that spans buffer fills, or the partial last line
	max     int
	off     int64
	tooLong bool
}

func newLineReader(file *os.File, f *fileToRead, skip int64, max int) (*lineReader, error) {
	var src io.Reader = file
	if f.gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(file, readBufferSize))
		if err != nil {
			return nil, err
		}
		src = zr
	}
	lr := &lineReader{file: file, max: max}
	if skip > 0 {
		if f.gz {
			n, _ := io.CopyN(io.Discard, src, skip)
			lr.off = n
		} else if _, err := file.Seek(skip, io.SeekStart); err == nil {
			lr.off = skip
		}
	}
	lr.br = bufio.NewReaderSize(src, readBufferSize)
	return lr, nil
}

// next returns the next whole line without its newline, valid until the
// following call. At the end of the data it returns io.EOF and keeps a
// partial last line in buf, to be completed by a later call (a file that
// grows) or decoded as it is.
func (l *lineReader) next() ([]byte, error) {
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.off += int64(len(chunk))
		switch {
		case l.tooLong:
		case len(l.buf)+len(chunk) > l.max+1:
			l.tooLong, l.buf = true, l.buf[:0]
		case len(l.buf) == 0 && err == nil:
			return chunk[:len(chunk)-1], nil // the common case: no copy
		default:
			l.buf = append(l.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if l.tooLong {
			l.tooLong = false
			return nil, errLineTooLong
		}
		line := l.buf[:len(l.buf)-1]
		l.buf = l.buf[:0]
		if cap(l.buf) > readBufferSize*4 {
			l.buf = nil // a huge line's buffer is not kept
		}
		return line, nil
	}
}

// rotated reports whether path names another file than the one read.
func (l *lineReader) rotated(path string) (bool, error) {
	now, err := os.Stat(path)
	if err != nil {
		return true, err
	}
	mine, err := l.file.Stat()
	if err != nil {
		return true, err
	}
	return !os.SameFile(now, mine), nil
}
