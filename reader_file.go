package dlq

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dlqkit/dlq/internal/filelog"
)

// readBufferSize is the buffer a file is read through.
const readBufferSize = 256 << 10

// fileSource reads one NDJSON file (plain or gzipped), a service folder,
// or a folder of service folders.
type fileSource struct {
	path string
}

func (s *fileSource) each(ctx context.Context, r *Reader, emit func(Record) bool) error {
	info, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("dlq: source: %w", err)
	}
	var files []fileToRead
	services := []string{""}
	if info.IsDir() {
		if files, services, err = r.folderFiles(s.path); err != nil {
			return err
		}
	} else {
		f := fileToRead{name: filepath.Base(s.path), path: s.path, gz: strings.HasSuffix(s.path, filelog.GzSuffix)}
		f.live = !f.gz
		if err := f.open(); err != nil {
			return fmt.Errorf("dlq: source: %w", err)
		}
		if fi, err := f.file.Stat(); err == nil {
			f.limit = fi.Size()
		}
		files = []fileToRead{f}
	}
	defer closeFiles(files)
	if r.opts.Follow && !info.IsDir() && !files[0].live {
		return fmt.Errorf("dlq: source %s: a compressed file cannot be followed", s.path)
	}
	seen := map[string]bool{} // what the listing held, for followers
	for _, f := range files {
		seen[strings.TrimSuffix(f.name, filelog.GzSuffix)] = true
	}
	rest, skip, err := resumeAt(files, r.opts.After)
	if err != nil {
		return err
	}
	closeFiles(files[:len(files)-len(rest)])
	if r.opts.Follow {
		return r.follow(ctx, s.path, !info.IsDir(), services, seen, rest, skip, emit)
	}
	for i := range rest {
		more, err := r.readFile(ctx, &rest[i], skip, emit)
		rest[i].close()
		if err != nil || !more {
			return err
		}
		skip = 0
	}
	return nil
}

// readFile reads f from skip to its end (the live file: to what it held
// when listed) and emits each envelope. It returns false when emit asked
// to stop.
func (r *Reader) readFile(ctx context.Context, f *fileToRead, skip int64, emit func(Record) bool) (bool, error) {
	if err := f.open(); errors.Is(err, fs.ErrNotExist) {
		r.warn(fmt.Errorf("dlq: source %s: removed before it could be read: %w", f.name, err))
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("dlq: source: %w", err)
	}
	lr, err := newLineReader(f, skip, r.opts.maxLineBytes())
	if err != nil {
		r.damaged(f, 0, err)
		return true, nil
	}
	more, err := r.readLines(ctx, f, lr, true, emit)
	if err != nil || !more {
		return more, err
	}
	return r.lastLine(f, lr, emit), nil
}

// readLines emits f's lines up to the end of what it holds now (the live
// file, with limit: up to what it held when listed). A partial last line
// waits in lr.buf. It returns false when emit asked to stop.
func (r *Reader) readLines(ctx context.Context, f *fileToRead, lr *lineReader, limit bool, emit func(Record) bool) (bool, error) {
	for n := 0; !lr.broken; n++ {
		if n&255 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		if limit && f.live && lr.off >= f.limit {
			return true, nil
		}
		line, err := lr.next()
		switch {
		case err == nil:
			if !r.decode(line, f, lr.off, emit) {
				return false, nil
			}
		case errors.Is(err, errLineTooLong):
			r.unreadable()
		case err == io.EOF:
			return true, nil
		case f.gz:
			lr.broken = true // a corrupt or truncated archive: its rest is lost
			r.damaged(f, lr.off, err)
		default:
			return false, fmt.Errorf("dlq: source %s: %w", f.path, err)
		}
	}
	return true, nil
}

// lastLine emits the last line of a file read to its end for good, when it
// has no newline. It returns false when emit asked to stop.
func (r *Reader) lastLine(f *fileToRead, lr *lineReader, emit func(Record) bool) bool {
	switch {
	case lr.broken:
		return true
	case lr.tooLong:
		r.unreadable()
		return true
	case len(lr.buf) > 0:
		return r.decode(lr.buf, f, lr.off, emit)
	}
	return true
}

// damaged counts the unreadable rest of a file and says which file it is.
func (r *Reader) damaged(f *fileToRead, off int64, err error) {
	r.unreadable()
	r.warn(fmt.Errorf("dlq: source %s: unreadable after %d bytes, the rest of the file is skipped: %w", f.name, off, err))
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
	return emit(Record{Entry: e, Position: position(f, off)})
}

var errLineTooLong = errors.New("dlq: line too long")

// lineReader reads NDJSON lines of any length up to max with a fixed
// buffer, holding a long line only once; off counts the bytes consumed.
type lineReader struct {
	br      *bufio.Reader
	buf     []byte // a line that spans buffer fills, or the partial last line
	max     int
	off     int64
	tooLong bool
	broken  bool // a compressed file that does not read past off
}

func newLineReader(f *fileToRead, skip int64, max int) (*lineReader, error) {
	file := f.file
	var src io.Reader = file
	if f.gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(file, readBufferSize))
		if err != nil {
			return nil, err
		}
		src = zr
	}
	lr := &lineReader{max: max}
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
