package dlq

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryBoundUnderFlushLoopDuringOutage runs the "flush before commit"
// pattern through a total outage: senders keep sending, Flush is called in
// a loop with a short deadline. The entries held in memory never pass
// QueueCapacity + BatchSize; the rest is refused as ErrQueueFull.
func TestMemoryBoundUnderFlushLoopDuringOutage(t *testing.T) {
	const queueCapacity, batchSize = 100, 10
	for _, test := range []struct {
		name string
		mode Mode
	}{
		{"cascade", ModeCascade},
		{"fan_out", ModeFanOut},
	} {
		t.Run(test.name, func(t *testing.T) {
			down := testenv.MountTmpfs(t, 64<<10)
			defer down.Fill()()
			dirs := []string{down.Dir}
			if test.mode == ModeFanOut { // a primary that works, a mirror that is down: the catch-up list grows
				dirs = []string{t.TempDir(), down.Dir}
			}
			o := startWithFileBackends(t, Config{Service: "svc", Mode: test.mode,
				QueueCapacity: queueCapacity, BatchSize: batchSize, FlushIntervalMS: 1,
				Retry:  RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 4},
				Logger: slog.New(slog.DiscardHandler)}, dirs...)
			limit := queueCapacity + batchSize

			var senders sync.WaitGroup
			for g := range 4 {
				senders.Go(func() {
					for i := range 3000 {
						err := o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "g%d-%d", g, i)})
						if err != nil {
							require.ErrorIs(t, err, ErrQueueFull)
						}
					}
				})
			}
			sendersDone := make(chan struct{})
			go func() { senders.Wait(); close(sendersDone) }()
			flushes, maxHeld := 0, 0
			for done := false; !done; {
				select {
				case <-sendersDone:
					done = true
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
				_ = o.Flush(ctx)
				cancel()
				flushes++
				maxHeld = max(maxHeld, o.Stats().Held)
			}
			s := o.Stats()
			t.Logf("%d flushes; peak held %d (drain's view), %d (sampled); accepted %d, refused %d",
				flushes, o.peakHeld.Load(), maxHeld, s.Accepted, s.Dropped)
			assert.LessOrEqual(t, o.peakHeld.Load(), int64(limit), "held entries, as the drain saw them")
			assert.LessOrEqual(t, maxHeld, limit, "Stats.Held")
			assert.NotZero(t, s.DroppedBy[ReasonQueueFull], "the outage became backpressure")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			_ = o.Close(ctx)
			s = o.Stats()
			requireAccounted(t, s)
			assert.Zero(t, s.Held, "nothing held after Close")
		})
	}
}
