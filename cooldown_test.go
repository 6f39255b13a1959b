package dlq

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// TestFanOutCoolDown: a fan-out mirror that failed a whole batch is passed
// over for a cool-down (here a minute: longer than the test) instead of
// being written to, and failing, on every batch. Flush respects the
// cool-down too: the primary holds every entry, so Flush is satisfied
// without the mirror, and a Close whose deadline ends inside the cool-down
// counts what the mirror lacks as missed. (A mirror whose cool-down ends in
// time catches up: TestFanOutMirrorBackWithinAttemptsCatchesUp.)
func TestFanOutCoolDown(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	free := mirror.Fill()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut, BatchSize: 10, FlushIntervalMS: 1,
		Logger: quiet, Retry: RetryConfig{InitialBackoffMS: 60000, MaxBackoffMS: 60000}}, primary, mirror.Dir)

	var ps []string
	for round := range 5 {
		batch := payloads(10, string(rune('a'+round)))
		ps = append(ps, batch...)
		sendAll(t, o, batch)
		require.Eventually(t, func() bool { return o.Stats().Written == uint64(len(ps)) }, 30*time.Second, time.Millisecond)
	}
	s := o.Stats()
	assert.Equal(t, uint64(5), s.Backends[0].Batches, "the primary writes every batch")
	assert.Equal(t, uint64(1), s.Backends[1].Batches, "the mirror is tried once, then passed over")
	assert.Equal(t, uint64(10), s.Backends[1].Errors)

	free()
	flushOK(t, o)
	s = o.Stats()
	assert.Equal(t, uint64(1), s.Backends[1].Batches, "Flush does not try the mirror in its cool-down")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := o.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "50 entries missing from some fan-out backend")
	s = o.Stats()
	assert.Equal(t, uint64(50), s.Backends[1].Missed, "what the mirror lacks at Close is counted missed")
	assert.Zero(t, s.Lost, "the primary holds every entry")
	requireHolds(t, byPayload(readDir(t, filepath.Join(primary, "svc"))), ps)
}
