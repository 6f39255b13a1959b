package benchmarks

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
)

// diskDir returns a fresh directory on the disk the disk row measures:
// $DLQ_BENCH_DISK_DIR, or the system temporary folder (ext4 on the project's
// machine; check with `df -T /tmp`).
func diskDir(b *testing.B) string {
	b.Helper()
	parent := os.Getenv("DLQ_BENCH_DISK_DIR")
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "dlq-disk-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// treeBytes is the size of the regular files under dir.
func treeBytes(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// lineBytes is the size of one NDJSON line dlq writes for entry(): its
// envelope with a service, an id and a timestamp, and the newline.
func lineBytes() int64 {
	e := entry()
	e.Service, e.ID, e.Timestamp = "bench", "0190f0e0-0000-7000-8000-000000000000", time.Now()
	return int64(len(dlq.AppendEnvelope(nil, &e)) + 1)
}

// BenchmarkFileDisk measures the file backend on a real disk as bandwidth:
// dlq sends b.N entries with 256-byte payloads and flushes them (fsynced),
// and beside it, in the same run, dd writes as many bytes of zeros (b.N
// lines' worth) to the same file system in 1 MiB blocks with
// conv=fdatasync: one sequential writer with nothing to encode, the disk's
// ceiling. Compare the MB/s column.
func BenchmarkFileDisk(b *testing.B) {
	b.Run("dlq", func(b *testing.B) {
		dir := diskDir(b)
		o, err := dlq.New(dlq.Config{Service: "bench", File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateNone}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		e := entry()
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
		elapsed := time.Since(start)
		b.StopTimer()
		if err := o.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
		b.ReportMetric(float64(treeBytes(b, dir))/1e6/elapsed.Seconds(), "MB/s")
	})
	b.Run("dd-fdatasync", func(b *testing.B) {
		if _, err := exec.LookPath("dd"); err != nil {
			b.Fatalf("the disk row's peer needs dd (coreutils) on PATH: %v", err)
		}
		blocks := max((int64(b.N)*lineBytes()+1<<20-1)>>20, 1)
		out := filepath.Join(diskDir(b), "dd.out")
		b.ResetTimer()
		start := time.Now()
		if msg, err := exec.Command("dd", "if=/dev/zero", "of="+out, "bs=1M", fmt.Sprintf("count=%d", blocks), "conv=fdatasync", "status=none").CombinedOutput(); err != nil {
			b.Fatalf("dd: %v: %s", err, msg)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(blocks<<20)/float64(lineBytes())/elapsed.Seconds(), "entries/s")
		b.ReportMetric(float64(blocks<<20)/1e6/elapsed.Seconds(), "MB/s")
	})
}
