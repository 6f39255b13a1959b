package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledgerOf returns the entries (by number) the ledger at path holds for
// target, in order.
func ledgerOf(t *testing.T, path, target string) []int {
	t.Helper()
	var got []int
	for rec, err := range dlq.ReadLedger(path) {
		require.NoError(t, err)
		if rec.Target == target {
			n, err := strconv.Atoi(rec.ID)
			require.NoError(t, err)
			got = append(got, n)
		}
	}
	return got
}

// TestReplayLedgerAcrossKill: a replay with --ledger and --only-pending,
// killed (SIGKILL) at a seeded moment and run again, sends each entry
// once but for the request in flight when it was killed (the one entry the
// target got that the ledger had not recorded), and loses none; a
// rerun with a wider filter sends only the new entries; a rerun to another
// target sends them all; each run that ended appends one audit record
// with its counts; inspect --replayed tells what went back and came back.
func TestReplayLedgerAcrossKill(t *testing.T) {
	const n, first = 400, 300 // entries 0-299 of reason first, 300-399 of reason later
	src := t.TempDir()
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: src}})
	require.NoError(t, err)
	for i := range n {
		id, reason := fmt.Sprintf("%05d", i), "first"
		if i >= first {
			reason = "later"
		}
		require.NoError(t, o.Send(dlq.Entry{Reason: reason, Payload: []byte(id), ID: id}))
	}
	require.NoError(t, o.Close(t.Context()))

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	target, url := newNumberedTarget(t)
	dir := t.TempDir()
	ledger := filepath.Join(dir, "redrive.ledger")
	args := []string{"replay", src, "--to", url, "--reason", "first", "--checkpoint", filepath.Join(dir, "first.cp"),
		"--ledger", ledger, "--only-pending"}

	// Killed at the at-th request, which the target keeps and never answers.
	rng := rand.New(rand.NewPCG(*replaySeed, 23))
	at := 50 + rng.IntN(200)
	t.Logf("-replay.seed %d: killed at request %d", *replaySeed, at)
	reached := target.arm(at, hold)
	c := startChild(ctx, t, nil, args...)
	select {
	case <-reached:
	case <-c.exited:
		t.Fatalf("the replay ended before request %d: %v\n%s%s", at, c.err, &c.stdout, &c.stderr)
	case <-ctx.Done():
		t.Fatalf("request %d never came", at)
	}
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.wait(ctx, t)
	target.settle(ctx, t)
	killed := target.run()
	recorded := ledgerOf(t, ledger, url)
	assertContiguous(t, killed, 0, "the killed run")
	require.True(t, slices.Equal(recorded, killed[:len(recorded)]), "the ledger holds what the target confirmed, in order: %v", recorded)
	cpKilled := int(readCheckpoint(t, filepath.Join(dir, "first.cp")).Replayed)
	assert.LessOrEqual(t, cpKilled, len(recorded), "the ledger is behind the checkpoint")
	inFlight := len(killed) - len(recorded)
	assert.Equal(t, 1, inFlight, "the ledger records each request the target answered: only the one in flight, which it never answered, is missing")

	// The rerun sends exactly what the ledger lacks.
	target.arm(0, answer)
	out, err := run(t, args...)
	require.NoError(t, err, out)
	rerun := target.run()
	assertContiguous(t, rerun, len(recorded), "the rerun")
	require.Equal(t, first, len(recorded)+len(rerun), "the rerun ends at the last entry of reason first")
	twice := 0
	for _, e := range rerun {
		if slices.Contains(killed, e) {
			twice++
		}
	}
	assert.Equal(t, inFlight, twice, "sent twice: only the request in flight")
	assert.Contains(t, out, fmt.Sprintf("replayed %d to", len(rerun)))
	t.Logf("killed after %d sent (%d recorded in the ledger); the rerun sent %d, %d of them twice", len(killed), len(recorded), len(rerun), twice)

	// A wider filter, a checkpoint of its own, the same ledger: only the new ones.
	wider := []string{"replay", src, "--to", url, "--checkpoint", filepath.Join(dir, "all.cp"), "--ledger", ledger, "--only-pending"}
	target.arm(0, answer)
	out, err = run(t, wider...)
	require.NoError(t, err, out)
	assertContiguous(t, target.run(), first, "the wider rerun")
	assert.Len(t, target.run(), n-first)
	assert.Contains(t, out, fmt.Sprintf("replayed %d to %s; already replayed %d (ledger); failed 0", n-first, url, first))

	// Another target (the same server under a user and password): all of them.
	other := strings.Replace(url, "http://", "http://ops:s3cret@", 1)
	redacted := strings.Replace(url, "http://", "http://ops:xxxxx@", 1)
	target.arm(0, answer)
	out, err = run(t, "replay", src, "--to", other, "--ledger", ledger, "--only-pending")
	require.NoError(t, err, out)
	assertContiguous(t, target.run(), 0, "the rerun to another target")
	assert.Len(t, target.run(), n)
	assert.Equal(t, n, len(ledgerOf(t, ledger, redacted)))

	// The audit: one record per run that ended, the killed one left none.
	f, err := os.Open(filepath.Join(dir, "redrive.audit"))
	require.NoError(t, err)
	defer f.Close()
	type record struct {
		User, Host, Target, Outcome string
		Counts                      struct {
			Sent            uint64 `json:"sent"`
			AlreadyReplayed uint64 `json:"already_replayed"`
		}
	}
	var recs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "%s", sc.Text())
		assert.NotEmpty(t, r.User)
		assert.NotEmpty(t, r.Host)
		assert.NotContains(t, sc.Text(), "s3cret")
		recs = append(recs, r)
	}
	require.Len(t, recs, 3)
	for i, want := range []struct {
		target        string
		sent, already uint64
	}{{url, uint64(len(rerun)), uint64(len(recorded) - cpKilled)}, {url, n - first, first}, {redacted, n, 0}} {
		assert.Equal(t, want.target, recs[i].Target, "record %d", i)
		assert.Equal(t, want.sent, recs[i].Counts.Sent, "record %d", i)
		assert.Equal(t, "done", recs[i].Outcome, "record %d", i)
		assert.Equal(t, want.already, recs[i].Counts.AlreadyReplayed, "record %d", i)
	}

	// Some came back: a consumer failed again on three of those replayed.
	back := t.TempDir()
	o, err = dlq.New(dlq.Config{Service: "consumer", File: dlq.FileConfig{Dir: back}})
	require.NoError(t, err)
	for i, of := range []string{"00007", "00301", "00302"} {
		require.NoError(t, o.Send(dlq.Entry{Reason: "still_bad", Error: fmt.Sprintf("order %d not found", 1000+i),
			Payload: []byte(of), Headers: []dlq.Header{{Key: dlq.HeaderReplayOf, Value: []byte(of)}}}))
	}
	require.NoError(t, o.Send(dlq.Entry{Reason: "new_failure", Payload: []byte("x")})) // not a replay
	require.NoError(t, o.Close(t.Context()))
	out, err = run(t, "inspect", back, "--replayed", ledger)
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^`+regexpQuote(url)+` +400 +400 `, out) // the batch in flight was never confirmed: not in the ledger
	assert.Regexp(t, `(?m)^`+regexpQuote(redacted)+` +400 +400 `, out)
	assert.Contains(t, out, "came back: 3 entries, replays of 3 of the 400 entries replayed (0.8%)")
	assert.Regexp(t, `(?m)^still_bad +3 `, out)
	assert.NotContains(t, out, "new_failure")
	t.Logf("inspect --replayed:\n%s", out)
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "/", `\/`, ":", `\:`).Replace(s)
}
