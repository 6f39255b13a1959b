package dlq

import (
	"context"
	"sync/atomic"
)

// DefaultConfig returns a Config for service with every default filled in.
func DefaultConfig(service string) Config {
	var zero Config
	return Config{
		Service:         service,
		Mode:            ModeCascade,
		Order:           append([]Kind(nil), defaultOrder...),
		QueueCapacity:   zero.queueCapacity(),
		BatchSize:       zero.batchSize(),
		FlushIntervalMS: defaultFlushIntervalMS,
		Retry: RetryConfig{
			InitialBackoffMS: defaultInitialBackoffMS,
			MaxBackoffMS:     defaultMaxBackoffMS,
		},
		File: FileConfig{
			Dir:            defaultFileDir,
			Rotation:       RotateHourly,
			MaxSizeMB:      defaultMaxSizeMB,
			MaxAgeDays:     defaultMaxAgeDays,
			SyncIntervalMS: defaultSyncIntervalMS,
		},
		Kafka: KafkaConfig{
			Routing:        defaultKafkaRouting,
			TopicSuffix:    defaultTopicSuffix,
			CommonTopic:    defaultCommonTopic,
			Key:            defaultKafkaKey,
			Acks:           defaultKafkaAcks,
			Compression:    defaultKafkaCompression,
			WriteTimeoutMS: defaultKafkaWriteTimeoutMS,
		},
		HTTP: HTTPConfig{
			TimeoutMS:    defaultHTTPTimeoutMS,
			MaxBodyBytes: defaultHTTPMaxBodyBytes,
			MaxRetries:   defaultHTTPMaxRetries,
		},
		Redis: RedisConfig{
			Stream:        defaultRedisStream,
			CommonStream:  defaultRedisStream,
			DialTimeoutMS: defaultRedisDialTimeoutMS,
			TimeoutMS:     defaultRedisTimeoutMS,
			WaitTimeoutMS: defaultRedisWaitTimeoutMS,
		},
	}
}

// defaultOrchestrator is the process-wide orchestrator behind the package
// functions, like slog's default logger.
var defaultOrchestrator atomic.Pointer[Orchestrator]

// SetDefault makes o the orchestrator behind the package-level Send and
// Flush. Passing nil unsets it. SetDefault does not close the previous one.
func SetDefault(o *Orchestrator) { defaultOrchestrator.Store(o) }

// Default returns the orchestrator set with SetDefault, or nil.
func Default() *Orchestrator { return defaultOrchestrator.Load() }

// Send hands e to the default orchestrator; see Orchestrator.Send. Without
// one it returns ErrNotConfigured.
func Send(e Entry) error {
	o := defaultOrchestrator.Load()
	if o == nil {
		return ErrNotConfigured
	}
	return o.Send(e)
}

// Flush flushes the default orchestrator; see Orchestrator.Flush. Without
// one it returns ErrNotConfigured.
func Flush(ctx context.Context) error {
	o := defaultOrchestrator.Load()
	if o == nil {
		return ErrNotConfigured
	}
	return o.Flush(ctx)
}
