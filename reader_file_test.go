package dlq

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
