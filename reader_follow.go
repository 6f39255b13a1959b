package dlq

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dlqkit/dlq/internal/clock"
	"github.com/dlqkit/dlq/internal/filelog"
)

// follower follows one service folder (or one file): its live file as it
// grows and, once it is rotated, every file that appeared since the last
// look, in order, then the new live file.
type follower struct {
	dir    string // the service folder; the file itself for a file source
	prefix string // "" or "svc/"
	single bool   // a file source: the file that takes the name is followed
	cur    *fileToRead
	lr     *lineReader
	seen   map[string]bool // the rotated files listed so far, by name without .gz
}

// follow reads the files listed (the first from its skip), the live ones
// to their end, then follows every service until ctx ends or emit asks to
// stop. With Last, the files listed are read newest first, and the older
// rotated ones not at all once Last entries are found; every live file is
// read to its end either way, where its follower starts.
func (r *Reader) follow(ctx context.Context, src string, single bool, services []string, seen map[string]bool, files []fileToRead, emit func(Record) bool) error {
	rd := r.reading(emit)
	fls := make([]*follower, len(services))
	for i, prefix := range services {
		fls[i] = &follower{dir: filepath.Join(src, prefix), prefix: prefix, single: single, seen: seen}
	}
	if single {
		fls[0].dir = src
	}
	defer func() {
		for _, fl := range fls {
			if fl.cur != nil {
				fl.cur.close()
			}
		}
	}()
	// backlog reads one file listed: a rotated one whole, a live one to
	// its end, after which its follower holds it.
	backlog := func(f *fileToRead) (bool, error) {
		if !f.live {
			defer f.close()
			return rd.readFile(ctx, f)
		}
		prefix := f.name[:strings.LastIndexByte(f.name, '/')+1]
		fl := fls[slices.IndexFunc(fls, func(fl *follower) bool { return fl.prefix == prefix })]
		lr, err := newLineReader(f, f.skip, r.opts.maxLineBytes())
		if err != nil {
			return false, fmt.Errorf("dlq: source %s: %w", f.path, err)
		}
		cur := *f
		f.file = nil // the follower holds it now
		fl.cur, fl.lr = &cur, lr
		return rd.readLines(ctx, fl.cur, lr, false)
	}
	if r.opts.Last <= 0 {
		for i := range files {
			if more, err := backlog(&files[i]); err != nil || !more {
				return err
			}
		}
	} else if more, err := r.backlogLast(rd, files, backlog); err != nil || !more {
		return err
	}
	r.caughtUp()
	for {
		progress := false
		for _, fl := range fls {
			p, more, err := fl.step(ctx, rd)
			if err != nil || !more {
				return err
			}
			progress = progress || p
		}
		if !progress && !clock.Sleep(ctx, r.opts.pollInterval()) {
			return ctx.Err()
		}
	}
}

// backlogLast reads the files listed newest first with backlog, each
// into a ring of the entries still needed, until Last are found (the live
// files always, for their followers), then emits those in order. It
// returns false when emit asked to stop.
func (r *Reader) backlogLast(rd *reading, files []fileToRead, backlog func(*fileToRead) (bool, error)) (bool, error) {
	emit, need := rd.emit, r.opts.Last
	defer func() { rd.emit = emit }()
	var held [][]Record // newest file first
	for i := len(files) - 1; i >= 0; i-- {
		if need == 0 && !files[i].live {
			continue
		}
		ring := newLastRing(max(need, 1))
		rd.emit = func(rec Record) bool {
			if need > 0 {
				ring.push(rec)
			}
			return true
		}
		if _, err := backlog(&files[i]); err != nil {
			return false, err
		}
		recs := ring.ordered()
		held = append(held, recs)
		need -= len(recs)
	}
	for i := len(held) - 1; i >= 0; i-- {
		for _, rec := range held[i] {
			if !emit(rec) {
				return false, nil
			}
		}
	}
	return true, nil
}

// step reads what the live file gained and, once it is rotated and read to
// its end, the files that appeared since. It reports whether it read
// anything, and false in more when emit asked to stop.
func (fl *follower) step(ctx context.Context, rd *reading) (progress, more bool, err error) {
	if fl.cur == nil {
		return fl.next(ctx, rd, nil)
	}
	off := fl.lr.off
	if more, err := rd.readLines(ctx, fl.cur, fl.lr, false); err != nil || !more {
		return false, more, err
	}
	if fl.lr.off != off || !fl.moved() {
		return fl.lr.off != off, true, nil
	}
	// Rotated: what was written before the rename is read to the end.
	if more, err := rd.readLines(ctx, fl.cur, fl.lr, false); err != nil || !more {
		return false, more, err
	}
	if !rd.lastLine(fl.cur, fl.lr) {
		return false, false, nil
	}
	old := fl.cur
	defer old.close()
	old.headOf()
	fl.cur, fl.lr = nil, nil
	_, more, err = fl.next(ctx, rd, old)
	return true, more, err
}

// moved reports whether the live file's name is no longer the file read.
func (fl *follower) moved() bool {
	now, err := os.Stat(fl.cur.path)
	if err != nil {
		return true
	}
	mine, err := fl.cur.file.Stat()
	return err != nil || !os.SameFile(now, mine)
}

// next lists the folder again, reads the rotated files that appeared after
// old (the live file read until now, nil when there was none), and makes
// the live file the one followed.
func (fl *follower) next(ctx context.Context, rd *reading, old *fileToRead) (progress, more bool, err error) {
	r := rd.r
	if fl.single {
		f := &fileToRead{name: filepath.Base(fl.dir), path: fl.dir, live: true}
		if err := f.open(); errors.Is(err, fs.ErrNotExist) {
			return false, true, nil // not there again yet
		} else if err != nil {
			return false, false, fmt.Errorf("dlq: source: %w", err)
		}
		lr, err := newLineReader(f, 0, r.opts.maxLineBytes())
		if err != nil {
			f.close()
			return false, false, fmt.Errorf("dlq: source %s: %w", f.path, err)
		}
		fl.cur, fl.lr = f, lr
		return true, true, nil
	}
	if old == nil && !fl.changed() {
		return false, true, nil
	}
	files, err := r.listService(fl.dir, fl.prefix)
	if err != nil {
		return false, false, err
	}
	defer closeFiles(files)
	rotated := files
	var live *fileToRead
	if n := len(files); n > 0 && files[n-1].live {
		rotated, live = files[:n-1], &files[n-1]
	}
	from := -1 // the old live file under its rotated name
	if old != nil {
		oldInfo, _ := old.file.Stat()
		for i := len(rotated) - 1; i >= 0 && from < 0; i-- {
			if f := &rotated[i]; f.file != nil {
				info, err := f.file.Stat()
				if err == nil && oldInfo != nil && os.SameFile(info, oldInfo) || old.head != "" && f.headOf() == old.head {
					from = i
				}
			}
		}
	}
	for i := range rotated {
		f := &rotated[i]
		stem := strings.TrimSuffix(f.name, filelog.GzSuffix)
		isNew := i > from && (from >= 0 || !fl.seen[stem])
		fl.seen[stem] = true
		if !isNew {
			f.close()
			continue
		}
		more, err := rd.readFile(ctx, f)
		f.close()
		if err != nil || !more {
			return true, more, err
		}
		progress = true
	}
	if live == nil {
		return progress, true, nil
	}
	if fl.lr, err = newLineReader(live, 0, r.opts.maxLineBytes()); err != nil {
		return progress, false, fmt.Errorf("dlq: source %s: %w", live.path, err)
	}
	cur := *live
	live.file = nil // the follower holds it now
	fl.cur = &cur
	return true, true, nil
}

// changed reports, without opening anything, whether a folder with no
// live file until now has one or new rotated files.
func (fl *follower) changed() bool {
	rotated, hasLive, err := rotatedFiles(fl.dir)
	if err != nil || hasLive {
		return err == nil
	}
	for _, rf := range rotated {
		if !fl.seen[fl.prefix+rf.stem] {
			return true
		}
	}
	return false
}
