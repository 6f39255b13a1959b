//go:build !(dlq_redis || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// redisBuilt reports whether the redis backend is compiled in: it needs
// the build tag dlq_redis or dlq_all.
const redisBuilt = false

// redisBackend is the stub of the redis backend in builds without its tag.
// New refuses a config that enables it, so its methods are never reached.
type redisBackend struct{}

func newRedisBackend(*Config) (*redisBackend, error) {
	return nil, errNotBuilt(KindRedis)
}

func (*redisBackend) write(context.Context, *batch) error { return errNotBuilt(KindRedis) }

func (*redisBackend) sync(context.Context) error { return errNotBuilt(KindRedis) }

func (*redisBackend) close(context.Context) error { return nil }

// redisSource is the stub of the Redis source in builds without its tag.
type redisSource struct{}

func newRedisSource(*url.URL) (*redisSource, error) { return nil, sourceNotBuilt(KindRedis) }

func (*redisSource) each(context.Context, *Reader, func(Record) bool) error {
	return sourceNotBuilt(KindRedis)
}

// replayRedis is the stub of the Redis target in builds without its tag:
// Replay to a redis:// target fails with an error that matches
// ErrBackendNotBuilt and names the tag.
type replayRedis struct{}

func newReplayRedis(*url.URL) (*replayRedis, error) { return nil, targetNotBuilt(KindRedis) }

func (*replayRedis) send(context.Context, []replayMsg) (int, error) {
	return 0, targetNotBuilt(KindRedis)
}

func (*replayRedis) close() error { return nil }
