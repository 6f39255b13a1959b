package dlq

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFileFailedFsyncAfterBackgroundSyncWritesOnlyTheRest: lines the
// syncer fsynced, not yet confirmed by a Flush, stay in place when a later
// fsync of the same file fails; only the lines since the good fsync are
// written again. After a power cut every entry is there exactly once.
func TestFileFailedFsyncAfterBackgroundSyncWritesOnlyTheRest(t *testing.T) {
	m := mountWithDir(t, "svc")
	o, err := New(Config{Service: "svc", Logger: quiet, File: FileConfig{Dir: m.Dir(), Rotation: RotateNone, SyncIntervalMS: 5},
		Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 10}})
	require.NoError(t, err)
	f := fileOf(t, o)
	sendIDs(t, o, idRange("a", 10), 10)
	awaitWritten(t, o, 10)
	require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
		30*time.Second, time.Millisecond, "the syncer fsyncs the a lines; no Flush")

	m.FailFsyncs(1)
	sendIDs(t, o, idRange("b", 10), 10)
	var flushErr error
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		flushErr = o.Flush(ctx)
		cancel()
		if flushErr == nil {
			break
		}
	}
	require.NoError(t, flushErr, "Flush succeeds once fsync works again")
	m.PowerOff()
	abandon(o)
	m.PowerOn()
	requireAll(t, idCounts(t, filepath.Join(m.Dir(), "svc")), idRange("a", 10), idRange("b", 10))
}
