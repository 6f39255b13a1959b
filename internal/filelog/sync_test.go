package filelog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/lossyfs"
)

// mountWithDir mounts a lossy file system whose backing folder already
// holds the folder svc, durable, as a folder an operator created long ago.
func mountWithDir(t *testing.T) *lossyfs.FS {
	t.Helper()
	backing := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(backing, "svc"), 0o700))
	return lossyfs.Mount(t, backing)
}

// abandon closes a log whose disk lost its power: Close fails.
func abandon(l *Log) { _ = l.Close() }

func TestSyncKeepsItsLinesThroughAPowerCut(t *testing.T) {
	for _, folder := range []string{"there", "made by Open"} {
		t.Run(folder, func(t *testing.T) {
			var m *lossyfs.FS
			dir := ""
			if folder == "there" {
				m = mountWithDir(t)
				dir = filepath.Join(m.Dir(), "svc")
			} else {
				m = lossyfs.Mount(t, "")
				dir = filepath.Join(m.Dir(), "a", "svc")
			}
			l := openLog(t, options(dir))
			synced := lines("a", 50)
			write(t, l, synced)
			require.NoError(t, l.Sync())
			write(t, l, lines("b", 50)) // not synced: may go
			m.PowerOff()
			abandon(l)
			m.PowerOn()
			requireOnce(t, linesIn(t, dir), synced)
		})
	}
}

func TestTheSyncerFsyncsWithoutSync(t *testing.T) {
	m := mountWithDir(t)
	dir := filepath.Join(m.Dir(), "svc")
	o := options(dir)
	o.SyncInterval = 5 * time.Millisecond
	l := openLog(t, o)
	ls := lines("a", 50)
	write(t, l, ls)
	require.Eventually(t, func() bool { return l.Syncs() > 0 && l.Durable() },
		30*time.Second, time.Millisecond, "the syncer fsyncs a dirty file")
	m.PowerOff()
	abandon(l)
	m.PowerOn()
	requireOnce(t, linesIn(t, dir), ls)
}

func TestTheSyncerWaitsItsInterval(t *testing.T) {
	l := openLog(t, options(t.TempDir())) // an hour
	write(t, l, lines("a", 5))
	assert.Zero(t, l.Syncs())
	assert.False(t, l.Durable())
	require.NoError(t, l.Sync())
	assert.True(t, l.Durable())
}

// TestAFailedFsyncIsNoGoodFsync: the lines since the last good fsync are
// written again after a failed one (the kernel may have dropped them);
// once a Sync succeeds every line survives a power cut, once.
func TestAFailedFsyncIsNoGoodFsync(t *testing.T) {
	for _, by := range []string{"Sync", "the syncer"} {
		t.Run(by, func(t *testing.T) {
			m := mountWithDir(t)
			dir := filepath.Join(m.Dir(), "svc")
			o := options(dir)
			if by == "the syncer" {
				o.SyncInterval = 5 * time.Millisecond
			}
			l := openLog(t, o)
			first := lines("a", 10)
			write(t, l, first)
			require.NoError(t, l.Sync())
			m.FailFsyncs(1)
			second := lines("b", 10)
			write(t, l, second)
			if by == "Sync" {
				require.NoError(t, l.Sync(), "the second try, the lines written again, succeeds")
			} else {
				require.Eventually(t, func() bool { return l.Syncs() > 1 && l.Durable() },
					30*time.Second, time.Millisecond, "the syncer mends the failed fsync")
			}
			m.PowerOff()
			abandon(l)
			m.PowerOn()
			requireOnce(t, linesIn(t, dir), first, second)
		})
	}
}
