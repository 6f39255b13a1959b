package dlq

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewRefusesLineBreaksInHeadersAndNames: a CR, LF or NUL in an HTTP
// header (name or value), a URL, a broker, a SASL credential or a stream
// name is refused by New and by ParseConfig, naming the field and never
// showing the value (often a secret). A header value holding CR/LF was
// accepted before, and the HTTP backend then failed every request.
func TestNewRefusesLineBreaksInHeadersAndNames(t *testing.T) {
	const secret = "s3cr3t"
	for _, test := range []struct {
		name  string
		set   func(*Config)
		yaml  string // the same as a document, "" when it cannot be written as one
		field string
		want  string
	}{
		{"CR LF in a header value", func(c *Config) {
			c.HTTP.Headers = map[string]string{"Authorization": "Bearer " + secret + "\r\nX-Evil: 1"}
		},
			`http: {url: "http://127.0.0.1:1", headers: {Authorization: "Bearer ` + secret + `\r\nX-Evil: 1"}}`,
			"http.headers.Authorization", "a carriage return (CR) at byte 13"},
		{"a trailing LF in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\n"} },
			`http: {url: "http://127.0.0.1:1", headers: {X-Api-Key: "` + secret + `\n"}}`,
			"http.headers.X-Api-Key", "a line feed (LF) at byte 6"},
		{"NUL in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\x00"} },
			`http: {url: "http://127.0.0.1:1", headers: {X-Api-Key: "` + secret + `\0"}}`,
			"http.headers.X-Api-Key", "a NUL byte"},
		{"DEL in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\x7f"} },
			"", "http.headers.X-Api-Key", "the control byte 0x7f"},
		{"a space in a header name", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api Key": secret} },
			`http: {url: "http://127.0.0.1:1", headers: {"X-Api Key": "` + secret + `"}}`,
			`http.headers["X-Api Key"]`, "is not a legal header name"},
		{"LF in a header name", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api\nEvil": secret} },
			`http: {url: "http://127.0.0.1:1", headers: {"X-Api\nEvil": "` + secret + `"}}`,
			`http.headers["X-Api\nEvil"]`, "is not a legal header name"},
		{"an empty header name", func(c *Config) { c.HTTP.Headers = map[string]string{"": secret} },
			"", `http.headers[""]`, "is not a legal header name"},
		{"CR LF in the http url", func(c *Config) { c.HTTP.URL = "http://127.0.0.1:1/in\r\nX-Evil: 1" },
			`http: {url: "http://127.0.0.1:1/in\r\nX-Evil: 1"}`, "http.url", "control character"},
		{"LF in the redis url", func(c *Config) { c.Redis.URL = "redis://127.0.0.1:6379/0\n" },
			`redis: {url: "redis://127.0.0.1:6379/0\n"}`, "redis.url", "control character"},
		{"LF in a broker", func(c *Config) { c.Kafka.Brokers = []string{"127.0.0.1:9092\n"} },
			`kafka: {brokers: ["127.0.0.1:9092\n"]}`, "kafka.brokers[0]", "a line feed (LF)"},
		{"NUL in the SASL username", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.SASL = []string{"127.0.0.1:9092"}, KafkaSASL{Mechanism: "plain", Username: "dlq\x00admin", Password: secret}
		}, `kafka: {brokers: [127.0.0.1:9092], sasl: {mechanism: plain, username: "dlq\0admin", password: ` + secret + `}}`,
			"kafka.sasl.username", "a NUL byte"},
		{"a trailing LF in the SASL password", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.SASL = []string{"127.0.0.1:9092"}, KafkaSASL{Mechanism: "plain", Username: "dlq", Password: secret + "\n"}
		}, `kafka: {brokers: [127.0.0.1:9092], sasl: {mechanism: plain, username: dlq, password: "` + secret + `\n"}}`,
			"kafka.sasl.password", "a line feed (LF)"},
		{"CR in the topic suffix", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.TopicSuffix = []string{"127.0.0.1:9092"}, ".dlq\r"
		}, `kafka: {brokers: [127.0.0.1:9092], topic_suffix: ".dlq\r"}`, "kafka.topic_suffix", "a carriage return (CR)"},
		{"LF in the redis stream", func(c *Config) { c.Redis.URL, c.Redis.Stream = "redis://127.0.0.1:6379/0", "dlq\n{destination}" },
			`redis: {url: "redis://127.0.0.1:6379/0", stream: "dlq\n{destination}"}`, "redis.stream", "a line feed (LF)"},
	} {
		t.Run(test.name, func(t *testing.T) {
			check := func(t *testing.T, err error) {
				ce := requireConfigError(t, err)
				var problems []string // a field may have two: not built, and this
				for _, f := range ce.Fields {
					if f.Field == test.field {
						problems = append(problems, f.Problem)
					}
				}
				require.NotEmpty(t, problems, "no error names %s: %v", test.field, err)
				assert.Contains(t, strings.Join(problems, "; "), test.want)
				assert.NotContains(t, err.Error(), secret, "the value is never shown")
			}
			t.Run("New", func(t *testing.T) {
				cfg := Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}}
				test.set(&cfg)
				o, err := New(cfg)
				if err == nil {
					closeOK(t, o)
				}
				check(t, err)
			})
			if test.yaml != "" {
				t.Run("ParseConfig", func(t *testing.T) {
					_, err := parseConfig([]byte("service: svc\n"+test.yaml+"\n"), noEnv)
					check(t, err)
					ce := requireConfigError(t, err)
					for _, f := range ce.Fields {
						if f.Field == test.field {
							assert.Equal(t, 2, f.Line, "the line of the section that holds it")
						}
					}
				})
			}
		})
	}
	t.Run("a tab and printable bytes are a legal header value", func(t *testing.T) {
		cfg := Config{Service: "svc", HTTP: HTTPConfig{URL: "http://127.0.0.1:1",
			Headers: map[string]string{"X-Api-Key": "a\tb ~!é", "Authorization": "Bearer x"}}}
		_, err := cfg.validate()
		if err != nil {
			for _, f := range err.(*ConfigError).Fields {
				assert.False(t, strings.HasPrefix(f.Field, "http.headers"), "%v", f)
			}
		}
	})
}

func TestNewNamesEveryInvalidField(t *testing.T) {
	_, err := New(Config{
		Service:         "../etc",
		Mode:            "sideways",
		QueueCapacity:   -1,
		BatchSize:       -2,
		FlushIntervalMS: -3,
		Retry:           RetryConfig{MaxAttempts: -1, InitialBackoffMS: 500, MaxBackoffMS: 10},
		File:            FileConfig{Rotation: "weekly", MaxSizeMB: -1, MaxAgeDays: -1, MaxBackups: -1},
		Kafka: KafkaConfig{Routing: "random", Acks: "some", Compression: "brotli", WriteTimeoutMS: -1,
			CommonTopic: "bad topic", TLS: KafkaTLS{CertFile: "c.pem"}, SASL: KafkaSASL{Mechanism: "kerberos"}},
		HTTP:  HTTPConfig{URL: "ftp://x", TimeoutMS: -1, MaxBodyBytes: -1, MaxRetries: -1},
		Redis: RedisConfig{URL: "http://x", MaxLen: -1},
	})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrInvalidConfig)
	var fields []string
	for _, f := range ce.Fields {
		fields = append(fields, f.Field)
	}
	for _, want := range []string{
		"service", "mode", "queue_capacity", "batch_size", "flush_interval_ms",
		"retry.max_attempts", "retry.max_backoff_ms",
		"file.rotation", "file.max_size_mb", "file.max_age_days", "file.max_backups",
		"kafka.routing", "kafka.acks", "kafka.compression", "kafka.write_timeout_ms", "kafka.common_topic",
		"kafka.tls", "kafka.sasl.mechanism",
		"http.url", "http.timeout_ms", "http.max_body_bytes", "http.max_retries",
		"redis.url", "redis.max_len",
	} {
		assert.Contains(t, fields, want)
	}
	assert.ErrorContains(t, err, `mode: "sideways" is not one of cascade, fan_out, file_only, kafka_only`)
}

func TestNewRejectsConfigsWithoutAUsableBackend(t *testing.T) {
	for _, test := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"everything off", Config{Service: "s", File: FileConfig{Disabled: true}}, "no backend is enabled"},
		{"file_only without file", Config{Service: "s", Mode: ModeFileOnly, File: FileConfig{Disabled: true}}, "mode file_only needs the file backend"},
		{"kafka_only without brokers", Config{Service: "s", Mode: ModeKafkaOnly}, "mode kafka_only needs the kafka backend"},
		{"order twice", Config{Service: "s", Order: []Kind{KindFile, KindFile}}, "order[1]: file is listed twice"},
		{"enabled but not ordered", Config{Service: "s", Order: []Kind{KindKafka}}, "order: file is enabled"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := New(test.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, test.want)
		})
	}
}

// TestNumbersTooLargeAreRejected guards the upper bounds: a queue or batch
// too large to allocate, or milliseconds, megabytes or days that overflow a
// time.Duration or a byte count, are named in the one *ConfigError before
// anything is allocated or started.
func TestNumbersTooLargeAreRejected(t *testing.T) {
	for _, test := range []struct {
		field string // the YAML key, dotted
		limit int
		set   func(*Config, int)
	}{
		{"queue_capacity", maxQueueCapacity, func(c *Config, v int) { c.QueueCapacity = v }},
		{"batch_size", maxBatchSize, func(c *Config, v int) { c.BatchSize = v }},
		{"flush_interval_ms", maxMS, func(c *Config, v int) { c.FlushIntervalMS = v }},
		{"retry.initial_backoff_ms", maxMS, func(c *Config, v int) { c.Retry.InitialBackoffMS = v }},
		{"retry.max_backoff_ms", maxMS, func(c *Config, v int) { c.Retry.MaxBackoffMS = v }},
		{"file.max_size_mb", maxSizeMB, func(c *Config, v int) { c.File.MaxSizeMB = v }},
		{"file.max_age_days", maxAgeDays, func(c *Config, v int) { c.File.MaxAgeDays = v }},
		{"file.sync_interval_ms", maxMS, func(c *Config, v int) { c.File.SyncIntervalMS = v }},
		{"kafka.write_timeout_ms", maxMS, func(c *Config, v int) { c.Kafka.WriteTimeoutMS = v }},
		{"http.timeout_ms", maxMS, func(c *Config, v int) { c.HTTP.TimeoutMS = v }},
		{"redis.dial_timeout_ms", maxMS, func(c *Config, v int) { c.Redis.DialTimeoutMS = v }},
		{"redis.timeout_ms", maxMS, func(c *Config, v int) { c.Redis.TimeoutMS = v }},
		{"redis.wait_timeout_ms", maxMS, func(c *Config, v int) { c.Redis.WaitTimeoutMS = v }},
	} {
		for _, v := range []int{test.limit + 1, math.MaxInt} {
			t.Run(fmt.Sprintf("%s=%d", test.field, v), func(t *testing.T) {
				want := fmt.Sprintf("%s: must be at most %d, got %d", test.field, test.limit, v)

				cfg := Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}}
				test.set(&cfg, v)
				o, err := New(cfg)
				require.Nil(t, o)
				ce := requireConfigError(t, err)
				require.Len(t, ce.Fields, 1, "one problem, one field: %v", err)
				assert.Equal(t, test.field, ce.Fields[0].Field)
				assert.ErrorContains(t, err, want)

				doc := "service: svc\n" + yamlAt(test.field, v)
				_, err = parseConfig([]byte(doc), noEnv)
				ce = requireConfigError(t, err)
				require.Len(t, ce.Fields, 1, "one problem, one field: %v", err)
				assert.Equal(t, test.field, ce.Fields[0].Field)
				assert.ErrorContains(t, err, want)
			})
		}
	}
	t.Run("the limits themselves are accepted", func(t *testing.T) {
		doc := "service: svc\nqueue_capacity: 1000000\nbatch_size: 100000\nflush_interval_ms: 86400000\n" +
			"retry: {initial_backoff_ms: 86400000, max_backoff_ms: 86400000}\n" +
			"file: {max_size_mb: 1048576, max_age_days: 36500, sync_interval_ms: 86400000}\n"
		cfg, err := parseConfig([]byte(doc), noEnv)
		require.NoError(t, err)
		assert.Equal(t, maxQueueCapacity, cfg.QueueCapacity)
		assert.Equal(t, maxBatchSize, cfg.BatchSize)
	})
	t.Run("every problem in one error", func(t *testing.T) {
		_, err := New(Config{Service: "svc", QueueCapacity: math.MaxInt, BatchSize: 1e9, FlushIntervalMS: math.MaxInt})
		ce := requireConfigError(t, err)
		var fields []string
		for _, f := range ce.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, []string{"queue_capacity", "batch_size", "flush_interval_ms"}, fields)
	})
}

// yamlAt writes v under the dotted key as YAML: "retry.max_backoff_ms"
// becomes a retry mapping.
func yamlAt(key string, v int) string {
	for i := range key {
		if key[i] == '.' {
			return fmt.Sprintf("%s:\n  %s: %d\n", key[:i], key[i+1:], v)
		}
	}
	return fmt.Sprintf("%s: %d\n", key, v)
}
