package dlq

import (
	"context"
	"fmt"
	"strings"
)

// Kind names a backend variant.
type Kind uint8

// The backend kinds. The zero Kind is invalid.
const (
	KindFile Kind = iota + 1
	KindKafka
	KindHTTP
	KindRedis
)

var kindNames = [...]string{
	0:         "invalid",
	KindFile:  "file",
	KindKafka: "kafka",
	KindHTTP:  "http",
	KindRedis: "redis",
}

// String returns the kind's config name: "file", "kafka", "http" or "redis".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText returns the kind's config name.
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("dlq: invalid backend kind %d", uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText parses a config name such as "kafka".
func (k *Kind) UnmarshalText(text []byte) error {
	for i := KindFile; int(i) < len(kindNames); i++ {
		if kindNames[i] == string(text) {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("dlq: %s", unknownKind(string(text)))
}

// backend is one configured destination of entries, the closed sum type of
// the backends: a kind tag and one pointer per variant, of which the tag's
// is set. New builds the backends from Config; users see them by Kind and
// name only. The zero backend is invalid. A backend is used by the drain
// goroutine alone.
type backend struct {
	kind  Kind
	file  *fileBackend
	kafka *kafkaBackend
	http  *httpBackend
	redis *redisBackend
}

// batch is what a backend is asked to write. lines[i] is recs[i]'s envelope
// without a newline; the backend sets errs[i] for each entry it failed and
// leaves it nil for each it wrote.
type batch struct {
	recs  []*record
	lines [][]byte
	errs  []error
	// ahead is 1 + the encode-lane slot where the work ahead for these
	// entries may be (backend.prepareAhead), or 0: the one slot the backend may
	// read during this write.
	ahead int
}

// write sends the batch and fills b.errs. It returns a summary of the
// failures, nil when every entry was written.
func (b *backend) write(ctx context.Context, bt *batch) error {
	switch b.kind {
	case KindFile:
		return b.file.write(ctx, bt)
	case KindKafka:
		return b.kafka.write(ctx, bt)
	case KindHTTP:
		return b.http.write(ctx, bt)
	case KindRedis:
		return b.redis.write(ctx, bt)
	default:
		panic(fmt.Sprintf("dlq: write on backend of unknown kind %d", uint8(b.kind)))
	}
}

// sync makes everything written so far durable.
func (b *backend) sync(ctx context.Context) error {
	switch b.kind {
	case KindFile:
		return b.file.sync(ctx)
	case KindKafka:
		return b.kafka.sync(ctx)
	case KindHTTP:
		return b.http.sync(ctx)
	case KindRedis:
		return b.redis.sync(ctx)
	default:
		panic(fmt.Sprintf("dlq: sync on backend of unknown kind %d", uint8(b.kind)))
	}
}

// close releases the backend. When ctx ends first, a backend that waits
// for requests in flight (Kafka) cuts them, so that close keeps Close's
// deadline.
func (b *backend) close(ctx context.Context) error {
	switch b.kind {
	case KindFile:
		return b.file.close(ctx)
	case KindKafka:
		return b.kafka.close(ctx)
	case KindHTTP:
		return b.http.close(ctx)
	case KindRedis:
		return b.redis.close(ctx)
	default:
		panic(fmt.Sprintf("dlq: close on backend of unknown kind %d", uint8(b.kind)))
	}
}

// newBackend builds the backend of the given kind from cfg.
func newBackend(kind Kind, cfg *Config) (backend, error) {
	switch kind {
	case KindFile:
		f, err := newFileBackend(cfg)
		return backend{kind: kind, file: f}, err
	case KindKafka:
		k, err := newKafkaBackend(cfg)
		return backend{kind: kind, kafka: k}, err
	case KindHTTP:
		h, err := newHTTPBackend(cfg)
		return backend{kind: kind, http: h}, err
	case KindRedis:
		r, err := newRedisBackend(cfg)
		return backend{kind: kind, redis: r}, err
	default:
		panic(fmt.Sprintf("dlq: building backend of unknown kind %d", uint8(kind)))
	}
}

// buildTags names the tag each gated kind needs.
var buildTags = [...]string{KindKafka: "dlq_kafka", KindHTTP: "dlq_http", KindRedis: "dlq_redis"}

// built reports whether kind's backend is compiled into this build.
func built(kind Kind) bool {
	switch kind {
	case KindFile:
		return true
	case KindKafka:
		return kafkaBuilt
	case KindHTTP:
		return httpBuilt
	case KindRedis:
		return redisBuilt
	default:
		panic(fmt.Sprintf("dlq: built asked of unknown kind %d", uint8(kind)))
	}
}

// errNotBuilt says which tag would build kind's backend.
func errNotBuilt(kind Kind) error {
	return fmt.Errorf("%w: %s", ErrBackendNotBuilt, needsTag(kind))
}

// notBuiltProblem is errNotBuilt's message without the package prefix, for a
// FieldError inside a ConfigError that carries the prefix already.
func notBuiltProblem(kind Kind) string {
	return strings.TrimPrefix(ErrBackendNotBuilt.Error(), "dlq: ") + ": " + needsTag(kind)
}

// needsTag names the build tags that would build kind's backend.
func needsTag(kind Kind) string {
	return fmt.Sprintf("the %s backend needs build tag %s or dlq_all (go build -tags %s)", kind, buildTags[kind], buildTags[kind])
}

// Preparing ahead: a backend whose write has work that needs no I/O (the
// HTTP backend's bodies and their gzip) does it on the encode lane's
// goroutine for the batch taken ahead, while the batch before it is being
// written. The work is only a head start: write uses it when it is handed
// exactly the entries it was prepared for, in the same order, and
// otherwise does the work itself. Which entries a write carries, and the
// fate of each, stay with the drain.

// preparer returns the backend that will write the batch taken ahead first
// and prepares ahead, or nil: in a cascade the first backend not in its
// cool-down, in a fan-out the first backend that prepares and is not in its
// cool-down (every new entry goes to each backend).
func (d *drain) preparer() *backend {
	for i := range d.o.backends {
		if !d.available(i) {
			continue
		}
		b := &d.o.backends[i]
		if b.prepares() {
			return b
		}
		if d.o.cfg.Mode != ModeFanOut {
			return nil // the first backend tried does not prepare
		}
	}
	return nil
}

// prepares reports whether b does work ahead of its writes.
func (b *backend) prepares() bool { return b.kind == KindHTTP }

// prepareAhead does b's work ahead for recs, whose lines are encoded, into
// its slot: 0 or 1, the encode lane's arena the lines are in, so that the
// slot of the batch being written is never the one being prepared. The
// backend keeps what identifies the entries it prepared for; the write
// checks it, since the drain reuses a record's memory for later entries.
// It runs on the encode lane's goroutine.
func (b *backend) prepareAhead(slot int, recs []*record) {
	if b.kind == KindHTTP {
		b.http.prepareAhead(slot, recs)
	}
}
