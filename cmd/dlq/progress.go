package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// A command that reads for longer than a second shows how far it got on
// one line of stderr, redrawn in place, when stderr is a terminal: the
// entries read, their rate, and for a file source the files done of the
// total and the time left. The line is cleared before the command prints
// its answer, and before anything else is written to stderr (a warning).
// Nothing is drawn when stderr is not a terminal.
const (
	progressAfter = time.Second            // no line for a command that answers sooner
	progressEvery = 200 * time.Millisecond // how often it is redrawn
)

// console is the command's stderr: it knows whether it is a terminal, and
// clears the progress line drawn on it before anything else is written.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	line bool // a progress line is drawn
}

// terminal is a writer that says whether it is a terminal (tests give one).
type terminal interface{ IsTerminal() bool }

func newConsole(w io.Writer) *console {
	c := &console{w: w}
	switch t := w.(type) {
	case terminal:
		c.tty = t.IsTerminal()
	case *os.File:
		c.tty = term.IsTerminal(int(t.Fd()))
	}
	return c
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	return c.w.Write(p)
}

// draw replaces the progress line with s.
func (c *console) draw(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.w, "\r\x1b[K"+s)
	c.line = true
}

func (c *console) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *console) clearLocked() {
	if c.line {
		_, _ = io.WriteString(c.w, "\r\x1b[K")
		c.line = false
	}
}

// progress draws a command's progress line; a nil *progress (stderr is
// not a terminal) does nothing.
type progress struct {
	c      *console
	what   string
	read   func() uint64 // the entries read so far
	files  []sourceFile  // the source's files in reading order; nil when unknown
	start  time.Time
	stop   chan struct{}
	ended  chan struct{}
	extra  atomic.Pointer[func() string]
	cur    atomic.Int64 // index in files of the file read now, -1 before the first
	off    atomic.Int64 // the offset reached in it
	last   string       // the file part of the last position seen (the reading goroutine's)
	lastAt int64
	once   sync.Once
}

// newProgress starts the progress line of cmd reading r, when stderr is a
// terminal; what names the command on the line.
func newProgress(cmd *cli.Command, what string, r *dlq.Reader) *progress {
	return newProgressOf(cmd, what, r.Source(), func() uint64 { return r.Stats().Read })
}

// newProgressOf starts the progress line of cmd reading src, when stderr
// is a terminal, with read counting the entries read so far.
func newProgressOf(cmd *cli.Command, what, src string, read func() uint64) *progress {
	c, ok := cmd.Root().ErrWriter.(*console)
	if !ok || !c.tty {
		return nil
	}
	after := cmd.Duration("progress-after")
	p := &progress{c: c, what: what, read: read, files: sourceFiles(src), start: time.Now(),
		stop: make(chan struct{}), ended: make(chan struct{})}
	p.cur.Store(-1)
	go p.run(after)
	return p
}

// also adds more to the line, such as what replay sent.
func (p *progress) also(more func() string) {
	if p != nil {
		p.extra.Store(&more)
	}
}

func (p *progress) run(after time.Duration) {
	defer close(p.ended)
	if after > 0 {
		wait := time.NewTimer(after)
		defer wait.Stop()
		select {
		case <-p.stop:
			return
		case <-wait.C:
		}
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		p.c.draw(p.line(time.Now()))
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

// seen records the position of the record just read, to count the files
// done and the bytes left.
func (p *progress) seen(pos string) {
	if p == nil || p.files == nil {
		return
	}
	h := strings.LastIndexByte(pos, ':')
	if h < 0 {
		return
	}
	o := strings.LastIndexByte(pos[:h], ':')
	if o < 0 {
		return
	}
	name := pos[:o]
	if name != p.last {
		p.last = name
		p.lastAt = int64(slices.IndexFunc(p.files, func(f sourceFile) bool { return f.name == name }))
		p.cur.Store(p.lastAt)
	}
	if off, err := strconv.ParseInt(pos[o+1:h], 10, 64); err == nil && p.lastAt >= 0 {
		p.off.Store(off)
	}
}

// done stops the line and clears it; the command prints its answer next.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		<-p.ended
		p.c.clear()
	})
}

// line is the progress line at now: "inspect  412,331 entries  31,200/s
// files 14/40  ETA 21s".
func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.start)
	read := p.read()
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s entries", p.what, thousands(read))
	if secs := elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(&b, "  %s/s", thousands(uint64(float64(read)/secs)))
	}
	if len(p.files) > 0 {
		cur := p.cur.Load()
		fmt.Fprintf(&b, "  files %d/%d", max(cur, 0), len(p.files))
		if cur >= 0 {
			var total, done int64
			for i, f := range p.files {
				total += f.size
				if int64(i) < cur {
					done += f.size
				}
			}
			done += min(p.off.Load(), p.files[cur].size)
			if done > 0 && total > done && elapsed >= time.Second {
				left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
				fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
			}
		}
	}
	if more := p.extra.Load(); more != nil {
		b.WriteString("  ")
		b.WriteString((*more)())
	}
	return b.String()
}

// thousands writes n with a comma every three digits.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sourceFile is one file of a local source, named as a Record's position
// names it, with the bytes it holds once decompressed.
type sourceFile struct {
	name string
	size int64
}

// sourceFiles lists the files a Reader reads from src, a local file or
// folder, in the order it reads them (filelog's naming contract); nil for
// a network source or a path it cannot list.
func sourceFiles(src string) []sourceFile {
	path, ok := strings.CutPrefix(src, "file://")
	if !ok && strings.Contains(src, "://") {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if !info.IsDir() {
		return []sourceFile{{name: filepath.Base(path), size: plainSize(path, info.Size())}}
	}
	files := serviceFiles(path, "")
	if files != nil {
		return files
	}
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		if e.IsDir() {
			files = append(files, serviceFiles(filepath.Join(path, e.Name()), e.Name()+"/")...)
		}
	}
	return files
}

// serviceFiles lists a service folder's files in reading order, each
// named prefix+name.
func serviceFiles(dir, prefix string) []sourceFile {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var stems []string
	gz := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !filelog.BelongsToLog(e.Name()) {
			continue
		}
		stem, isGz := strings.CutSuffix(e.Name(), filelog.GzSuffix)
		if _, dup := gz[stem]; dup {
			gz[stem] = false // a plain file beside its compressed copy is read
			continue
		}
		gz[stem] = isGz
		stems = append(stems, stem)
	}
	slices.SortFunc(stems, func(a, b string) int { return strings.Compare(filelog.OrderKey(a), filelog.OrderKey(b)) })
	var files []sourceFile
	for _, stem := range stems {
		name := stem
		if gz[stem] {
			name += filelog.GzSuffix
		}
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil {
			files = append(files, sourceFile{name: prefix + name, size: plainSize(path, info.Size())})
		}
	}
	return files
}

// plainSize returns the bytes a file holds once decompressed: a gzip
// file's size modulo 4 GiB from its trailer, a plain file's own.
func plainSize(path string, size int64) int64 {
	if !strings.HasSuffix(path, filelog.GzSuffix) || size < 18 {
		return size
	}
	f, err := os.Open(path)
	if err != nil {
		return size
	}
	defer f.Close()
	var trailer [4]byte
	if _, err := f.ReadAt(trailer[:], size-4); err != nil {
		return size
	}
	return int64(binary.LittleEndian.Uint32(trailer[:]))
}
