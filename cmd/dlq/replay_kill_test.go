package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayKilledHalfWayResumes: SIGKILL a replay while the target holds
// a request, run it again: nothing is skipped and only the batch in flight
// is sent twice.
func TestReplayKilledHalfWayResumes(t *testing.T) {
	dir := t.TempDir()
	const n = 250
	o, err := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, o.Send(dlq.Entry{Reason: "r", Payload: []byte(strconv.Itoa(i)), ID: strconv.Itoa(i)}))
	}
	require.NoError(t, o.Close(t.Context()))
	cp := filepath.Join(t.TempDir(), "replay.checkpoint")

	reached, release := make(chan struct{}), make(chan struct{})
	s, url := newSink(t, func(call int) int {
		if call == 150 {
			close(reached)
			<-release // held until the replay is killed
			return http.StatusServiceUnavailable
		}
		return 0
	})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DLQ_TEST_RUN_MAIN="+strings.Join([]string{"replay", dir, "--to", url, "--checkpoint", cp}, "\x1f"))
	require.NoError(t, cmd.Start())
	<-reached
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	close(release)

	out, err := run(t, "replay", dir, "--to", url, "--checkpoint", cp)
	require.NoError(t, err)
	assert.Contains(t, out, "replayed 150 to")
	seen := map[string]int{}
	for _, b := range s.bodies {
		seen[string(b)]++
	}
	for i := range n {
		want := 1
		if i >= 100 && i < 149 {
			want = 2 // the batch in flight when the replay was killed
		}
		assert.Equal(t, want, seen[strconv.Itoa(i)], "entry %d", i)
	}
}
