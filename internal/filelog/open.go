package filelog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ready makes out the file linked at path, with the lines since the last
// confirmed sync in it: it reopens a stale file and notices one deleted or
// renamed under the writer. It costs two stat calls when nothing changed.
func (l *Log) ready() error {
	if l.stale || l.out == nil {
		return l.reopen()
	}
	linked, size, err := l.linked()
	if err != nil {
		return err
	}
	switch {
	case !linked:
		l.log.Warn("dlq: file removed or renamed under the writer; writing a new one",
			"file", l.path, "rewritten_bytes", len(l.kept))
		return l.reopen()
	case size < l.size:
		l.log.Warn("dlq: file truncated under the writer (logrotate copytruncate?); writing the kept lines again",
			"file", l.path, "rewritten_bytes", len(l.kept))
		return l.reopen()
	}
	return nil
}

// linked reports whether path still names out's file, and out's size.
func (l *Log) linked() (linked bool, size int64, err error) {
	at, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	own, err := l.out.Stat()
	if err != nil {
		return false, 0, err
	}
	return os.SameFile(at, own), own.Size(), nil
}

// reopen opens the file at path, creating it, cuts a torn last line off it,
// and writes there again the kept lines: all since the last confirmed sync,
// fsynced or not, in a new file; only those since the last good fsync when
// the file is the same one, cut back to that fsync (fsyncFailed). It leaves
// the file stale when that fails, to be tried again.
func (l *Log) reopen() error {
	l.stale = true
	first := l.out == nil && l.gen == 0
	var prev os.FileInfo
	if l.out != nil {
		prev, _ = l.out.Stat()
		_ = l.out.Close() // what it held since base is written again below
		l.out = nil
	}
	out, created, err := openFile(l.path)
	if errors.Is(err, ErrLink) {
		out, created, err = l.replaceLink(err)
	}
	if errors.Is(err, fs.ErrNotExist) && l.dirGone() {
		if err = l.recreateDir(); err == nil {
			out, created, err = openFile(l.path)
		}
	}
	if err != nil {
		return err
	}
	l.gen++
	size, err := l.cutTornLine(out)
	if err != nil {
		_ = out.Close()
		return err
	}
	rewrite := l.kept
	if l.good > l.base && size == l.good && sameAs(prev, out) {
		rewrite = l.kept[l.good-l.base:] // the fsynced lines stay where they are
		l.out, l.size = out, size
	} else {
		l.out, l.size, l.good, l.base = out, size, size, size
	}
	if created {
		l.dirDirty = true
	}
	if first {
		l.current = l.periodOf(l.clock())
		if info, err := out.Stat(); err == nil && size > 0 {
			l.current = l.periodOf(info.ModTime())
		}
	}
	if len(rewrite) > 0 {
		n, err := out.Write(rewrite)
		if err != nil {
			if n > 0 {
				_ = out.Truncate(size) // if this fails, the next reopen cuts the torn line
			}
			return fmt.Errorf("rewrite %d kept bytes: %w", len(rewrite), err)
		}
		l.size += int64(n)
	}
	l.stale = false
	return nil
}

// sameAs reports whether out is the file prev described; false when prev
// is nil.
func sameAs(prev os.FileInfo, out *os.File) bool {
	if prev == nil {
		return false
	}
	info, err := out.Stat()
	return err == nil && os.SameFile(prev, info)
}

// openFile opens name read-write for appending, creating it 0600, and
// reports whether it created it. It never follows a symbolic link at name
// (an error matching ErrLink), and refuses what is not a regular file (a
// FIFO, say): anyone who can write the folder could plant one, and the
// writer would then cut the last line of a file of theirs choosing and
// append the payloads to it.
func openFile(name string) (out *os.File, created bool, err error) {
	out, err = os.OpenFile(name, os.O_RDWR|os.O_APPEND|oNoFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		out, err = os.OpenFile(name, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		created = true
	}
	if err != nil {
		return nil, false, linkError(name, err)
	}
	if err := regularFile(out); err != nil {
		_ = out.Close()
		return nil, false, err
	}
	return out, created, nil
}

// linkError returns err, from opening name, as an error matching ErrLink
// when name is a symbolic link.
func linkError(name string, err error) error {
	info, lerr := os.Lstat(name)
	if lerr != nil || info.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	target, _ := os.Readlink(name)
	return fmt.Errorf("dlq: %s (to %q) %w", name, target, ErrLink)
}

// refuseLink returns an error matching ErrLink when name is a symbolic
// link: Open refuses to start on one, where an operator sees the error.
func refuseLink(name string) error {
	if info, err := os.Lstat(name); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return linkError(name, nil)
	}
	return nil
}

// regularFile returns an error naming file unless it is a regular file.
func regularFile(file *os.File) error {
	info, err := file.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("dlq: %s is not a regular file (%s): remove it", file.Name(), info.Mode().Type())
	}
	return nil
}

// replaceLink removes a symbolic link that replaced the file under the
// running writer (os.Remove unlinks the link, never its target) and
// creates the file afresh, so that the entries go to a file of the
// writer's own rather than fail. Should another link be planted in
// between, the open fails again and the batch is retried.
func (l *Log) replaceLink(cause error) (*os.File, bool, error) {
	l.log.Warn("dlq: a symbolic link replaced the file under the writer; removing the link, its target untouched, and writing a new file",
		"file", l.path, "error", cause, "rewritten_bytes", len(l.kept))
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("%w; %w", cause, err)
	}
	return openFile(l.path)
}

// tailChunk is how much of a file's end cutTornLine reads at a time.
const tailChunk = 64 << 10

// cutTornLine cuts a file that does not end in a newline back to its last
// whole line, logging what it cut, and returns the file's size. A process
// killed mid-write, or a disk that filled up, leaves such a fragment; a new
// line appended to it would be unreadable.
func (l *Log) cutTornLine(out *os.File) (int64, error) {
	info, err := out.Stat()
	if err != nil {
		return 0, err
	}
	size := info.Size()
	if size == 0 || !info.Mode().IsRegular() {
		return size, nil
	}
	last := make([]byte, 1)
	if _, err := out.ReadAt(last, size-1); err != nil {
		return 0, fmt.Errorf("read the end of %s: %w", out.Name(), err)
	}
	if last[0] == '\n' {
		return size, nil
	}
	end := lastLineEnd(out, size)
	if end < 0 {
		return 0, fmt.Errorf("read the end of %s: %w", out.Name(), io.ErrUnexpectedEOF)
	}
	if err := out.Truncate(end); err != nil {
		return 0, fmt.Errorf("cut the torn last line of %s: %w", out.Name(), err)
	}
	l.log.Warn("dlq: cut a torn last line left by a crash or a failed write",
		"file", out.Name(), "bytes", size-end)
	return end, nil
}

// lastLineEnd returns the offset just past the last newline in the file's
// first size bytes, 0 when there is none, -1 when reading fails.
func lastLineEnd(out *os.File, size int64) int64 {
	buf := make([]byte, tailChunk)
	for end := size; end > 0; {
		n := min(int64(len(buf)), end)
		if _, err := out.ReadAt(buf[:n], end-n); err != nil {
			return -1
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1
		}
		end -= n
	}
	return 0
}
