//go:build dlq_redis || dlq_all

package dlq

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisKillRestartLoopTinyBatches: a private Redis (appendfsync
// always) killed and restarted three times while entries with distinct
// reasons, destinations (per-destination streams) and sizes flow in
// batches of two; then killed for good and the DLQ closed while every dial
// fails. Every entry is in Redis or the file; each XADD's fields (data,
// reason, service, id) are the entry's own, and the bytes of an id in
// both places are equal. goleak (TestMain) checks Close left nothing.
func TestRedisKillRestartLoopTinyBatches(t *testing.T) {
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, BatchSize: 2, QueueCapacity: 4,
		FlushIntervalMS: 1, Retry: RetryConfig{InitialBackoffMS: 2, MaxBackoffMS: 20},
		File:  FileConfig{Dir: dir},
		Redis: RedisConfig{URL: "redis://" + srv.Addr, Stream: "s.{destination}", DialTimeoutMS: 100, TimeoutMS: 300}})
	require.NoError(t, err)
	const n = 1500
	payload := func(i int) []byte {
		return append(fmt.Appendf(nil, "r%05d-", i), bytes.Repeat([]byte{byte('A' + i%26)}, 10+(i*37)%2000)...)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := o.SendContext(context.Background(), Entry{Reason: fmt.Sprint("reason-", i), Destination: fmt.Sprint("d", i%4),
				Payload: payload(i)}); err != nil {
				t.Errorf("SendContext %d: %v", i, err)
				return
			}
		}
	})
	for range 3 {
		time.Sleep(200 * time.Millisecond)
		srv.Kill()
		time.Sleep(300 * time.Millisecond)
		srv.Restart()
	}
	wg.Wait()
	flushOK(t, o)
	c := redisClient(t, srv.Addr)
	srv.Kill() // Close while every dial fails
	for i := n; i < n+20; i++ {
		require.NoError(t, o.SendContext(context.Background(), Entry{Reason: fmt.Sprint("reason-", i), Destination: "d0", Payload: payload(i)}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, o.Close(ctx))
	srv.Restart()
	st := o.Stats()
	requireAccounted(t, st)

	inFile := readDir(t, filepath.Join(dir, "svc"))
	got := map[string]bool{}
	for _, e := range inFile {
		got[string(e.Payload[:7])] = true
	}
	inRedis := 0
	for d := range 4 {
		for _, e := range readStream(t, c, fmt.Sprint("s.d", d)) { // checks reason, service, id fields
			var i int
			fmt.Sscanf(string(e.Payload), "r%05d-", &i)
			assert.Equal(t, string(payload(i)), string(e.Payload), "Redis payload of %d", i)
			assert.Equal(t, fmt.Sprint("reason-", i), e.Reason)
			assert.Equal(t, fmt.Sprint("d", i%4), e.Destination)
			if f, ok := inFile[e.ID]; ok {
				assert.Equal(t, string(f.Payload), string(e.Payload), "id %s differs between Redis and file", e.ID)
			}
			got[string(e.Payload[:7])] = true
			inRedis++
		}
	}
	for i := range n + 20 {
		assert.True(t, got[fmt.Sprintf("r%05d-", i)], "entry %d in neither Redis nor the file", i)
	}
	t.Logf("redis %d, file %d; redis stats %+v", inRedis, len(inFile), st.Backends[0])
}
