package dlq

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// configCheck collects every problem of a Config.
type configCheck struct {
	fields []*FieldError
}

func (c *configCheck) add(field, format string, args ...any) {
	c.fields = append(c.fields, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (c *configCheck) nonNegative(field string, v int) {
	if v < 0 {
		c.add(field, "must not be negative, got %d", v)
	}
}

// upTo checks a field that must be 0 (its default) to limit.
func (c *configCheck) upTo(field string, v, limit int) {
	switch {
	case v < 0:
		c.add(field, "must not be negative, got %d", v)
	case v > limit:
		c.add(field, "must be at most %d, got %d", limit, v)
	}
}

// The upper bounds of numeric fields. The queue and a batch are allocated
// up front (an Entry is some 230 bytes), and a number of milliseconds,
// megabytes or days must fit a time.Duration or an int64 of bytes.
const (
	maxQueueCapacity = 1_000_000
	maxBatchSize     = 100_000
	maxMS            = 24 * 60 * 60 * 1000 // a day
	maxSizeMB        = 1 << 20             // a tebibyte
	maxAgeDays       = 36_500              // a century
)

// oneOf checks an enumerated key; empty means its default.
func (c *configCheck) oneOf(field, v string, allowed []string) {
	if v != "" && !slices.Contains(allowed, v) {
		c.add(field, "%s", notOneOf(v, allowed))
	}
}

// validate checks cfg and works out which backends to build, in order. It
// returns a *ConfigError naming every invalid field.
func (cfg *Config) validate() ([]Kind, error) {
	var c configCheck
	checkService(&c, cfg.Service)
	c.oneOf("mode", string(cfg.Mode), modeNames)
	c.upTo("queue_capacity", cfg.QueueCapacity, maxQueueCapacity)
	c.upTo("batch_size", cfg.BatchSize, maxBatchSize)
	c.upTo("flush_interval_ms", cfg.FlushIntervalMS, maxMS)
	c.nonNegative("retry.max_attempts", cfg.Retry.MaxAttempts)
	c.upTo("retry.initial_backoff_ms", cfg.Retry.InitialBackoffMS, maxMS)
	c.upTo("retry.max_backoff_ms", cfg.Retry.MaxBackoffMS, maxMS)
	if initial := cfg.Retry.withDefaults().InitialBackoffMS; cfg.Retry.MaxBackoffMS > 0 && initial <= maxMS && cfg.Retry.MaxBackoffMS < initial {
		c.add("retry.max_backoff_ms", "%d is below retry.initial_backoff_ms %d", cfg.Retry.MaxBackoffMS, initial)
	}
	checkFile(&c, &cfg.File)
	checkKafka(&c, &cfg.Kafka)
	checkHTTP(&c, &cfg.HTTP)
	checkRedis(&c, &cfg.Redis)
	checkStorm(&c, &cfg.Storm)
	kinds := cfg.backendKinds(&c)
	if len(c.fields) > 0 {
		return nil, &ConfigError{Fields: c.fields}
	}
	return kinds, nil
}

// maxServiceLen keeps the service's folder name within common file systems'
// limits.
const maxServiceLen = 255

func checkService(c *configCheck, service string) {
	switch {
	case service == "":
		c.add("service", "must be set")
	case !legalName(service, maxServiceLen):
		c.add("service", "%q is not a safe folder name: use 1 to %d letters, digits, '.', '_' or '-', not \".\" or \"..\"", service, maxServiceLen)
	}
}

func checkFile(c *configCheck, f *FileConfig) {
	c.oneOf("file.rotation", string(f.Rotation), rotationNames)
	c.upTo("file.max_size_mb", f.MaxSizeMB, maxSizeMB)
	c.upTo("file.max_age_days", f.MaxAgeDays, maxAgeDays)
	c.nonNegative("file.max_backups", f.MaxBackups)
	c.upTo("file.sync_interval_ms", f.SyncIntervalMS, maxMS)
}

func checkKafka(c *configCheck, k *KafkaConfig) {
	for i, b := range k.Brokers {
		if strings.TrimSpace(b) == "" {
			c.add(fmt.Sprintf("kafka.brokers[%d]", i), "is empty")
		} else {
			c.noLineBreak(fmt.Sprintf("kafka.brokers[%d]", i), b)
		}
	}
	c.oneOf("kafka.routing", k.Routing, routingNames)
	c.oneOf("kafka.key", k.Key, keyNames)
	c.oneOf("kafka.acks", k.Acks, acksNames)
	c.oneOf("kafka.compression", k.Compression, compressionNames)
	c.upTo("kafka.write_timeout_ms", k.WriteTimeoutMS, maxMS)
	if k.CommonTopic != "" && !legalTopic(k.CommonTopic) {
		c.add("kafka.common_topic", "%q is not a legal topic name ([a-zA-Z0-9._-], at most 249)", k.CommonTopic)
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		c.add("kafka.tls", "cert_file and key_file go together")
	}
	c.noLineBreak("kafka.topic_suffix", k.TopicSuffix)
	c.noLineBreak("kafka.sasl.username", k.SASL.Username)
	c.noLineBreak("kafka.sasl.password", k.SASL.Password)
	c.oneOf("kafka.sasl.mechanism", k.SASL.Mechanism, mechanismNames)
	if k.SASL.Mechanism != "" && k.SASL.Username == "" {
		c.add("kafka.sasl.username", "must be set with a SASL mechanism")
	}
}

func checkHTTP(c *configCheck, h *HTTPConfig) {
	if h.URL != "" {
		u, err := url.Parse(h.URL)
		switch {
		case err != nil:
			c.add("http.url", "does not parse: %v", redactURLError(err))
		case u.Scheme != "http" && u.Scheme != "https":
			c.add("http.url", "scheme %q is not http or https", u.Scheme)
		case u.Host == "":
			c.add("http.url", "has no host")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
		checkHeader(c, name, h.Headers[name])
	}
	c.upTo("http.timeout_ms", h.TimeoutMS, maxMS)
	c.nonNegative("http.max_body_bytes", h.MaxBodyBytes)
	c.nonNegative("http.max_retries", h.MaxRetries)
}

// checkHeader checks one of http.headers. Go's client refuses a request
// whose header name is not a token or whose value holds a control
// character, so such a header would fail every POST, long after New; a CR
// or LF that got through would split the header. The value is never shown:
// it is usually a secret.
func checkHeader(c *configCheck, name, value string) {
	field := "http.headers." + name
	if !httpToken(name) {
		field = fmt.Sprintf("http.headers[%q]", name)
		c.add(field, "is not a legal header name: use letters, digits and !#$%%&'*+-.^_`|~")
		return
	}
	for i := 0; i < len(value); i++ {
		if b := value[i]; b < ' ' && b != '\t' || b == 0x7f {
			c.add(field, "the value holds %s at byte %d: a header value may not hold CR, LF, NUL or another control character", controlName(b), i)
			return
		}
	}
}

// httpToken reports whether s is a legal header name: an RFC 9110 token.
func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// noLineBreak checks that a string field holds no CR, LF or NUL, the bytes
// that split or cut a line, a header or a SASL PLAIN message. The value is
// not shown: it may be a secret.
func (c *configCheck) noLineBreak(field, v string) {
	if i := strings.IndexAny(v, "\r\n\x00"); i >= 0 {
		c.add(field, "holds %s at byte %d: CR, LF and NUL are not allowed", controlName(v[i]), i)
	}
}

// controlName names a control byte for an error.
func controlName(b byte) string {
	switch b {
	case '\r':
		return "a carriage return (CR)"
	case '\n':
		return "a line feed (LF)"
	case 0:
		return "a NUL byte"
	}
	return fmt.Sprintf("the control byte 0x%02x", b)
}

func checkRedis(c *configCheck, r *RedisConfig) {
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil:
			c.add("redis.url", "does not parse: %v", redactURLError(err))
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			c.add("redis.url", "scheme %q is not redis, rediss or unix", u.Scheme)
		}
	}
	c.noLineBreak("redis.stream", r.Stream)
	if r.MaxLen < 0 {
		c.add("redis.max_len", "must not be negative, got %d", r.MaxLen)
	}
	if r.CommonStream != "" && !legalName(r.CommonStream, maxTopicLen) {
		c.add("redis.common_stream", "%q is not a legal name ([a-zA-Z0-9._-], at most 249)", r.CommonStream)
	}
	c.upTo("redis.dial_timeout_ms", r.DialTimeoutMS, maxMS)
	c.upTo("redis.timeout_ms", r.TimeoutMS, maxMS)
	c.nonNegative("redis.wait_replicas", r.WaitReplicas)
	c.upTo("redis.wait_timeout_ms", r.WaitTimeoutMS, maxMS)
}

// minStormWindowMS is the shortest storm window: the brake looks at the
// counts every tenth of it, and more often than every 10 ms is waste.
const minStormWindowMS = 100

func checkStorm(c *configCheck, s *StormConfig) {
	if !(s.MaxRatio >= 0 && s.MaxRatio <= 1) { // NaN too
		c.add("storm.max_ratio", "must be from 0 (off) to 1, got %v", s.MaxRatio)
	}
	c.nonNegative("storm.min_events", s.MinEvents)
	c.upTo("storm.window_ms", s.WindowMS, maxMS)
	if s.WindowMS > 0 && s.WindowMS < minStormWindowMS {
		c.add("storm.window_ms", "must be at least %d, got %d", minStormWindowMS, s.WindowMS)
	}
	c.nonNegative("storm.max_consecutive", s.MaxConsecutive)
	c.oneOf("storm.action", string(s.Action), stormActionNames)
	c.upTo("storm.cool_down_ms", s.CoolDownMS, maxMS)
}

// redactURLError drops the URL itself from a parse error: it may hold a
// password.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// enabled reports whether cfg turns the backend of kind on.
func (cfg *Config) enabled(kind Kind) bool {
	switch kind {
	case KindFile:
		return !cfg.File.Disabled
	case KindKafka:
		return len(cfg.Kafka.Brokers) > 0
	case KindHTTP:
		return cfg.HTTP.URL != ""
	case KindRedis:
		return cfg.Redis.URL != ""
	default:
		panic(fmt.Sprintf("dlq: enabled asked of unknown kind %d", uint8(kind)))
	}
}

var configKeys = [...]string{KindFile: "file.disabled", KindKafka: "kafka.brokers", KindHTTP: "http.url", KindRedis: "redis.url"}

// backendKinds returns the backends to build, in cascade order, and records
// why none or a missing one cannot be built.
func (cfg *Config) backendKinds(c *configCheck) []Kind {
	for i, k := range cfg.Order {
		if k < KindFile || k > KindRedis {
			c.add(fmt.Sprintf("order[%d]", i), "invalid backend kind %d", uint8(k))
		} else if slices.Index(cfg.Order, k) < i {
			c.add(fmt.Sprintf("order[%d]", i), "%s is listed twice", k)
		}
	}
	var kinds []Kind
	switch cfg.Mode {
	case ModeFileOnly:
		kinds = []Kind{KindFile}
	case ModeKafkaOnly:
		kinds = []Kind{KindKafka}
	default:
		for _, k := range cfg.withDefaults().Order {
			if k >= KindFile && k <= KindRedis && cfg.enabled(k) && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		for k := KindFile; k <= KindRedis; k++ {
			if cfg.enabled(k) && !slices.Contains(kinds, k) {
				c.add("order", "%s is enabled (%s) but not listed", k, configKeys[k])
			}
		}
	}
	for _, k := range kinds {
		if !cfg.enabled(k) {
			c.add(configKeys[k], "mode %s needs the %s backend, which is not enabled", cfg.Mode, k)
		} else if !built(k) {
			c.fields = append(c.fields, &FieldError{Field: configKeys[k], Problem: notBuiltProblem(k), Err: ErrBackendNotBuilt})
		}
	}
	if len(kinds) == 0 && cfg.Mode != ModeFileOnly && cfg.Mode != ModeKafkaOnly {
		c.add("file.disabled", "no backend is enabled: enable the file backend or set kafka.brokers, http.url or redis.url")
	}
	return kinds
}

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

// legalTopic reports whether name is a legal Kafka topic name: 1 to 249 of
// [a-zA-Z0-9._-], and neither "." nor "..".
func legalTopic(name string) bool { return legalName(name, maxTopicLen) }

// legalName reports whether name is 1 to maxLen of [a-zA-Z0-9._-], and
// neither "." nor "..": safe as a Kafka topic and as a folder name.
func legalName(name string, maxLen int) bool {
	if name == "" || len(name) > maxLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
