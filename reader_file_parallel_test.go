package dlq

import (
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
	r.trace = func(event string, i int) {
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
		r.trace = func(event string, _ int) {
			mu.Lock()
			defer mu.Unlock()
			switch event {
			case "ahead": // told once the token is taken
				held++
				aheads++
			case "taken": // told before the token is given back
				held--
			}
			most = max(most, held)
		}
		var got []Record
		for rec, err := range r.All(t.Context()) {
			require.NoError(t, err)
			got = append(got, rec)
		}
		require.Equal(t, want.recs, got)
		assert.LessOrEqual(t, most, tokens, "batches held ahead of the loop")
		assert.Positive(t, aheads, "files are read ahead")
	}
}
