package dlqgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"
)

// chunk is how many entries go between two Flushes. The writer's clock
// stands still at the newest of them meanwhile, so that the rotations in
// a chunk are named the same way in every run; a chunk is about 1 MB, the
// smallest max_size_mb, so a file holds several.
const chunk = 512

// sampleEntries is how many entries estimate the mean line size.
const sampleEntries = 20_000

// Write generates o's entries into dir/<o.Service> through the library (a
// file-only Orchestrator, size rotation at MaxSizeMB, rotated files gzipped
// but the newest o.Plain), then reads the folder back to check it and writes
// the manifest, dir/manifest.json, which it returns. The folder must not
// exist yet.
//
// The library stamps nothing itself: each entry comes with its Timestamp
// (spread over o.Hours) and its ID (a UUIDv7 of that time, made as the
// drain makes them, from a stream seeded by o.Seed), and Config.Clock
// stands at the newest timestamp of the chunk being written, so that the
// rotated files' names, which carry their rotation's time, hold no
// entry newer than that time and are the same in every run.
func Write(ctx context.Context, dir string, o Options) (*Manifest, error) {
	o = o.withDefaults()
	folder := filepath.Join(dir, o.Service)
	if _, err := os.Stat(folder); err == nil {
		return nil, fmt.Errorf("dlqgen: %s exists already", folder)
	}
	maxSizeMB, estimate := layout(o)
	maxBytes := int64(maxSizeMB) << 20

	g := newGenerator(o)
	t := newTally(o.N)
	ids := make([]byte, 0, 36*o.N)
	var now atomic.Int64
	open := func(compress bool) (*dlq.Orchestrator, error) {
		return dlq.New(dlq.Config{
			Service:       o.Service,
			Mode:          dlq.ModeFileOnly,
			QueueCapacity: 4 * chunk,
			File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateSize, MaxSizeMB: maxSizeMB,
				Compress: compress, MaxAgeDays: 36500},
			Clock:  func() time.Time { return time.UnixMilli(now.Load()) },
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	}
	// Compression is on until the rotations still to come are o.Plain.
	compress := o.Plain == 0 || plainFrom(0, estimate, maxBytes) > o.Plain
	orch, err := open(compress)
	if err != nil {
		return nil, err
	}
	closeOrch := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return orch.Close(cctx)
	}
	var sent int64 // bytes of the lines sent so far
	var line []byte
	for i := 0; i < o.N; {
		end := min(i+chunk, o.N)
		now.Store(g.p.ts[end-1])
		for ; i < end; i++ {
			e, b := g.next()
			ids = append(ids, e.ID...)
			t.add(&e, b)
			line = dlq.AppendEnvelope(line[:0], &e)
			sent += int64(len(line)) + 1
			if err := orch.SendContext(ctx, e); err != nil {
				_ = closeOrch()
				return nil, err
			}
		}
		if err := orch.Flush(ctx); err != nil {
			_ = closeOrch()
			return nil, err
		}
		if !compress || o.Plain == 0 || i == o.N {
			continue
		}
		live, err := os.Stat(filepath.Join(folder, "dlq.ndjson"))
		if err != nil {
			_ = closeOrch()
			return nil, err
		}
		if plainFrom(live.Size(), float64(sent)/float64(i)*float64(o.N-i), maxBytes) <= o.Plain {
			// The newest files are written with compress off: a writer
			// restarted with another config, as the folder was.
			if err := closeOrch(); err != nil {
				return nil, err
			}
			compress = false
			if orch, err = open(false); err != nil {
				return nil, err
			}
		}
	}
	if err := closeOrch(); err != nil {
		return nil, err
	}
	m, err := survey(folder, o, g, t, ids)
	if err != nil {
		return nil, err
	}
	m.MaxSizeMB = maxSizeMB
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	return m, nil
}

// layout returns max_size_mb (o.MaxSizeMB, or the size that makes o.Files
// files) and the NDJSON's estimated size, from the mean line size over a
// sample of the entries.
func layout(o Options) (maxSizeMB int, estimate float64) {
	g := newGenerator(o)
	var total, k int
	var buf []byte
	for k = 0; k < min(o.N, sampleEntries); k++ {
		e, _ := g.next()
		buf = dlq.AppendEnvelope(buf[:0], &e)
		total += len(buf) + 1
	}
	estimate = float64(total) / float64(k) * float64(o.N)
	if o.MaxSizeMB > 0 {
		return o.MaxSizeMB, estimate
	}
	return max(1, int(math.Ceil(estimate/(float64(o.Files)-0.5)/(1<<20)))), estimate
}

// plainFrom returns how many rotations are still to come, with live bytes
// in the live file and about rest bytes of lines still to write.
func plainFrom(live int64, rest float64, maxBytes int64) int {
	return int((float64(live) + rest) / float64(maxBytes))
}

// survey reads the folder back: its files in reading order, each one's
// lines counted and its first and last ids checked against what was sent,
// and builds the manifest.
func survey(folder string, o Options, g *generator, t *tally, ids []byte) (*Manifest, error) {
	names, err := readingOrder(folder)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Generator: Version, Seed: o.Seed, N: o.N, Service: o.Service, Folder: filepath.Base(folder),
		OldestMS: g.p.ts[0], NewestMS: g.p.ts[o.N-1]}
	idAt := func(i int) string { return string(ids[36*i : 36*i+36]) }
	pos := 0
	for _, name := range names {
		f := File{Name: name, Gz: strings.HasSuffix(name, ".gz"), First: pos}
		lines, plain, first, last, err := scanFile(filepath.Join(folder, name), f.Gz)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(filepath.Join(folder, name))
		if err != nil {
			return nil, err
		}
		f.Entries, f.BytesPlain, f.BytesOnDisk = lines, plain, info.Size()
		if lines > 0 {
			if pos+lines > o.N {
				return nil, fmt.Errorf("dlqgen: the folder holds more than the %d entries sent", o.N)
			}
			f.FirstID, f.LastID = idAt(pos), idAt(pos+lines-1)
			if first != f.FirstID || last != f.LastID {
				return nil, fmt.Errorf("dlqgen: %s begins with %s and ends with %s, not %s and %s as sent",
					name, first, last, f.FirstID, f.LastID)
			}
			f.MinMS, f.MaxMS = slices.Min(g.p.ts[pos:pos+lines]), slices.Max(g.p.ts[pos:pos+lines])
		}
		pos += lines
		m.Files = append(m.Files, f)
		m.BytesPlain += plain
		m.BytesOnDisk += f.BytesOnDisk
		switch {
		case name == "dlq.ndjson":
		case f.Gz:
			m.Gzipped++
		default:
			m.PlainRotated++
		}
	}
	if pos != o.N {
		return nil, fmt.Errorf("dlqgen: the folder holds %d entries, %d were sent", pos, o.N)
	}
	m.fill(o, g, t, idAt)
	return m, nil
}

// tally counts what the entries hold as they are sent.
type tally struct {
	m     Manifest // Reasons, Bugs, DistinctBugs and the With* counts
	bugOf []byte   // each entry's bug digit
}

func newTally(n int) *tally {
	t := &tally{m: Manifest{Reasons: map[string]int{}, Bugs: make([]Bug, len(bugs))}, bugOf: make([]byte, 0, n)}
	for i, b := range bugs {
		t.m.Bugs[i] = Bug{ID: strconv.FormatInt(int64(i), 36), Reason: b.reason, Destination: b.destination, Template: b.template}
	}
	return t
}

func (t *tally) add(e *dlq.Entry, b int) {
	m := &t.m
	t.bugOf = append(t.bugOf, m.Bugs[b].ID[0])
	m.Reasons[e.Reason]++
	if m.Bugs[b].Entries == 0 {
		m.Bugs[b].Example = e.Error
		m.DistinctBugs++
	}
	m.Bugs[b].Entries++
	if e.Payload[0] == 0 { // JSON payloads start with {
		m.Binary++
	}
	if len(e.Key) > 0 {
		m.WithKey++
	}
	if len(e.Headers) > 0 {
		m.WithHeaders++
	}
	if len(e.Metadata) > 0 {
		m.WithMetadata++
	}
}

// fill adds the tally, the counts per hour and the samples.
func (m *Manifest) fill(o Options, g *generator, t *tally, idAt func(int) string) {
	m.Reasons, m.Bugs, m.DistinctBugs = t.m.Reasons, t.m.Bugs, t.m.DistinctBugs
	m.Binary, m.WithKey, m.WithHeaders, m.WithMetadata = t.m.Binary, t.m.WithKey, t.m.WithHeaders, t.m.WithMetadata
	bugOf := t.bugOf
	m.BugOfEntry = string(bugOf)
	for h, k := range g.p.hour {
		at := o.Start.Add(time.Duration(h) * time.Hour).UTC()
		m.PerHour = append(m.PerHour, Hour{Hour: at.Format("2006-01-02T15:04Z"), Entries: k})
	}
	mid := func(f File) int { return f.First + f.Entries/2 }
	where := []struct {
		name string
		pos  int
	}{{"oldest", 0}, {"middle", o.N / 2}, {"newest", o.N - 1}}
	if len(m.Files) > 2 {
		where = append(where, struct {
			name string
			pos  int
		}{"old", mid(m.Files[1])})
	}
	if live := m.Files[len(m.Files)-1]; live.Entries > 0 {
		where = append(where, struct {
			name string
			pos  int
		}{"newest-file", mid(live)})
	}
	for _, w := range where {
		f := m.Files[m.fileOf(w.pos)]
		m.Samples = append(m.Samples, Sample{Where: w.name, ID: idAt(w.pos), File: f.Name, Position: w.pos,
			TimestampMS: g.p.ts[w.pos], Reason: bugs[g.p.bug[w.pos]].reason, Bug: string(bugOf[w.pos])})
	}
}

// fileOf returns the index of the file holding the entry at pos.
func (m *Manifest) fileOf(pos int) int {
	for i, f := range m.Files {
		if pos < f.First+f.Entries {
			return i
		}
	}
	return len(m.Files) - 1
}

// readingOrder lists the folder's files as the Reader reads them: the
// rotated ones by name (their names sort by time), then dlq.ndjson.
func readingOrder(folder string) ([]string, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, err
	}
	var names []string
	live := false
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "dlq.ndjson":
			live = true
		case strings.HasPrefix(name, "dlq-") && strings.Contains(name, ".ndjson"):
			names = append(names, name)
		case strings.HasPrefix(name, "."):
		default:
			return nil, fmt.Errorf("dlqgen: unexpected file %s in %s", name, folder)
		}
	}
	slices.Sort(names)
	if live {
		names = append(names, "dlq.ndjson")
	}
	return names, nil
}

// scanFile counts a file's lines and returns its plain size and its first
// and last lines' ids.
func scanFile(path string, gz bool) (lines int, plain int64, first, last string, err error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, 0, "", "", err
	}
	defer file.Close()
	var r io.Reader = file
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(file, 1<<20))
		if err != nil {
			return 0, 0, "", "", fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var line []byte
	for {
		line, err = br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, 0, "", "", fmt.Errorf("%s: a line longer than 1 MiB", path)
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				return 0, 0, "", "", fmt.Errorf("%s: its last line is torn", path)
			}
			lines++
			plain += int64(len(line))
			id := lineID(line)
			if lines == 1 {
				first = id
			}
			last = id
		}
		if err == io.EOF {
			return lines, plain, first, last, nil
		}
		if err != nil {
			return 0, 0, "", "", fmt.Errorf("%s: %w", path, err)
		}
	}
}

// lineID returns the id of an envelope line: the value of its only
// "id":" (error texts are escaped, payloads base64, header names and
// metadata keys are not "id").
func lineID(line []byte) string {
	_, rest, ok := bytes.Cut(line, []byte(`"id":"`))
	if !ok || len(rest) < 36 {
		return ""
	}
	return string(rest[:36])
}
