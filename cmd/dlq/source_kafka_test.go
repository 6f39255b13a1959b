//go:build dlq_kafka || dlq_all

package main

import (
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaErrorsNameTheTopicAndTheBroker reads from a topic the broker
// does not have, and replays from it: the error names both, in the
// operator's words, and still matches kafka-go's error. The broker is
// kfake, in process, without the automatic topic creation kafkatest's
// has. (Replaying to such a topic: the library's
// TestReplayKafkaMissingTopic.)
func TestKafkaErrorsNameTheTopicAndTheBroker(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	broker := struct{ Addr string }{cluster.ListenAddrs()[0]}
	t.Run("source", func(t *testing.T) {
		for _, command := range [][]string{{"inspect"}, {"tail"}, {"show", "x"}} {
			args := append([]string{command[0], "kafka://" + broker.Addr + "/events.missing"}, command[1:]...)
			out, err := run(t, args...)
			require.Error(t, err)
			assert.Equal(t, "topic events.missing does not exist on "+broker.Addr, err.Error(), command[0])
			assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
			assert.Empty(t, out)
		}
	})
	t.Run("replay source", func(t *testing.T) {
		out, err := run(t, "replay", "kafka://"+broker.Addr+"/events.missing", "--to", "http://127.0.0.1:9/x")
		require.Error(t, err)
		assert.Equal(t, "dlq: replay stopped: 0 sent: topic events.missing does not exist on "+broker.Addr, err.Error())
		assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
		assert.Equal(t, "replayed 0 to http://127.0.0.1:9/x; failed 0; unreadable 0\n", out)
	})
}
