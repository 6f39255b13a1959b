package dlqkafkago_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failEvery fails the messages whose offset is a multiple of n.
func failEvery(n int64) func(kafka.Message) error {
	return func(m kafka.Message) error {
		if m.Offset%n == 0 {
			return fmt.Errorf("offset %d: not valid JSON", m.Offset)
		}
		return nil
	}
}

// consume runs the loop a user writes until count messages were fetched:
// handle each, Done or DeadLetter it, Commit every commitEvery messages
// and at the end.
func consume(ctx context.Context, t testing.TB, c *dlqkafkago.Consumer, count, commitEvery int, handle func(kafka.Message) error) {
	t.Helper()
	for i := 1; i <= count; i++ {
		msg, err := c.Fetch(ctx)
		require.NoError(t, err, "fetch %d of %d", i, count)
		if err := handle(msg); err != nil {
			require.NoError(t, c.DeadLetter(ctx, msg, err))
		} else {
			c.Done(msg)
		}
		if i%commitEvery == 0 {
			require.NoError(t, c.Commit(ctx))
		}
	}
	require.NoError(t, c.Commit(ctx))
}

func TestConsumerCommitsAfterTheDeadLettersAreDurable(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	produce(t, b, "events", 1, 1000, numbered)
	dir := t.TempDir()
	o := newDLQ(t, dir, dlq.Config{})
	r := newReader(t, b, "events", "g")
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.NoError(t, err)

	ctx := deadline(t, 2*time.Minute)
	consume(ctx, t, c, 1000, 100, failEvery(10))

	assert.Equal(t, []int64{1000}, committed(t, b, "g", "events", 1))
	dead, dups := readDLQ(t, dir)
	assert.Len(t, dead, 100)
	assert.Zero(t, dups)
	for off := int64(0); off < 1000; off += 10 {
		assert.Contains(t, dead, off)
	}
	s := c.Stats()
	assert.Equal(t, dlqkafkago.Stats{Fetched: 1000, Done: 900, DeadLetters: 100, Commits: s.Commits}, s)
	require.NoError(t, r.Close())
	require.NoError(t, o.Close(ctx))
}

func TestNewNeedsAGroupReader(t *testing.T) {
	o := newDLQ(t, t.TempDir(), dlq.Config{})
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "events"})
	defer r.Close()
	_, err := dlqkafkago.New(r, o, dlqkafkago.Options{})
	require.ErrorIs(t, err, dlqkafkago.ErrReaderConfig)
	require.ErrorContains(t, err, "GroupID")
	_, err = dlqkafkago.New(nil, o, dlqkafkago.Options{})
	require.ErrorIs(t, err, dlqkafkago.ErrReaderConfig)
}
