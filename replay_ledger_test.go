package dlq

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dlqkit/dlq/internal/lossyfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledgerIDs returns the ids the ledger at path holds for target, in order.
func ledgerIDs(t *testing.T, path, target string) []string {
	t.Helper()
	var ids []string
	for rec, err := range ReadLedger(path) {
		require.NoError(t, err)
		assert.False(t, rec.Time.IsZero(), "a line without its time")
		if rec.Target == target {
			ids = append(ids, rec.ID)
		}
	}
	return ids
}

// TestReplayLedger: the ledger holds exactly the entries the target
// confirmed (not the one it failed, nor those after), under the target
// with its password hidden; a rerun with OnlyPending sends only the others,
// counting the rest in AlreadyReplayed; a dry run counts the same without
// writing; a replay to another target sends them all.
func TestReplayLedger(t *testing.T) {
	const n = 250
	src := writeNumbered(t, t.TempDir(), n)
	failing := newReplaySink(t, func(call int) int {
		if call == 120 {
			return http.StatusBadRequest
		}
		return 0
	})
	ledger := filepath.Join(t.TempDir(), "redrive.ledger")
	target := strings.Replace(failing.url, "http://", "http://ops:s3cret@", 1)
	opts := ReplayOptions{Ledger: ledger, OnlyPending: true}
	_, err := Replay(t.Context(), src, target, opts)
	require.ErrorIs(t, err, ErrTargetFailed)
	assert.Equal(t, numbers(0, 119), ledgerIDs(t, ledger, "http://ops:xxxxx@"+strings.TrimPrefix(failing.url, "http://")))
	data, err := os.ReadFile(ledger)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "s3cret")

	dry := opts
	dry.DryRun = true
	res, err := Replay(t.Context(), src, target, dry)
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: n, Sent: n - 119, AlreadyReplayed: 119}, res)
	after, err := os.ReadFile(ledger)
	require.NoError(t, err)
	assert.Equal(t, data, after, "a dry run writes no ledger line")

	calls := failing.callCount()
	failing.fail = nil // the same target, mended
	res, err = Replay(t.Context(), src, target, opts)
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: n, Sent: n - 119, AlreadyReplayed: 119}, res)
	assert.Equal(t, calls+n-119, failing.callCount(), "only the pending entries are sent")
	sentOnce(t, failing.received(), n)
	assert.Len(t, ledgerIDs(t, ledger, redactedSinkURL(target)), n)

	other := newReplaySink(t, nil)
	res, err = Replay(t.Context(), src, other.url, opts)
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: n, Sent: n}, res, "the ledger is per target")
	sentOnce(t, other.received(), n)

	_, err = Replay(t.Context(), src, other.url, ReplayOptions{OnlyPending: true})
	require.ErrorContains(t, err, "OnlyPending needs a Ledger")
}

// sentOnce requires that got holds each of the entries 0 to n-1 once, and
// nothing else.
func sentOnce(t *testing.T, got []string, n int) {
	t.Helper()
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	for _, id := range numbers(0, n) {
		assert.Equal(t, 1, count[id], "entry %s sent %d times", id, count[id])
		delete(count, id)
	}
	assert.Empty(t, count, "sent though not in the source")
}

func redactedSinkURL(target string) string { return strings.Replace(target, ":s3cret@", ":xxxxx@", 1) }

// TestReplayLedgerTornLine: a line torn by a kill is ignored and cut before
// the next line is appended; a line in the middle that is not a record
// stops the replay before it sends anything (it is not a ledger).
func TestReplayLedgerTornLine(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 10)
	s := newReplaySink(t, nil)
	ledger := filepath.Join(t.TempDir(), "l.ledger")
	line := func(id string) string {
		return fmt.Sprintf(`{"at":"2026-05-04T10:00:00.000Z","to":%q,"id":%q}`+"\n", s.url, id)
	}
	require.NoError(t, os.WriteFile(ledger, []byte(line("00000")+line("00001")+`{"at":"2026-05-04T10:00:00.000Z","to":"ht`), 0o600))
	res, err := Replay(t.Context(), src, s.url, ReplayOptions{Ledger: ledger, OnlyPending: true})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), res.AlreadyReplayed)
	assert.Equal(t, numbers(2, 10), s.received())
	assert.Equal(t, numbers(0, 10), ledgerIDs(t, ledger, s.url), "the torn line is cut, every line a record")

	bad := filepath.Join(t.TempDir(), "bad.ledger")
	require.NoError(t, os.WriteFile(bad, []byte(line("00000")+"not a record\n"+line("00001")), 0o600))
	calls := s.callCount()
	_, err = Replay(t.Context(), src, s.url, ReplayOptions{Ledger: bad})
	require.ErrorContains(t, err, "line 2 is not a ledger record")
	assert.Equal(t, calls, s.callCount(), "nothing sent")
}

// TestReplayLedgerForeignEnd: a file given as the ledger whose end is
// neither a record nor the start of one torn by a kill is not a ledger:
// the replay stops before it sends anything and leaves the file as it
// was; a last record that only lacks its newline counts, and the next
// line goes on a line of its own. Before, whatever followed the last
// newline was cut as a torn line: a file of notes without one was
// emptied, and such a record was dropped and its entry sent again.
func TestReplayLedgerForeignEnd(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 10)
	s := newReplaySink(t, nil)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"notes":   "precious notes, without a final newline",
		"records": `{"at":"2026-05-04T10:00:00.000Z","to":"x","id":"1"}` + "\n" + `[1,2`,
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		for _, opts := range []ReplayOptions{{Ledger: path}, {Ledger: path, OnlyPending: true}, {Ledger: path, OnlyPending: true, DryRun: true}} {
			_, err := Replay(t.Context(), src, s.url, opts)
			require.ErrorContains(t, err, "neither a ledger record nor one torn by a kill", name)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, content, string(data), "%s: left as it was", name)
		}
	}
	assert.Zero(t, s.callCount(), "nothing sent")

	ledger := filepath.Join(dir, "l.ledger")
	line := func(id string) string {
		return fmt.Sprintf(`{"at":"2026-05-04T10:00:00.000Z","to":%q,"id":%q}`, s.url, id)
	}
	require.NoError(t, os.WriteFile(ledger, []byte(line("00000")+"\n"+line("00001")), 0o600))
	res, err := Replay(t.Context(), src, s.url, ReplayOptions{Ledger: ledger, OnlyPending: true})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), res.AlreadyReplayed, "the record without its newline counts")
	assert.Equal(t, numbers(2, 10), s.received())
	assert.Equal(t, numbers(0, 10), ledgerIDs(t, ledger, s.url), "every line a record")
}

// TestReplayLedgerPowerLoss cuts the power (lossyfs) in the middle of a
// replay with a checkpoint: whatever survives, the ledger holds every
// entry the surviving checkpoint counts (it is fsynced first), a line torn
// by the cut is ignored, and a rerun with OnlyPending sends exactly the
// entries the ledger lacks.
func TestReplayLedgerPowerLoss(t *testing.T) {
	const n = 1000
	src := writeNumbered(t, t.TempDir(), n)
	fs := lossyfs.Mount(t, "")
	cp := filepath.Join(fs.Dir(), "replay.cp")
	s := newReplaySink(t, nil)
	confirmed := 0
	opts := ReplayOptions{Checkpoint: cp, Rate: 2000, OnlyPending: true} // the checkpoint rewritten every 500 entries
	opts.onBatch = func(sent []replayMsg, _ *sendReport, _ error) {
		if confirmed < 700 && confirmed+len(sent) >= 700 {
			fs.CrashTorn()
		}
		confirmed += len(sent)
	}
	_, err := Replay(t.Context(), src, s.url, opts)
	require.Error(t, err, "the power went")
	kept := readCheckpointFile(t, cp)
	require.GreaterOrEqual(t, kept.Replayed, uint64(500), "a checkpoint written after 500 entries survived")
	ids := ledgerIDs(t, cp+".ledger", s.url)
	require.GreaterOrEqual(t, len(ids), int(kept.Replayed), "the ledger is behind the checkpoint")
	assert.Equal(t, numbers(0, len(ids)), ids)

	opts.onBatch = nil
	before := len(s.received())
	res, err := Replay(t.Context(), src, s.url, opts)
	require.NoError(t, err)
	assert.Equal(t, numbers(len(ids), n), s.received()[before:], "the rerun sends exactly what the ledger lacks")
	assert.Equal(t, uint64(len(ids))-kept.Replayed, res.AlreadyReplayed)
	t.Logf("power cut after %d confirmed: checkpoint at %d, ledger at %d; the rerun sent %d", confirmed, kept.Replayed, len(ids), res.Sent)
}

// readCheckpointFile returns the checkpoint at path.
func readCheckpointFile(t *testing.T, path string) checkpoint {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var cp checkpoint
	require.NoError(t, json.Unmarshal(data, &cp))
	return cp
}

// BenchmarkIDSet reports the memory OnlyPending holds per id: a million
// UUIDs of the drain's form.
func BenchmarkIDSet(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("0196a3b2-%04x-7%03x-8%03x-%012x", i>>16, i&0xfff, i%0xfff, i)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newIDSet()
		for _, id := range ids {
			s.add(id)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		require.Equal(b, n, s.len())
		require.Empty(b, s.other, "the ids were parsed as UUIDs")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/id")
		runtime.KeepAlive(s)
	}
}

// TestReplayLedgerDiskFull: a ledger that cannot be written (its disk
// full) stops the replay at once, as the checkpoint's failure does: the
// target got only the entries the ledger holds and the one whose line
// failed, and a rerun with OnlyPending, once there is room, sends each of
// the others once. Before, the HTTP target went on posting the batch, and
// the batches after it until the checkpoint was due, none of them
// recorded: a rerun sent them all again (832 of 2000 against a 64 KB
// tmpfs).
func TestReplayLedgerDiskFull(t *testing.T) {
	const n = 1000
	src := writeNumbered(t, t.TempDir(), n)
	disk := mountTmpfs(t, "256k")
	filler := filepath.Join(disk, "filler")
	fill(t, filler)
	require.NoError(t, os.Truncate(filler, statSize(t, filler)-2*4096)) // room for the ledger's lock and a page of the ledger: about 45 lines
	s := newReplaySink(t, nil)
	opts := ReplayOptions{Checkpoint: filepath.Join(t.TempDir(), "replay.cp"), Ledger: filepath.Join(disk, "redrive.ledger"), OnlyPending: true}
	res, err := Replay(t.Context(), src, s.url, opts)
	require.ErrorContains(t, err, "no space left on device")
	assert.NotErrorIs(t, err, ErrTargetFailed, "the ledger failed, not the target")
	assert.Zero(t, res.Failed, "the target failed no entry")
	recorded := ledgerIDs(t, opts.Ledger, s.url)
	require.NotEmpty(t, recorded, "the ledger got a page of lines before the disk was full")
	got := s.received()
	assert.Equal(t, numbers(0, len(recorded)+1), got, "sent: the entries the ledger holds and the one whose line failed, not %d", len(got))
	assert.Equal(t, uint64(len(got)), res.Sent)
	if _, err := os.Stat(opts.Checkpoint); err == nil {
		assert.LessOrEqual(t, readCheckpointFile(t, opts.Checkpoint).Replayed, uint64(len(recorded)), "the checkpoint is not ahead of the ledger")
	}

	require.NoError(t, os.Remove(filler))
	before := len(got)
	_, err = Replay(t.Context(), src, s.url, opts)
	require.NoError(t, err)
	assert.Equal(t, numbers(len(recorded), n), s.received()[before:], "the rerun sends what the ledger lacks")
	t.Logf("the disk filled after %d ledger lines; %d sent before the stop", len(recorded), before)
}

// TestReplayLedgerClosedWhenOnProgressPanics: a panic in the caller's
// first OnProgress call goes up through Replay, and the ledger's file is
// closed on the way (a service that recovers would leak one per replay).
func TestReplayLedgerClosedWhenOnProgressPanics(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 10)
	sink := newReplaySink(t, func(int) int { return 0 })
	ledger := filepath.Join(t.TempDir(), "redrive.ledger")
	func() {
		defer func() { assert.Equal(t, "progress", recover()) }()
		_, _ = Replay(t.Context(), src, sink.url, ReplayOptions{Ledger: ledger,
			OnProgress: func(ReplayProgress) { panic("progress") }})
	}()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			assert.NotEqual(t, ledger, target, "the ledger is still open as fd %s", fd.Name())
		}
	}
	_, err = Replay(t.Context(), src, sink.url, ReplayOptions{Ledger: ledger})
	require.NoError(t, err, "the lock was released too")
}
