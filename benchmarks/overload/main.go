// Command overload keeps a dlq queue full for a while with senders that
// never stop trying, and reports the peak RSS: the heap must stay bounded
// however long the overload lasts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlqkit/dlq"

	"github.com/dlqkit/dlq/benchmarks/internal/procstat"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long to keep the queue full")
	senders := flag.Int("senders", 8, "sending goroutines")
	flag.Parse()

	dir, err := os.MkdirTemp("", "dlq-overload")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := dlq.New(dlq.Config{Service: "overload", File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateSize, MaxSizeMB: 64, MaxBackups: 2}})
	if err != nil {
		log.Fatal(err)
	}
	payload := make([]byte, 256)
	var full, ok atomic.Uint64
	var wg sync.WaitGroup
	deadline := time.Now().Add(*duration)
	for range *senders {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				switch err := o.Send(dlq.Entry{Reason: "overload", Payload: payload}); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, dlq.ErrQueueFull):
					full.Add(1)
				default:
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		log.Fatal(err)
	}
	s := o.Stats()
	fmt.Printf("duration %s, senders %d: accepted %d, refused queue_full %d (%.0f%% of attempts), written %d, lost %d\n",
		*duration, *senders, ok.Load(), full.Load(), 100*float64(full.Load())/float64(ok.Load()+full.Load()), s.Written, s.Lost)
	fmt.Println("peak RSS:", procstat.PeakRSS())
}
