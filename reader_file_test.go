package dlq

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/clock"
	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll collects what a Reader over src yields.
func readAll(t *testing.T, src string, opts ReaderOptions) ([]Record, ReadStats) {
	t.Helper()
	r, err := OpenReader(src, opts)
	require.NoError(t, err)
	var out []Record
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		out = append(out, rec)
	}
	return out, r.Stats()
}

func recPayloads(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Entry.Payload)
	}
	return out
}

func envelopeLine(e Entry) string { return string(AppendEnvelope(nil, &e)) + "\n" }

func lineFor(payload, reason string, ms int64) string {
	return envelopeLine(Entry{Timestamp: time.UnixMilli(ms), Service: "svc", Reason: reason, Payload: []byte(payload), ID: "id-" + payload})
}

func writeGzip(t *testing.T, path, content string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
}

// serviceFolder lays out what the file backend leaves: two rotated files
// (the older gzipped), the live file ending in a torn line, and foreign
// files beside them.
func serviceFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeGzip(t, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson.gz"), lineFor("a", "parse_error", 1000)+lineFor("b", "timeout", 2000))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq-2026-01-15T09-00-00.000.ndjson"),
		[]byte(lineFor("c", "parse_error", 3000)+"not json at all\n"+lineFor("d", "schema", 4000)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName),
		[]byte(lineFor("e", "parse_error", 5000)+"\n"+lineFor("f", "timeout", 6000)+`{"timestamp":7000,"service":"svc","rea`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".lock"), []byte("123"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello\n"), 0o600))
	return dir
}

func TestReaderServiceFolder(t *testing.T) {
	dir := serviceFolder(t)
	t.Run("oldest first, live last, torn and foreign lines counted", func(t *testing.T) {
		recs, stats := readAll(t, dir, ReaderOptions{})
		assert.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, recPayloads(recs))
		assert.Equal(t, ReadStats{Read: 6, Matched: 6, Unreadable: 2}, stats)
		assert.Regexp(t, `^dlq-2026-01-15T08-00-00\.000\.ndjson\.gz:`+fmt.Sprint(len(lineFor("a", "parse_error", 1000)))+`:[0-9a-f]{16}$`, recs[0].Position)
	})
	t.Run("file:// URL", func(t *testing.T) {
		recs, _ := readAll(t, "file://"+dir, ReaderOptions{})
		assert.Len(t, recs, 6)
	})
	t.Run("one file", func(t *testing.T) {
		recs, stats := readAll(t, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson.gz"), ReaderOptions{})
		assert.Equal(t, []string{"a", "b"}, recPayloads(recs))
		assert.Zero(t, stats.Unreadable)
	})
	t.Run("resume after a position", func(t *testing.T) {
		all, _ := readAll(t, dir, ReaderOptions{})
		for i, rec := range all {
			rest, _ := readAll(t, dir, ReaderOptions{After: rec.Position})
			assert.Equal(t, recPayloads(all[i+1:]), recPayloads(rest), "after %s", rec.Position)
		}
	})
	t.Run("a plain rotated file beside its gzipped copy is read once", func(t *testing.T) {
		d := serviceFolder(t)
		writeGzip(t, filepath.Join(d, "dlq-2026-01-15T09-00-00.000.ndjson.gz"), lineFor("c", "parse_error", 3000)) // half written
		recs, _ := readAll(t, d, ReaderOptions{})
		assert.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, recPayloads(recs))
	})
	t.Run("a folder of service folders", func(t *testing.T) {
		parent := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(parent, "one"), 0o700))
		require.NoError(t, os.Mkdir(filepath.Join(parent, "two"), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(parent, "one", filelog.LiveName), []byte(lineFor("1", "r", 1)), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(parent, "two", filelog.LiveName), []byte(lineFor("2", "r", 2)), 0o600))
		recs, _ := readAll(t, parent, ReaderOptions{})
		assert.Equal(t, []string{"1", "2"}, recPayloads(recs))
		assert.True(t, strings.HasPrefix(recs[1].Position, "two/dlq.ndjson:"+fmt.Sprint(len(lineFor("2", "r", 2)))+":"), recs[1].Position)
	})
	t.Run("a missing source is an error", func(t *testing.T) {
		r, err := OpenReader(filepath.Join(dir, "nope"), ReaderOptions{})
		require.NoError(t, err)
		n := 0
		for _, err := range r.All(t.Context()) {
			assert.ErrorIs(t, err, os.ErrNotExist)
			n++
		}
		assert.Equal(t, 1, n, "one error, not an empty source")
	})
}

func TestReaderResumesInALiveFileRotatedSince(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compressed %v", compress), func(t *testing.T) {
			dir := t.TempDir()
			live := filepath.Join(dir, filelog.LiveName)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson"), []byte(lineFor("0", "r", 0)), 0o600))
			require.NoError(t, os.WriteFile(live, []byte(lineFor("1", "r", 1)+lineFor("2", "r", 2)+lineFor("3", "r", 3)), 0o600))
			recs, _ := readAll(t, dir, ReaderOptions{})
			require.Len(t, recs, 4)
			checkpoint := recs[2].Position // after "2", in the live file

			// The writer adds a line, rotates (the file backend names the
			// file by the rotation's time), starts a new live file.
			f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(lineFor("4", "r", 4))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			rotated := filepath.Join(dir, "dlq-"+time.Now().UTC().Format(filelog.BackupTimeFormat)+".ndjson")
			require.NoError(t, os.Rename(live, rotated))
			if compress {
				data, err := os.ReadFile(rotated)
				require.NoError(t, err)
				writeGzip(t, rotated+".gz", string(data))
				require.NoError(t, os.Remove(rotated))
			}
			require.NoError(t, os.WriteFile(live, []byte(lineFor("5", "r", 5)), 0o600))

			rest, _ := readAll(t, dir, ReaderOptions{After: checkpoint})
			assert.Equal(t, []string{"3", "4", "5"}, recPayloads(rest))
		})
	}
}

func TestReaderLongLines(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("x", 3<<20) // far beyond bufio's and the read buffer's size
	content := lineFor("small", "r", 1) + lineFor(big, "r", 2) + lineFor("tail", "r", 3)
	path := filepath.Join(dir, "one.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	t.Run("read whole", func(t *testing.T) {
		recs, stats := readAll(t, path, ReaderOptions{})
		require.Len(t, recs, 3)
		assert.Equal(t, big, string(recs[1].Entry.Payload))
		assert.Zero(t, stats.Unreadable)
	})
	t.Run("over MaxLineBytes skipped and counted", func(t *testing.T) {
		recs, stats := readAll(t, path, ReaderOptions{MaxLineBytes: 1 << 20})
		assert.Equal(t, []string{"small", "tail"}, recPayloads(recs))
		assert.Equal(t, uint64(1), stats.Unreadable)
	})
}

func TestReaderStopsAtWhatTheFileHeldAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, filelog.LiveName)
	require.NoError(t, os.WriteFile(path, []byte(lineFor("1", "r", 1)+lineFor("2", "r", 2)), 0o600))
	r, err := OpenReader(dir, ReaderOptions{})
	require.NoError(t, err)
	var got []string
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		// What the loop writes back into the source is not read again.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(lineFor("again-"+string(rec.Entry.Payload), "r", 3))
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	assert.Equal(t, []string{"1", "2"}, got)
}

func TestReaderFollowsAFileThroughRotation(t *testing.T) {
	for _, source := range []string{"the service folder", "the file"} {
		t.Run(source, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, filelog.LiveName)
			require.NoError(t, os.WriteFile(path, []byte(lineFor("1", "r", 1)), 0o600))
			src := dir
			if source == "the file" {
				src = path
			}
			r, err := OpenReader(src, ReaderOptions{Follow: true, PollInterval: time.Millisecond})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			appendLine := func(s string) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
				require.NoError(t, err)
				_, err = f.WriteString(s)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			var got []string
			for rec, err := range r.All(ctx) {
				if err != nil {
					assert.ErrorIs(t, err, context.Canceled, "ended before reading 1 to 4")
					break
				}
				got = append(got, string(rec.Entry.Payload))
				switch len(got) {
				case 1: // a line written in two parts is read once whole
					line := lineFor("2", "r", 2)
					appendLine(line[:10])
					appendLine(line[10:])
				case 2: // rotation: the old file gets a last line, then moves aside
					appendLine(lineFor("3", "r", 3))
					require.NoError(t, os.Rename(path, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson")))
					appendLine(lineFor("4", "r", 4))
				case 4:
					cancel()
				}
			}
			assert.Equal(t, []string{"1", "2", "3", "4"}, got)
		})
	}
}

func TestReaderFilters(t *testing.T) {
	dir := serviceFolder(t)
	for _, test := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"none", Filter{}, []string{"a", "b", "c", "d", "e", "f"}},
		{"reason", Filter{Reasons: []string{"timeout"}}, []string{"b", "f"}},
		{"reason globs, any", Filter{Reasons: []string{"parse_*", "sch?ma"}}, []string{"a", "c", "d", "e"}},
		{"service", Filter{Service: "other"}, nil},
		{"since inclusive, until exclusive", Filter{Since: time.UnixMilli(2000), Until: time.UnixMilli(5000)}, []string{"b", "c", "d"}},
		{"ids", Filter{IDs: []string{"id-d", "id-a"}}, []string{"a", "d"}},
		{"together", Filter{Reasons: []string{"parse_error"}, Since: time.UnixMilli(3000)}, []string{"c", "e"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			recs, stats := readAll(t, dir, ReaderOptions{Filter: test.filter})
			assert.Equal(t, test.want, nilIfEmpty(recPayloads(recs)))
			assert.Equal(t, uint64(6), stats.Read)
			assert.Equal(t, uint64(len(test.want)), stats.Matched)
		})
	}
	t.Run("destination", func(t *testing.T) {
		f := Filter{Destination: "acme.*"}
		assert.True(t, f.Match(&Entry{Destination: "acme.auth"}))
		assert.False(t, f.Match(&Entry{Destination: "other"}))
	})
	t.Run("a bad pattern is refused at open", func(t *testing.T) {
		_, err := OpenReader(dir, ReaderOptions{Filter: Filter{Reasons: []string{"[a-"}}})
		assert.ErrorContains(t, err, `pattern "[a-"`)
	})
	t.Run("until before since is refused", func(t *testing.T) {
		_, err := OpenReader(dir, ReaderOptions{Filter: Filter{Since: time.UnixMilli(2), Until: time.UnixMilli(1)}})
		assert.ErrorContains(t, err, "before since")
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, test := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-27T08:00:00Z", time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"2026-11-27T08:00:00.5+01:00", time.Date(2026, 11, 27, 7, 0, 0, 500e6, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	} {
		t.Run(test.in, func(t *testing.T) {
			got, err := ParseTimeBound(test.in, now)
			require.NoError(t, err)
			assert.True(t, test.want.Equal(got), "%v != %v", test.want, got)
		})
	}
	for _, bad := range []string{"yesterday", "-2h", "", "2026-11-27"} {
		_, err := ParseTimeBound(bad, now)
		assert.Error(t, err, bad)
	}
}

func TestReaderOverFilesTheLibraryWrote(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, Rotation: RotateSize, MaxSizeMB: 1, Compress: true}})
	require.NoError(t, err)
	sendLines(t, o, "z", 2500, 1000)
	closeOK(t, o)
	svc := filepath.Join(dir, "svc")
	require.Eventually(t, func() bool {
		gz, _ := filepath.Glob(filepath.Join(svc, "dlq-*.gz"))
		plain, _ := filepath.Glob(filepath.Join(svc, "dlq-*.ndjson"))
		return len(gz) >= 2 && len(plain) == 0
	}, 30*time.Second, 10*time.Millisecond, "the file backend gzips rotated files in the background")
	recs, stats := readAll(t, svc, ReaderOptions{})
	require.Len(t, recs, 2500)
	assert.Zero(t, stats.Unreadable)
	for i, rec := range recs {
		require.True(t, strings.HasPrefix(string(rec.Entry.Payload), fmt.Sprintf("z-%05d-", i)), "entry %d in order", i)
	}
}

func TestOpenReaderSources(t *testing.T) {
	for _, test := range []struct{ src, err string }{
		{"", "empty source"},
		{"ftp://x/y", `scheme "ftp"`},
		{"file://", "names no path"},
	} {
		t.Run(test.src, func(t *testing.T) {
			_, err := OpenReader(test.src, ReaderOptions{})
			assert.ErrorContains(t, err, test.err)
		})
	}
}

// dlqWriter is the library's own file backend writing one service folder,
// hourly, on a clock the test moves: moving it an hour on makes the next
// write rotate the live file (gzipped after, with compress).
type dlqWriter struct {
	t        *testing.T
	o        *Orchestrator
	clock    *fakeClock
	dir      string // the service folder
	compress bool
	n        int // entries written: ids id-00000 to id-<n-1>
}

func newDLQWriter(t *testing.T, root, service string, compress bool) *dlqWriter {
	t.Helper()
	w := &dlqWriter{t: t, clock: newFakeClock(time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)), dir: filepath.Join(root, service), compress: compress}
	o, err := New(Config{Service: service, Clock: w.clock.Now, File: FileConfig{Dir: root, Rotation: RotateHourly, Compress: compress}})
	require.NoError(t, err)
	w.o = o
	t.Cleanup(func() { closeOK(t, o) })
	return w
}

// write sends n entries and flushes them.
func (w *dlqWriter) write(n int) {
	w.t.Helper()
	for range n {
		id := fmt.Sprintf("id-%05d", w.n)
		require.NoError(w.t, w.o.Send(Entry{Reason: "r", Payload: []byte("w" + id), ID: id}))
		w.n++
	}
	flushOK(w.t, w.o)
}

// writeAlike sends n entries that differ only in their ids, each with
// Timestamp at and the same 8000-byte payload, and flushes them.
func (w *dlqWriter) writeAlike(n int, at time.Time) {
	w.t.Helper()
	payload := bytes.Repeat([]byte("x"), 8000)
	for range n {
		id := fmt.Sprintf("id-%05d", w.n)
		require.NoError(w.t, w.o.Send(Entry{Timestamp: at, Reason: "r", Payload: payload, ID: id}))
		w.n++
	}
	flushOK(w.t, w.o)
}

// rotate moves the clock an hour on and writes n entries, the first of
// which rotates the live file; with compress it waits until the mill has
// gzipped every rotated file.
func (w *dlqWriter) rotate(n int) {
	w.t.Helper()
	w.clock.Add(time.Hour)
	w.write(n)
	if !w.compress {
		return
	}
	ctx, cancel := context.WithTimeout(w.t.Context(), 30*time.Second)
	defer cancel()
	for {
		plain, err := filepath.Glob(filepath.Join(w.dir, "dlq-*.ndjson"))
		require.NoError(w.t, err)
		if len(plain) == 0 {
			return
		}
		if !clock.Sleep(ctx, time.Millisecond) {
			w.t.Fatalf("the mill did not gzip %v within 30 s", plain)
		}
	}
}

// rotated lists the folder's rotated files, oldest first.
func (w *dlqWriter) rotated() []string {
	w.t.Helper()
	files, err := filepath.Glob(filepath.Join(w.dir, "dlq-*"))
	require.NoError(w.t, err)
	return files
}

// checkIDs requires that recs hold ids id-<from> to id-<to-1> once each,
// and nothing else; it reports how many were skipped.
func checkIDs(t *testing.T, recs []Record, from, to int) {
	t.Helper()
	count := map[string]int{}
	for _, rec := range recs {
		count[rec.Entry.ID]++
	}
	var skipped, twice, foreign int
	for i := from; i < to; i++ {
		id := fmt.Sprintf("id-%05d", i)
		switch count[id] {
		case 0:
			skipped++
		case 1:
		default:
			twice++
		}
		delete(count, id)
	}
	foreign = len(count)
	assert.Zero(t, skipped+twice+foreign, "of ids %d to %d: %d skipped, %d read more than once, %d read that were not to be (%d read)",
		from, to-1, skipped, twice, foreign, len(recs))
}

func TestReaderPinsFilesAtListing(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, when := range []string{"before the listing", "after the listing", "while an older file is read"} {
			t.Run(fmt.Sprintf("compress %v, rotated %s", compress, when), func(t *testing.T) {
				w := newDLQWriter(t, t.TempDir(), "svc", compress)
				w.write(200)
				w.rotate(300) // a rotated file of 200, the live file of 300
				r, err := OpenReader(w.dir, ReaderOptions{})
				require.NoError(t, err)
				var once sync.Once
				rotate := func() { once.Do(func() { w.rotate(300) }) } // 300 not there at the start
				switch when {
				case "before the listing": // the live file was opened: the listing shows it rotated
					r.liveOpened = func(string) { rotate() }
				case "after the listing":
					r.listed = func(string) { rotate() }
				}
				var recs []Record
				for rec, err := range r.All(t.Context()) {
					require.NoError(t, err)
					rotate()
					recs = append(recs, rec)
				}
				require.Len(t, w.rotated(), 2, "rotated during the read")
				checkIDs(t, recs, 0, 500)
			})
		}
	}
}

func TestReaderResumesAfterRotations(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, rotations := range []int{1, 2, 7} {
			t.Run(fmt.Sprintf("compress %v, %d rotations", compress, rotations), func(t *testing.T) {
				w := newDLQWriter(t, t.TempDir(), "svc", compress)
				w.write(100)
				recs, _ := readAll(t, w.dir, ReaderOptions{})
				require.Len(t, recs, 100)
				checkpoint := recs[49].Position // in the live file
				for range rotations {
					w.rotate(50)
				}
				rest, _ := readAll(t, w.dir, ReaderOptions{After: checkpoint})
				checkIDs(t, rest, 50, w.n)
				if assert.NotEmpty(t, rest) {
					assert.Equal(t, "id-00050", rest[0].Entry.ID, "in order")
				}
			})
		}
		t.Run(fmt.Sprintf("compress %v, the file pruned since", compress), func(t *testing.T) {
			w := newDLQWriter(t, t.TempDir(), "svc", compress)
			w.write(100)
			recs, _ := readAll(t, w.dir, ReaderOptions{})
			inLive := recs[79].Position
			w.rotate(50)
			recs, _ = readAll(t, w.dir, ReaderOptions{})
			inRotated := recs[19].Position
			w.rotate(50)
			w.rotate(50)
			require.NoError(t, os.Remove(w.rotated()[0])) // what both positions were in
			for _, after := range []string{inLive, inRotated} {
				rest, _ := readAll(t, w.dir, ReaderOptions{After: after})
				checkIDs(t, rest, 100, w.n) // the next file whole, from its start
			}
		})
	}
	t.Run("first lines alike but for their ids", func(t *testing.T) {
		// A caller that sets Timestamp itself and dead-letters one large
		// poison message again and again: every file's first line is the
		// same up to the id, which the envelope writes last.
		w := newDLQWriter(t, t.TempDir(), "svc", false)
		at := time.Date(2026, 1, 15, 7, 0, 0, 0, time.UTC)
		w.writeAlike(60, at)
		recs, _ := readAll(t, w.dir, ReaderOptions{})
		require.Len(t, recs, 60)
		checkpoint := recs[39].Position // in the live file
		for range 5 {
			w.clock.Add(time.Hour)
			w.writeAlike(100, at)
		}
		require.Len(t, w.rotated(), 5)
		rest, _ := readAll(t, w.dir, ReaderOptions{After: checkpoint})
		checkIDs(t, rest, 40, w.n)
	})
	t.Run("the file pruned after the clock stepped back", func(t *testing.T) {
		// Pruning removes the oldest file by write order; the files left
		// are all newer, though a clock stepped back named them earlier.
		w := newDLQWriter(t, t.TempDir(), "svc", false)
		w.write(100)
		w.rotate(50) // 09:00: the file of ids 0-99 rotated
		oldest := w.rotated()
		require.Len(t, oldest, 1)
		recs, _ := readAll(t, w.dir, ReaderOptions{})
		checkpoint := recs[79].Position // in the rotated file
		require.True(t, strings.HasPrefix(checkpoint, filepath.Base(oldest[0])), checkpoint)
		w.clock.Add(-3 * time.Hour)
		w.rotate(50) // 07:00: ids 100-149 rotated under an earlier name
		w.rotate(50) // 08:00: ids 150-199 rotated
		require.Len(t, w.rotated(), 3)
		require.NotEqual(t, oldest[0], w.rotated()[0], "the clock step names the newer files earlier")
		require.NoError(t, os.Remove(oldest[0]))
		rest, _ := readAll(t, w.dir, ReaderOptions{After: checkpoint})
		checkIDs(t, rest, 100, w.n)
	})
	t.Run("a file source replaced since is read from its start", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), filelog.LiveName)
		require.NoError(t, os.WriteFile(path, []byte(lineFor("1", "r", 1)+lineFor("2", "r", 2)), 0o600))
		recs, _ := readAll(t, path, ReaderOptions{})
		require.NoError(t, os.WriteFile(path, []byte(lineFor("3", "r", 3)+lineFor("4", "r", 4)+lineFor("5", "r", 5)), 0o600))
		rest, _ := readAll(t, path, ReaderOptions{After: recs[0].Position})
		assert.Equal(t, []string{"3", "4", "5"}, recPayloads(rest))
	})
	t.Run("a position of another form is refused", func(t *testing.T) {
		r, err := OpenReader(t.TempDir(), ReaderOptions{After: "dlq.ndjson:12"})
		require.NoError(t, err)
		n := 0
		for _, err := range r.All(t.Context()) {
			assert.ErrorContains(t, err, "is not FILE:OFFSET:HEAD")
			n++
		}
		assert.Equal(t, 1, n)
	})
}

func TestReaderOtherRotationNames(t *testing.T) {
	t.Run("logrotate's numbered names, highest first", func(t *testing.T) {
		dir := t.TempDir()
		writeGzip(t, filepath.Join(dir, "dlq.ndjson.10.gz"), lineFor("a", "r", 1))
		writeGzip(t, filepath.Join(dir, "dlq.ndjson.2.gz"), lineFor("b", "r", 2))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq.ndjson.1"), []byte(lineFor("c", "r", 3)), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName), []byte(lineFor("d", "r", 4)), 0o600))
		recs, _ := readAll(t, dir, ReaderOptions{})
		assert.Equal(t, []string{"a", "b", "c", "d"}, recPayloads(recs))
	})
	t.Run("logrotate's date names, oldest first", func(t *testing.T) {
		dir := t.TempDir()
		writeGzip(t, filepath.Join(dir, "dlq.ndjson-20261203.gz"), lineFor("a", "r", 1))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq.ndjson-20261204"), []byte(lineFor("b", "r", 2)), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName), []byte(lineFor("c", "r", 3)), 0o600))
		recs, _ := readAll(t, dir, ReaderOptions{})
		assert.Equal(t, []string{"a", "b", "c"}, recPayloads(recs))
	})
	t.Run("a truncated .gz is named", func(t *testing.T) {
		dir := t.TempDir()
		var content strings.Builder
		for i := range 2000 {
			content.WriteString(lineFor(fmt.Sprint(i), "r", int64(i)))
		}
		name := "dlq-2026-01-15T08-00-00.000.ndjson.gz"
		writeGzip(t, filepath.Join(dir, name), content.String())
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data[:len(data)/2], 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName), []byte(lineFor("live", "r", 1)), 0o600))
		var warnings []error
		recs, stats := readAll(t, dir, ReaderOptions{Warn: func(err error) { warnings = append(warnings, err) }})
		assert.NotEmpty(t, recs)
		assert.Equal(t, "live", string(recs[len(recs)-1].Entry.Payload), "the files after it are read")
		assert.Equal(t, uint64(1), stats.Unreadable)
		require.Len(t, warnings, 1)
		assert.ErrorContains(t, warnings[0], name)
		assert.ErrorIs(t, warnings[0], io.ErrUnexpectedEOF)
	})
}
