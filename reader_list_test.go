package dlq

import (
	"bytes"
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
	"github.com/dlqkit/dlq/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		// are all newer, though a clock stepped back named them earlier (as
		// writers before rotated names never went back did, or another
		// program's copy).
		w := newDLQWriter(t, t.TempDir(), "svc", false)
		w.write(100)
		w.rotate(50) // 09:00: the file of ids 0-99 rotated
		oldest := w.rotated()
		require.Len(t, oldest, 1)
		recs, _ := readAll(t, w.dir, ReaderOptions{})
		checkpoint := recs[79].Position // in the rotated file
		require.True(t, strings.HasPrefix(checkpoint, filepath.Base(oldest[0])), checkpoint)
		w.clock.Add(-3 * time.Hour)
		w.rotate(50) // 07:00: ids 100-149 rotated
		w.rotate(50) // 08:00: ids 150-199 rotated
		newer := w.rotated()[1:]
		require.Len(t, newer, 2)
		for i, at := range []time.Time{w.clock.Now().Add(-time.Hour), w.clock.Now()} { // the names the clock said
			require.NoError(t, os.Rename(newer[i], filepath.Join(w.dir, filelog.BackupName(at))))
		}
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

// spanFolder lays out a service folder the way a writer whose clock
// stamps the entries leaves it: five files rotated an hour apart (the
// oldest a cut archive, which warns when read), each holding the hour of
// entries before its rotation, then the live file, and logrotate's file,
// whose name says no time. ids[k] are the UUIDv7 ids of file k's entries
// (5 is the live file, 6 logrotate's).
func spanFolder(t *testing.T) (dir string, ids [7][]string, base time.Time) {
	t.Helper()
	dir = t.TempDir()
	base = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	src := wire.NewIDSource()
	file := func(k int, from time.Time) string {
		var b strings.Builder
		for i := range 6 {
			at := from.Add(time.Duration(i*10) * time.Minute)
			id := src.Next(at)
			ids[k] = append(ids[k], id)
			b.WriteString(envelopeLine(Entry{Timestamp: at, Service: "svc", Reason: "r", Payload: []byte(id), ID: id}))
		}
		return b.String()
	}
	for k := range 5 {
		rotated := base.Add(time.Duration(k+1) * time.Hour)
		content := file(k, rotated.Add(-time.Hour+time.Minute))
		name := filepath.Join(dir, filelog.BackupName(rotated))
		switch k {
		case 0:
			writeGzip(t, name+filelog.GzSuffix, content)
			data, err := os.ReadFile(name + filelog.GzSuffix)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(name+filelog.GzSuffix, data[:len(data)/2], 0o600))
		case 2:
			writeGzip(t, name+filelog.GzSuffix, content)
		default:
			require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName), []byte(file(5, base.Add(5*time.Hour+time.Minute))), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, filelog.LiveName+".1"), []byte(file(6, base.Add(-48*time.Hour))), 0o600))
	return dir, ids, base
}

// spanRead reads dir and returns the ids yielded, the entries read and
// the warnings.
func spanRead(t *testing.T, dir string, opts ReaderOptions) (ids []string, read uint64, warns int) {
	t.Helper()
	opts.Warn = func(error) { warns++ }
	recs, stats := readAll(t, dir, opts)
	for _, rec := range recs {
		ids = append(ids, rec.Entry.ID)
	}
	return ids, stats.Read, warns
}

func TestReaderPassesOverFilesByTheirTime(t *testing.T) {
	dir, ids, base := spanFolder(t)
	all, read, warns := spanRead(t, dir, ReaderOptions{})
	require.Less(t, len(all), 7*6, "the cut archive loses entries")
	require.Equal(t, uint64(len(all)), read)
	require.Equal(t, 1, warns)
	selected := func(f Filter) []string {
		recs, _ := readAll(t, dir, ReaderOptions{Warn: func(error) {}})
		var out []string
		for _, rec := range recs {
			if f.Match(&rec.Entry) {
				out = append(out, rec.Entry.ID)
			}
		}
		return out
	}
	lines := func(files ...int) (n uint64) {
		for _, k := range files {
			n += uint64(len(ids[k]))
		}
		return n
	}

	t.Run("since: files rotated more than five minutes before it are not read", func(t *testing.T) {
		f := Filter{Since: base.Add(3*time.Hour + 4*time.Minute)} // file 2 was rotated at 3h
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: f})
		assert.Equal(t, selected(f), got)
		assert.Equal(t, lines(2, 3, 4, 5, 6), read, "files 0 and 1 are not read")
		assert.Zero(t, warns, "the cut archive is not read")

		f = Filter{Since: base.Add(3*time.Hour + 6*time.Minute)}
		got, read, _ = spanRead(t, dir, ReaderOptions{Filter: f})
		assert.Equal(t, selected(f), got)
		assert.Equal(t, lines(3, 4, 5, 6), read)
	})
	t.Run("an entry up to five minutes ahead of its writer's clock is still found", func(t *testing.T) {
		ahead := t.TempDir()
		rotated := base.Add(time.Hour)
		early := envelopeLine(Entry{Timestamp: rotated.Add(4 * time.Minute), Service: "svc", Reason: "r", ID: "ahead"})
		require.NoError(t, os.WriteFile(filepath.Join(ahead, filelog.BackupName(rotated)), []byte(early), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(ahead, filelog.LiveName), nil, 0o600))
		got, _, _ := spanRead(t, ahead, ReaderOptions{Filter: Filter{Since: rotated.Add(3 * time.Minute)}})
		assert.Equal(t, []string{"ahead"}, got)
	})
	t.Run("until rules out no file", func(t *testing.T) {
		f := Filter{Until: base.Add(90 * time.Minute)}
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: f})
		assert.Equal(t, selected(f), got)
		assert.Equal(t, uint64(len(all)), read)
		assert.Equal(t, 1, warns)
	})
	t.Run("ids: only the files from the id's time are read", func(t *testing.T) {
		id := ids[3][2]
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{id}}})
		assert.Equal(t, []string{id}, got)
		assert.Equal(t, lines(3, 4, 5, 6), read)
		assert.Zero(t, warns)

		got, read, _ = spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{ids[4][0], ids[2][5]}}})
		assert.Equal(t, []string{ids[2][5], ids[4][0]}, got)
		assert.Equal(t, uint64(len(all)), read, "several ids rule out no file (TestReaderReadsSeveralIDsInOrder)")
	})
	t.Run("ids: a missing id has every file read", func(t *testing.T) {
		missing := wire.NewIDSource().Next(base.Add(4 * time.Hour))
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{ids[4][1], missing}}})
		assert.Equal(t, []string{ids[4][1]}, got)
		assert.Equal(t, uint64(len(all)), read)
		assert.Equal(t, 1, warns)
	})
	t.Run("ids: an entry written before its id's time is found in the files read last", func(t *testing.T) {
		odd := t.TempDir()
		future := wire.NewIDSource().Next(base.Add(10 * time.Hour))
		for k, id := range []string{future, "plain"} {
			rotated := base.Add(time.Duration(k+1) * time.Hour)
			line := envelopeLine(Entry{Timestamp: rotated.Add(-time.Minute), Service: "svc", Reason: "r", ID: id})
			require.NoError(t, os.WriteFile(filepath.Join(odd, filelog.BackupName(rotated)), []byte(line), 0o600))
		}
		got, read, _ := spanRead(t, odd, ReaderOptions{Filter: Filter{IDs: []string{future}}})
		assert.Equal(t, []string{future}, got)
		assert.Equal(t, uint64(2), read)
	})
	t.Run("ids that are not UUIDv7 rule out no file", func(t *testing.T) {
		got, read, _ := spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{ids[4][1], "id-7"}}})
		assert.Equal(t, []string{ids[4][1]}, got)
		assert.Equal(t, uint64(len(all)), read)
	})
	t.Run("with Last too", func(t *testing.T) {
		f := Filter{Since: base.Add(4*time.Hour + 30*time.Minute)}
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: f, Last: 1000})
		assert.Equal(t, selected(f), got)
		assert.Equal(t, lines(4, 5, 6), read)
		assert.Zero(t, warns)
	})
}

// TestReaderReadsSeveralIDsInOrder reads ids whose entries the library
// wrote with a Timestamp two days ahead of its clock (dlqkgo copies a
// record's, which its producer's clock set), so that an id's time is
// after the file that holds it was rotated. Several ids come in write
// order all the same, and a resume after the first (a replay's
// checkpoint) still yields the second.
func TestReaderReadsSeveralIDsInOrder(t *testing.T) {
	root := t.TempDir()
	clk := newFakeClock(time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC))
	o, err := New(Config{Service: "svc", Clock: clk.Now, File: FileConfig{Dir: root, Rotation: RotateHourly}})
	require.NoError(t, err)
	defer closeOK(t, o)
	ahead := clk.Now().Add(48 * time.Hour)
	for i := range 4 {
		e := Entry{Reason: "r", Payload: []byte{byte('0' + i)}}
		if i == 0 {
			e.Timestamp = ahead
		}
		require.NoError(t, o.Send(e))
		flushOK(t, o)
		clk.Add(time.Hour) // the next one rotates this one's file
	}
	dir := filepath.Join(root, "svc")
	all, _ := readAll(t, dir, ReaderOptions{})
	require.Len(t, all, 4)
	ids := []string{all[2].Entry.ID, all[0].Entry.ID}

	got, _ := readAll(t, dir, ReaderOptions{Filter: Filter{IDs: ids}})
	require.Len(t, got, 2)
	assert.Equal(t, []string{all[0].Entry.ID, all[2].Entry.ID}, []string{got[0].Entry.ID, got[1].Entry.ID}, "in write order")
	rest, _ := readAll(t, dir, ReaderOptions{Filter: Filter{IDs: ids}, After: got[0].Position})
	require.Len(t, rest, 1, "a resume after the first yields the second")
	assert.Equal(t, all[2].Entry.ID, rest[0].Entry.ID)

	// One id is still found where its time does not say.
	one, _ := readAll(t, dir, ReaderOptions{Filter: Filter{IDs: ids[1:]}})
	require.Len(t, one, 1)
	assert.Equal(t, all[0].Entry.ID, one[0].Entry.ID)
}

// TestReaderAfterTheClockWentBack: the writer's clock steps back two hours
// between two hourly files (NTP, a restored VM). The file rotated after
// the step is still named after the one before, so --since finds its
// entries and the last entries are the last written.
func TestReaderAfterTheClockWentBack(t *testing.T) {
	root := t.TempDir()
	clock := newFakeClock(time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC))
	o, err := New(Config{Service: "svc", Clock: clock.Now, File: FileConfig{Dir: root, Rotation: RotateHourly}})
	require.NoError(t, err)
	send := func(tag string) {
		for i := range 2 {
			require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%s%d", tag, i)}))
		}
		flushOK(t, o)
	}
	send("A") // 08:00
	clock.Add(time.Hour)
	send("B") // 09:00
	clock.Add(time.Hour)
	send("C") // 10:00
	clock.Add(-2 * time.Hour)
	send("D") // 08:00 again: C's file rotates
	clock.Add(30 * time.Minute)
	send("E") // 08:30
	closeOK(t, o)
	dir := filepath.Join(root, "svc")
	payloads := func(recs []Record) (out []string) {
		for _, r := range recs {
			out = append(out, string(r.Entry.Payload))
		}
		return out
	}

	all, _ := readAll(t, dir, ReaderOptions{})
	assert.Equal(t, []string{"A0", "A1", "B0", "B1", "C0", "C1", "D0", "D1", "E0", "E1"}, payloads(all), "the order written")
	last, _ := readAll(t, dir, ReaderOptions{Last: 5})
	assert.Equal(t, []string{"C1", "D0", "D1", "E0", "E1"}, payloads(last))
	since, _ := readAll(t, dir, ReaderOptions{Filter: Filter{Since: time.Date(2026, 1, 15, 9, 50, 0, 0, time.UTC)}})
	assert.Equal(t, []string{"C0", "C1"}, payloads(since), "every entry a read of every file selects")
}
