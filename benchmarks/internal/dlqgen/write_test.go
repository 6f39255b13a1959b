package dlqgen

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// small is a folder of about 8 MB: seven rotations at max_size_mb 1.
var small = Options{Seed: 7, N: 4000, MaxSizeMB: 1}

// digests returns the SHA-256 of every file under dir but the writer's
// lock (it holds a pid), by path.
func digests(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".lock" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, path)
		sums[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	require.NoError(t, err)
	return sums
}

// TestWriteIsDeterministic: the same seed writes the same files, byte for
// byte (the gzipped ones and the manifest included); another seed other
// ones.
func TestWriteIsDeterministic(t *testing.T) {
	var runs []map[string]string
	for _, seed := range []uint64{small.Seed, small.Seed, small.Seed + 1} {
		o := small
		o.Seed = seed
		dir := t.TempDir()
		_, err := Write(t.Context(), dir, o)
		require.NoError(t, err)
		runs = append(runs, digests(t, dir))
	}
	assert.Equal(t, runs[0], runs[1])
	assert.NotEqual(t, runs[0][ManifestName], runs[2][ManifestName])
}

// TestWriteLayout: the folder has the shape in small: gzipped
// rotated files, the newest Plain left plain, the live file; the manifest
// accounts for every entry and agrees with itself.
func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	m, err := Write(t.Context(), dir, small)
	require.NoError(t, err)
	t.Run("files", func(t *testing.T) {
		require.Greater(t, len(m.Files), 6)
		live := m.Files[len(m.Files)-1]
		assert.Equal(t, "dlq.ndjson", live.Name)
		assert.Equal(t, 4, m.PlainRotated)
		assert.Equal(t, len(m.Files)-5, m.Gzipped)
		for i, f := range m.Files[:len(m.Files)-1] {
			assert.Equal(t, i < m.Gzipped, f.Gz, f.Name)
			// A rotated file's name carries its rotation's time: no entry in
			// it is newer.
			assert.LessOrEqual(t, f.MaxMS, nameTime(t, f.Name), f.Name)
		}
		total := 0
		for _, f := range m.Files {
			assert.Equal(t, total, f.First, f.Name)
			total += f.Entries
		}
		assert.Equal(t, small.N, total)
	})
	t.Run("counts", func(t *testing.T) {
		sum := func(counts map[string]int) (n int) {
			for _, c := range counts {
				n += c
			}
			return n
		}
		assert.Len(t, m.Reasons, 9)
		assert.Equal(t, small.N, sum(m.Reasons))
		assert.Equal(t, len(bugs), m.DistinctBugs)
		perBug := map[string]int{}
		for _, c := range m.BugOfEntry {
			perBug[string(c)]++
		}
		hours := 0
		for _, h := range m.PerHour {
			hours += h.Entries
		}
		assert.Equal(t, small.N, hours)
		assert.Len(t, m.PerHour, 72)
		for _, b := range m.Bugs {
			assert.Equal(t, b.Entries, perBug[b.ID], b.Template)
			assert.NotEmpty(t, b.Example)
		}
		assert.InDelta(t, 0.12, float64(m.Binary)/float64(small.N), 0.02)
		assert.Greater(t, m.WithHeaders, small.N/2)
		assert.Greater(t, m.WithKey, small.N/2)
		assert.Greater(t, m.WithMetadata, small.N/2)
	})
	t.Run("samples", func(t *testing.T) {
		for _, where := range []string{"oldest", "old", "middle", "newest-file", "newest"} {
			s, ok := m.Sample(where)
			require.True(t, ok, where)
			f := m.Files[m.fileOf(s.Position)]
			assert.Equal(t, f.Name, s.File, where)
			// A UUIDv7 carries its entry's time in its first 48 bits.
			ms, err := hex.DecodeString(strings.ReplaceAll(s.ID[:13], "-", ""))
			require.NoError(t, err)
			var at int64
			for _, b := range ms {
				at = at<<8 | int64(b)
			}
			assert.Equal(t, s.TimestampMS, at, where)
		}
	})
}

// nameTime returns the epoch ms in a rotated file's name.
func nameTime(t *testing.T, name string) int64 {
	t.Helper()
	stamp := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "dlq-"), ".gz"), ".ndjson")
	at, err := time.Parse("2006-01-02T15-04-05.000", stamp)
	require.NoError(t, err)
	return at.UnixMilli()
}
