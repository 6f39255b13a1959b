//go:build dlq_all

package dlq

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
)

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
