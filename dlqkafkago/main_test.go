package dlqkafkago_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind. The rest
// of this file holds the helpers the tests share.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// produce writes n messages to topic, message i made by msg(i), in order,
// to partition 0 of a topic created with partitions partitions (messages
// with a Partition set go to it).
func produce(t testing.TB, b *kafkatest.Broker, topic string, partitions, n int, msg func(i int) kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", b.Addr)
	require.NoError(t, err)
	err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1})
	_ = conn.Close()
	require.NoError(t, err)
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr), Topic: topic, Balancer: byPartition{}, BatchSize: 1000,
		BatchBytes: 16 << 20, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
	defer w.Close()
	const chunk = 5000
	for from := 0; from < n; from += chunk {
		msgs := make([]kafka.Message, 0, chunk)
		for i := from; i < min(n, from+chunk); i++ {
			msgs = append(msgs, msg(i))
		}
		require.NoError(t, w.WriteMessages(ctx, msgs...), "produce messages %d to %d", from, from+len(msgs))
	}
}

// byPartition sends each message to its own Partition field.
type byPartition struct{}

func (byPartition) Balance(msg kafka.Message, partitions ...int) int { return msg.Partition }

// numbered is message i of a plain topic: value "message i", no key.
func numbered(i int) kafka.Message { return kafka.Message{Value: fmt.Appendf(nil, "message %d", i)} }

// newReader returns a consumer group Reader of topic, closed when the test
// ends (if still open).
func newReader(t testing.TB, b *kafkatest.Broker, topic, group string) *kafka.Reader {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{b.Addr}, GroupID: group, Topic: topic,
		MaxWait: time.Second, MaxBytes: 256 << 10, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: 6 * time.Second,
		RebalanceTimeout: 2 * time.Second, JoinGroupBackoff: 100 * time.Millisecond, ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// committed returns the group's committed offset of each partition of
// topic (-1 when none), read from the broker.
func committed(t testing.TB, b *kafkatest.Broker, group, topic string, partitions int) []int64 {
	t.Helper()
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(b.Addr), Timeout: time.Minute, Transport: tr}
	res, err := c.OffsetFetch(t.Context(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	require.NoError(t, err)
	require.NoError(t, res.Error)
	out := make([]int64, partitions)
	for _, p := range res.Topics[topic] {
		require.NoError(t, p.Error)
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// newDLQ returns a file-only Orchestrator writing under dir, closed when
// the test ends (if still open).
func newDLQ(t testing.TB, dir string, cfg dlq.Config) *dlq.Orchestrator {
	t.Helper()
	cfg.Service = "consumer"
	cfg.File.Dir = dir
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	o, err := dlq.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		// Bounded: a test that failed may leave it on a full disk.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = o.Close(ctx)
	})
	return o
}

// readDLQ returns the entries of the service folder under dir, read back
// with dlq.Reader, by source offset; an offset twice is kept once and
// counted in dups.
func readDLQ(t testing.TB, dir string) (byOffset map[int64]dlq.Entry, dups int) {
	t.Helper()
	r, err := dlq.OpenReader(filepath.Join(dir, "consumer"), dlq.ReaderOptions{})
	require.NoError(t, err)
	byOffset = map[int64]dlq.Entry{}
	for rec, err := range r.All(t.Context()) {
		require.NoError(t, err)
		require.True(t, rec.Entry.Source.HasOffset, "entry %s has an offset", rec.Entry.ID)
		if _, ok := byOffset[rec.Entry.Source.Offset]; ok {
			dups++
		}
		byOffset[rec.Entry.Source.Offset] = rec.Entry
	}
	return byOffset, dups
}

// deadline returns a context that ends after d, for a test that waits for
// a situation: the test fails with its message if it has not come.
func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
