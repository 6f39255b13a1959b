package dlq

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCascadeFallsBackWhenFirstBackendIsFull(t *testing.T) {
	full := testenv.MountTmpfs(t, 64<<10)
	free := full.Fill()
	defer free()
	spare := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", BatchSize: 32}, full.Dir, spare)

	ps := payloads(200, "e")
	sendAll(t, o, ps)
	flushOK(t, o)
	closeOK(t, o)

	inSpare := byPayload(readDir(t, filepath.Join(spare, "svc")))
	inFull := byPayload(readDir(t, filepath.Join(full.Dir, "svc")))
	requireHolds(t, inSpare, ps)
	assert.Empty(t, inFull, "nothing fit on the full disk")
	s := o.Stats()
	assert.Equal(t, uint64(200), s.Written)
	assert.NotZero(t, s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "no space left on device")
	assert.Equal(t, uint64(200), s.Backends[1].Entries)
	requireAccounted(t, s)
}

func TestCascadeMovesOnlyFailedEntries(t *testing.T) {
	// A disk with room for part of a batch: the entries that fit stay in
	// the first backend, only the rest go to the second, none twice.
	small := testenv.MountTmpfs(t, 16<<10)
	spare := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", BatchSize: 256, FlushIntervalMS: 10_000}, small.Dir, spare)

	ps := payloads(256, "p")
	for i := range ps {
		ps[i] += string(make([]byte, 100)) // ~250 bytes a line: 256 lines do not fit in 16 KiB
	}
	sendAll(t, o, ps)
	flushOK(t, o)
	closeOK(t, o)

	first := byPayload(readDir(t, filepath.Join(small.Dir, "svc")))
	second := byPayload(readDir(t, filepath.Join(spare, "svc")))
	assert.NotEmpty(t, first, "some entries fit on the small disk")
	assert.NotEmpty(t, second, "the rest fell through")
	for p := range first {
		assert.NotContains(t, second, p, "an entry the first backend held was written again")
	}
	assert.Equal(t, 256, len(first)+len(second))
	s := o.Stats()
	assert.Equal(t, uint64(256), s.Written)
	assert.Equal(t, uint64(len(first)), s.Backends[0].Entries)
	assert.Equal(t, uint64(len(second)), s.Backends[1].Entries)
}

func TestFanOutCatchesUpAMirrorThatWasDown(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	free := mirror.Fill()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}}, primary, mirror.Dir)

	ps := payloads(100, "f")
	sendAll(t, o, ps)
	flushOK(t, o) // durable in the primary: enough for Flush
	s := o.Stats()
	assert.Equal(t, uint64(100), s.Written)
	assert.Equal(t, uint64(100), s.Backends[0].Entries)
	assert.Zero(t, s.Backends[1].Entries)

	free()
	require.Eventually(t, func() bool { return o.Stats().Backends[1].Entries == 100 }, 10*time.Second, time.Millisecond,
		"the mirror catches up once it has room")
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(primary, "svc"))), ps)
	requireHolds(t, byPayload(readDir(t, filepath.Join(mirror.Dir, "svc"))), ps)
	s = o.Stats()
	assert.Equal(t, uint64(100), s.Written, "an entry counts written once")
	assert.Zero(t, s.Backends[1].Missed)
	requireAccounted(t, s)
}

func TestFanOutMirrorGivesUpAfterMaxAttempts(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	defer mirror.Fill()()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut,
		Retry: RetryConfig{MaxAttempts: 2, InitialBackoffMS: 1, MaxBackoffMS: 2}}, primary, mirror.Dir)
	sendAll(t, o, payloads(10, "m"))
	require.Eventually(t, func() bool { return o.Stats().Backends[1].Missed == 10 }, 10*time.Second, time.Millisecond)
	closeOK(t, o)
	s := o.Stats()
	assert.Equal(t, uint64(10), s.Written)
	assert.Zero(t, s.Lost, "missed by a mirror is not lost")
	requireAccounted(t, s)
}

func TestCascadeOrderIsConfigurable(t *testing.T) {
	// The Config's order decides which backend is first; here the two file
	// backends stand for two kinds, and the second is given first.
	a, b := t.TempDir(), t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc"}, b, a)
	sendAll(t, o, payloads(5, "o"))
	closeOK(t, o)
	assert.Len(t, readDir(t, filepath.Join(b, "svc")), 5)
	assert.Empty(t, readDir(t, filepath.Join(a, "svc")))
}

// TestIDsStableAcrossFanOutCatchUp: a fan-out mirror that was down catches
// up by retrying; each entry must carry in the mirror the id the primary
// got, so a consumer can de-duplicate.
func TestIDsStableAcrossFanOutCatchUp(t *testing.T) {
	mirror := testenv.MountTmpfs(t, 64<<10)
	free := mirror.Fill()
	primary := t.TempDir()
	o := startWithFileBackends(t, Config{Service: "svc", Mode: ModeFanOut, BatchSize: 16,
		Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20}}, primary, mirror.Dir)
	from := time.Now()
	ps := payloads(100, "f")
	sendAll(t, o, ps)
	flushOK(t, o)
	require.Equal(t, uint64(100), o.Stats().Written)
	require.Zero(t, o.Stats().Backends[1].Entries, "the mirror missed them")
	free()
	require.Eventually(t, func() bool { return o.Stats().Backends[1].Entries == 100 }, 10*time.Second, time.Millisecond,
		"the mirror catches up once it has room")
	closeOK(t, o)
	to := time.Now()

	first := byPayload(readDir(t, filepath.Join(primary, "svc")))
	second := byPayload(readDir(t, filepath.Join(mirror.Dir, "svc")))
	for _, p := range ps {
		a, b := first[p], second[p]
		require.NotEmpty(t, a.ID, "entry %s in the primary", p)
		assert.Equal(t, a.ID, b.ID, "entry %s: the same id in every backend", p)
		requireUUIDv7(t, a.ID, from, to)
	}
}
