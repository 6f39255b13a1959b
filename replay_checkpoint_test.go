package dlq

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCheckpoint returns what the checkpoint at path holds (zero when there
// is none yet).
func readCheckpoint(t *testing.T, path string) checkpoint {
	t.Helper()
	var cp checkpoint
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return cp
	}
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cp), "%s", data)
	return cp
}

// TestReplayCheckpointResumes: a replay the target stops records every
// entry the target confirmed, a batch confirmed in part included; the
// rerun sends the rest, each entry once, and says it resumed.
func TestReplayCheckpointResumes(t *testing.T) {
	const n = 250
	src := writeNumbered(t, t.TempDir(), n)
	cp := filepath.Join(t.TempDir(), "replay.checkpoint")
	failOnce := true
	s := newReplaySink(t, func(call int) int {
		if call == 150 && failOnce {
			failOnce = false
			return http.StatusBadRequest
		}
		return 0
	})
	res, err := Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: cp})
	require.ErrorContains(t, err, "dlq: replay stopped: 149 sent, 51 failed")
	assert.Equal(t, ReplayResult{Read: 200, Sent: 149, Failed: 51}, res, "two batches read, the second sent in part")
	saved := readCheckpoint(t, cp)
	assert.Equal(t, uint64(149), saved.Replayed, "the checkpoint holds every entry the target confirmed")
	assert.Equal(t, checkpointBaseVersion, saved.Version)

	res, err = Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: cp})
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: 101, Sent: 101, Resumed: true, From: saved.Position, Before: 149}, res)
	assert.Equal(t, numbers(0, n), s.received(), "each entry once, in order")
	assert.Equal(t, uint64(n), readCheckpoint(t, cp).Replayed)

	res, err = Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: cp})
	require.NoError(t, err)
	assert.Zero(t, res.Sent, "a finished replay has nothing left")
	assert.Equal(t, uint64(n), res.Before)
}

// TestReplayCheckpointRefusesAnotherReplay: a checkpoint belongs to one
// source, target and selection. Reused for another, it would skip what the
// first replay sent somewhere else; it is refused with a *CheckpointError
// naming the difference, nothing is sent, and the file is left as it was.
func TestReplayCheckpointRefusesAnotherReplay(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	src, otherSrc := writeNumbered(t, dir, 300), writeNumbered(t, other, 3)
	first := newReplaySink(t, nil)
	second := newReplaySink(t, nil)
	cp := filepath.Join(t.TempDir(), "replay.cp")
	opts := ReplayOptions{Filter: Filter{Reasons: []string{"r"}}, Since: "1h", Checkpoint: cp}
	_, err := Replay(t.Context(), src, first.url, opts)
	require.NoError(t, err)
	saved, err := os.ReadFile(cp)
	require.NoError(t, err)

	for _, test := range []struct {
		name   string
		src    string
		target string
		change func(*ReplayOptions)
		want   CheckpointDifference
	}{
		{"another target", src, second.url, nil, CheckpointDifference{"target", first.url, second.url}},
		{"another reason", src, first.url, func(o *ReplayOptions) { o.Filter.Reasons = []string{"r*"} }, CheckpointDifference{"reason", "r", "r*"}},
		{"no reason", src, first.url, func(o *ReplayOptions) { o.Filter.Reasons = nil }, CheckpointDifference{"reason", "r", ""}},
		{"another since", src, first.url, func(o *ReplayOptions) { o.Since = "2h" }, CheckpointDifference{"since", "1h", "2h"}},
		{"a since as a time", src, first.url, func(o *ReplayOptions) { o.Since, o.Filter.Since = "", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) },
			CheckpointDifference{"since", "1h", "2026-01-02T03:04:05.000000006Z"}},
		{"a service", src, first.url, func(o *ReplayOptions) { o.Filter.Service = "svc" }, CheckpointDifference{"service", "", "svc"}},
		{"a destination", src, first.url, func(o *ReplayOptions) { o.Filter.Destination = "d" }, CheckpointDifference{"destination", "", "d"}},
		{"an until", src, first.url, func(o *ReplayOptions) { o.Until = "1m" }, CheckpointDifference{"until", "", "1m"}},
		{"an id", src, first.url, func(o *ReplayOptions) { o.Filter.IDs = []string{"00001"} }, CheckpointDifference{"id", "", "00001"}},
		{"a fingerprint", src, first.url, func(o *ReplayOptions) { o.Filter.Fingerprints = []string{"boom"} }, CheckpointDifference{"fingerprint", "", "boom"}},
		{"max replays", src, first.url, func(o *ReplayOptions) { o.MaxReplays = 3 }, CheckpointDifference{"max_replays", "0", "3"}},
		{"another source", otherSrc, first.url, nil, CheckpointDifference{"source", src, otherSrc}},
	} {
		t.Run(test.name, func(t *testing.T) {
			o := opts
			if test.change != nil {
				test.change(&o)
			}
			res, err := Replay(t.Context(), test.src, test.target, o)
			require.ErrorIs(t, err, ErrCheckpointMismatch)
			var cpErr *CheckpointError
			require.ErrorAs(t, err, &cpErr)
			assert.Equal(t, []CheckpointDifference{test.want}, cpErr.Differences)
			assert.Equal(t, cp, cpErr.Path)
			assert.ErrorContains(t, err, fmt.Sprintf("dlq: checkpoint %s belongs to another replay: %s %q, not %q", cp, test.want.Field, test.want.Had, test.want.Asked))
			assert.Zero(t, res)
			assert.Zero(t, second.callCount(), "nothing sent")
			now, err := os.ReadFile(cp)
			require.NoError(t, err)
			assert.Equal(t, saved, now, "the checkpoint is left as it was")
		})
	}
	t.Run("the same folder by another path is the same source", func(t *testing.T) {
		res, err := Replay(t.Context(), filepath.Join(src, "..", "svc"), first.url, opts)
		require.NoError(t, err)
		assert.Zero(t, res.Sent)
		assert.Equal(t, uint64(300), res.Before)
	})
	for _, test := range []struct {
		name, content, want string
		version             int
	}{
		{"without its target and filters", `{"source":"` + src + `","target":"` + first.url + `","position":"dlq.ndjson:100","replayed":1}`,
			"does not record the target and filters", 0},
		{"of a newer dlq", `{"version":99,"source":"` + src + `","target":"` + first.url + `","position":"dlq.ndjson:100:0123456789abcdef","replayed":1}`,
			"is of version 99, written by a newer dlq than this one (which reads version 3)", 99},
	} {
		t.Run("a checkpoint "+test.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.cp")
			require.NoError(t, os.WriteFile(path, []byte(test.content), 0o600))
			_, err := Replay(t.Context(), src, first.url, ReplayOptions{Checkpoint: path})
			assert.ErrorContains(t, err, test.want)
			assert.ErrorIs(t, err, ErrCheckpointMismatch)
			var cpErr *CheckpointError
			require.ErrorAs(t, err, &cpErr)
			assert.Equal(t, test.version, cpErr.Version)
			assert.Empty(t, cpErr.Differences)
		})
	}
	t.Run("a checkpoint that is not JSON", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "torn.cp")
		require.NoError(t, os.WriteFile(path, []byte(`{"version":2,"sou`), 0o600))
		_, err := Replay(t.Context(), src, first.url, ReplayOptions{Checkpoint: path})
		assert.ErrorContains(t, err, "dlq: checkpoint "+path+": unexpected end of JSON input")
	})
}

// TestReplayCheckpointVersions: a replay selecting by fingerprint writes a
// checkpoint of version 3, which a dlq that compares no fingerprints
// (version 2) refuses instead of resuming it as the unfiltered replay;
// any other replay writes version 2, as before.
func TestReplayCheckpointVersions(t *testing.T) {
	src := writeNumbered(t, t.TempDir(), 3)
	s := newReplaySink(t, nil)
	dir := t.TempDir()
	plain, byFP := filepath.Join(dir, "plain.cp"), filepath.Join(dir, "fp.cp")
	_, err := Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: plain})
	require.NoError(t, err)
	_, err = Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: byFP, Filter: Filter{Fingerprints: []string{""}}})
	require.NoError(t, err)
	assert.Equal(t, 2, readCheckpoint(t, plain).Version)
	fp := readCheckpoint(t, byFP)
	assert.Equal(t, 3, fp.Version)
	assert.Equal(t, []string{""}, fp.Filter.Fingerprints)
	assert.Equal(t, uint64(3), fp.Replayed)
	res, err := Replay(t.Context(), src, s.url, ReplayOptions{Checkpoint: byFP, Filter: Filter{Fingerprints: []string{""}}})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.Before, "a version 3 checkpoint resumes")
}

// TestReplayCheckpointKeepsItsSince: a relative Since stands for the time
// it meant when the replay began: resumed later with the same Since, the
// replay selects the same entries, not the ones of a window moved on.
func TestReplayCheckpointKeepsItsSince(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	now := time.Now()
	for i := range 10 {
		age := 30 * time.Minute // inside Since 1h now
		if i >= 5 {
			age = 2 * time.Hour // inside the window of a replay that began two hours ago
		}
		require.NoError(t, o.Send(Entry{Timestamp: now.Add(-age), Reason: "r", Payload: []byte(strconv.Itoa(i)), ID: strconv.Itoa(i)}))
	}
	closeOK(t, o)
	s := newReplaySink(t, func(call int) int {
		if call == 3 {
			return http.StatusBadRequest
		}
		return 0
	})
	cp := filepath.Join(t.TempDir(), "replay.cp")
	opts := ReplayOptions{Since: "1h", Checkpoint: cp}
	_, err = Replay(t.Context(), dir, s.url, opts)
	require.ErrorContains(t, err, "replay stopped: 2 sent")
	// The replay began two hours ago, as far as its checkpoint knows.
	saved := readCheckpoint(t, cp)
	require.False(t, saved.Filter.SinceTime.IsZero())
	saved.Filter.SinceTime = saved.Filter.SinceTime.Add(-2 * time.Hour)
	require.NoError(t, saved.save(cp))

	res, err := Replay(t.Context(), dir, s.url, opts)
	require.NoError(t, err)
	assert.Equal(t, uint64(8), res.Sent, "entries 2 to 9: the ones the replay selected when it began")
	assert.Len(t, s.received(), 10)
}

// TestReplayDryRunWritesNothing: a dry run reads and counts; it neither
// sends, nor queues to send, nor writes or moves a checkpoint, Rate and
// Checkpoint given or not.
func TestReplayDryRunWritesNothing(t *testing.T) {
	const n = 250 // more than a batch
	src := writeNumbered(t, t.TempDir(), n)
	s := newReplaySink(t, func(call int) int {
		if call == 120 {
			return http.StatusBadRequest
		}
		return 0
	})
	cp := filepath.Join(t.TempDir(), "replay.cp")
	opts := ReplayOptions{Rate: 100000, Checkpoint: cp}
	dry := opts
	dry.DryRun = true
	res, err := Replay(t.Context(), src, s.url, dry)
	require.NoError(t, err)
	assert.Equal(t, ReplayResult{Read: n, Sent: n}, res)
	assert.Zero(t, s.callCount(), "nothing sent")
	assert.NoFileExists(t, cp)
	assert.NoFileExists(t, cp+".tmp")

	_, err = Replay(t.Context(), src, s.url, opts) // a real run, stopped by the target at entry 119
	require.ErrorContains(t, err, "replay stopped: 119 sent")
	saved, err := os.ReadFile(cp)
	require.NoError(t, err)
	before, err := os.Stat(cp)
	require.NoError(t, err)
	calls := s.callCount()
	res, err = Replay(t.Context(), src, s.url, dry)
	require.NoError(t, err)
	assert.Equal(t, uint64(131), res.Sent)
	assert.Equal(t, uint64(119), res.Before)
	assert.Equal(t, calls, s.callCount(), "nothing sent")
	after, err := os.Stat(cp)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the checkpoint is not rewritten")
	now, err := os.ReadFile(cp)
	require.NoError(t, err)
	assert.Equal(t, saved, now)
}
