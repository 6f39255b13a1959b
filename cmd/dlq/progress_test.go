package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ttyBuffer is a stderr that says it is a terminal, and keeps what is
// drawn on it.
type ttyBuffer struct{ bytes.Buffer }

func (*ttyBuffer) IsTerminal() bool { return true }

// progressCommands are the commands that read, each with its arguments.
func progressCommands(t *testing.T, src string) [][]string {
	return [][]string{
		{"inspect", src},
		{"tail", src},
		{"show", src, "id-parse-1"},
		{"replay", src, "--to", "http://127.0.0.1:9/x", "--dry-run"},
		{"copy", src, "--to", "file://" + t.TempDir()},
	}
}

func TestProgressOnATerminal(t *testing.T) {
	loader := writeFixture(t, t.TempDir())
	for _, args := range progressCommands(t, loader) {
		t.Run(args[0], func(t *testing.T) {
			var out bytes.Buffer
			tty := &ttyBuffer{}
			err := newApp(&out, tty).Run(t.Context(), append([]string{"dlq", "--progress-after", "0"}, args...))
			require.NoError(t, err)
			drawn := tty.String()
			assert.Regexp(t, `^\r\x1b\[K`+args[0]+`  [0-9,]+ entries  [0-9,]+/s  files [01]/1`, drawn)
			assert.True(t, strings.HasSuffix(drawn, "\r\x1b[K"), "the line is cleared before the answer: %q", drawn)
			assert.NotContains(t, out.String(), "\x1b", "nothing drawn on stdout")
			if args[0] != "copy" { // copy's answer names its folder, new each time
				plain, err := run(t, args...)
				require.NoError(t, err)
				assert.Equal(t, plain, out.String(), "the same answer")
			}
		})
	}
}

func TestProgressNotOnAFileOrAPipe(t *testing.T) {
	loader := writeFixture(t, t.TempDir())
	for _, args := range progressCommands(t, loader) {
		t.Run(args[0], func(t *testing.T) {
			file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			require.NoError(t, err)
			defer file.Close()
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pr.Close()
			for _, stderr := range []io.Writer{file, pw, &bytes.Buffer{}} {
				err := newApp(io.Discard, stderr).Run(t.Context(), append([]string{"dlq", "--progress-after", "0"}, args...))
				require.NoError(t, err)
			}
			require.NoError(t, pw.Close())
			piped, err := io.ReadAll(pr)
			require.NoError(t, err)
			assert.Empty(t, piped, "nothing drawn into a pipe")
			written, err := os.ReadFile(file.Name())
			require.NoError(t, err)
			assert.Empty(t, written, "nothing drawn into a file")
		})
	}
}

func TestProgressLine(t *testing.T) {
	loader := writeFixture(t, t.TempDir())
	r, err := dlq.OpenReader(loader, dlq.ReaderOptions{})
	require.NoError(t, err)
	for _, err := range r.All(t.Context()) {
		require.NoError(t, err)
	}
	start := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	p := &progress{what: "inspect", read: func() uint64 { return r.Stats().Read }, start: start,
		files: []sourceFile{{"dlq-1.ndjson.gz", 100}, {"dlq-2.ndjson", 200}, {"dlq.ndjson", 100}}}
	p.cur.Store(-1)
	assert.Equal(t, "inspect  8 entries  4/s  files 0/3", p.line(start.Add(2*time.Second)))
	p.seen("dlq-2.ndjson:50:9f86d081884c7d65")
	// 150 of 400 bytes in 2 s: 250 more in 3.3 s.
	assert.Equal(t, "inspect  8 entries  4/s  files 1/3  ETA 3s", p.line(start.Add(2*time.Second)))
	p.also(func() string { return "sent 5" })
	assert.Equal(t, "inspect  8 entries  4/s  files 1/3  ETA 3s  sent 5", p.line(start.Add(2*time.Second)))
	p.seen("2:17") // a Kafka position names no file
	assert.Equal(t, "inspect  8 entries  4/s  files 1/3  ETA 3s  sent 5", p.line(start.Add(2*time.Second)))

	p = &progress{what: "tail", read: func() uint64 { return r.Stats().Read }, start: start}
	p.cur.Store(-1)
	assert.Equal(t, "tail  8 entries  8,000/s", p.line(start.Add(time.Millisecond)), "no files: a network source")

	assert.Equal(t, "0", thousands(0))
	assert.Equal(t, "999", thousands(999))
	assert.Equal(t, "1,000", thousands(1000))
	assert.Equal(t, "1,234,567", thousands(1234567))
}

// TestSourceFilesInReadingOrder checks the progress line's listing against
// the positions the Reader yields: the same files, in the same order, each
// with the bytes it holds once decompressed.
func TestSourceFilesInReadingOrder(t *testing.T) {
	root := t.TempDir()
	for _, service := range []string{"loader", "ingest"} {
		w := newRotatingDLQ(t, root, service, true)
		w.write(5)
		w.rotate(7)
		w.rotate(9)
		w.rotate(3)
	}
	// logrotate's numbered files, highest number first, beside the live one.
	logrotated := filepath.Join(t.TempDir(), "svc")
	require.NoError(t, os.Mkdir(logrotated, 0o755))
	for i, name := range []string{"dlq.ndjson.1", "dlq.ndjson.2", "dlq.ndjson.10", "dlq.ndjson"} {
		e := dlq.Entry{Timestamp: fixtureTime, Service: "svc", Reason: "r", Payload: []byte(name), ID: fmt.Sprintf("id-%d", i)}
		require.NoError(t, os.WriteFile(filepath.Join(logrotated, name), append(dlq.AppendEnvelope(nil, &e), '\n'), 0o600))
	}
	for _, src := range []string{root, filepath.Join(root, "loader"), "file://" + filepath.Join(root, "ingest"), logrotated} {
		t.Run(src, func(t *testing.T) {
			r, err := dlq.OpenReader(src, dlq.ReaderOptions{})
			require.NoError(t, err)
			var read []string
			for rec, err := range r.All(t.Context()) {
				require.NoError(t, err)
				name := rec.Position[:strings.LastIndexByte(rec.Position[:strings.LastIndexByte(rec.Position, ':')], ':')]
				if !slices.Contains(read, name) {
					read = append(read, name)
				}
			}
			files := sourceFiles(src)
			var listed []string
			for _, f := range files {
				listed = append(listed, f.name)
			}
			assert.Equal(t, read, listed)
			base := strings.TrimPrefix(src, "file://")
			for _, f := range files {
				assert.Equal(t, int64(len(plainBytes(t, filepath.Join(base, f.name)))), f.size, f.name)
			}
		})
	}
	assert.Nil(t, sourceFiles("kafka://127.0.0.1:9092/x.dlq"))
	assert.Nil(t, sourceFiles(filepath.Join(root, "missing")))
	one := filepath.Join(root, "loader", "dlq.ndjson")
	assert.Equal(t, []sourceFile{{"dlq.ndjson", int64(len(plainBytes(t, one)))}}, sourceFiles(one))
}

// plainBytes returns a file's content, decompressed when it is gzipped.
func plainBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	return plain
}
