//go:build dlq_all

package dlq

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
)

// TestFileOnlyAndKafkaOnlyModes: with every backend configured, file_only
// writes to the file alone and kafka_only to Kafka alone, even while
// Kafka is down (the entries wait; nothing goes to the file).
func TestFileOnlyAndKafkaOnlyModes(t *testing.T) {
	broker := kafkatest.StartInProcess(t) // kafka_only stops it
	addr := testenv.RedisAddr(t)
	rc := redisClient(t, addr)
	all := func(t *testing.T, mode Mode, topic, stream string, recv *receiver, dir string) Config {
		return Config{Service: "svc", Mode: mode, Logger: quiet,
			Retry: RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 50},
			File:  FileConfig{Dir: dir},
			Kafka: KafkaConfig{Brokers: []string{broker.Addr}, CommonTopic: topic, Routing: "common", WriteTimeoutMS: 500},
			HTTP:  HTTPConfig{URL: recv.srv.URL},
			Redis: RedisConfig{URL: "redis://" + addr, Stream: stream}}
	}
	t.Run("file_only", func(t *testing.T) {
		recv, dir, stream := newReceiver(t, false, nil), t.TempDir(), uniqueStream(t, rc)
		o, err := New(all(t, ModeFileOnly, "modes-file-only", stream, recv, dir))
		require.NoError(t, err)
		ps := payloads(20, "f")
		sendAll(t, o, ps)
		flushOK(t, o)
		closeOK(t, o)
		requireHolds(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), ps)
		assert.Empty(t, broker.ReadTopic("modes-file-only"))
		assert.Zero(t, recv.calls.Load())
		assert.Empty(t, readStream(t, rc, stream))
		s := o.Stats()
		require.Len(t, s.Backends, 1)
		assert.Equal(t, KindFile, s.Backends[0].Kind)
	})
	t.Run("kafka_only", func(t *testing.T) {
		recv, dir, stream := newReceiver(t, false, nil), t.TempDir(), uniqueStream(t, rc)
		o, err := New(all(t, ModeKafkaOnly, "modes-kafka-only", stream, recv, dir))
		require.NoError(t, err)
		up := payloads(20, "up")
		sendAll(t, o, up)
		flushOK(t, o)

		broker.Stop()
		down := payloads(20, "down")
		sendAll(t, o, down)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err = o.Flush(ctx)
		cancel()
		require.ErrorIs(t, err, ErrNotWritten, "with Kafka down nothing else may take them")
		broker.Restart()
		flushOK(t, o)
		closeOK(t, o)

		requireHolds(t, byKafkaPayload(t, broker.ReadTopic("modes-kafka-only")), append(up, down...))
		assert.Empty(t, readDir(t, filepath.Join(dir, "svc")), "nothing in the file")
		assert.Zero(t, recv.calls.Load())
		assert.Empty(t, readStream(t, rc, stream))
		s := o.Stats()
		require.Len(t, s.Backends, 1)
		assert.Equal(t, KindKafka, s.Backends[0].Kind)
		assert.Equal(t, uint64(40), s.Written)
	})
}
