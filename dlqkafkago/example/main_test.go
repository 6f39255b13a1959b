package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is the program's output, read by the test while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDemo runs the demo until the storm brake has tripped, then stops it
// as SIGTERM would: the DLQ took a part of the poison only, the commit
// stands right after the last dead letter, and the DLQ holds each.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DLQ_DIR", dir)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	require.NoError(t, err)
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	deadline, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, produceDemo(deadline, broker, "events"))

	ctx, stop := context.WithCancel(deadline)
	defer stop()
	out := &syncBuffer{}
	type result struct {
		processed, dead int
		err             error
	}
	done := make(chan result, 1)
	go func() {
		s, err := run(ctx, []string{broker}, "events", "loader", out)
		done <- result{int(s.Done), int(s.DeadLetters), err}
	}()
	for !strings.Contains(out.String(), "storm brake tripped") {
		select {
		case <-deadline.Done():
			t.Fatalf("the brake did not trip: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop() // SIGTERM
	res := <-done
	require.NoError(t, res.err)
	t.Log(out.String())

	assert.Equal(t, demoGood, res.processed)
	assert.Less(t, res.dead, demoPoison, "the brake stopped the consumer")
	assert.Contains(t, out.String(), "top reasons [{parse_error ")
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	offsets, err := (&kafka.Client{Addr: kafka.TCP(broker), Transport: tr}).OffsetFetch(deadline,
		&kafka.OffsetFetchRequest{GroupID: "loader", Topics: map[string][]int{"events": {0}}})
	require.NoError(t, err)
	assert.Equal(t, int64(demoGood+res.dead), offsets.Topics["events"][0].CommittedOffset,
		"committed up to the first poison message not dead-lettered")
	r, err := dlq.OpenReader(filepath.Join(dir, "kafka-consumer"), dlq.ReaderOptions{})
	require.NoError(t, err)
	n := 0
	for rec, err := range r.All(deadline) {
		require.NoError(t, err)
		assert.Equal(t, "parse_error", rec.Entry.Reason)
		n++
	}
	assert.Equal(t, res.dead, n)
}
