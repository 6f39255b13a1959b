//go:build dlq_all

package dlq

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestConfigOrderIsHonoured runs all four backends, all healthy, with
// orders other than the default (kafka, redis, http, file): every entry
// must land in the backend listed first, and nowhere else.
func TestConfigOrderIsHonoured(t *testing.T) {
	broker := kafkatest.Start(t)
	addr := testenv.RedisAddr(t)
	rc := redisClient(t, addr)
	for _, order := range [][]Kind{
		{KindFile, KindHTTP, KindRedis, KindKafka},
		{KindHTTP, KindKafka, KindRedis, KindFile},
		{KindRedis, KindHTTP, KindKafka, KindFile},
		{KindFile, KindKafka, KindRedis, KindHTTP},
	} {
		var names []string
		for _, k := range order {
			names = append(names, k.String())
		}
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			recv := newReceiver(t, false, nil)
			dir := t.TempDir()
			stream := uniqueStream(t, rc)
			topic := "order-" + strings.Join(names, "-")
			o, err := New(Config{Service: "svc", Order: order,
				File:  FileConfig{Dir: dir},
				Kafka: KafkaConfig{Brokers: []string{broker.Addr}, CommonTopic: topic},
				HTTP:  HTTPConfig{URL: recv.srv.URL},
				Redis: RedisConfig{URL: "redis://" + addr, Stream: stream}})
			require.NoError(t, err)
			ps := payloads(20, "o")
			sendAll(t, o, ps)
			flushOK(t, o)
			closeOK(t, o)

			inHTTP, _ := recv.got()
			held := map[Kind]int{
				KindFile:  len(readDir(t, filepath.Join(dir, "svc"))),
				KindKafka: len(broker.ReadTopic(topic)),
				KindHTTP:  len(inHTTP),
				KindRedis: len(readStream(t, rc, stream)),
			}
			want := map[Kind]int{KindFile: 0, KindKafka: 0, KindHTTP: 0, KindRedis: 0}
			want[order[0]] = len(ps)
			assert.Equal(t, want, held, "entries per backend")
			s := o.Stats()
			require.Len(t, s.Backends, 4)
			for i, k := range order {
				assert.Equal(t, k, s.Backends[i].Kind, "Stats.Backends follow the order")
			}
			assert.Equal(t, uint64(len(ps)), s.Backends[0].Entries)
		})
	}
}
