//go:build dlq_kafka || dlq_all

package main

import (
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaErrorsNameTheTopicAndTheBroker reads from and replays to a topic
// the broker does not have: the error names both, in the operator's
// words, and still matches kafka-go's error. The broker is kfake, in
// process, without the automatic topic creation kafkatest's has.
func TestKafkaErrorsNameTheTopicAndTheBroker(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	broker := struct{ Addr string }{cluster.ListenAddrs()[0]}
	src := writeFixture(t, t.TempDir())
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
	t.Run("replay target", func(t *testing.T) {
		_, err := run(t, "replay", src, "--reason", "timeout", "--to", "kafka://"+broker.Addr+"/payments.missing")
		require.Error(t, err)
		assert.ErrorContains(t, err, "kafka target: topic payments.missing does not exist on "+broker.Addr)
		assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
		assert.NotContains(t, err.Error(), "Unknown Topic Or Partition", "said once, in the operator's words")
	})
}
