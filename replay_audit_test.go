package dlq

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAudit returns the records of the audit file at path, requiring each
// line to be one.
func readAudit(t *testing.T, path string) []auditRecord {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var recs []auditRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec auditRecord
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&rec), "%s", sc.Text())
		recs = append(recs, rec)
	}
	require.NoError(t, sc.Err())
	return recs
}

// TestReplayAudit: each run, a dry run and a stopped one too, appends one
// record next to the ledger (CHECKPOINT.audit) with who, when, what, the
// counts and the outcome; the target's password is hidden; a record torn
// by a kill does not spoil the next.
func TestReplayAudit(t *testing.T) {
	const n = 250
	src := writeNumbered(t, t.TempDir(), n)
	s := newReplaySink(t, func(call int) int {
		if call == 120 {
			return http.StatusBadRequest
		}
		return 0
	})
	target := strings.Replace(s.url, "http://", "http://ops:s3cret@", 1)
	dir := t.TempDir()
	cp := filepath.Join(dir, "replay.cp")
	opts := ReplayOptions{Checkpoint: cp, Filter: Filter{Reasons: []string{"r"}}, MaxReplays: 3}
	dry := opts
	dry.DryRun = true

	start := time.Now().UTC().Add(-time.Second)
	_, err := Replay(t.Context(), src, target, dry)
	require.NoError(t, err)
	_, err = Replay(t.Context(), src, target, opts)
	require.ErrorIs(t, err, ErrTargetFailed)
	f, err := os.OpenFile(cp+".audit", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"user":"killed`) // a run killed while writing its record
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s.fail = nil
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = Replay(ctx, src, target, opts)
	require.ErrorIs(t, err, context.Canceled)
	res, err := Replay(t.Context(), src, target, opts)
	require.NoError(t, err)
	require.Equal(t, uint64(n-119), res.Sent)

	data, err := os.ReadFile(cp + ".audit")
	require.NoError(t, err)
	assert.NotContains(t, string(data), "s3cret")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 5, "four records and the torn one")
	assert.Equal(t, `{"user":"killed`, lines[2])
	require.NoError(t, os.WriteFile(filepath.Join(dir, "whole.audit"), []byte(strings.Join(append(lines[:2:2], lines[3:]...), "\n")+"\n"), 0o600))
	recs := readAudit(t, filepath.Join(dir, "whole.audit"))
	require.Len(t, recs, 4)

	host, _ := os.Hostname()
	for i, rec := range recs {
		assert.NotEmpty(t, rec.User, "record %d", i)
		assert.Equal(t, host, rec.Host, "record %d", i)
		assert.False(t, rec.Start.Before(start) || rec.End.Before(rec.Start), "record %d: %v to %v", i, rec.Start, rec.End)
		assert.Equal(t, src, rec.Source, "record %d", i)
		assert.Equal(t, redactedSinkURL(target), rec.Target, "record %d", i)
		assert.Equal(t, []string{"r"}, rec.Filter.Reasons, "record %d", i)
		assert.Equal(t, 3, rec.Options.MaxReplays, "record %d", i)
		assert.Equal(t, cp, rec.Options.Checkpoint, "record %d", i)
		assert.Equal(t, cp+".ledger", rec.Options.Ledger, "record %d", i)
	}
	assert.True(t, recs[0].Options.DryRun)
	assert.Equal(t, auditCounts{Read: n, Sent: n}, recs[0].Counts, "the dry run")
	assert.Equal(t, "done", recs[0].Outcome)
	assert.Equal(t, auditCounts{Read: 200, Sent: 119, Failed: 81}, recs[1].Counts, "stopped by the target")
	assert.Equal(t, "target failed", recs[1].Outcome)
	assert.Contains(t, recs[1].Error, "400")
	assert.Equal(t, "interrupted", recs[2].Outcome)
	assert.Contains(t, recs[2].Error, "context canceled")
	last := recs[3]
	assert.Equal(t, "done", last.Outcome)
	assert.Empty(t, last.Error)
	assert.Equal(t, auditCounts{Read: n - 119, Sent: n - 119, Resumed: true, From: last.Counts.From, Before: 119}, last.Counts)
}

// TestReplayRecordsHideQuerySecrets: a target whose query holds a secret
// (?token=, ?api_key=…) is written with that value hidden in the ledger,
// the checkpoint and the audit record, as its password is; a rerun
// matches the ledger (OnlyPending) under the hidden form. Before, the
// token was on every ledger line, in the checkpoint and in the audit.
func TestReplayRecordsHideQuerySecrets(t *testing.T) {
	const n = 30
	src := writeNumbered(t, t.TempDir(), n)
	s := newReplaySink(t, nil)
	target := strings.Replace(s.url, "http://", "http://ops:s3cret@", 1) + "?token=T0KEN&api_key=K3Y&tenant=acme"
	dir := t.TempDir()
	opts := ReplayOptions{Checkpoint: filepath.Join(dir, "replay.cp"), OnlyPending: true}
	_, err := Replay(t.Context(), src, target, opts)
	require.NoError(t, err)
	for _, name := range []string{"replay.cp", "replay.cp.ledger", "replay.cp.audit"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		for _, secret := range []string{"s3cret", "T0KEN", "K3Y"} {
			assert.NotContains(t, string(data), secret, name)
		}
		assert.Contains(t, string(data), "tenant=acme", "%s: the other parameters kept", name)
	}
	assert.Len(t, s.received(), n, "the target got the token")
	res, err := Replay(t.Context(), src, target, ReplayOptions{Ledger: opts.Checkpoint + ".ledger", OnlyPending: true})
	require.NoError(t, err)
	assert.Equal(t, uint64(n), res.AlreadyReplayed, "the ledger matches the target under its hidden form")
}
