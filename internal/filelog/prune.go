package filelog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Pruning removes rotated files past Options.MaxAge or beyond
// Options.MaxBackups, and nothing it cannot account for:
//   - A file's age is its own: the time since this process rotated it
//     (on the monotonic clock), or for a file found in the folder, the time
//     since its modification, never the time in its name, which comes from
//     Options.Clock. A step of Options.Clock or of the system clock makes no
//     fresh file old.
//   - The newest files are kept by the order in which they were written:
//     this process's rotations in their order, newer than any file found;
//     those by modification time, then name.
//   - A file rotated since the last Sync (Flush, Close) is
//     never removed: a Flush must not return nil for entries a prune took.
//     The sync that confirms it wakes the mill again.
//   - The entries of every removed file are counted (Pruned) and
//     logged; a file whose entries cannot be counted is kept.

// rotation is a file this process rotated.
type rotation struct {
	seq    uint64    // its place in the order of rotations
	at     time.Time // when, with the monotonic clock's reading
	pinned bool      // no Sync has confirmed its entries yet
}

// backup is one rotated file: where it stands and whether it exists
// plain, compressed, or both (a crash between the two steps).
type backup struct {
	name      string    // the plain file's path
	modTime   time.Time // the later of the two files' modification times
	ours      rotation  // when ok: this process rotated it
	ok        bool
	plain, gz bool
}

// rotating records that the file about to be renamed to name (a plain
// backup path) is this process's newest rotated file, pinned until a sync
// of the drain confirms it. It is called before the rename, so that no
// pass can find the file unrecorded; unrotated undoes it when the rename
// fails.
func (m *mill) rotating(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	m.ours[filepath.Base(name)] = &rotation{seq: m.seq, at: time.Now(), pinned: true}
}

// unrotated forgets a rotation whose rename failed.
func (m *mill) unrotated(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ours, filepath.Base(name))
}

// confirmed unpins every file rotated so far: a Sync found
// all their entries durable. It wakes the mill when that lets a file go.
func (m *mill) confirmed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	unpinned := false
	for _, r := range m.ours {
		if r.pinned {
			r.pinned, unpinned = false, true
		}
	}
	if unpinned {
		m.wake()
	}
}

// now is the wall time pruning goes by: the system clock's, or if that
// stepped forward since the mill started, the start's time moved on by
// the monotonic clock.
func (m *mill) now() time.Time {
	now := time.Now()
	steady := m.started.Round(0).Add(now.Sub(m.started))
	return minTime(now.Round(0), steady)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// age is how long ago b was last written.
func (m *mill) age(b *backup, now time.Time) time.Duration {
	if b.ok {
		return time.Since(b.ours.at)
	}
	return now.Sub(b.modTime)
}

// newerFirst orders backups from the most recently written.
func newerFirst(a, b *backup) int {
	switch {
	case a.ok && b.ok:
		return -cmpUint(a.ours.seq, b.ours.seq)
	case a.ok != b.ok:
		if a.ok {
			return -1
		}
		return 1
	}
	if c := b.modTime.Compare(a.modTime); c != 0 {
		return c
	}
	return strings.Compare(b.name, a.name)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pass removes leftovers of an interrupted compression, prunes rotated
// files by age and count, and compresses the rest.
func (m *mill) pass() {
	m.mu.Lock()
	listedAfter := m.seq // rotations up to here are in the listing, if their files still are
	m.mu.Unlock()
	backups, err := m.list()
	if err != nil {
		m.log.Warn("dlq: cannot list rotated files", "dir", m.dir, "error", err)
		return
	}
	m.mu.Lock()
	seen := map[string]bool{}
	for _, b := range backups {
		base := filepath.Base(b.name)
		seen[base] = true
		if r := m.ours[base]; r != nil {
			b.ours, b.ok = *r, true
		}
	}
	for base, r := range m.ours {
		if !seen[base] && r.seq <= listedAfter {
			delete(m.ours, base) // gone from the folder: pruned, or removed by hand
		}
	}
	m.mu.Unlock()
	slices.SortFunc(backups, newerFirst)
	now := m.now()
	for i, b := range backups {
		age := m.age(b, now)
		var why string
		switch {
		case b.ours.pinned:
		case m.maxBackups > 0 && i >= m.maxBackups:
			why = "max_backups"
		case age > m.maxAge:
			why = "max_age_days"
		}
		if why != "" {
			m.prune(b, why, age)
			continue
		}
		if m.compress && b.plain {
			if err := m.compressFile(b.name); err != nil {
				m.log.Warn("dlq: cannot compress a rotated file; it stays plain", "file", b.name, "error", err)
			}
		}
	}
}

// list returns the rotated files in the folder, removing the leftovers of
// an interrupted compression on the way.
func (m *mill) list() ([]*backup, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]*backup{}
	var backups []*backup
	for _, e := range entries {
		name := e.Name()
		if isTemp(name) {
			m.remove(filepath.Join(m.dir, name))
			continue
		}
		plainName, _, gz, ok := parseBackup(name)
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		b := byName[plainName]
		if b == nil {
			b = &backup{name: filepath.Join(m.dir, plainName)}
			byName[plainName] = b
			backups = append(backups, b)
		}
		if info.ModTime().After(b.modTime) {
			b.modTime = info.ModTime()
		}
		b.gz = b.gz || gz
		b.plain = b.plain || !gz
	}
	return backups, nil
}

// prune counts b's entries, removes its files, and counts and logs what
// went. A file whose entries cannot be counted is kept, with a warning.
func (m *mill) prune(b *backup, why string, age time.Duration) {
	name := b.name
	if !b.plain {
		name += GzSuffix
	}
	n, err := entriesIn(name, !b.plain)
	if err != nil {
		m.log.Warn("dlq: cannot count the entries of a rotated file to prune; it is kept", "file", name, "error", err)
		return
	}
	if b.plain {
		m.remove(b.name)
	}
	if b.gz {
		m.remove(b.name + GzSuffix)
	}
	m.pruned.Add(uint64(n))
	m.log.Warn("dlq: pruned a rotated file", "file", name, "entries", n, "reason", why, "age", age.Round(time.Second))
}

// entriesIn counts the lines of a rotated file, gzipped or not; a last
// line without its newline counts too.
func entriesIn(name string, gz bool) (int, error) {
	file, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	var r io.Reader = bufio.NewReaderSize(file, 64<<10)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, fmt.Errorf("gunzip %s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	buf := make([]byte, 64<<10)
	n, last := 0, byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", name, err)
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}
