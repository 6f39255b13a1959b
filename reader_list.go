package dlq

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/wire"
	"github.com/klauspost/compress/gzip"
)

// The files a Reader reads in a service folder, and their order, follow
// filelog's one naming contract (filelog.BelongsToLog, IsRotated,
// OrderKey): the live file, the rotated ones, logrotate's.
const (
	// maxPinned is how many of a service's newest rotated files a listing
	// holds open; older ones are opened by name when their turn comes.
	maxPinned = 64
	// headChunk is the buffer a file's first line is digested through.
	headChunk = 4 << 10
)

// fileToRead is one file of a source, in reading order.
type fileToRead struct {
	name  string // relative to the source: the Position's file part
	path  string // where it was listed
	gz    bool
	live  bool     // the live file, which grows
	limit int64    // bytes the live file held when listed; lines past it are not read unless following
	skip  int64    // bytes already read, by a resume position: read from there
	file  *os.File // held open since the listing (nil: opened by name when read)
	head  string   // digest of the first line, once known
}

// open opens f by name unless the listing holds it open already; a plain
// rotated file gone since is looked for compressed.
func (f *fileToRead) open() error {
	if f.file != nil {
		return nil
	}
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) && !f.gz && !f.live {
		if file, err = os.Open(f.path + filelog.GzSuffix); err == nil {
			f.gz = true
		}
	}
	f.file = file
	return err
}

func (f *fileToRead) close() {
	if f.file != nil {
		_ = f.file.Close()
		f.file = nil
	}
}

func closeFiles(files []fileToRead) {
	for i := range files {
		files[i].close()
	}
}

// headOf returns f's head: a digest of its whole first line, which stays
// the same when the file is renamed, compressed or grows, and tells files
// apart by the entry's id, which the envelope writes last (two files whose
// first entries share a timestamp and a long payload differ only there).
// Empty when the file holds no whole first line yet.
func (f *fileToRead) headOf() string {
	if f.head != "" || f.file == nil {
		return f.head
	}
	var src io.Reader = io.NewSectionReader(f.file, 0, math.MaxInt64)
	if f.gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return ""
		}
		src = zr
	}
	h := fnv.New64a()
	br := bufio.NewReaderSize(src, headChunk)
	for {
		chunk, err := br.ReadSlice('\n')
		_, _ = h.Write(chunk)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "" // the first line is not whole yet
		}
	}
	f.head = hex.EncodeToString(h.Sum(nil))
	return f.head
}

// rotatedFile is a rotated file's name in a listing.
type rotatedFile struct {
	stem string // the name without .gz
	gz   bool
}

func (rf rotatedFile) name() string {
	if rf.gz {
		return rf.stem + filelog.GzSuffix
	}
	return rf.stem
}

// rotatedFiles lists a service folder's rotated files oldest first; a
// plain file beside its compressed copy is being compressed: the plain one
// is whole, the copy may not be yet. It also reports whether the folder
// has a live file.
func rotatedFiles(dir string) (rotated []rotatedFile, hasLive bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("dlq: source: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() || !filelog.BelongsToLog(name):
		case name == filelog.LiveName:
			hasLive = true
		default:
			stem, gz := strings.CutSuffix(name, filelog.GzSuffix)
			if i := slices.IndexFunc(rotated, func(rf rotatedFile) bool { return rf.stem == stem }); i >= 0 {
				rotated[i].gz = false
				continue
			}
			rotated = append(rotated, rotatedFile{stem: stem, gz: gz})
		}
	}
	slices.SortFunc(rotated, func(a, b rotatedFile) int { return strings.Compare(filelog.OrderKey(a.stem), filelog.OrderKey(b.stem)) })
	return rotated, hasLive, nil
}

// serviceKey orders a service's prefix ("" or "svc/") as ReadDir orders
// folder names.
func serviceKey(prefix string) string { return strings.TrimSuffix(prefix, "/") + "\x00" }

// listService lists a service folder's files in reading order and holds
// them open, so that each is read wherever a rotation moves it and however
// it is compressed. The live file is opened first, the folder listed
// next, and the rotated files opened right after: a rotation before the
// listing shows the live file under its new name too, and it is read once.
func (r *Reader) listService(dir, prefix string) (files []fileToRead, err error) {
	livePath := filepath.Join(dir, filelog.LiveName)
	live := fileToRead{name: prefix + filelog.LiveName, path: livePath, live: true}
	if err := live.open(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dlq: source: %w", err)
	}
	defer func() {
		if err != nil {
			closeFiles(files)
			live.close()
		}
	}()
	var liveInfo os.FileInfo
	if live.file != nil {
		if liveInfo, err = live.file.Stat(); err != nil {
			return nil, fmt.Errorf("dlq: source: %w", err)
		}
		live.limit = liveInfo.Size()
	}
	if r.liveOpened != nil {
		r.liveOpened(dir)
	}
	rotated, _, err := rotatedFiles(dir)
	if err != nil {
		return nil, err
	}
	if r.listed != nil {
		r.listed(dir)
	}
	for i, rf := range rotated {
		f := fileToRead{name: prefix + rf.name(), path: filepath.Join(dir, rf.name()), gz: rf.gz}
		if len(rotated)-i <= maxPinned {
			if err := f.open(); errors.Is(err, fs.ErrNotExist) {
				r.warn(fmt.Errorf("dlq: source %s: removed before it could be read: %w", f.name, err))
				continue
			} else if err != nil {
				return files, fmt.Errorf("dlq: source: %w", err)
			}
		}
		files = append(files, f)
	}
	if live.file == nil {
		return files, nil
	}
	if now, err := os.Stat(livePath); err != nil || !os.SameFile(now, liveInfo) {
		// Rotated since it was opened: the listing may hold it again under
		// its new name, plain (the same file) or compressed (the same head).
		files = slices.DeleteFunc(files, func(f fileToRead) bool {
			if f.file == nil {
				return false
			}
			info, err := f.file.Stat()
			same := err == nil && os.SameFile(info, liveInfo) || f.gz && f.headOf() != "" && f.headOf() == live.headOf()
			if same {
				f.close()
			}
			return same
		})
	}
	return append(files, live), nil
}

// folderFiles lists what a folder holds in reading order: a service
// folder's files, or for a folder of service folders (one without DLQ files
// of its own but with folders) each one's in name order. It returns the
// services listed, each by its prefix ("" or "svc/").
func (r *Reader) folderFiles(dir string) (files []fileToRead, services []string, err error) {
	rotated, hasLive, err := rotatedFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(rotated) > 0 || hasLive {
		files, err = r.listService(dir, "")
		return files, []string{""}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("dlq: source: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := r.listService(filepath.Join(dir, e.Name()), e.Name()+"/")
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		files = append(files, sub...)
		services = append(services, e.Name()+"/")
	}
	if len(services) == 0 {
		services = []string{""} // a service folder with nothing yet
	}
	return files, services, nil
}

// position is a file Position: the file's name, the offset just past the
// entry's line, and the file's head, by which a resume finds the file
// again wherever rotations moved it and however it was compressed.
func position(f *fileToRead, off int64) string {
	var buf [128]byte
	b := append(buf[:0], f.name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, off, 10)
	b = append(b, ':')
	return string(append(b, f.headOf()...))
}

// spanSkew is how far an entry's Timestamp may be ahead of the clock of
// the process that wrote it, for a file to be passed over by the time in
// its name (see Filter).
const spanSkew = 5 * time.Minute

// byTime passes over the files of a folder that the filter rules out by
// the time in their names (see Filter): it closes those rotated before
// Since, and when ids is set returns apart, still open, those rotated
// before the time of the filter's id (a UUIDv7), to be read only when it
// is not found in the others. The live file and logrotate's, whose
// names say no time, are always read.
func (r *Reader) byTime(files []fileToRead, ids bool) (read, passed []fileToRead) {
	var since, first time.Time
	if s := r.opts.Filter.Since; !s.IsZero() {
		since = s.Add(-spanSkew)
	}
	if t, ok := idsTime(r.opts.Filter.IDs); ok && ids {
		first = t.Add(-spanSkew)
	}
	if since.IsZero() && first.IsZero() {
		return files, nil
	}
	for _, f := range files {
		at, ok := filelog.RotatedAt(filepath.Base(f.path))
		switch {
		case ok && at.Before(since):
			f.close()
		case ok && at.Before(first):
			passed = append(passed, f)
		default:
			read = append(read, f)
		}
	}
	return read, passed
}

// idsTime returns the earliest time of ids when each is a UUIDv7.
func idsTime(ids []string) (time.Time, bool) {
	earliest := int64(math.MaxInt64)
	for _, id := range ids {
		ms, ok := wire.UUIDv7Time(id)
		if !ok {
			return time.Time{}, false
		}
		earliest = min(earliest, ms)
	}
	return time.UnixMilli(earliest), len(ids) > 0
}

// resumeAt drops the files before the one a position names and sets the
// offset to skip in it. The file is the one with the position's head: under
// its name still, or moved by rotations and compressed. A file no longer
// there (pruned) is resumed after from the start of the first of its
// service's files still there: pruning removes a service's oldest files
// first, so every one left is newer than it, whatever its name says (a
// clock stepped back names newer files earlier). A position whose file
// cannot be told apart is resumed with duplicates, never with a skip.
func resumeAt(files []fileToRead, after string) ([]fileToRead, error) {
	if after == "" {
		return files, nil
	}
	rest, head, ok1 := cutLast(after)
	name, offs, ok2 := cutLast(rest)
	offset, err := strconv.ParseInt(offs, 10, 64)
	if !ok1 || !ok2 || err != nil || offset < 0 || len(head) != 16 {
		return nil, fmt.Errorf("dlq: resume position %q is not FILE:OFFSET:HEAD", after)
	}
	stem := strings.TrimSuffix(name, filelog.GzSuffix)
	if i := slices.IndexFunc(files, func(f fileToRead) bool { return strings.TrimSuffix(f.name, filelog.GzSuffix) == stem }); i >= 0 {
		if err := files[i].open(); err == nil && files[i].headOf() == head {
			files[i].skip = offset
			return files[i:], nil
		}
	}
	for i := len(files) - 1; i >= 0; i-- {
		if err := files[i].open(); err == nil && files[i].headOf() == head {
			files[i].skip = offset
			return files[i:], nil
		}
	}
	dir, _ := filepath.Split(stem)
	for i, f := range files {
		fdir, _ := filepath.Split(f.name)
		if serviceKey(fdir) >= serviceKey(dir) {
			return files[i:], nil
		}
	}
	return nil, nil
}

// cutLast cuts s around its last colon.
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
