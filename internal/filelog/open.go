package dlq

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
func (f *fileBackend) ready() error {
	if f.stale || f.out == nil {
		return f.reopen()
	}
	linked, size, err := f.linked()
	if err != nil {
		return err
	}
	switch {
	case !linked:
		f.log.Warn("dlq: file removed or renamed under the writer; writing a new one",
			"file", f.path, "rewritten_bytes", len(f.kept))
		return f.reopen()
	case size < f.size:
		f.log.Warn("dlq: file truncated under the writer (logrotate copytruncate?); writing the kept lines again",
			"file", f.path, "rewritten_bytes", len(f.kept))
		return f.reopen()
	}
	return nil
}

// linked reports whether path still names out's file, and out's size.
func (f *fileBackend) linked() (linked bool, size int64, err error) {
	at, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	own, err := f.out.Stat()
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
func (f *fileBackend) reopen() error {
	f.stale = true
	first := f.out == nil && f.gen == 0
	var prev os.FileInfo
	if f.out != nil {
		prev, _ = f.out.Stat()
		_ = f.out.Close() // what it held since base is written again below
		f.out = nil
	}
	out, created, err := openFile(f.path)
	if errors.Is(err, errLink) {
		out, created, err = f.replaceLink(err)
	}
	if errors.Is(err, fs.ErrNotExist) && f.dirGone() {
		if err = f.recreateDir(); err == nil {
			out, created, err = openFile(f.path)
		}
	}
	if err != nil {
		return err
	}
	f.gen++
	size, err := f.cutTornLine(out)
	if err != nil {
		_ = out.Close()
		return err
	}
	rewrite := f.kept
	if f.good > f.base && size == f.good && sameAs(prev, out) {
		rewrite = f.kept[f.good-f.base:] // the fsynced lines stay where they are
		f.out, f.size = out, size
	} else {
		f.out, f.size, f.good, f.base = out, size, size, size
	}
	if created {
		f.dirDirty = true
	}
	if first {
		f.period = f.periodOf(f.clock())
		if info, err := out.Stat(); err == nil && size > 0 {
			f.period = f.periodOf(info.ModTime())
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
		f.size += int64(n)
	}
	f.stale = false
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
// (an error matching errLink), and refuses what is not a regular file (a
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

// errLink marks a symbolic link found where the file backend keeps a file
// of its own (dlq.ndjson, .lock).
var errLink = errors.New("is a symbolic link, which the file backend never follows (planted by someone who can write the folder?): remove it")

// linkError returns err, from opening name, as an error matching errLink
// when name is a symbolic link.
func linkError(name string, err error) error {
	info, lerr := os.Lstat(name)
	if lerr != nil || info.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	target, _ := os.Readlink(name)
	return fmt.Errorf("dlq: %s (to %q) %w", name, target, errLink)
}

// refuseLink returns an error matching errLink when name is a symbolic
// link: New refuses to start on one, where an operator sees the error.
func refuseLink(name string) error {
	if info, err := os.Lstat(name); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return linkError(name, nil)
	}
	return nil
}

// regularFile returns an error naming f unless it is a regular file.
func regularFile(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("dlq: %s is not a regular file (%s): remove it", f.Name(), info.Mode().Type())
	}
	return nil
}

// replaceLink removes a symbolic link that replaced the file under the
// running writer (os.Remove unlinks the link, never its target) and
// creates the file afresh, so that the entries go to a file of the
// writer's own rather than fail. Should another link be planted in
// between, the open fails again and the batch is retried.
func (f *fileBackend) replaceLink(cause error) (*os.File, bool, error) {
	f.log.Warn("dlq: a symbolic link replaced the file under the writer; removing the link, its target untouched, and writing a new file",
		"file", f.path, "error", cause, "rewritten_bytes", len(f.kept))
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("%w; %w", cause, err)
	}
	return openFile(f.path)
}

// tailChunk is how much of a file's end cutTornLine reads at a time.
const tailChunk = 64 << 10

// cutTornLine cuts a file that does not end in a newline back to its last
// whole line, logging what it cut, and returns the file's size. A process
// killed mid-write, or a disk that filled up, leaves such a fragment; a new
// line appended to it would be unreadable.
func (f *fileBackend) cutTornLine(out *os.File) (int64, error) {
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
	f.log.Warn("dlq: cut a torn last line left by a crash or a failed write",
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
