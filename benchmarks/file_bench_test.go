// Package benchmarks compares dlq with what a user would write by hand. It
// is a module of its own so that its peers (zap) stay out of dlq's go.mod.
package benchmarks

import (
	"bufio"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
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

// BenchmarkFile sends b.N entries with 256-byte payloads and flushes them
// to a file, beside zap writing the same fields as JSON lines into
// lumberjack. Compare the entries/s column.
func BenchmarkFile(b *testing.B) {
	b.Run("dlq", func(b *testing.B) {
		o, err := dlq.New(dlq.Config{Service: "bench", File: dlq.FileConfig{Dir: b.TempDir(), Rotation: dlq.RotateNone}})
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
	})
	for _, buffered := range []bool{false, true} {
		name := "zap+lumberjack"
		if buffered {
			name = "zap+BufferedWriteSyncer+lumberjack"
		}
		b.Run(name, func(b *testing.B) {
			lj := &lumberjack.Logger{Filename: filepath.Join(b.TempDir(), "dlq.ndjson"), MaxSize: 1 << 20}
			defer lj.Close()
			var ws zapcore.WriteSyncer = zapcore.AddSync(lj)
			if buffered {
				bws := &zapcore.BufferedWriteSyncer{WS: ws, Size: 256 << 10}
				defer bws.Stop()
				ws = bws
			}
			enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{TimeKey: "timestamp", EncodeTime: zapcore.EpochMillisTimeEncoder, MessageKey: "reason"})
			logger := zap.New(zapcore.NewCore(enc, ws, zapcore.InfoLevel))
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
			if err := logger.Sync(); err != nil {
				b.Fatal(err)
			}
			reportRate(b, start)
		})
	}
	b.Run("hand-rolled-bufio", func(b *testing.B) {
		// What a user might write in an afternoon: encoding/json-free
		// appender via dlq.AppendEnvelope, bufio, one fsync at the end.
		lj := &lumberjack.Logger{Filename: filepath.Join(b.TempDir(), "dlq.ndjson"), MaxSize: 1 << 20}
		defer lj.Close()
		w := bufio.NewWriterSize(lj, 64<<10)
		e := entry()
		e.Service = "bench"
		buf := make([]byte, 0, 1024)
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
		reportRate(b, start)
	})
}
