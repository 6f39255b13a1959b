//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/dlqkit/dlq/internal/wire"
	"github.com/redis/go-redis/v9"
)

// BenchmarkRedis sends b.N entries through the orchestrator to a Redis
// stream, beside raw go-redis pipelines of 256 XADDs of the same envelopes
// on the same server. Compare the entries/s column.
func BenchmarkRedis(b *testing.B) {
	addr := testenv.RedisAddr(b)
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	const key = "dlq-bench"
	e := benchEntry
	e.Timestamp = time.Time{}

	b.Run("dlq", func(b *testing.B) {
		defer c.Del(ctx, key)
		benchSendFlush(b, Config{Service: "bench", File: FileConfig{Disabled: true},
			Redis: RedisConfig{URL: "redis://" + addr, Stream: key}}, e)
	})
	b.Run("go-redis-pipeline-256", func(b *testing.B) {
		defer c.Del(ctx, key)
		ids := wire.NewIDSource()
		buf := make([]byte, 0, 256*1024)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for done := 0; done < b.N; {
			n := min(256, b.N-done)
			pipe := c.Pipeline()
			buf = buf[:0]
			for range n {
				x := e
				x.Timestamp = time.Now()
				x.Service = "bench"
				x.ID = ids.Next(x.Timestamp)
				from := len(buf)
				buf = AppendEnvelope(buf, &x)
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, ID: "*",
					Values: []any{"data", buf[from:len(buf):len(buf)], "reason", x.Reason, "service", x.Service, "id", x.ID}})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			done += n
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	})
}
