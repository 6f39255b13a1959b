//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReaderRedisLast: a source read in order (Redis, as Kafka) holds the
// last entries back until it ends, or until it caught up when following.
func TestReaderRedisLast(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	stream := uniqueStream(t, c)
	for i := range 30 {
		reason := "even"
		if i%2 == 1 {
			reason = "odd"
		}
		xaddEnvelope(t, c, stream, Entry{Timestamp: time.UnixMilli(int64(i)), Service: "svc", Reason: reason, Payload: fmt.Appendf(nil, "p%d", i)})
	}
	src := "redis://" + addr + "/0?stream=" + stream
	recs, stats := readAll(t, src, ReaderOptions{Last: 3, Filter: Filter{Reasons: []string{"odd"}}, SkipPayload: true})
	require.Len(t, recs, 3)
	assert.Equal(t, []int64{25, 27, 29}, []int64{recs[0].Entry.Timestamp.UnixMilli(), recs[1].Entry.Timestamp.UnixMilli(), recs[2].Entry.Timestamp.UnixMilli()})
	assert.Nil(t, recs[0].Entry.Payload)
	assert.Equal(t, ReadStats{Read: 30, Matched: 15}, stats)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	caught := -1
	r, err := OpenReader(src, ReaderOptions{Follow: true, Last: 2, CaughtUp: func() {
		caught = len(got)
		xaddEnvelope(t, c, stream, Entry{Timestamp: time.UnixMilli(99), Service: "svc", Reason: "r", Payload: []byte("new")})
	}})
	require.NoError(t, err)
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got = append(got, string(rec.Entry.Payload))
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []string{"p28", "p29", "new"}, got)
	assert.Equal(t, 2, caught)
}
