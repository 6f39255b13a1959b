package dlq

import (
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// requireUUIDv7 checks that id is the text of a UUIDv7 (RFC 9562) whose
// time lies within [from, to].
func requireUUIDv7(t *testing.T, id string, from, to time.Time) {
	t.Helper()
	require.Len(t, id, 36, "id %q", id)
	for _, i := range []int{8, 13, 18, 23} {
		require.Equal(t, byte('-'), id[i], "id %q: hyphen at %d", id, i)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	require.NoError(t, err, "id %q is hex", id)
	require.Equal(t, strings.ToLower(id), id, "id %q is lower case", id)
	assert.Equal(t, byte(0x70), raw[6]&0xf0, "id %q: version 7", id)
	assert.Equal(t, byte(0x80), raw[8]&0xc0, "id %q: variant 10", id)
	ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, ms, from.UnixMilli(), "id %q: time not before the Send", id)
	assert.LessOrEqual(t, ms, to.UnixMilli(), "id %q: time not after the Flush", id)
}

func TestIDsAreUUIDv7WithTheEntryTime(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
	require.NoError(t, err)
	from := time.Now()
	ps := payloads(200, "id")
	sendAll(t, o, ps)
	flushOK(t, o)
	to := time.Now()
	closeOK(t, o)
	got := readDir(t, filepath.Join(dir, "svc"))
	require.Len(t, got, len(ps), "every entry has an id of its own")
	for id := range got {
		requireUUIDv7(t, id, from, to)
	}
	t.Run("an id the caller set is kept", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{ID: "caller-chosen", Reason: "r"}))
		closeOK(t, o)
		assert.Contains(t, readDir(t, filepath.Join(dir, "svc")), "caller-chosen")
	})
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
