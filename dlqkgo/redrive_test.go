//go:build dlq_kafka || dlq_all

package dlqkgo_test

// The redrive of issue 23 over Kafka: dlq.Replay sends a file DLQ back to
// its source topic on a kfake broker, a consumer on the Consumer reads it,
// and what it dead-letters again goes into the same folder, carrying the
// record's headers (dlq.replay_of among them): the loop the canary watches
// closes by itself. The Kafka target needs the dlq_kafka (or dlq_all)
// tag, hence the file's.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	redriveTotal      = 10_000
	redriveCanary     = 200
	redrivePartitions = 3
)

// redriveID is the id of the fixture's i-th entry.
func redriveID(i int) string { return fmt.Sprintf("%05d", i) }

// writeRedriveFixture writes n entries through the file backend into
// dir/service, as a consumer of topic once dead-lettered them: entry i has
// the id redriveID(i), the source topic/(i%3)@(i/3) and the payload "i".
// It returns the folder.
func writeRedriveFixture(t *testing.T, dir string, n int) string {
	t.Helper()
	o, err := dlq.New(dlq.Config{Service: service, File: dlq.FileConfig{Dir: dir}})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, o.Send(dlq.Entry{ID: redriveID(i), Reason: "parse_error", Error: fmt.Sprintf("unexpected token at offset %d", i),
			Source: dlq.KafkaSource(topic, int32(i%redrivePartitions), int64(i/redrivePartitions)), Payload: []byte(itoa(i))}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, o.Close(ctx))
	return filepath.Join(dir, service)
}

// redriveConsumer is the service the redrive feeds: the loop of the
// package doc on a Consumer of topic, whose dead letters go to the file
// backend in the fixture's folder. It counts each record it is handed by
// the id its dlq.replay_of header names.
type redriveConsumer struct {
	mu       sync.Mutex
	got      map[string]int // replay_of → times handed out
	handled  int            // records handed out
	want     int            // records after which reached is closed
	reached  chan struct{}
	assigned chan struct{}

	stop func()     // stops the loop
	errc chan error // the loop's return
}

// startRedriveConsumer starts the consumer on its own goroutine, failing
// every record with an error of reason "parse_error_again" if fails, and
// returns once its group has its partitions. reached is closed once it was
// handed want records.
func startRedriveConsumer(ctx context.Context, t *testing.T, b *kafkatest.Broker, dir string, fails bool, want int) *redriveConsumer {
	t.Helper()
	c := &redriveConsumer{got: map[string]int{}, want: want, reached: make(chan struct{}), assigned: make(chan struct{}), errc: make(chan error, 1)}
	var once sync.Once
	cl := newClient(t, b.Addr, "redrive", kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
		once.Do(func() { close(c.assigned) })
	}))
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}, FlushIntervalMS: 5})
	l := &loop{
		c: newConsumer(t, cl, o, dlqkgo.Options{Classify: func(error) string { return "parse_error_again" }}),
		handle: func(rec *kgo.Record) error {
			c.count(rec)
			if fails {
				return fmt.Errorf("still failing: unexpected token at offset %d", rec.Offset)
			}
			return nil
		},
		tally: newTally(),
	}
	lctx, stop := context.WithCancel(ctx)
	c.stop = stop
	go func() {
		c.errc <- l.run(lctx, func(err error) bool {
			if err != nil && lctx.Err() == nil {
				t.Errorf("Commit: %v", err)
			}
			return false
		})
	}()
	t.Cleanup(func() { c.close(t) }) // before the client's and the DLQ's cleanups
	select {
	case <-c.assigned:
	case <-ctx.Done():
		t.Fatalf("the consumer's group got no partitions: %v", ctx.Err())
	}
	return c
}

// count notes that rec was handed out.
func (c *redriveConsumer) count(rec *kgo.Record) {
	var id string
	for _, h := range rec.Headers {
		if h.Key == dlq.HeaderReplayOf {
			id = string(h.Value)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[id]++
	c.handled++
	if c.handled == c.want {
		close(c.reached)
	}
}

// received returns how many times each id was handed out.
func (c *redriveConsumer) received() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.got))
	for id, n := range c.got {
		out[id] = n
	}
	return out
}

// close stops the loop and waits for it; twice is once.
func (c *redriveConsumer) close(t *testing.T) {
	if c.errc == nil {
		return
	}
	c.stop()
	err := <-c.errc
	c.errc = nil
	if !errors.Is(err, context.Canceled) {
		t.Errorf("the consumer's loop: %v", err)
	}
}

// onTopic counts, by dlq.replay_of, the messages the topic holds.
func onTopic(b *kafkatest.Broker) map[string]int {
	out := map[string]int{}
	for _, m := range b.ReadTopic(topic) {
		var id string
		for _, h := range m.Headers {
			if h.Key == dlq.HeaderReplayOf {
				id = string(h.Value)
			}
		}
		out[id]++
	}
	return out
}

// cameBackInFolder counts, by dlq.replay_of, the entries of the folder
// that carry it, read as an operator would.
func cameBackInFolder(t *testing.T, folder string) (all int, back map[string]int) {
	t.Helper()
	r, err := dlq.OpenReader(folder, dlq.ReaderOptions{})
	require.NoError(t, err)
	back = map[string]int{}
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		all++
		for _, h := range rec.Entry.Headers {
			if h.Key == dlq.HeaderReplayOf {
				back[string(h.Value)]++
			}
		}
	}
	return all, back
}

// redriveCtx is the deadline of a redrive test: generous, for a shared
// machine under -race; the run ends long before unless it hangs.
func redriveCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The consumer still fails on every record: the canary's 200 go to the
// topic, come back to the folder through the Consumer, and the redrive
// stops there, naming the reason the consumer gave.
func TestRedriveStillFailingStopsAfterTheCanary(t *testing.T) {
	ctx := redriveCtx(t)
	b := startBroker(t, redrivePartitions)
	dir := t.TempDir()
	folder := writeRedriveFixture(t, dir, redriveTotal)
	c := startRedriveConsumer(ctx, t, b, dir, true, redriveCanary)

	// The wait is an upper bound: the canary is judged as soon as more
	// than 5% of it came back.
	res, err := dlq.Replay(ctx, folder, "kafka://"+b.Addr+"/{source.topic}",
		dlq.ReplayOptions{Canary: redriveCanary, AbortAbove: 0.05, CanaryWait: 10 * time.Second})
	require.ErrorIs(t, err, dlq.ErrReplayAborted)
	var abort *dlq.ReplayAbortError
	require.ErrorAs(t, err, &abort)
	t.Logf("sent %d, came back %d, stopped at window %d (%d of %d back): %v", res.Sent, res.CameBack, abort.Window, abort.Back, abort.Size, err)

	// It stops as soon as more than 5% of the canary came back, which may
	// be before all of it went out: never more than the canary.
	assert.LessOrEqual(t, res.Sent, uint64(redriveCanary), "the canary, and nothing after it")
	assert.GreaterOrEqual(t, res.Sent, uint64(abort.Back), "only what was sent came back")
	assert.Equal(t, 0, abort.Window, "the canary stopped it")
	assert.Equal(t, redriveCanary, abort.Size)
	assert.Greater(t, abort.Back, redriveCanary/20, "more than 5%% of the canary came back")
	assert.GreaterOrEqual(t, res.CameBack, uint64(abort.Back))
	require.NotEmpty(t, abort.Reasons)
	assert.Equal(t, "parse_error_again", abort.Reasons[0].Value, "the reason the consumer gave")
	require.NotEmpty(t, abort.Fingerprints)
	assert.Equal(t, dlq.Fingerprint("still failing: unexpected token at offset 7"), abort.Fingerprints[0].Value)
	assert.Contains(t, err.Error(), `"parse_error_again"`)

	// What went to the topic, by id: the canary exactly, each once.
	sent := onTopic(b)
	want := map[string]int{}
	for i := range int(res.Sent) {
		want[redriveID(i)] = 1
	}
	assert.Equal(t, want, sent, "at most the canary plus one window went to the topic: what was sent of the canary, in order")
	c.close(t)
	for id := range c.received() {
		assert.Contains(t, want, id, "the consumer was handed only what the redrive sent")
	}
	all, back := cameBackInFolder(t, folder)
	assert.GreaterOrEqual(t, all-redriveTotal, len(back))
	for id := range back {
		assert.Contains(t, want, id, "what came back is what the redrive sent")
	}
	t.Logf("the consumer was handed %d records; %d entries came back to the folder", len(c.received()), len(back))
}

// The consumer is fixed: the redrive sends all 10,000 to the topic, the
// consumer is handed each once, and none comes back.
func TestRedriveFixedSendsEveryEntryOnce(t *testing.T) {
	ctx := redriveCtx(t)
	b := startBroker(t, redrivePartitions)
	dir := t.TempDir()
	folder := writeRedriveFixture(t, dir, redriveTotal)
	c := startRedriveConsumer(ctx, t, b, dir, false, redriveTotal)

	res, err := dlq.Replay(ctx, folder, "kafka://"+b.Addr+"/{source.topic}",
		dlq.ReplayOptions{Canary: redriveCanary, AbortAbove: 0.05, CanaryWait: 2 * time.Second})
	require.NoError(t, err)
	t.Logf("sent %d, came back %d", res.Sent, res.CameBack)
	assert.Equal(t, uint64(redriveTotal), res.Sent)
	assert.Zero(t, res.CameBack)

	select {
	case <-c.reached:
	case <-ctx.Done():
		t.Fatalf("the consumer was handed %d of %d records: %v", len(c.received()), redriveTotal, ctx.Err())
	}
	c.close(t)
	want := map[string]int{}
	for i := range redriveTotal {
		want[redriveID(i)] = 1
	}
	assert.Equal(t, want, onTopic(b), "every entry on the topic once: none lost, none duplicated")
	assert.Equal(t, want, c.received(), "the consumer handed each once")
	all, back := cameBackInFolder(t, folder)
	assert.Equal(t, redriveTotal, all, "nothing new in the folder")
	assert.Empty(t, back, "none came back")
}
