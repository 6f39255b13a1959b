//go:build !(dlq_kafka || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// kafkaSource is the stub of the Kafka source in builds without its tag.
type kafkaSource struct{}

func newKafkaSource(*url.URL) (*kafkaSource, error) { return nil, sourceNotBuilt(KindKafka) }

func (*kafkaSource) each(context.Context, *Reader, func(Record) bool) error {
	return sourceNotBuilt(KindKafka)
}
