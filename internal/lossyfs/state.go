package lossyfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// undo is the content a range of a file held before a write or a truncate
// changed it, while that range was durable.
type undo struct {
	off  int64
	data []byte
}

// fileState is what a crash leaves of one regular file (by inode): the size
// it had at its last fsync, and the durable bytes changed since, in the
// order they were changed.
type fileState struct {
	size  int64
	undos []undo
}

// state is the durable view of the backing folder, keyed by the backing
// file system's inode numbers.
type state struct {
	failFsyncs int                          // file fsyncs still to fail
	lost       map[uint64][]span            // file → ranges a failed fsync lost: zeros after a crash
	dirs       map[uint64]map[string]uint64 // directory → its durable entries (name → inode)
	isDir      map[uint64]bool
	modes      map[uint64]os.FileMode // directory permissions, to recreate them
	files      map[uint64]*fileState
}

func inoOf(info fs.FileInfo) uint64 { return info.Sys().(*syscall.Stat_t).Ino }

// snapshot takes everything under root as durable.
func snapshot(root string) (*state, error) {
	s := &state{
		lost:  map[uint64][]span{},
		dirs:  map[uint64]map[string]uint64{},
		isDir: map[uint64]bool{},
		modes: map[uint64]os.FileMode{},
		files: map[uint64]*fileState{},
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			if err := s.syncDir(path); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			s.files[inoOf(info)] = &fileState{size: info.Size()}
		}
		return nil
	})
	return s, err
}

// syncDir makes the entries of the directory at path durable.
func (s *state) syncDir(path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	ino := inoOf(info)
	s.isDir[ino] = true
	s.modes[ino] = info.Mode().Perm()
	des, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	entries := make(map[string]uint64, len(des))
	for _, de := range des {
		ci, err := os.Lstat(filepath.Join(path, de.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		c := inoOf(ci)
		entries[de.Name()] = c
		if ci.IsDir() {
			s.isDir[c] = true
			s.modes[c] = ci.Mode().Perm()
		}
	}
	s.dirs[ino] = entries
	return nil
}

// newDir records a directory just created: none of its entries is durable
// (an inode number can be reused after a rmdir).
func (s *state) newDir(ino uint64, mode os.FileMode) {
	s.isDir[ino] = true
	s.modes[ino] = mode
	s.dirs[ino] = map[string]uint64{}
}

// newFile records a regular file just created: none of its data is durable.
func (s *state) newFile(ino uint64) { s.files[ino] = &fileState{} }

// syncFile makes the data of the file open as fd durable.
func (s *state) syncFile(ino uint64, size int64) {
	s.files[ino] = &fileState{size: size}
}

// span is the byte range [off, end) of a file.
type span struct{ off, end int64 }

// failSync records a failed fsync of a file of size bytes: the bytes
// written since its last good fsync never reach the disk, even if a later
// fsync succeeds (the kernel marked the pages clean), unless written again.
func (s *state) failSync(ino uint64, size int64) {
	st := s.files[ino]
	if st == nil {
		return
	}
	if size > st.size {
		s.lost[ino] = append(s.lost[ino], span{st.size, size})
	}
	// Overwrites of durable bytes are lost too: keep their undo records
	// past the next good fsync by recording them as a fresh state.
	s.files[ino] = &fileState{size: st.size, undos: st.undos}
}

// rewritten forgets what a failed fsync lost in [off, end): the bytes were
// written again.
func (s *state) rewritten(ino uint64, off, end int64) {
	var keep []span
	for _, l := range s.lost[ino] {
		if l.off < off {
			keep = append(keep, span{l.off, min(l.end, off)})
		}
		if l.end > end {
			keep = append(keep, span{max(l.off, end), l.end})
		}
	}
	s.lost[ino] = keep
}

// changing records the durable bytes of [off, end) of the file (inode ino,
// readable at path) before a write or truncate changes them. end < 0 means
// to the durable size.
func (s *state) changing(ino uint64, path string, off, end int64) error {
	st := s.files[ino]
	if st == nil {
		return nil // not a regular file we know of: not tracked
	}
	if end < 0 { // a truncate to off: what lay beyond is gone, lost or not
		s.rewritten(ino, off, 1<<62)
	} else {
		s.rewritten(ino, off, end)
	}
	if end < 0 || end > st.size {
		end = st.size
	}
	if off >= end {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("lossyfs: read before write: %w", err)
	}
	defer f.Close()
	buf := make([]byte, end-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("lossyfs: read before write: %w", err)
	}
	st.undos = append(st.undos, undo{off: off, data: buf[:n]})
	return nil
}

// rewind puts the backing folder at root back into its durable state.
// work is an empty folder on the same file system, for hard links. With
// torn, each file keeps the first half of what was appended to it since
// its last fsync, as when a power cut lets some pages reach the disk.
func (s *state) rewind(root, work string, torn bool) error {
	// Find every file inode: in the tree, or kept in the trash when it
	// was unlinked or replaced.
	stage := filepath.Join(work, "stage")
	if err := os.Mkdir(stage, 0o700); err != nil {
		return err
	}
	staged := map[uint64]string{}
	stageOne := func(path string, info fs.FileInfo) error {
		ino := inoOf(info)
		if _, ok := staged[ino]; ok {
			return nil
		}
		p := filepath.Join(stage, strconv.FormatUint(ino, 10))
		if err := os.Link(path, p); err != nil {
			return err
		}
		staged[ino] = p
		return nil
	}
	for _, dir := range []string{root, filepath.Join(work, "trash")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := os.Lstat(path)
			if err != nil {
				return err
			}
			return stageOne(path, info)
		})
		if err != nil {
			return fmt.Errorf("lossyfs: stage %s: %w", dir, err)
		}
	}
	// Rewind the data of every file.
	for ino, p := range staged {
		if st := s.files[ino]; st != nil {
			if err := st.rewind(p, torn, s.lost[ino]); err != nil {
				return err
			}
		}
	}
	// Rebuild the tree from the durable entries.
	rootInfo, err := os.Lstat(root)
	if err != nil {
		return err
	}
	des, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(root, de.Name())); err != nil {
			return err
		}
	}
	return s.build(inoOf(rootInfo), root, staged, map[uint64]bool{})
}

func (s *state) build(dir uint64, path string, staged map[uint64]string, seen map[uint64]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	for name, ino := range s.dirs[dir] {
		p := filepath.Join(path, name)
		if s.isDir[ino] {
			if err := os.Mkdir(p, s.modes[ino]); err != nil {
				return err
			}
			if err := os.Chmod(p, s.modes[ino]); err != nil {
				return err
			}
			if err := s.build(ino, p, staged, seen); err != nil {
				return err
			}
			continue
		}
		src, ok := staged[ino]
		if !ok {
			continue // gone without trace: nothing to restore
		}
		if err := os.Link(src, p); err != nil {
			return err
		}
	}
	return nil
}

// rewind puts the file at path back to its durable bytes and size, with
// zeros where a failed fsync lost bytes; torn keeps the first half of the
// bytes appended since the last fsync.
func (st *fileState) rewind(path string, torn bool, lost []span) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.size
	if torn && info.Size() > size {
		size += max(1, (info.Size()-size)/2)
	}
	for i := len(st.undos) - 1; i >= 0; i-- {
		u := st.undos[i]
		if _, err := f.WriteAt(u.data, u.off); err != nil {
			return err
		}
	}
	for _, l := range lost {
		if _, err := f.WriteAt(make([]byte, l.end-l.off), l.off); err != nil {
			return err
		}
	}
	return f.Truncate(size)
}
