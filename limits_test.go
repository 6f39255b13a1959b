package dlq

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
