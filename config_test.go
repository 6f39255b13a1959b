package dlq

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const configYAML = `
service: loader
disabled: false
mode: fan_out
order: [kafka, redis, http, file]
queue_capacity: 5000
batch_size: 128
flush_interval_ms: 50
retry:
  max_attempts: 7
  initial_backoff_ms: 20
  max_backoff_ms: 2000
file:
  disabled: false
  dir: /var/lib/dlq
  rotation: daily
  max_size_mb: 50
  max_age_days: 14
  max_backups: 9
  compress: true
kafka:
  brokers: [127.0.0.1:9092, 127.0.0.1:9093]
  routing: common
  topic_suffix: .dead
  common_topic: all-dlq
  acks: one
  compression: zstd
  write_timeout_ms: 3000
  tls: {enabled: true, ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, insecure_skip_verify: true}
  sasl: {mechanism: scram-sha-512, username: u, password: p}
http:
  url: https://dlq.example/ingest
  timeout_ms: 1000
  headers: {Authorization: "Bearer t"}
  gzip: true
  max_body_bytes: 1024
  max_retries: 5
  tls: {ca_file: ca.pem, insecure_skip_verify: true}
redis:
  url: redis://127.0.0.1:6379/0
  stream: "dlq:{destination}"
  common_stream: dlq-common
  max_len: 1000
  dial_timeout_ms: 150
  timeout_ms: 250
  wait_replicas: 2
  wait_timeout_ms: 350
`

var wantConfig = Config{
	Service: "loader", Mode: ModeFanOut, Order: []Kind{KindKafka, KindRedis, KindHTTP, KindFile},
	QueueCapacity: 5000, BatchSize: 128, FlushIntervalMS: 50,
	Retry: RetryConfig{MaxAttempts: 7, InitialBackoffMS: 20, MaxBackoffMS: 2000},
	File:  FileConfig{Dir: "/var/lib/dlq", Rotation: RotateDaily, MaxSizeMB: 50, MaxAgeDays: 14, MaxBackups: 9, Compress: true},
	Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}, Routing: "common", TopicSuffix: ".dead",
		CommonTopic: "all-dlq", Acks: "one", Compression: "zstd", WriteTimeoutMS: 3000,
		TLS:  KafkaTLS{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true},
		SASL: KafkaSASL{Mechanism: "scram-sha-512", Username: "u", Password: "p"}},
	HTTP: HTTPConfig{URL: "https://dlq.example/ingest", TimeoutMS: 1000, Headers: map[string]string{"Authorization": "Bearer t"},
		Gzip: true, MaxBodyBytes: 1024, MaxRetries: 5, TLS: HTTPTLS{CAFile: "ca.pem", InsecureSkipVerify: true}},
	Redis: RedisConfig{URL: "redis://127.0.0.1:6379/0", Stream: "dlq:{destination}", CommonStream: "dlq-common", MaxLen: 1000,
		DialTimeoutMS: 150, TimeoutMS: 250, WaitReplicas: 2, WaitTimeoutMS: 350},
}

func TestConfigDecodesFromYAMLAndJSON(t *testing.T) {
	t.Run("yaml", func(t *testing.T) {
		var cfg Config
		dec := yaml.NewDecoder(strings.NewReader(configYAML))
		dec.KnownFields(true) // every key of the contract is a field
		require.NoError(t, dec.Decode(&cfg))
		assert.Equal(t, wantConfig, cfg)
	})
	t.Run("json", func(t *testing.T) {
		var generic map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(configYAML), &generic))
		doc, err := json.Marshal(generic)
		require.NoError(t, err)
		var cfg Config
		jd := json.NewDecoder(bytes.NewReader(doc))
		jd.DisallowUnknownFields()
		require.NoError(t, jd.Decode(&cfg))
		assert.Equal(t, wantConfig, cfg)
	})
	t.Run("round trip", func(t *testing.T) {
		for _, codec := range []struct {
			name      string
			marshal   func(any) ([]byte, error)
			unmarshal func([]byte, any) error
		}{
			{"json", json.Marshal, json.Unmarshal},
			{"yaml", yaml.Marshal, yaml.Unmarshal},
		} {
			data, err := codec.marshal(wantConfig)
			require.NoError(t, err, codec.name)
			var back Config
			require.NoError(t, codec.unmarshal(data, &back), codec.name)
			assert.Equal(t, wantConfig, back, codec.name)
		}
	})
	t.Run("unknown backend in order", func(t *testing.T) {
		var cfg Config
		err := yaml.Unmarshal([]byte("order: [kafka, s3]"), &cfg)
		assert.ErrorContains(t, err, `unknown backend "s3"`)
	})
}
