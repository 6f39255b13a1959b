package dlq

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewNamesTheMissingBuildTag(t *testing.T) {
	for _, test := range []struct {
		kind Kind
		cfg  Config
	}{
		{KindKafka, Config{Service: "s", Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:9092"}}}},
		{KindHTTP, Config{Service: "s", HTTP: HTTPConfig{URL: "http://127.0.0.1:1/ingest"}}},
		{KindRedis, Config{Service: "s", Redis: RedisConfig{URL: "redis://127.0.0.1:6379"}}},
	} {
		t.Run(test.kind.String(), func(t *testing.T) {
			test.cfg.File.Dir = t.TempDir()
			if built(test.kind) {
				// This build has it (tag %s): New builds it, and a
				// server down at start is no error.
				o, err := New(test.cfg)
				require.NoError(t, err, "built with %s", buildTags[test.kind])
				closeOK(t, o)
				return
			}
			_, err := New(test.cfg)
			require.ErrorIs(t, err, ErrBackendNotBuilt)
			assert.ErrorContains(t, err, buildTags[test.kind])
			assert.ErrorContains(t, err, "dlq_all")
		})
	}
}

func TestKindNames(t *testing.T) {
	for k, name := range map[Kind]string{KindFile: "file", KindKafka: "kafka", KindHTTP: "http", KindRedis: "redis"} {
		assert.Equal(t, name, k.String())
		var back Kind
		require.NoError(t, back.UnmarshalText([]byte(name)))
		assert.Equal(t, k, back)
	}
	assert.Equal(t, "invalid", Kind(0).String())
	_, err := Kind(0).MarshalText()
	assert.Error(t, err)
}

func TestBackendZeroValuePanicsNamingTheKind(t *testing.T) {
	var b Backend
	assert.PanicsWithValue(t, "dlq: sync on backend of unknown kind 0", func() { _ = b.sync(t.Context()) })
}
