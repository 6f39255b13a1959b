package dlq

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/dlqkit/dlq/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	t.Run("ids: only the files from the earliest id's time are read", func(t *testing.T) {
		id := ids[3][2]
		got, read, warns := spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{id}}})
		assert.Equal(t, []string{id}, got)
		assert.Equal(t, lines(3, 4, 5, 6), read)
		assert.Zero(t, warns)

		got, read, _ = spanRead(t, dir, ReaderOptions{Filter: Filter{IDs: []string{ids[4][0], ids[2][5]}}})
		assert.Equal(t, []string{ids[2][5], ids[4][0]}, got)
		assert.Equal(t, lines(2, 3, 4, 5, 6), read)
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
