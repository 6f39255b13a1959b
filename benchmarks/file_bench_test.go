// Package benchmarks compares dlq with what a user would write by hand. It
// is a module of its own so that its peers (zap, franz-go) stay out of dlq's
// go.mod. Every benchmark runs dlq and its peers in the same `go test -bench`
// run and reports an entries/s metric; table.sh turns medians of those into
// the README's ratios.
package benchmarks

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var payload = make([]byte, 256)

func entry() dlq.Entry {
	return dlq.Entry{
		Reason:      "parse_error",
		Error:       "unexpected end of JSON input",
		Attempts:    2,
		Payload:     payload,
		Destination: "acme.auth",
		Source:      dlq.KafkaSource("events", 1, 42),
	}
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// reportBatch reports the mean batch size of o's first backend.
func reportBatch(b *testing.B, o *dlq.Orchestrator) {
	if s := o.Stats(); len(s.Backends) > 0 && s.Backends[0].Batches > 0 {
		b.ReportMetric(float64(s.Backends[0].Entries)/float64(s.Backends[0].Batches), "entries/batch")
	}
}

// benchDir returns a fresh directory for one benchmark: on a private tmpfs
// when the process may mount one (root on Linux), so that the file rows
// measure the code and not the shared disk; else under b.TempDir. The
// "tmpfs" result tells which.
func benchDir(b *testing.B) (dir string, tmpfs bool) {
	b.Helper()
	dir = b.TempDir()
	if os.Geteuid() != 0 {
		return dir, false
	}
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1g", "tmpfs", dir).Run(); err != nil {
		return dir, false
	}
	b.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir, true
}

// syncedFile opens name for appending; its Sync is the fsync the peers owe
// at the end, as dlq's Flush ends with one.
func syncedFile(b *testing.B, name string) *os.File {
	b.Helper()
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// BenchmarkFile sends b.N entries with 256-byte payloads and flushes them
// (fsynced) to a file on tmpfs, beside two peers writing the same lines to
// the same file system: a hand-rolled writer (one goroutine, the library's
// own AppendEnvelope into a 64 KiB bufio.Writer, one final fsync) and zap
// with a 256 KiB BufferedWriteSyncer on an *os.File (Sync = fsync at the
// end). Compare the entries/s column.
func BenchmarkFile(b *testing.B) {
	b.Run("dlq", func(b *testing.B) {
		dir, _ := benchDir(b)
		o, err := dlq.New(dlq.Config{Service: "bench", File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateNone}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		e := entry()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if err := o.SendContext(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		if err := o.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
		b.StopTimer()
		if err := o.Close(ctx); err != nil {
			b.Fatal(err)
		}
		reportBatch(b, o)
	})
	b.Run("hand-rolled-bufio-fsync", func(b *testing.B) {
		// What a user might write in an afternoon: the library's own
		// appender, bufio, one fsync at the end. No ids, no rotation, no
		// crash recovery, one goroutine.
		dir, _ := benchDir(b)
		f := syncedFile(b, filepath.Join(dir, "dlq.ndjson"))
		w := bufio.NewWriterSize(f, 64<<10)
		e := entry()
		e.Service = "bench"
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			e.Timestamp = time.Now()
			buf = append(dlq.AppendEnvelope(buf[:0], &e), '\n')
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
	})
	b.Run("zap-BufferedWriteSyncer-fsync", func(b *testing.B) {
		dir, _ := benchDir(b)
		f := syncedFile(b, filepath.Join(dir, "dlq.ndjson"))
		bws := &zapcore.BufferedWriteSyncer{WS: f, Size: 256 << 10}
		defer func() { _ = bws.Stop() }()
		enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{TimeKey: "timestamp", EncodeTime: zapcore.EpochMillisTimeEncoder, MessageKey: "reason"})
		logger := zap.New(zapcore.NewCore(enc, bws, zapcore.InfoLevel))
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			logger.Info("parse_error",
				zap.String("service", "bench"),
				zap.Int("attempts", 2),
				zap.Binary("payload", payload),
				zap.String("destination", "acme.auth"),
				zap.Dict("source", zap.String("topic", "events"), zap.Int32("partition", 1), zap.Int64("offset", 42)),
				zap.String("error", "unexpected end of JSON input"),
			)
		}
		if err := logger.Sync(); err != nil { // flushes the buffer, then f.Sync
			b.Fatal(err)
		}
		reportRate(b, start)
	})
}
