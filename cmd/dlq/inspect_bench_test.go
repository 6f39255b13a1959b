package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/require"
)

// millionFolder writes a service folder of n entries the way the file
// backend leaves one: nine rotated files (the older half gzipped) and the
// live file. It streams, so that its own memory does not count.
func millionFolder(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	const files = 10
	reasons := []string{"parse_error", "schema_mismatch", "timeout", "poison"}
	buf := make([]byte, 0, 1024)
	for f := range files {
		name := fmt.Sprintf("dlq-2026-01-15T%02d-00-00.000.ndjson", f)
		if f == files-1 {
			name = "dlq.ndjson"
		}
		gz := f < files/2
		if gz {
			name += ".gz"
		}
		file, err := os.Create(filepath.Join(dir, name))
		require.NoError(b, err)
		var w io.Writer = file
		var zw *gzip.Writer
		if gz {
			zw, _ = gzip.NewWriterLevel(file, gzip.BestSpeed)
			w = zw
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		for i := f * n / files; i < (f+1)*n/files; i++ {
			e := dlq.Entry{Timestamp: time.UnixMilli(1768464000000 + int64(i)), Service: "loader", Reason: reasons[i%len(reasons)],
				Error: fmt.Sprintf(`row %d: field "f%d" is not a number`, i, i%50), Payload: []byte(strings.Repeat("p", 200)),
				Destination: "acme.auth", Source: dlq.KafkaSource("events", int32(i%8), int64(i)), ID: fmt.Sprintf("id-%d", i)}
			buf = append(dlq.AppendEnvelope(buf[:0], &e), '\n')
			_, err := bw.Write(buf)
			require.NoError(b, err)
		}
		require.NoError(b, bw.Flush())
		if zw != nil {
			require.NoError(b, zw.Close())
		}
		require.NoError(b, file.Close())
	}
	return dir
}

// BenchmarkInspectMillion runs inspect over a 1,000,000-entry folder,
// grouped by reason and by fingerprint, and reports entries per second and
// the process's peak RSS. Run it alone:
//
//	go test -run - -bench InspectMillion -benchtime 1x ./cmd/dlq
func BenchmarkInspectMillion(b *testing.B) {
	const n = 1_000_000
	dir := millionFolder(b, n)
	for _, by := range []string{"reason", "fingerprint"} {
		b.Run(by, func(b *testing.B) {
			for range b.N {
				var out strings.Builder
				err := newApp(&out, io.Discard).Run(b.Context(), []string{"dlq", "inspect", "--group-by", by, "--json", dir})
				require.NoError(b, err)
				require.Contains(b, out.String(), `"total":1000000,"unreadable":0`)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			var ru syscall.Rusage
			require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
		})
	}
}
