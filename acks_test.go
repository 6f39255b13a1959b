//go:build dlq_kafka || dlq_all

package dlq

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/dlqkit/dlq/internal/kafkatest"
)

// produceLog is what the broker saw in the Produce requests of one topic:
// the acks asked for and the compression codec of each record batch.
type produceLog struct {
	mu     sync.Mutex
	acks   map[int16]int
	codecs map[int8]int
}

func observeProduce(broker *kafkatest.Broker, topic string) *produceLog {
	l := &produceLog{acks: map[int16]int{}, codecs: map[int8]int{}}
	broker.Observe(kmsg.Produce.Int16(), func(r kmsg.Request) {
		req := r.(*kmsg.ProduceRequest)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, tp := range req.Topics {
			if tp.Topic != topic {
				continue
			}
			l.acks[req.Acks]++
			for _, p := range tp.Partitions {
				// A v2 record batch: attributes at byte 21, codec in the
				// low three bits.
				if len(p.Records) > 22 {
					l.codecs[int8(p.Records[22]&0x07)]++
				}
			}
		}
	})
	return l
}

func (l *produceLog) seen() (map[int16]int, map[int8]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks, l.codecs
}

// TestKafkaAcksAndCompressionReachTheBroker watches the Produce requests:
// the configured acks and compression are what the broker is asked for.
func TestKafkaAcksAndCompressionReachTheBroker(t *testing.T) {
	broker := kafkatest.StartInProcess(t)
	for _, test := range []struct {
		acks        string
		wantAcks    int16
		compression string
		wantCodec   int8
	}{
		{"", -1, "", 0}, // defaults: acks all, no compression
		{"all", -1, "none", 0},
		{"one", 1, "gzip", 1},
		{"all", -1, "snappy", 2},
		{"all", -1, "lz4", 3},
		{"all", -1, "zstd", 4},
		{"none", 0, "none", 0},
	} {
		t.Run("acks "+test.acks+" compression "+test.compression, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			topic := "acks-" + test.acks + "-" + test.compression
			cfg.Kafka.Acks, cfg.Kafka.Compression, cfg.Kafka.CommonTopic = test.acks, test.compression, topic
			log := observeProduce(broker, topic)
			o, err := New(cfg)
			require.NoError(t, err)
			sendAll(t, o, payloads(50, "c"))
			flushOK(t, o)
			closeOK(t, o)
			held := byKafkaPayload(t, broker.ReadTopic(topic))
			if test.wantAcks == 0 {
				// acks none: the broker never answers, so a request the
				// connection loses (closed before the broker read it) is
				// lost without anyone knowing, as the README says. What
				// landed is what was sent.
				require.NotEmpty(t, held, "the broker holds records of %s", topic)
				for p := range held {
					require.Contains(t, payloads(50, "c"), p)
				}
			} else {
				requireHolds(t, held, payloads(50, "c"))
			}
			acks, codecs := log.seen()
			require.NotEmpty(t, acks, "the broker saw Produce requests for %s", topic)
			assert.Equal(t, []int16{test.wantAcks}, keysOf(acks), "acks in every Produce request")
			assert.Equal(t, []int8{test.wantCodec}, keysOf(codecs), "compression codec of every record batch")
			assert.Zero(t, o.Stats().Backends[1].Entries, "Kafka took every entry")
		})
	}
}
