package dlq

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"
)

// Mode says how the drain uses the configured backends.
type Mode string

// The modes. The zero Mode means ModeCascade.
const (
	// ModeCascade writes each entry to the first backend in Order that takes
	// it; an entry a backend failed falls back to the next one.
	ModeCascade Mode = "cascade"
	// ModeFanOut writes every entry to every backend. An entry is written
	// once one backend holds it; a backend that failed it catches up later,
	// within bounds: once catch-ups and retries pass half of
	// Config.QueueCapacity, the oldest catch-ups are given up, even with
	// RetryConfig.MaxAttempts 0, and counted in that backend's
	// BackendStats.Missed.
	ModeFanOut Mode = "fan_out"
	// ModeFileOnly uses the file backend alone.
	ModeFileOnly Mode = "file_only"
	// ModeKafkaOnly uses the Kafka backend alone.
	ModeKafkaOnly Mode = "kafka_only"
)

// Config configures an Orchestrator. Its zero value with only Service set is
// a working file-only DLQ writing ./dlq/<service>/dlq.ndjson. Durations are
// whole milliseconds. Defaults are worked out when New reads the Config and
// are never written back into it; DefaultConfig returns them filled in.
//
// New copies the Config: changing it afterwards has no effect.
type Config struct {
	// Service names the service; it becomes Entry.Service when a Send leaves
	// that empty, and the file backend's folder. Letters, digits, '.', '_'
	// and '-' only. Required.
	Service string `json:"service" yaml:"service"`
	// Disabled makes Send accept and discard every entry (counted in
	// Stats.Dropped with reason "disabled"). Defaults to false.
	Disabled bool `json:"disabled" yaml:"disabled"`
	// Mode is cascade, fan_out, file_only or kafka_only. Defaults to cascade.
	Mode Mode `json:"mode" yaml:"mode"`
	// Order is the cascade order of the enabled backends; kinds not enabled
	// are skipped. Defaults to kafka, redis, http, file.
	Order []Kind `json:"order" yaml:"order"`
	// QueueCapacity is how many entries Send may queue ahead of the drain;
	// the queue is allocated up front (some 230 bytes an entry). At most
	// 1000000. Defaults to 10000.
	QueueCapacity int `json:"queue_capacity" yaml:"queue_capacity"`
	// BatchSize is the most entries written in one batch. At most 100000.
	// Defaults to 256.
	BatchSize int `json:"batch_size" yaml:"batch_size"`
	// FlushIntervalMS is the longest, in milliseconds, a batch waits after
	// its first entry before it is written. At most 86400000 (a day).
	// Defaults to 100.
	FlushIntervalMS int `json:"flush_interval_ms" yaml:"flush_interval_ms"`
	// Retry governs entries that every backend failed.
	Retry RetryConfig `json:"retry" yaml:"retry"`
	// File configures the file backend, on unless File.Disabled.
	File FileConfig `json:"file" yaml:"file"`
	// Kafka configures the Kafka backend, on when Kafka.Brokers is set.
	Kafka KafkaConfig `json:"kafka" yaml:"kafka"`
	// HTTP configures the HTTP backend, on when HTTP.URL is set.
	HTTP HTTPConfig `json:"http" yaml:"http"`
	// Redis configures the Redis backend, on when Redis.URL is set.
	Redis RedisConfig `json:"redis" yaml:"redis"`
	// Storm configures the storm brake, off unless Storm.MaxRatio or
	// Storm.MaxConsecutive is set.
	Storm StormConfig `json:"storm" yaml:"storm"`

	// Clock returns the current time: entry timestamps and time-based file
	// rotation read it. Defaults to time.Now.
	Clock func() time.Time `json:"-" yaml:"-"`
	// OnLoss is called from the drain goroutine for every entry given up as
	// lost, with the reason (ReasonAllFailed, ReasonOversize or
	// ReasonShutdown) and an error wrapping the backends' last failures.
	// It must not block for long: Close's deadline does not stop it, and
	// Close hands it each entry still queued at its deadline.
	// Defaults to nil.
	OnLoss func(e Entry, reason LossReason, err error) `json:"-" yaml:"-"`
	// OnError is called from the drain goroutine for every backend failure,
	// including those a fallback or retry then mended. It must not block for
	// long. Defaults to nil.
	OnError func(err error) `json:"-" yaml:"-"`
	// OnBatch is called from the drain goroutine after every batch write to
	// a backend, with its size, duration and outcome: the hook behind
	// write-latency histograms (dlqprom, dlqotel). The drain waits for it,
	// so it must be fast and must not block; hand the event to another
	// goroutine for anything slow. Defaults to nil.
	OnBatch func(BatchEvent) `json:"-" yaml:"-"`
	// OnStorm is called when the storm brake trips and when it clears, from
	// the brake's own goroutine. It must not block for long: while it runs
	// the brake neither trips on the ratio nor clears, and Close waits for
	// it. Defaults to nil.
	OnStorm func(StormEvent) `json:"-" yaml:"-"`
	// Logger receives warnings about backend failures and losses. Defaults
	// to slog.Default().
	Logger *slog.Logger `json:"-" yaml:"-"`
}

// RetryConfig governs entries that every backend failed: the drain retries
// them with jittered exponential backoff while new entries wait in the queue.
type RetryConfig struct {
	// MaxAttempts is how many write attempts an entry gets before it is lost
	// with reason "all_failed" (or, in fan-out, before a backend that lacks
	// an entry another holds gives it up as missed); 0 keeps retrying until
	// Close. Only attempts made count: a backend passed over in its
	// cool-down spends none. In fan-out a catch-up is also given up, as
	// missed, whatever MaxAttempts, once catch-ups and retries pass half of
	// Config.QueueCapacity (see ModeFanOut). Defaults to 0.
	MaxAttempts int `json:"max_attempts" yaml:"max_attempts"`
	// InitialBackoffMS is the first wait, in milliseconds. At most 86400000
	// (a day). Defaults to 100.
	InitialBackoffMS int `json:"initial_backoff_ms" yaml:"initial_backoff_ms"`
	// MaxBackoffMS caps the wait, in milliseconds. At most 86400000 (a
	// day). Defaults to 10000 (InitialBackoffMS when that is larger).
	MaxBackoffMS int `json:"max_backoff_ms" yaml:"max_backoff_ms"`
}

// FileConfig configures the file backend: NDJSON lines in
// <Dir>/<service>/dlq.ndjson, rotated, gzipped and pruned by the backend. A
// rotated file is named after its rotation in UTC, to the millisecond:
// dlq-2026-11-27T10-00-00.004.ndjson, and .gz appended once compressed.
type FileConfig struct {
	// Disabled turns the file backend off. Defaults to false.
	Disabled bool `json:"disabled" yaml:"disabled"`
	// Dir is the parent folder. Defaults to ./dlq.
	Dir string `json:"dir" yaml:"dir"`
	// Rotation is hourly, daily, size or none. Hourly and daily also rotate
	// by size. Defaults to hourly.
	Rotation Rotation `json:"rotation" yaml:"rotation"`
	// MaxSizeMB is the size, in megabytes, at which the file rotates. At
	// most 1048576 (a tebibyte). Defaults to 100.
	MaxSizeMB int `json:"max_size_mb" yaml:"max_size_mb"`
	// MaxAgeDays removes rotated files last written more than this many
	// days ago: by the time since this process rotated them, or for a file
	// found in the folder, by its modification time; never by the time in
	// its name, so that a step of Clock or of the system clock makes no
	// fresh file old. At most 36500. Defaults to 30.
	MaxAgeDays int `json:"max_age_days" yaml:"max_age_days"`
	// MaxBackups keeps at most this many rotated files, the most recently
	// written; 0 keeps all within MaxAgeDays. A file rotated since the last
	// Flush (or Close) is kept either way until one confirms its entries.
	// Every pruned entry is counted in Stats.Pruned and logged. Defaults
	// to 0.
	MaxBackups int `json:"max_backups" yaml:"max_backups"`
	// Compress gzips rotated files. Defaults to false.
	Compress bool `json:"compress" yaml:"compress"`
	// SyncIntervalMS is the longest, in milliseconds, a written line waits
	// for an fsync when nobody calls Flush: it bounds what a power loss can
	// take. At most 86400000 (a day). Defaults to 1000.
	SyncIntervalMS int `json:"sync_interval_ms" yaml:"sync_interval_ms"`
}

// Rotation says when the file backend starts a new file.
type Rotation string

// The rotations. The zero Rotation means RotateHourly.
const (
	RotateHourly Rotation = "hourly"
	RotateDaily  Rotation = "daily"
	RotateSize   Rotation = "size"
	RotateNone   Rotation = "none"
)

// KafkaConfig configures the Kafka backend (build tag dlq_kafka or dlq_all).
type KafkaConfig struct {
	// Brokers are the bootstrap addresses; setting them turns the backend on.
	Brokers []string `json:"brokers" yaml:"brokers"`
	// Routing is per_table (destination + TopicSuffix) or common. Defaults
	// to per_table.
	Routing string `json:"routing" yaml:"routing"`
	// TopicSuffix is appended to the destination in per_table routing.
	// Defaults to ".dlq".
	TopicSuffix string `json:"topic_suffix" yaml:"topic_suffix"`
	// CommonTopic takes entries without a usable destination, and all of
	// them in common routing. Defaults to "dlq".
	CommonTopic string `json:"common_topic" yaml:"common_topic"`
	// Key is the message key: destination (the entry's Destination) or
	// original (the entry's Key, the original message's key, so that a
	// consumer partitions dead letters as it did the originals). Defaults
	// to destination.
	Key string `json:"key" yaml:"key"`
	// Acks is all, one or none. Defaults to all.
	Acks string `json:"acks" yaml:"acks"`
	// Compression is none, gzip, snappy, lz4 or zstd. Defaults to none.
	Compression string `json:"compression" yaml:"compression"`
	// WriteTimeoutMS bounds one batch write, in milliseconds. At most
	// 86400000 (a day). Defaults to 10000.
	WriteTimeoutMS int `json:"write_timeout_ms" yaml:"write_timeout_ms"`
	// TLS configures TLS to the brokers.
	TLS KafkaTLS `json:"tls" yaml:"tls"`
	// SASL configures authentication.
	SASL KafkaSASL `json:"sasl" yaml:"sasl"`
}

// KafkaTLS configures TLS to Kafka brokers.
type KafkaTLS struct {
	// Enabled turns TLS on. Defaults to false.
	Enabled bool `json:"enabled" yaml:"enabled"`
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string `json:"ca_file" yaml:"ca_file"`
	// CertFile is the client certificate (PEM), with KeyFile.
	CertFile string `json:"cert_file" yaml:"cert_file"`
	// KeyFile is the client key (PEM), with CertFile.
	KeyFile string `json:"key_file" yaml:"key_file"`
	// InsecureSkipVerify turns off certificate checks. Defaults to false.
	InsecureSkipVerify bool `json:"insecure_skip_verify" yaml:"insecure_skip_verify"`
}

// KafkaSASL configures SASL authentication to Kafka brokers.
type KafkaSASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512; empty means none.
	Mechanism string `json:"mechanism" yaml:"mechanism"`
	// Username authenticates.
	Username string `json:"username" yaml:"username"`
	// Password authenticates; it never appears in errors, logs or Stats.
	Password string `json:"password" yaml:"password"`
}

// HTTPConfig configures the HTTP backend (build tag dlq_http or dlq_all).
type HTTPConfig struct {
	// URL receives POSTs of NDJSON batches; setting it turns the backend on.
	// A 307 or 308 redirect is followed only to the same scheme, host and
	// port; any other fails the body's entries.
	URL string `json:"url" yaml:"url"`
	// TimeoutMS bounds one request, in milliseconds. At most 86400000 (a
	// day). Defaults to 30000.
	TimeoutMS int `json:"timeout_ms" yaml:"timeout_ms"`
	// Headers are added to every request (e.g. Authorization). Their values
	// never appear in errors or logs. A name must be a token, and a value
	// may not hold CR, LF, NUL or another control character besides tab.
	Headers map[string]string `json:"headers" yaml:"headers"`
	// Gzip compresses request bodies. Defaults to false.
	Gzip bool `json:"gzip" yaml:"gzip"`
	// MaxBodyBytes splits batches into bodies of at most this many bytes.
	// A body the receiver refuses as too large (413) is split in half, down
	// to single entries. Defaults to 4194304.
	MaxBodyBytes int `json:"max_body_bytes" yaml:"max_body_bytes"`
	// MaxRetries is how often a 429, 503, other 5xx or connection error is
	// retried within the backend. Defaults to 3.
	MaxRetries int `json:"max_retries" yaml:"max_retries"`
	// TLS configures certificate checks.
	TLS HTTPTLS `json:"tls" yaml:"tls"`
}

// HTTPTLS configures certificate checks of the HTTP backend.
type HTTPTLS struct {
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string `json:"ca_file" yaml:"ca_file"`
	// InsecureSkipVerify turns off certificate checks. Defaults to false.
	InsecureSkipVerify bool `json:"insecure_skip_verify" yaml:"insecure_skip_verify"`
}

// RedisConfig configures the Redis Streams backend (build tag dlq_redis or
// dlq_all). Each entry is one XADD with the envelope in field "data" (and
// "reason", "service", "id" for people reading with XRANGE); a batch is one
// pipelined round trip.
//
// Durability: every XADD has its reply when a batch returns, so the entry is
// in the server's memory; whether it survives a server crash depends on the
// server's appendfsync. WaitReplicas makes Flush also wait for that many
// replicas to acknowledge (WAIT).
type RedisConfig struct {
	// URL is redis://, rediss:// (TLS) or unix://, with optional user,
	// password and database; setting it turns the backend on. The password
	// never appears in errors, logs or Stats.
	URL string `json:"url" yaml:"url"`
	// Stream is the stream key; "{destination}" in it is replaced by the
	// entry's destination. Defaults to "dlq".
	Stream string `json:"stream" yaml:"stream"`
	// CommonStream takes entries whose destination is empty or not a legal
	// name ([a-zA-Z0-9._-], at most 249) when Stream holds "{destination}".
	// Defaults to "dlq".
	CommonStream string `json:"common_stream" yaml:"common_stream"`
	// MaxLen trims the stream with MAXLEN ~ N; 0 leaves it untrimmed.
	// Defaults to 0.
	MaxLen int64 `json:"max_len" yaml:"max_len"`
	// DialTimeoutMS bounds connecting, in milliseconds. At most 86400000 (a
	// day). Defaults to 1000.
	DialTimeoutMS int `json:"dial_timeout_ms" yaml:"dial_timeout_ms"`
	// TimeoutMS bounds each read and write on the connection, in
	// milliseconds. At most 86400000 (a day). Defaults to 3000.
	TimeoutMS int `json:"timeout_ms" yaml:"timeout_ms"`
	// WaitReplicas makes Flush issue WAIT for this many replicas. Defaults
	// to 0 (no WAIT).
	WaitReplicas int `json:"wait_replicas" yaml:"wait_replicas"`
	// WaitTimeoutMS bounds that WAIT, in milliseconds. At most 86400000 (a
	// day). Defaults to 1000.
	WaitTimeoutMS int `json:"wait_timeout_ms" yaml:"wait_timeout_ms"`
}

// The defaults. withDefaults is the one place that applies them; the
// "Defaults to" of each field's doc states them (a test holds the two
// together).
const (
	defaultQueueCapacity       = 10000
	defaultBatchSize           = 256
	defaultFlushIntervalMS     = 100
	defaultInitialBackoffMS    = 100
	defaultMaxBackoffMS        = 10000
	defaultFileDir             = "./dlq"
	defaultMaxSizeMB           = 100
	defaultMaxAgeDays          = 30
	defaultSyncIntervalMS      = 1000
	defaultKafkaRouting        = "per_table"
	defaultKafkaKey            = "destination"
	defaultTopicSuffix         = ".dlq"
	defaultCommonTopic         = "dlq"
	defaultKafkaAcks           = "all"
	defaultKafkaCompression    = "none"
	defaultKafkaWriteTimeoutMS = 10000
	defaultHTTPTimeoutMS       = 30000
	defaultHTTPMaxBodyBytes    = 4 << 20
	defaultHTTPMaxRetries      = 3
	defaultRedisStream         = "dlq" // also a Reader's stream when its URL names none
	defaultRedisDialTimeoutMS  = 1000
	defaultRedisTimeoutMS      = 3000
	defaultRedisWaitTimeoutMS  = 1000
	defaultStormMinEvents      = 100
	defaultStormWindowMS       = 60000
	defaultStormCoolDownMS     = 30000
)

// withDefaults returns a copy of cfg with each field left zero that has a
// default set to it: every default in one place, as go-redis's
// Options.init. New runs on what it returns and DefaultConfig reports it.
// The copy shares no Order with cfg, so nothing the caller does to cfg
// afterwards reaches it.
func (cfg Config) withDefaults() Config {
	cfg.Mode = cmp.Or(cfg.Mode, ModeCascade)
	if len(cfg.Order) == 0 {
		cfg.Order = []Kind{KindKafka, KindRedis, KindHTTP, KindFile}
	} else {
		cfg.Order = slices.Clone(cfg.Order)
	}
	cfg.QueueCapacity = cmp.Or(cfg.QueueCapacity, defaultQueueCapacity)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, defaultBatchSize)
	cfg.FlushIntervalMS = cmp.Or(cfg.FlushIntervalMS, defaultFlushIntervalMS)
	cfg.Retry = cfg.Retry.withDefaults()
	cfg.File = cfg.File.withDefaults()
	cfg.Kafka = cfg.Kafka.withDefaults()
	cfg.HTTP = cfg.HTTP.withDefaults()
	cfg.Redis = cfg.Redis.withDefaults()
	cfg.Storm = cfg.Storm.withDefaults()
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// withDefaults returns r with its defaults; the cap is never below the
// first wait.
func (r RetryConfig) withDefaults() RetryConfig {
	r.InitialBackoffMS = cmp.Or(r.InitialBackoffMS, defaultInitialBackoffMS)
	if r.MaxBackoffMS == 0 {
		r.MaxBackoffMS = max(defaultMaxBackoffMS, r.InitialBackoffMS)
	}
	return r
}

// withDefaults returns f with its defaults.
func (f FileConfig) withDefaults() FileConfig {
	f.Dir = cmp.Or(f.Dir, defaultFileDir)
	f.Rotation = cmp.Or(f.Rotation, RotateHourly)
	f.MaxSizeMB = cmp.Or(f.MaxSizeMB, defaultMaxSizeMB)
	f.MaxAgeDays = cmp.Or(f.MaxAgeDays, defaultMaxAgeDays)
	f.SyncIntervalMS = cmp.Or(f.SyncIntervalMS, defaultSyncIntervalMS)
	return f
}

// withDefaults returns k with its defaults.
func (k KafkaConfig) withDefaults() KafkaConfig {
	k.Routing = cmp.Or(k.Routing, defaultKafkaRouting)
	k.TopicSuffix = cmp.Or(k.TopicSuffix, defaultTopicSuffix)
	k.CommonTopic = cmp.Or(k.CommonTopic, defaultCommonTopic)
	k.Key = cmp.Or(k.Key, defaultKafkaKey)
	k.Acks = cmp.Or(k.Acks, defaultKafkaAcks)
	k.Compression = cmp.Or(k.Compression, defaultKafkaCompression)
	k.WriteTimeoutMS = cmp.Or(k.WriteTimeoutMS, defaultKafkaWriteTimeoutMS)
	return k
}

// withDefaults returns h with its defaults.
func (h HTTPConfig) withDefaults() HTTPConfig {
	h.TimeoutMS = cmp.Or(h.TimeoutMS, defaultHTTPTimeoutMS)
	h.MaxBodyBytes = cmp.Or(h.MaxBodyBytes, defaultHTTPMaxBodyBytes)
	h.MaxRetries = cmp.Or(h.MaxRetries, defaultHTTPMaxRetries)
	return h
}

// withDefaults returns r with its defaults.
func (r RedisConfig) withDefaults() RedisConfig {
	r.Stream = cmp.Or(r.Stream, defaultRedisStream)
	r.CommonStream = cmp.Or(r.CommonStream, defaultRedisStream)
	r.DialTimeoutMS = cmp.Or(r.DialTimeoutMS, defaultRedisDialTimeoutMS)
	r.TimeoutMS = cmp.Or(r.TimeoutMS, defaultRedisTimeoutMS)
	r.WaitTimeoutMS = cmp.Or(r.WaitTimeoutMS, defaultRedisWaitTimeoutMS)
	return r
}

// withDefaults returns s with its defaults. They are filled in whether or
// not the brake is on, as every other section's are: the brake is on by
// MaxRatio or MaxConsecutive alone, which have no default.
func (s StormConfig) withDefaults() StormConfig {
	s.MinEvents = cmp.Or(s.MinEvents, defaultStormMinEvents)
	s.WindowMS = cmp.Or(s.WindowMS, defaultStormWindowMS)
	s.Action = cmp.Or(s.Action, StormRefuse)
	s.CoolDownMS = cmp.Or(s.CoolDownMS, defaultStormCoolDownMS)
	return s
}

// ms converts a config value in milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// certPool returns the system's CAs plus those in the PEM file at path.
func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}
