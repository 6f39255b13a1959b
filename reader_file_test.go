package dlq

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

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

func TestReaderLast(t *testing.T) {
	dir, maxLine := mixedFolder(t, 6)
	for _, f := range []Filter{{}, {Reasons: []string{"timeout"}}, {IDs: []string{"id-00003", "id-00100"}}, {Reasons: []string{"none"}}} {
		all := traceRead(t, dir, ReaderOptions{Filter: f, MaxLineBytes: maxLine}, 1, 0)
		for _, n := range []int{1, 7, 150, 400, 100000} {
			last := traceRead(t, dir, ReaderOptions{Filter: f, MaxLineBytes: maxLine, Last: n}, 1, 0)
			want := all.recs[max(0, len(all.recs)-n):]
			require.Equal(t, want, last.recs, "last %d of %+v", n, f)
		}
	}
	t.Run("the newest files only, across services", func(t *testing.T) {
		// Service two's files come last; its live file holds more than 7.
		last := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine, Last: 7}, 1, 0)
		require.Len(t, last.recs, 7)
		assert.Empty(t, last.warns, "two's cut archive is older than its live file")
		lines := countFolderLines(t, filepath.Join(dir, "two", filelog.LiveName))
		assert.LessOrEqual(t, last.final.Read+last.final.Unreadable, uint64(lines), "only two's live file is read")
	})
	t.Run("a break ends the read", func(t *testing.T) {
		last := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine, Last: 20}, 1, 3)
		all := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine}, 1, 0)
		assert.Equal(t, all.recs[len(all.recs)-20:len(all.recs)-17], last.recs)
	})
}

func countFolderLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	n := 0
	for _, c := range data {
		if c == '\n' {
			n++
		}
	}
	return n + 1
}

func TestReaderFollowsFromTheLastEntries(t *testing.T) {
	dir := t.TempDir()
	writeGzip(t, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson.gz"), lineFor("a", "r", 1000)+lineFor("b", "r", 2000))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq-2026-01-15T09-00-00.000.ndjson"), []byte(lineFor("c", "r", 3000)+lineFor("d", "r", 4000)), 0o600))
	live := filepath.Join(dir, filelog.LiveName)
	require.NoError(t, os.WriteFile(live, []byte(lineFor("e", "r", 5000)), 0o600))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	caught := -1
	r, err := OpenReader(dir, ReaderOptions{Follow: true, Last: 3, PollInterval: time.Millisecond,
		CaughtUp: func() {
			caught = len(got)
			f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(lineFor("f", "r", 6000))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}})
	require.NoError(t, err)
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		if len(got) == 4 {
			break
		}
	}
	assert.Equal(t, []string{"c", "d", "e", "f"}, got)
	assert.Equal(t, 3, caught, "the last three, then what comes")
}

func TestReaderFollowsFromTheLastEntriesOfEveryService(t *testing.T) {
	root := t.TempDir()
	lives := map[string]string{}
	for i, svc := range []string{"one", "two"} {
		dir := filepath.Join(root, svc)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		lives[svc] = filepath.Join(dir, filelog.LiveName)
		var b strings.Builder
		for j := range 3 {
			b.WriteString(lineFor(fmt.Sprintf("%s%d", svc, j), "r", int64(1000*i+j)))
		}
		require.NoError(t, os.WriteFile(lives[svc], []byte(b.String()), 0o600))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	r, err := OpenReader(root, ReaderOptions{Follow: true, Last: 2, PollInterval: time.Millisecond,
		CaughtUp: func() {
			f, err := os.OpenFile(lives["one"], os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString(lineFor("one-new", "r", 5000))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}})
	require.NoError(t, err)
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []string{"two1", "two2", "one-new"}, got, "service one's backlog is not read again")
}

// mixedEntry returns entry i of a folder that holds every field the
// library writes: keys, headers, metadata, escapes, binary payloads.
func mixedEntry(rng *rand.Rand, i int, ms int64) Entry {
	reasons := []string{"parse_error", "timeout", "schema \"v2\"", "poison", "ünï_reason"}
	e := Entry{Timestamp: time.UnixMilli(ms), Service: "svc", Reason: reasons[rng.IntN(len(reasons))],
		Error: fmt.Sprintf(`field "f%d" \ bad: id-%05d in text`, i%7, (i+3)%50), Attempts: rng.IntN(4),
		Payload: []byte(fmt.Sprintf(`{"n":%d,"note":"id-%05d"}`, i, i)), Destination: fmt.Sprintf("acme.t%d", i%3),
		ID: fmt.Sprintf("id-%05d", i)}
	if rng.IntN(8) == 0 {
		e.Payload = []byte{0, 0xff, byte(i), '"', '\\', '\n'}
	}
	if rng.IntN(2) == 0 {
		e.Key = fmt.Appendf(nil, "k%d", i)
		e.Headers = []Header{{Key: "trace", Value: fmt.Appendf(nil, "t-%d", i)}, {Key: "empty", Value: []byte{}}}
		e.Metadata = map[string]string{"host": "h\u00e9\U0001F600", "tab": "a\tb"}
	}
	if rng.IntN(3) == 0 {
		e.Source = KafkaSource("events", int32(i%4), int64(i))
	}
	return e
}

// mixedFolder lays out a folder of two services, each with rotated files
// (gzipped and plain), a live file, and lines of every kind a Reader meets:
// torn, foreign, blank, CRLF, too long, in a JSON shape only
// encoding/json reads; one archive is cut short.
func mixedFolder(t *testing.T, files int) (dir string, maxLine int) {
	t.Helper()
	dir = t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	base := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, svc := range []string{"one", "two"} {
		sdir := filepath.Join(dir, svc)
		require.NoError(t, os.MkdirAll(sdir, 0o700))
		for f := range files {
			var b strings.Builder
			for range 40 + rng.IntN(60) {
				ms := base.Add(time.Duration(i) * time.Second).UnixMilli()
				b.WriteString(envelopeLine(mixedEntry(rng, i, ms)))
				i++
				switch rng.IntN(40) {
				case 0:
					b.WriteString("not json\n")
				case 1:
					b.WriteString("\n   \n")
				case 2:
					b.WriteString(strings.TrimSuffix(lineFor(fmt.Sprint(i), "crlf", ms), "\n") + "\r\n")
				case 3:
					b.WriteString(`{"timestamp":1, "service":"s","reason":"spaced","attempts":0,"payload":"eA=="}` + "\n")
				case 4:
					b.WriteString(`{"timestamp":2,"service":"s","reason":"r","attempts":0,"payload":"eA==","Reason":"cased"}` + "\n")
				case 5:
					b.WriteString(`{"timestamp":3,"service":"s","reason":"r","attempts":0,"payload":"e\/A="}` + "\n")
				case 6:
					b.WriteString(`{"timestamp":4,"service":"s","reason":"long","attempts":0,"payload":"` + strings.Repeat("QUJD", 300) + `"}` + "\n")
				}
			}
			at := base.Add(time.Duration(i) * time.Second)
			name := filelog.BackupName(at)
			switch {
			case f == files-1:
				b.WriteString(`{"timestamp":7000,"service":"svc","rea`) // torn
				require.NoError(t, os.WriteFile(filepath.Join(sdir, filelog.LiveName), []byte(b.String()), 0o600))
			case f%2 == 0:
				writeGzip(t, filepath.Join(sdir, name+filelog.GzSuffix), b.String())
			default:
				require.NoError(t, os.WriteFile(filepath.Join(sdir, name), []byte(b.String()), 0o600))
			}
		}
	}
	// One archive cut short: its rest is unreadable, with a warning.
	archives, err := filepath.Glob(filepath.Join(dir, "two", "dlq-*.gz"))
	require.NoError(t, err)
	data, err := os.ReadFile(archives[1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(archives[1], data[:len(data)*2/3], 0o600))
	return dir, 1000
}

// readTrace is everything an iteration shows: the records, the Stats as
// each record is yielded, and the warnings in order with the record count
// at which each came.
type readTrace struct {
	recs  []Record
	stats []ReadStats
	warns []string
	final ReadStats
}

func traceRead(t *testing.T, src string, opts ReaderOptions, workers, stopAfter int) readTrace {
	t.Helper()
	var tr readTrace
	opts.Warn = func(err error) { tr.warns = append(tr.warns, fmt.Sprintf("%d: %s", len(tr.recs), err)) }
	r, err := OpenReader(src, opts)
	require.NoError(t, err)
	r.workers = workers
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		tr.recs = append(tr.recs, rec)
		tr.stats = append(tr.stats, r.Stats())
		if len(tr.recs) == stopAfter {
			break
		}
	}
	tr.final = r.Stats()
	return tr
}

func TestReaderReadsFilesInParallelAsInOrder(t *testing.T) {
	dir, maxLine := mixedFolder(t, 9)
	all := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine}, 1, 0)
	require.Greater(t, len(all.recs), 500)
	require.Len(t, all.warns, 1, "the archive cut short")
	require.Positive(t, all.final.Unreadable)
	mid := all.recs[len(all.recs)/3].Position
	for _, test := range []struct {
		name string
		opts ReaderOptions
	}{
		{"everything", ReaderOptions{}},
		{"without payloads", ReaderOptions{SkipPayload: true}},
		{"reasons", ReaderOptions{Filter: Filter{Reasons: []string{"schema*", "ünï_reason"}}}},
		{"service and destination", ReaderOptions{Filter: Filter{Service: "s", Destination: "acme.t[12]"}}},
		{"a time range", ReaderOptions{Filter: Filter{Since: time.Date(2026, 1, 15, 0, 5, 0, 0, time.UTC), Until: time.Date(2026, 1, 15, 0, 9, 0, 0, time.UTC)}}},
		{"ids, one of them only in an error and a payload", ReaderOptions{Filter: Filter{IDs: []string{"id-00003", "id-00640", "id-00049"}}}},
		{"nothing", ReaderOptions{Filter: Filter{Reasons: []string{"none"}}}},
		{"after a position", ReaderOptions{After: mid}},
	} {
		t.Run(test.name, func(t *testing.T) {
			test.opts.MaxLineBytes = maxLine
			one := traceRead(t, dir, test.opts, 1, 0)
			for _, workers := range []int{2, 3, 8} {
				many := traceRead(t, dir, test.opts, workers, 0)
				require.Equal(t, one, many, "%d workers", workers)
			}
		})
	}
	t.Run("a break ends every goroutine", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		for _, stop := range []int{1, 50, 400} {
			one := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine}, 1, stop)
			many := traceRead(t, dir, ReaderOptions{MaxLineBytes: maxLine}, 3, stop)
			require.Equal(t, one.recs, many.recs)
			require.Equal(t, one.stats, many.stats)
		}
	})
}

func TestReaderReadAheadIsBounded(t *testing.T) {
	dir, _ := mixedFolder(t, 12)
	// Each file's last id, in reading order.
	var lastOf []string
	r, err := OpenReader(dir, ReaderOptions{})
	require.NoError(t, err)
	r.workers = 1
	file := ""
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		name, _, _ := strings.Cut(rec.Position, ":")
		if name != file {
			lastOf = append(lastOf, "")
			file = name
		}
		lastOf[len(lastOf)-1] = rec.Entry.ID
	}
	require.Len(t, lastOf, 24, "every file yields entries")
	const workers = 3
	r, err = OpenReader(dir, ReaderOptions{})
	require.NoError(t, err)
	r.workers = workers
	var mu sync.Mutex
	yielded := map[string]bool{}
	var early []string
	r.trace = func(event string, i, _ int) {
		mu.Lock()
		defer mu.Unlock()
		// A file starts only once the one workers+1 before it was handed
		// over whole.
		if done := i - workers - 1; event == "start" && done >= 0 && !yielded[lastOf[done]] {
			early = append(early, fmt.Sprintf("file %d started before file %d was handed over", i, done))
		}
	}
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		mu.Lock()
		yielded[rec.Entry.ID] = true
		mu.Unlock()
	}
	assert.Empty(t, early)
}

// bigFolder is a service folder of files of many batches each.
func bigFolder(t *testing.T, files, perFile int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	i := 0
	for f := range files {
		var b strings.Builder
		for range perFile {
			b.WriteString(envelopeLine(mixedEntry(rng, i, base.Add(time.Duration(i)*time.Second).UnixMilli())))
			i++
		}
		name := filelog.BackupName(base.Add(time.Duration(i) * time.Second))
		if f == files-1 {
			name = filelog.LiveName
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o600))
	}
	return dir
}

func TestReaderReadAheadHoldsItsBudget(t *testing.T) {
	dir := bigFolder(t, 6, 6*batchLines)
	want := traceRead(t, dir, ReaderOptions{}, 1, 0)
	for _, tokens := range []int{1, 3} {
		r, err := OpenReader(dir, ReaderOptions{})
		require.NoError(t, err)
		r.workers, r.aheadBytes = 2, tokens*batchBytes
		var mu sync.Mutex
		held, most, aheads := 0, 0, 0
		r.trace = func(event string, _, n int) {
			mu.Lock()
			defer mu.Unlock()
			switch event {
			case "ahead": // told once the tokens are taken
				held += n
				aheads++
			case "taken": // told before the tokens are given back
				held -= n
			}
			most = max(most, held)
		}
		var got []Record
		for rec, err := range r.All(t.Context()) {
			require.NoError(t, err)
			got = append(got, rec)
		}
		require.Equal(t, want.recs, got)
		assert.LessOrEqual(t, most, r.aheadBytes, "bytes of lines held ahead of the loop")
		assert.Positive(t, aheads, "files are read ahead")
	}
}

// TestReaderReadAheadHoldsItsBudgetInBytes reads files of long lines
// (512 KiB payloads, two batches' worth of line each) while the loop
// holds still on the first file: the lines decoded ahead of it stay
// within the budget's bytes, not its count of batches.
func TestReaderReadAheadHoldsItsBudgetInBytes(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	payload := bytes.Repeat([]byte("x"), 512<<10)
	for f := range 3 {
		var b strings.Builder
		for i := range 16 {
			b.WriteString(envelopeLine(Entry{Timestamp: base, Service: "svc", Reason: "r", Payload: payload, ID: fmt.Sprintf("%d-%d", f, i)}))
		}
		name := filelog.BackupName(base.Add(time.Duration(f+1) * time.Hour))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o600))
	}
	const budget = 4 * batchBytes
	r, err := OpenReader(dir, ReaderOptions{})
	require.NoError(t, err)
	r.workers, r.aheadBytes = 2, budget
	var mu sync.Mutex
	held, most, largest := 0, 0, 0
	r.trace = func(event string, _, n int) {
		mu.Lock()
		defer mu.Unlock()
		switch event {
		case "ahead":
			held += n
			largest = max(largest, n)
		case "taken":
			held -= n
		}
		most = max(most, held)
	}
	n := 0
	for _, err := range r.All(t.Context()) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 48, n)
	assert.Positive(t, largest, "files are read ahead")
	assert.LessOrEqual(t, most, max(budget, largest), "bytes of lines held ahead of the loop")
}
