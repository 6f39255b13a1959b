//go:build dlq_kafka || dlq_all

package dlq

import (
	"testing"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKafkaMessageKey(t *testing.T) {
	broker := kafkatest.Start(t)
	for _, test := range []struct {
		name, key              string
		wantWithKey, wantNoKey []byte
	}{
		{name: "default is the destination", key: "", wantWithKey: []byte("orders"), wantNoKey: []byte("orders")},
		{name: "destination", key: "destination", wantWithKey: []byte("orders"), wantNoKey: []byte("orders")},
		{name: "original", key: "original", wantWithKey: []byte{0, 'k', 0xff}, wantNoKey: nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			cfg.Kafka.Key = test.key
			cfg.Kafka.Routing, cfg.Kafka.CommonTopic = "common", "keys-"+test.key
			o, err := New(cfg)
			require.NoError(t, err)
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("with"), Key: []byte{0, 'k', 0xff},
				Headers: []Header{{Key: "h", Value: []byte("v")}}}))
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("without")}))
			closeOK(t, o)
			msgs := byKafkaPayload(t, broker.ReadTopic("keys-"+test.key))
			require.Len(t, msgs, 2)
			assert.Equal(t, test.wantWithKey, msgs["with"].Key)
			assert.Equal(t, test.wantNoKey, msgs["without"].Key)
			e, err := ParseEnvelope(msgs["with"].Value)
			require.NoError(t, err)
			assert.Equal(t, []byte{0, 'k', 0xff}, e.Key, "the envelope keeps the original key either way")
			assert.Equal(t, []Header{{Key: "h", Value: []byte("v")}}, e.Headers)
		})
	}
	t.Run("an unknown value is refused", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.Key = "random"
		_, err := New(cfg)
		assert.ErrorContains(t, err, `kafka.key: "random" is not one of destination, original`)
	})
}
