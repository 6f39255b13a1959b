package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dlqkit/dlq"
)

// A consumer whose every message fails from offset 5 on (a bad deploy):
// the storm brake stops the DLQ from taking the whole topic, and the
// consumer keeps the messages in its source.
func Example_stormBrake() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	events := make(chan dlq.StormEvent, 2)
	q, err := dlq.New(dlq.Config{
		Service: "orders-consumer",
		File:    dlq.FileConfig{Dir: dir},
		// Trip when more than half of the last minute's messages failed
		// (once it saw 100), or on 3 failures in a row.
		Storm:   dlq.StormConfig{MaxRatio: 0.5, MaxConsecutive: 3},
		OnStorm: func(ev dlq.StormEvent) { events <- ev },
		Logger:  slog.New(slog.DiscardHandler), // the trip is logged as a warning
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close(context.Background())

	process := func(offset int) error {
		if offset >= 5 {
			return fmt.Errorf("decode order %d: unknown field \"discount_v2\"", offset)
		}
		return nil
	}
	for offset := range 10 {
		err := process(offset)
		if err == nil {
			q.Ok() // the brake's denominator: one message processed
			continue
		}
		err = q.Send(dlq.Entry{Reason: "schema_mismatch", Error: err.Error(), Payload: []byte(`{"id":1}`)})
		if errors.Is(err, dlq.ErrStorm) {
			// Not dead-lettered: keep the message in the source, commit
			// nothing past it, pause, and try again after the cool-down.
			fmt.Println("storm brake at offset", offset, "- pausing")
			break
		}
	}
	select {
	case ev := <-events: // from the brake's goroutine, within a tenth of the window
		fmt.Printf("tripped: %v, %d dead letters and %d ok in the window, %d in a row\n",
			ev.Tripped, ev.DeadLetters, ev.Ok, ev.Consecutive)
	case <-time.After(30 * time.Second):
		fmt.Println("no OnStorm event")
	}
	// Output:
	// storm brake at offset 8 - pausing
	// tripped: true, 3 dead letters and 5 ok in the window, 3 in a row
}
