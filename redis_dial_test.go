//go:build dlq_redis || dlq_all

package dlq

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestRedisRefusedCostsOneDialPerBatch: with nothing listening, each batch
// Redis is tried on costs one dial, not go-redis's default five, and the
// entries fall through to the file; and no goroutine of go-redis's, such as
// its dial prober, outlives Close.
func TestRedisRefusedCostsOneDialPerBatch(t *testing.T) {
	before := goleak.IgnoreCurrent()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // refused from now on
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
		QueueCapacity: 20_000, Redis: RedisConfig{URL: "redis://" + addr},
		Retry:  RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 1}, // Redis is tried often
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for i := range 10_000 {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	s := o.Stats()
	dials := o.backends[0].redis.conns.Dials()
	closeOK(t, o)
	t.Logf("%d batches tried on Redis, %d dials", s.Backends[0].Batches, dials)
	assert.Equal(t, uint64(10_000), s.Backends[1].Entries, "all in the file")
	require.NotZero(t, s.Backends[0].Batches)
	assert.LessOrEqual(t, dials, int64(s.Backends[0].Batches), "one dial per batch at most")
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 10_000)
	goleak.VerifyNone(t, before)
}
