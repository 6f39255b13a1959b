package dlq

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/klauspost/compress/gzip"
)

// readBufferSize is the buffer a file is read through.
const readBufferSize = 256 << 10

// The read-ahead of a folder read in parallel (readFiles). A file's worker
// hands its records over in batches of batchLines records or batchBytes
// of lines (one longer line aside). The stream of the file the loop reads
// holds streamBatches of them; the files after it share aheadPerWorker of
// lines per worker, so that a worker decodes the next file while the
// loop takes this one (a gzipped file is decompressed by one goroutine
// from start to end: only files can run side by side).
const (
	batchLines     = 512
	batchBytes     = 256 << 10
	streamBatches  = 4
	aheadPerWorker = 32 << 20
	// tokenBytes is the bytes of lines one token of the budget or the
	// room stands for: a batch takes one per tokenBytes begun.
	tokenBytes = batchBytes / 4
)

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
	rest, err := resumeAt(files, r.opts.After)
	if err != nil {
		return err
	}
	closeFiles(files[:len(files)-len(rest)])
	// Files passed over by the id's time are read when it is missing,
	// which only a read that ends can tell; and only for one id: with
	// several, those found first would come before older entries found
	// after, out of the order a resume position (a replay's checkpoint)
	// counts on.
	byID := !r.opts.Follow && r.opts.Last <= 0 && len(r.opts.Filter.IDs) == 1
	var passed []fileToRead
	if info.IsDir() {
		rest, passed = r.byTime(rest, byID)
	}
	switch {
	case r.opts.Follow:
		return r.follow(ctx, s.path, !info.IsDir(), services, seen, rest, emit)
	case r.opts.Last > 0:
		return r.reading(emit).readLast(ctx, rest)
	case len(passed) == 0:
		_, err := r.readFiles(ctx, rest, emit)
		return err
	}
	found := map[string]bool{}
	more, err := r.readFiles(ctx, rest, func(rec Record) bool {
		found[rec.Entry.ID] = true
		return emit(rec)
	})
	if err != nil || !more || !slices.ContainsFunc(r.opts.Filter.IDs, func(id string) bool { return !found[id] }) {
		return err
	}
	_, err = r.readFiles(ctx, passed, emit)
	return err
}

// reading is one goroutine's reading of files: its judge, and where the
// records it selects, its counts and its warnings go: to the Reader and
// the loop at once, or for a worker of readFiles into the batch it hands
// over.
type reading struct {
	r     *Reader
	judge lineJudge
	emit  func(Record) bool
	batch *fileBatch  // a worker's; nil: counts and warnings go to the Reader
	send  func() bool // a worker's: hands batch over; false when the loop is gone
}

func (r *Reader) reading(emit func(Record) bool) *reading {
	return &reading{r: r, judge: r.newJudge(), emit: emit}
}

// count counts one line by its verdict; a worker's selected line counts
// when the loop takes its record.
func (rd *reading) count(v verdict) {
	if b := rd.batch; b != nil {
		switch v {
		case unreadableLine:
			b.tally.unreadable++
		case ruledOut:
			b.tally.read++
		}
		return
	}
	switch v {
	case unreadableLine:
		rd.r.stats.unreadable.Add(1)
	case ruledOut:
		rd.r.stats.read.Add(1)
	case selected:
		rd.r.stats.read.Add(1)
		rd.r.stats.matched.Add(1)
	}
}

func (rd *reading) warn(err error) {
	if rd.batch != nil {
		rd.batch.warns = append(rd.batch.warns, err)
		return
	}
	rd.r.warn(err)
}

// readFile reads f from f.skip to its end (the live file: to what it held
// when listed) and emits each envelope. It returns false when emit asked
// to stop.
func (rd *reading) readFile(ctx context.Context, f *fileToRead) (bool, error) {
	if err := f.open(); errors.Is(err, fs.ErrNotExist) {
		rd.warn(fmt.Errorf("dlq: source %s: removed before it could be read: %w", f.name, err))
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("dlq: source: %w", err)
	}
	lr, err := newLineReader(f, f.skip, rd.r.opts.maxLineBytes())
	if err != nil {
		rd.damaged(f, 0, err)
		return true, nil
	}
	more, err := rd.readLines(ctx, f, lr, true)
	if err != nil || !more {
		return more, err
	}
	return rd.lastLine(f, lr), nil
}

// readLines emits f's lines up to the end of what it holds now (the live
// file, with limit: up to what it held when listed). A partial last line
// waits in lr.buf. It returns false when emit asked to stop.
func (rd *reading) readLines(ctx context.Context, f *fileToRead, lr *lineReader, limit bool) (bool, error) {
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
			if !rd.decode(line, f, lr.off) {
				return false, nil
			}
		case errors.Is(err, errLineTooLong):
			rd.count(unreadableLine)
		case err == io.EOF:
			return true, nil
		case f.gz:
			lr.broken = true // a corrupt or truncated archive: its rest is lost
			rd.damaged(f, lr.off, err)
		default:
			return false, fmt.Errorf("dlq: source %s: %w", f.path, err)
		}
	}
	return true, nil
}

// lastLine emits the last line of a file read to its end for good, when it
// has no newline. It returns false when emit asked to stop.
func (rd *reading) lastLine(f *fileToRead, lr *lineReader) bool {
	switch {
	case lr.broken:
		return true
	case lr.tooLong:
		rd.count(unreadableLine)
		return true
	case len(lr.buf) > 0:
		return rd.decode(lr.buf, f, lr.off)
	}
	return true
}

// damaged counts the unreadable rest of a file and says which file it is.
func (rd *reading) damaged(f *fileToRead, off int64, err error) {
	rd.count(unreadableLine)
	rd.warn(fmt.Errorf("dlq: source %s: unreadable after %d bytes, the rest of the file is skipped: %w", f.name, off, err))
}

// decode judges one line and emits it when the filter selects it; a line
// that is not an envelope is counted, a blank one ignored. It returns
// false when emit asked to stop.
func (rd *reading) decode(line []byte, f *fileToRead, off int64) bool {
	if rd.batch != nil {
		rd.batch.bytes += len(line)
	}
	more := true
	if trimmed := bytes.TrimSuffix(line, []byte{'\r'}); len(bytes.TrimSpace(trimmed)) > 0 {
		var e Entry
		v := rd.judge.judge(trimmed, &e)
		rd.count(v)
		if v == selected {
			more = rd.emit(Record{Entry: e, Position: position(f, off)})
		}
	}
	if more && rd.batch != nil && rd.batch.bytes >= batchBytes {
		return rd.send()
	}
	return more
}

// readLast reads files newest first, each into a ring of the entries
// still needed, until Last are found, then emits them in order.
func (rd *reading) readLast(ctx context.Context, files []fileToRead) error {
	emit, need := rd.emit, rd.r.opts.Last
	defer func() { rd.emit = emit }()
	var held [][]Record // newest file first
	for i := len(files) - 1; i >= 0 && need > 0; i-- {
		ring := newLastRing(need)
		rd.emit = func(rec Record) bool {
			ring.push(rec)
			return true
		}
		_, err := rd.readFile(ctx, &files[i])
		files[i].close()
		if err != nil {
			return err
		}
		recs := ring.ordered()
		held = append(held, recs)
		need -= len(recs)
	}
	for i := len(held) - 1; i >= 0; i-- {
		for _, rec := range held[i] {
			if !emit(rec) {
				return nil
			}
		}
	}
	return nil
}

// fileBatch is what a worker of readFiles hands over at once: records in
// order, with the lines counted before each, then the lines counted after
// the last, the warnings, and an error that ends the read.
type fileBatch struct {
	recs   []Record
	before []tally // before[i]: the lines counted between recs[i-1] and recs[i]
	tally  tally   // counted since the last record
	bytes  int     // of the lines read into this batch
	warns  []error
	err    error
	ahead  bool // sent before the loop reached its file: holds tokens of the budget, else of the room
	tokens int  // of the budget or of the room, given back when the loop takes the batch
}

// tokensFor is how many tokens of a pool of size pool a batch of n bytes
// of lines takes: one per tokenBytes begun, all of them for a batch
// larger than the pool, which then goes alone.
func tokensFor(n, pool int) int {
	return min(max(1, (n+tokenBytes-1)/tokenBytes), pool)
}

type tally struct{ read, unreadable uint64 }

// readFiles reads files in order and emits their entries: in parallel
// when there are several and more than one CPU. Each file is read by one
// worker (GOMAXPROCS of them), which hands its records over in batches
// through a stream of its own; the loop takes the streams in order, so
// that records, Stats and warnings come as a read of one file after the
// other gives them. Memory ahead of the loop is bounded twice: a worker
// starts a file only while fewer than workers+1 files are in flight
// (started and not yet handed over whole), and a batch is sent only with
// tokens, one per tokenBytes of its lines (tokensFor), which the loop gives
// back when it takes the batch: of the budget (aheadPerWorker per worker)
// for a file the loop has not reached yet, of the room (streamBatches) for
// the one it reads, which therefore always moves. It returns false when emit asked to stop; every worker has
// returned by then.
func (r *Reader) readFiles(ctx context.Context, files []fileToRead, emit func(Record) bool) (bool, error) {
	workers := r.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(files))
	if workers <= 1 {
		rd := r.reading(emit)
		for i := range files {
			more, err := rd.readFile(ctx, &files[i])
			files[i].close()
			if err != nil || !more {
				return more, err
			}
		}
		return true, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	aheadBytes := r.aheadBytes
	if aheadBytes <= 0 {
		aheadBytes = workers * aheadPerWorker
	}
	tokens := max(1, aheadBytes/tokenBytes)
	budget := make(chan struct{}, tokens)
	room := make(chan struct{}, streamBatches*batchBytes/tokenBytes) // for the file the loop reads
	streams := make([]chan *fileBatch, len(files))
	reached := make([]chan struct{}, len(files)) // closed when the loop reaches the file
	for i := range streams {
		streams[i] = make(chan *fileBatch, tokens+cap(room))
		reached[i] = make(chan struct{})
	}
	inFlight := make(chan struct{}, workers+1)
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			rd := &reading{r: r, judge: r.newJudge()}
			for {
				select {
				case inFlight <- struct{}{}:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				if r.trace != nil {
					r.trace("start", i, 0)
				}
				rd.readAhead(ctx, i, &files[i], streams[i], reached[i], budget, room)
			}
		})
	}
	for i := range files {
		close(reached[i])
		for {
			var b *fileBatch
			var ok bool
			select {
			case b, ok = <-streams[i]:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			if !ok {
				break
			}
			tokens := room
			if b.ahead {
				if r.trace != nil {
					r.trace("taken", i, b.bytes)
				}
				tokens = budget
			}
			for range b.tokens {
				<-tokens
			}
			if more, err := r.handOver(b, emit); err != nil || !more {
				return more, err
			}
		}
		<-inFlight
	}
	return true, nil
}

// readAhead reads f, the i-th file, into batches and sends them down out,
// which it closes: each with the tokens its bytes take (tokensFor) of
// budget until reached is closed, then of room.
func (rd *reading) readAhead(ctx context.Context, i int, f *fileToRead, out chan<- *fileBatch, reached <-chan struct{}, budget, room chan struct{}) {
	defer close(out)
	rd.batch = &fileBatch{}
	rd.send = func() bool {
		b := rd.batch
		select {
		case <-reached:
		default:
			b.ahead = true
		}
		for need := tokensFor(b.bytes, cap(budget)); b.ahead && b.tokens < need; {
			select {
			case budget <- struct{}{}:
				b.tokens++
			case <-reached: // the loop came first: the tokens go back
				for ; b.tokens > 0; b.tokens-- {
					<-budget
				}
				b.ahead = false
			case <-ctx.Done():
				return false
			}
		}
		if b.ahead && rd.r.trace != nil {
			rd.r.trace("ahead", i, b.bytes)
		}
		for need := tokensFor(b.bytes, cap(room)); !b.ahead && b.tokens < need; b.tokens++ {
			select {
			case room <- struct{}{}:
			case <-ctx.Done():
				return false
			}
		}
		select {
		case out <- b:
			rd.batch = &fileBatch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	rd.emit = func(rec Record) bool {
		b := rd.batch
		b.recs = append(b.recs, rec)
		b.before = append(b.before, b.tally)
		b.tally = tally{}
		return len(b.recs) < batchLines || rd.send()
	}
	more, err := rd.readFile(ctx, f)
	f.close()
	if !more && err == nil {
		return // the loop is gone
	}
	rd.batch.err = err
	rd.send()
}

// handOver emits a worker's batch as a read in order would have: each
// record after the lines counted before it, then the rest of the counts,
// the warnings and the error. It returns false when emit asked to stop.
func (r *Reader) handOver(b *fileBatch, emit func(Record) bool) (bool, error) {
	for i := range b.recs {
		r.stats.read.Add(b.before[i].read + 1)
		r.stats.unreadable.Add(b.before[i].unreadable)
		r.stats.matched.Add(1)
		if !emit(b.recs[i]) {
			return false, nil
		}
	}
	r.stats.read.Add(b.tally.read)
	r.stats.unreadable.Add(b.tally.unreadable)
	for _, err := range b.warns {
		r.warn(err)
	}
	return b.err == nil, b.err
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
