//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createReplayTopics(t *testing.T, addr string, topics ...string) {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	for _, topic := range topics {
		require.NoError(t, conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}))
	}
}

func TestReplayToKafka(t *testing.T) {
	broker := kafkatest.Start(t)
	src := writeReplayFixture(t, t.TempDir())
	createReplayTopics(t, broker.Addr, "payments", "acme.auth")

	t.Run("to the source topic: payload, key and headers byte for byte", func(t *testing.T) {
		res, err := Replay(t.Context(), src, "kafka://"+broker.Addr, ReplayOptions{Filter: Filter{IDs: []string{"id-binary"}}})
		require.NoError(t, err)
		assert.Equal(t, uint64(1), res.Sent)
		msgs := broker.ReadTopic("payments")
		require.Len(t, msgs, 1)
		m := msgs[0]
		assert.Equal(t, allBytes, m.Value)
		assert.Equal(t, []byte{0, 0xff, '\n'}, m.Key)
		var headers []Header
		for _, h := range m.Headers {
			headers = append(headers, Header{Key: h.Key, Value: h.Value})
		}
		assert.Equal(t, []Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xfe, 0}},
			{Key: HeaderReplayOf, Value: []byte("id-binary")}, {Key: HeaderReplayCount, Value: []byte("1")}}, headers)
	})
	t.Run("to the destination", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: dir}})
		require.NoError(t, err)
		for _, id := range []string{"a", "b", "c"} {
			require.NoError(t, o.Send(Entry{Reason: "r", Payload: []byte(id), Destination: "acme.auth", ID: id}))
		}
		closeOK(t, o)
		res, err := Replay(t.Context(), dir, "kafka://"+broker.Addr+"/{destination}", ReplayOptions{})
		require.NoError(t, err)
		assert.Equal(t, uint64(3), res.Sent)
		assert.Len(t, broker.ReadTopic("acme.auth"), 3)
	})
	t.Run("an entry without the topic's part stops the replay", func(t *testing.T) {
		res, err := Replay(t.Context(), src, "kafka://"+broker.Addr, ReplayOptions{Filter: Filter{Reasons: []string{"timeout"}}})
		require.ErrorIs(t, err, ErrTargetFailed)
		assert.EqualError(t, err, "dlq: replay stopped: 0 sent, 2 failed: kafka target: entry id-timeout-0 has no source.topic")
		assert.Equal(t, uint64(2), res.Failed)
	})
	t.Run("into the topic it reads: only what the topic held at the start", func(t *testing.T) {
		createReplayTopics(t, broker.Addr, "loop.dlq")
		produce(t, broker.Addr, "loop.dlq", 0, 50, time.UnixMilli(1764200000000))
		loop := "kafka://" + broker.Addr + "/loop.dlq"
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		res, err := Replay(ctx, loop, loop, ReplayOptions{})
		require.NoError(t, err, "a replay that fed itself would not end")
		assert.Equal(t, ReplayResult{Read: 50, Sent: 50}, res)
		assert.Len(t, broker.ReadTopic("loop.dlq"), 100)
	})
}

// TestReplayKafkaMissingTopic: a topic the broker does not have is named,
// with the broker, in the operator's words; the error still matches
// kafka-go's. The broker is kfake without the automatic topic creation
// kafkatest's has.
func TestReplayKafkaMissingTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]
	src := writeReplayFixture(t, t.TempDir())
	_, err = Replay(t.Context(), src, "kafka://"+addr+"/payments.missing", ReplayOptions{Filter: Filter{Reasons: []string{"timeout"}}})
	require.ErrorIs(t, err, ErrTargetFailed)
	assert.ErrorContains(t, err, "kafka target: topic payments.missing does not exist on "+addr)
	assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
	assert.NotContains(t, err.Error(), "Unknown Topic Or Partition", "said once, in the operator's words")
}

// TestReplayKafkaThrottle: the broker answers the first produce throttled
// (300 ms) and failed with a retriable error; kafka-go retries it. The
// send tells the automatic rate of both, and of the throttle time to wait
// out, from the writer's stats; the automatic rate halves and waits that
// long. Every message is in the topic once.
func TestReplayKafkaThrottle(t *testing.T) {
	broker := kafkatest.StartInProcess(t)
	createReplayTopics(t, broker.Addr, "payments")
	src := writeReplayFixture(t, t.TempDir())
	c := broker.Cluster()
	first := true
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !first {
			return nil, nil, false
		}
		first = false
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := &kmsg.ProduceResponse{Version: pr.Version, ThrottleMillis: 300}
		for _, rt := range pr.Topics {
			out := kmsg.ProduceResponseTopic{Topic: rt.Topic}
			for _, p := range rt.Partitions {
				out.Partitions = append(out.Partitions, kmsg.ProduceResponseTopicPartition{Partition: p.Partition, ErrorCode: int16(kafka.NotEnoughReplicas)})
			}
			resp.Topics = append(resp.Topics, out)
		}
		return resp, nil, true
	})
	var reps []sendReport
	var rates []float64
	res, err := Replay(t.Context(), src, "kafka://"+broker.Addr+"/payments", ReplayOptions{RateAuto: true, MaxRate: 100_000,
		onBatch:    func(_ []replayMsg, rep *sendReport, _ error) { reps = append(reps, *rep) },
		OnProgress: func(p ReplayProgress) { rates = append(rates, p.Rate) }})
	require.NoError(t, err)
	assert.Equal(t, uint64(9), res.Sent)
	assert.Len(t, broker.ReadTopic("payments"), 9)
	require.NotEmpty(t, reps)
	rep := reps[0]
	assert.Equal(t, 1, rep.throttled, "the throttled produce")
	assert.Equal(t, 300*time.Millisecond, rep.pause, "the broker's throttle time")
	assert.Equal(t, 1, rep.failing, "the produce that failed and was retried")
	assert.Equal(t, 3, rep.calls, "a produce to each of the two partitions, one of them twice")
	require.NotEmpty(t, rates)
	assert.Equal(t, 1000.0, rates[0], "the start: MaxRate/100")
	assert.Equal(t, 500.0, rates[len(rates)-1], "the end: halved")
}
