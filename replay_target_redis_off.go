//go:build !(dlq_redis || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// replayRedis is the stub of the Redis target in builds without its tag:
// Replay to a redis:// target fails with an error that matches
// ErrBackendNotBuilt and names the tag.
type replayRedis struct{}

func newReplayRedis(*url.URL) (*replayRedis, error) { return nil, targetNotBuilt(KindRedis) }

func (*replayRedis) send(context.Context, []replayMsg) (int, error) {
	return 0, targetNotBuilt(KindRedis)
}

func (*replayRedis) close() error { return nil }
