package dlq

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPowerLossKeepsWhatTheSyncerFsynced: without any Flush, the entries
// the background syncer reports durable (its count of good fsyncs, its
// offset of the last one at the file's end) survive a power cut. The
// syncer's own bookkeeping cannot show this: only a file system that drops
// what was not fsynced can.
func TestPowerLossKeepsWhatTheSyncerFsynced(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5}})
	require.NoError(t, err)
	f := fileOf(t, o)
	synced := sendPayloads(t, o, "a", 50, 100)
	require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(synced)) }, 30*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer fsyncs a dirty file")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, filepath.Join(m.Dir(), "svc"), synced)
}

// TestPowerLossAfterAFailedBackgroundFsync: a failed fsync of the
// background syncer is no good fsync either. The syncer writes the lines
// since the last good one again; once it reports the file durable, every
// entry survives a power cut, those the failed fsync was to keep included.
func TestPowerLossAfterAFailedBackgroundFsync(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet,
		File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5}})
	require.NoError(t, err)
	f := fileOf(t, o)
	m.FailFsyncs(1) // the syncer's first fsync: no Flush is called
	synced := sendPayloads(t, o, "a", 50, 100)
	require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(synced)) }, 30*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer mends the failed fsync")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireSurvived(t, filepath.Join(m.Dir(), "svc"), synced)
}
