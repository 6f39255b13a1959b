//go:build dlq_http || dlq_all

// Command outage-flush runs the "flush before commit" pattern through a
// total outage (the only backend, HTTP, refuses every connection): senders
// never stop, Flush is called every few milliseconds with a short
// deadline. It reports the most entries the DLQ held in memory (Stats.Held,
// sampled) and the peak RSS: both must stay bounded however long the
// outage lasts. Run it with: go run -tags dlq_http ./outage-flush
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"

	"github.com/dlqkit/dlq/benchmarks/internal/procstat"
)

func main() {
	duration := flag.Duration("duration", 8*time.Second, "how long the outage lasts")
	every := flag.Duration("flush-every", 50*time.Millisecond, "how often Flush is called")
	queue := flag.Int("queue", 1000, "queue_capacity")
	size := flag.Int("payload", 1024, "payload bytes")
	senders := flag.Int("senders", 4, "sending goroutines")
	flag.Parse()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // refused from now on
	o, err := dlq.New(dlq.Config{Service: "outage", QueueCapacity: *queue, File: dlq.FileConfig{Disabled: true},
		HTTP: dlq.HTTPConfig{URL: "http://" + addr}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	payload := make([]byte, *size)
	var accepted, refused atomic.Uint64
	var wg sync.WaitGroup
	deadline := time.Now().Add(*duration)
	for range *senders {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				switch err := o.Send(dlq.Entry{Reason: "outage", Payload: payload}); {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, dlq.ErrQueueFull):
					refused.Add(1)
				default:
					log.Fatal(err)
				}
			}
		})
	}
	flushes, peakHeld := 0, 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), *every)
		_ = o.Flush(ctx)
		cancel()
		flushes++
		peakHeld = max(peakHeld, o.Stats().Held)
	}
	wg.Wait()
	s := o.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_ = o.Close(ctx)
	took := time.Since(start)
	fmt.Printf("outage %s, %d flushes, queue_capacity %d + batch_size %d: accepted %d, refused %d\n",
		*duration, flushes, s.QueueCapacity, s.BatchSize, accepted.Load(), refused.Load())
	fmt.Printf("peak held %d (bound %d); Close(1s) took %s, lost %d\n",
		peakHeld, s.QueueCapacity+s.BatchSize, took.Round(time.Millisecond), o.Stats().Lost)
	fmt.Println("peak RSS:", procstat.PeakRSS())
}
