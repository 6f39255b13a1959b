package dlq

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeLane holds the drain inside its first batch write (OnBatch runs
// on the drain goroutine) while more entries queue, so that the next batch
// is written with the one behind it taken and encoded ahead.
func TestEncodeLane(t *testing.T) {
	const batch = 4
	// start returns an orchestrator whose first batch write, once entered,
	// waits for release; written hears of every batch written.
	start := func(t *testing.T) (o *Orchestrator, dir string, entered <-chan struct{}, release func(), written <-chan int) {
		dir = t.TempDir()
		hold, in := make(chan struct{}), make(chan struct{})
		events := make(chan int, 64)
		first := true
		o, err := New(Config{Service: "lane", BatchSize: batch, QueueCapacity: 32, FlushIntervalMS: 3_600_000,
			File: FileConfig{Dir: dir, Rotation: RotateNone},
			OnBatch: func(ev BatchEvent) {
				if first {
					first = false
					close(in)
					<-hold
				}
				events <- ev.Entries
			}})
		require.NoError(t, err)
		t.Cleanup(func() { closeOK(t, o) })
		return o, filepath.Join(dir, "lane"), in, func() { close(hold) }, events
	}
	send := func(t *testing.T, o *Orchestrator, from, to int) {
		for i := from; i < to; i++ {
			require.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Payload: fmt.Appendf(nil, "entry-%02d", i)}))
		}
	}
	lines := func(t *testing.T, dir string) []string {
		data, err := os.ReadFile(filepath.Join(dir, filelog.LiveName))
		require.NoError(t, err)
		var got []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			e, err := ParseEnvelope(sc.Bytes())
			require.NoError(t, err)
			got = append(got, string(e.Payload))
		}
		return got
	}
	want := func(n int) []string {
		var w []string
		for i := range n {
			w = append(w, fmt.Sprintf("entry-%02d", i))
		}
		return w
	}

	t.Run("full batches taken ahead are written in order, each line its own entry", func(t *testing.T) {
		o, dir, entered, release, written := start(t)
		send(t, o, 0, batch)
		<-entered                  // the drain is inside the first batch's write
		send(t, o, batch, 3*batch) // two full batches wait in the queue
		release()
		total := 0
		for total < 3*batch { // no Flush: the batch taken ahead goes by itself
			select {
			case n := <-written:
				total += n
			case <-time.After(30 * time.Second): // a guard against hanging, not a timing
				require.FailNow(t, "the batch taken ahead was not written", "%d of %d written", total, 3*batch)
			}
		}
		assert.Equal(t, want(3*batch), lines(t, dir))
	})
	t.Run("a partial batch taken ahead is written by Flush", func(t *testing.T) {
		o, dir, entered, release, _ := start(t)
		send(t, o, 0, batch)
		<-entered
		send(t, o, batch, 2*batch+2) // a full batch and two more wait in the queue
		release()
		flushOK(t, o)
		assert.Equal(t, want(2*batch+2), lines(t, dir))
	})
}
