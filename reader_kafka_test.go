//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// produce writes messages to partition p of topic, each value an
// envelope of payload "p<partition>-<i>" timestamped base+i seconds.
func produce(t *testing.T, addr, topic string, partition, n int, base time.Time) {
	t.Helper()
	conn, err := kafka.DialLeader(t.Context(), "tcp", addr, topic, partition)
	require.NoError(t, err)
	defer conn.Close()
	var msgs []kafka.Message
	for i := range n {
		ts := base.Add(time.Duration(i) * time.Second)
		e := Entry{Timestamp: ts, Service: "svc", Reason: "r", Payload: fmt.Appendf(nil, "p%d-%d", partition, i)}
		msgs = append(msgs, kafka.Message{Value: AppendEnvelope(nil, &e), Time: ts})
	}
	_, err = conn.WriteMessages(msgs...)
	require.NoError(t, err)
}

func TestReaderKafkaTopic(t *testing.T) {
	broker := kafkatest.Start(t)
	conn, err := kafka.Dial("tcp", broker.Addr)
	require.NoError(t, err)
	require.NoError(t, conn.CreateTopics(kafka.TopicConfig{Topic: "events.dlq", NumPartitions: 3, ReplicationFactor: 1}))
	require.NoError(t, conn.Close())
	base := time.UnixMilli(1764200000000)
	for p := range 3 {
		produce(t, broker.Addr, "events.dlq", p, 50, base)
	}
	foreign, err := kafka.DialLeader(t.Context(), "tcp", broker.Addr, "events.dlq", 1)
	require.NoError(t, err)
	_, err = foreign.WriteMessages(kafka.Message{Value: []byte("not an envelope")})
	require.NoError(t, err)
	require.NoError(t, foreign.Close())
	src := "kafka://" + broker.Addr + "/events.dlq"

	t.Run("every partition, stops at the high-water mark of the start", func(t *testing.T) {
		r, err := OpenReader(src, ReaderOptions{})
		require.NoError(t, err)
		var got []string
		for rec, err := range r.All(t.Context()) {
			require.NoError(t, err)
			if len(got) == 0 { // written during the read: not read
				produce(t, broker.Addr, "events.dlq", 2, 1, base.Add(time.Hour))
			}
			got = append(got, string(rec.Entry.Payload))
		}
		require.Len(t, got, 150)
		assert.Equal(t, "p0-0", got[0])
		assert.Equal(t, "p2-49", got[149])
		assert.Equal(t, uint64(1), r.Stats().Unreadable)
	})
	t.Run("since seeks by time", func(t *testing.T) {
		recs, stats := readAll(t, src, ReaderOptions{Filter: Filter{Since: base.Add(48 * time.Second)}})
		assert.Equal(t, []string{"p0-48", "p0-49", "p1-48", "p1-49", "p2-48", "p2-49", "p2-0"}, recPayloads(recs))
		assert.Equal(t, uint64(7), stats.Read, "the messages before since are not fetched")
		assert.Equal(t, uint64(1), stats.Unreadable, "the foreign message is after since")
		recs, _ = readAll(t, src, ReaderOptions{Filter: Filter{Since: base.Add(48 * time.Second), Until: base.Add(49 * time.Second)}})
		assert.Equal(t, []string{"p0-48", "p1-48", "p2-48"}, recPayloads(recs))
	})
	t.Run("resume after a position", func(t *testing.T) {
		recs, _ := readAll(t, src, ReaderOptions{After: "1:48"})
		assert.Equal(t, "p1-49", string(recs[0].Entry.Payload))
		assert.Len(t, recs, 1+51)
		_, err := OpenReader(src, ReaderOptions{After: "x"})
		require.NoError(t, err)
	})
	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r, err := OpenReader(src, ReaderOptions{Follow: true, Filter: Filter{Since: base.Add(2 * time.Hour)}, CaughtUp: func() {
			produce(t, broker.Addr, "events.dlq", 1, 1, base.Add(3*time.Hour))
		}})
		require.NoError(t, err)
		for rec, err := range r.All(ctx) {
			if err != nil {
				assert.ErrorIs(t, err, context.Canceled)
				break
			}
			assert.Equal(t, "p1-0", string(rec.Entry.Payload))
			cancel()
		}
	})
	t.Run("an unknown topic is an error", func(t *testing.T) {
		r, err := OpenReader("kafka://"+broker.Addr+"/nope", ReaderOptions{})
		require.NoError(t, err)
		for _, err := range r.All(t.Context()) {
			assert.Error(t, err)
		}
	})
}
