//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// TestRedisOnlyFailedXADDsFallThrough: one pipelined batch for three
// destinations, one of whose stream keys holds a string (WRONGTYPE). Only
// that destination's entries may move on to the file; the others are in
// Redis once and nowhere else.
func TestRedisOnlyFailedXADDsFallThrough(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	base := uniqueStream(t, c)
	good1, bad, good2 := base+".good.a", base+".bad.b", base+".good.c"
	t.Cleanup(func() { c.Del(context.Background(), good1, bad, good2) })
	require.NoError(t, c.Set(context.Background(), bad, "not a stream", 0).Err())

	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
		BatchSize: 30, Retry: RetryConfig{MaxAttempts: 1},
		Redis: RedisConfig{URL: "redis://" + addr, Stream: base + ".{destination}"}})
	require.NoError(t, err)
	want := map[string][]string{}
	for i, p := range payloads(30, "mix") {
		dest := []string{"good.a", "bad.b", "good.c"}[i%3]
		want[dest] = append(want[dest], p)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: dest, Payload: []byte(p)}))
	}
	flushOK(t, o)
	closeOK(t, o)

	assert.ElementsMatch(t, want["good.a"], keys(readStream(t, c, good1)))
	assert.ElementsMatch(t, want["good.c"], keys(readStream(t, c, good2)))
	inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
	assert.ElementsMatch(t, want["bad.b"], keysOf(inFile), "only the entries whose XADD failed are in the file")
	s := o.Stats()
	assert.Equal(t, uint64(20), s.Backends[0].Entries)
	assert.Equal(t, uint64(10), s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "WRONGTYPE")
	assert.Equal(t, uint64(10), s.Backends[1].Entries)
	assert.Equal(t, uint64(30), s.Written)
	requireAccounted(t, s)
}
