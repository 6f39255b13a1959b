//go:build dlq_kafka || dlq_http || dlq_redis || dlq_all

package dlq

import (
	"context"
	"testing"
	"time"
)

// benchSendFlush sends b.N copies of e through a new orchestrator built
// from cfg, flushes, reports entries/s, and closes it with the timer
// stopped. It returns the closed orchestrator for checks on its Stats.
func benchSendFlush(b *testing.B, cfg Config, e Entry) *Orchestrator {
	b.Helper()
	o, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := o.SendContext(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	b.StopTimer()
	if err := o.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return o
}
