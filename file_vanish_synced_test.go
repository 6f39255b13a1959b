package dlq

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/require"
)

// TestFileVanishedAfterBackgroundSyncIsWrittenAgain removes or renames
// dlq.ndjson after the syncer fsynced its lines and before any Flush. The
// lines are durable, but in a file that left the folder: Flush must not
// return nil until they sit in the file linked at path.
func TestFileVanishedAfterBackgroundSyncIsWrittenAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vanish func(t *testing.T, path, dir string)
	}{
		{"rm", func(t *testing.T, path, _ string) { require.NoError(t, os.Remove(path)) }},
		{"mv out of the folder", func(t *testing.T, path, dir string) {
			require.NoError(t, os.Rename(path, filepath.Join(dir, "moved.ndjson")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: 5}})
			require.NoError(t, err)
			f := fileOf(t, o)
			ids := idRange("a", 10)
			sendIDs(t, o, ids, 10)
			awaitWritten(t, o, 10)
			require.Eventually(t, func() bool { return f.Syncs() > 0 && f.Durable() },
				30*time.Second, time.Millisecond, "the syncer fsyncs the 10 lines; no Flush yet")

			svc := filepath.Join(dir, "svc")
			tc.vanish(t, filepath.Join(svc, filelog.LiveName), dir)
			flushOK(t, o)
			requireAll(t, idCounts(t, svc), ids)
			closeOK(t, o)
			requireAll(t, idCounts(t, svc), ids)
		})
	}
	t.Run("a Flush before the rm confirms the lines", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir, SyncIntervalMS: hourMS}})
		require.NoError(t, err)
		f := fileOf(t, o)
		sendIDs(t, o, idRange("a", 10), 10)
		flushOK(t, o)
		kept := f.Unconfirmed()
		require.Zero(t, kept, "confirmed lines leave the copy: memory stays bounded")
		closeOK(t, o)
	})
}
