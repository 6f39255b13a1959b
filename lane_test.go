package dlq

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// senderSeq parses "g<g>-<seq>-" payloads.
func senderSeq(p []byte) (g, seq int) {
	fmt.Sscanf(string(p), "g%d-%d-", &g, &seq)
	return
}

// serviceFileLines reads every line of the service folder's plain files in file
// order, and fails on any line that does not parse.
func serviceFileLines(t *testing.T, dir string) []Entry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "dlq.ndjson"))
	require.NoError(t, err)
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		e, err := ParseEnvelope(sc.Bytes())
		if !assert.NoError(t, err, "a line that does not parse: %.80q", sc.Text()) {
			continue
		}
		out = append(out, e)
	}
	require.NoError(t, sc.Err())
	return out
}

// TestLaneFlushCloseAnyMoment: the encode lane under tiny batches,
// queue capacity equal to the batch size, huge entries, senders that meet
// backpressure, Flush called in a loop from several goroutines and Close
// arriving while they all run. Every accepted entry is in the file once,
// its own bytes, every line parses, and order per destination is kept.
func TestLaneFlushCloseAnyMoment(t *testing.T) {
	for _, c := range []struct{ batch, queue int }{{1, 1}, {2, 2}, {1, 3}, {2, 5}, {3, 3}, {4, 64}} {
		t.Run(fmt.Sprintf("batch%d_queue%d", c.batch, c.queue), func(t *testing.T) {
			laneUnderFlushAndClose(t, c.batch, c.queue)
		})
	}
}

func laneUnderFlushAndClose(t *testing.T, batch, queue int) {
	dir := t.TempDir()
	o, err := New(Config{Service: "lane", BatchSize: batch, QueueCapacity: queue, FlushIntervalMS: 1,
		File: FileConfig{Dir: dir, Rotation: RotateNone}})
	require.NoError(t, err)
	const senders, per = 3, 120
	var (
		mu       sync.Mutex
		accepted = map[string]int{} // payload prefix -> payload length
	)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				size := 50 + i%40
				if i%37 == 5 {
					size = 1<<20 - 300 // near the 1 MiB line
				}
				head := fmt.Sprintf("g%d-%05d-", g, i)
				payload := append([]byte(head), bytes.Repeat([]byte{byte('a' + i%26)}, size)...)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := o.SendContext(ctx, Entry{Reason: "r", Destination: fmt.Sprint("d", g), Payload: payload})
				cancel()
				if errors.Is(err, ErrClosed) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				accepted[head] = len(payload)
				mu.Unlock()
			}
		}()
	}
	stopFlush := make(chan struct{})
	var fw sync.WaitGroup
	for range 2 {
		fw.Add(1)
		go func() {
			defer fw.Done()
			for {
				select {
				case <-stopFlush:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := o.Flush(ctx)
				cancel()
				if err != nil && !errors.Is(err, ErrClosed) {
					assert.NoError(t, err)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	closeOK(t, o) // while senders and flushers run
	wg.Wait()
	close(stopFlush)
	fw.Wait()
	st := o.Stats()
	requireAccounted(t, st)
	assert.Zero(t, st.Lost)

	lines := serviceFileLines(t, filepath.Join(dir, "lane"))
	seen := map[string]int{}
	last := map[string]int{}
	for _, e := range lines {
		g, seq := senderSeq(e.Payload)
		head := fmt.Sprintf("g%d-%05d-", g, seq)
		seen[head]++
		body := e.Payload[len(head):]
		want := byte('a' + seq%26)
		if len(body) == 0 || bytes.Count(body, []byte{want}) != len(body) {
			t.Errorf("%s: payload bytes are not its own (%.40q)", head, body)
		}
		if prev, ok := last[e.Destination]; ok && seq <= prev {
			t.Errorf("%s: seq %d after %d", e.Destination, seq, prev)
		}
		last[e.Destination] = seq
	}
	mu.Lock()
	defer mu.Unlock()
	var missing, dup []string
	for head := range accepted {
		if seen[head] == 0 {
			missing = append(missing, head)
		}
	}
	for head, n := range seen {
		if n > 1 {
			dup = append(dup, head)
		}
	}
	assert.Empty(t, missing, "accepted entries not in the file")
	assert.Empty(t, dup, "entries written twice with nothing failing")
	assert.Equal(t, int(st.Accepted), len(lines), "file lines = accepted, stats %+v", strings.TrimSpace(fmt.Sprint(st.Written)))
}
