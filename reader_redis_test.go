//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func xaddEnvelope(t *testing.T, c *redis.Client, stream string, e Entry) {
	t.Helper()
	require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"data", AppendEnvelope(nil, &e)}}).Err())
}

func TestReaderRedisStream(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	stream := uniqueStream(t, c)
	const n = 1234 // more than two XRANGE pages
	for i := range n {
		xaddEnvelope(t, c, stream, Entry{Timestamp: time.UnixMilli(int64(i)), Service: "svc", Reason: "r", Payload: fmt.Appendf(nil, "p%d", i)})
		if i == 10 {
			require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"other", "field"}}).Err())
			require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"data", "not json"}}).Err())
		}
	}
	src := "redis://" + addr + "/0?stream=" + stream
	t.Run("every entry in order, foreign ones counted, stops at the start's end", func(t *testing.T) {
		r, err := OpenReader(src, ReaderOptions{})
		require.NoError(t, err)
		i := 0
		for rec, err := range r.All(t.Context()) {
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("p%d", i), string(rec.Entry.Payload))
			if i == 0 { // written during the read: not read
				xaddEnvelope(t, c, stream, Entry{Timestamp: time.UnixMilli(5000), Service: "svc", Reason: "r", Payload: []byte("late")})
			}
			i++
		}
		assert.Equal(t, n, i)
		assert.Equal(t, ReadStats{Read: n, Matched: n, Unreadable: 2}, r.Stats())
	})
	t.Run("resume after a position", func(t *testing.T) {
		all, _ := readAll(t, src, ReaderOptions{Filter: Filter{Since: time.UnixMilli(1200)}})
		require.Len(t, all, 35)
		rest, _ := readAll(t, src, ReaderOptions{After: all[30].Position})
		assert.Equal(t, []string{"p1231", "p1232", "p1233", "late"}, recPayloads(rest))
	})
	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		caught := false
		r, err := OpenReader(src, ReaderOptions{Follow: true, After: mustLastID(t, c, stream), CaughtUp: func() {
			caught = true
			xaddEnvelope(t, c, stream, Entry{Service: "svc", Reason: "r", Payload: []byte("new")})
		}})
		require.NoError(t, err)
		for rec, err := range r.All(ctx) {
			if err != nil {
				assert.ErrorIs(t, err, context.Canceled)
				break
			}
			assert.True(t, caught)
			assert.Equal(t, "new", string(rec.Entry.Payload))
			cancel()
		}
	})
	t.Run("follow reads each new entry once, in order", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		add := func(p string) { xaddEnvelope(t, c, stream, Entry{Service: "svc", Reason: "r", Payload: []byte(p)}) }
		r, err := OpenReader(src, ReaderOptions{Follow: true, After: mustLastID(t, c, stream), CaughtUp: func() {
			add("n1")
			add("n2")
		}})
		require.NoError(t, err)
		var got []string
		for rec, err := range r.All(ctx) {
			if err != nil {
				require.ErrorIs(t, err, ctx.Err())
				break
			}
			got = append(got, string(rec.Entry.Payload))
			switch len(got) {
			case 2:
				add("n3")
			case 3:
				cancel()
			}
		}
		assert.Equal(t, []string{"n1", "n2", "n3"}, got)
	})
	t.Run("a missing stream has nothing", func(t *testing.T) {
		recs, _ := readAll(t, "redis://"+addr+"/0?stream="+stream+"-missing", ReaderOptions{})
		assert.Empty(t, recs)
	})
}

func mustLastID(t *testing.T, c *redis.Client, stream string) string {
	msgs, err := c.XRevRangeN(t.Context(), stream, "+", "-", 1).Result()
	require.NoError(t, err)
	return msgs[0].ID
}

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
