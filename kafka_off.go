//go:build !(dlq_kafka || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// kafkaBuilt reports whether the kafka backend is compiled in: it needs
// the build tag dlq_kafka or dlq_all.
const kafkaBuilt = false

// kafkaBackend is the stub of the kafka backend in builds without its tag.
// New refuses a config that enables it, so its methods are never reached.
type kafkaBackend struct{}

func newKafkaBackend(*Config) (*kafkaBackend, error) {
	return nil, errNotBuilt(KindKafka)
}

func (*kafkaBackend) write(context.Context, *batch) error { return errNotBuilt(KindKafka) }

func (*kafkaBackend) sync(context.Context) error { return errNotBuilt(KindKafka) }

func (*kafkaBackend) close(context.Context) error { return nil }

// kafkaSource is the stub of the Kafka source in builds without its tag.
type kafkaSource struct{}

func newKafkaSource(*url.URL) (*kafkaSource, error) { return nil, sourceNotBuilt(KindKafka) }

func (*kafkaSource) each(context.Context, *Reader, func(Record) bool) error {
	return sourceNotBuilt(KindKafka)
}

// replayKafka is the stub of the Kafka target in builds without its tag:
// Replay to a kafka:// target fails with an error that matches
// ErrBackendNotBuilt and names the tag.
type replayKafka struct{}

func newReplayKafka(*url.URL) (*replayKafka, error) { return nil, targetNotBuilt(KindKafka) }

func (*replayKafka) send(context.Context, []replayMsg, *sendReport) (int, error) {
	return 0, targetNotBuilt(KindKafka)
}

func (*replayKafka) close() error { return nil }
