//go:build !(dlq_kafka || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// replayKafka is the stub of the Kafka target in builds without its tag:
// Replay to a kafka:// target fails with an error that matches
// ErrBackendNotBuilt and names the tag.
type replayKafka struct{}

func newReplayKafka(*url.URL) (*replayKafka, error) { return nil, targetNotBuilt(KindKafka) }

func (*replayKafka) send(context.Context, []replayMsg, *sendReport) (int, error) {
	return 0, targetNotBuilt(KindKafka)
}

func (*replayKafka) close() error { return nil }
