//go:build !(dlq_redis || dlq_all)

package dlq

import (
	"context"
	"net/url"
)

// redisSource is the stub of the Redis source in builds without its tag.
type redisSource struct{}

func newRedisSource(*url.URL) (*redisSource, error) { return nil, sourceNotBuilt(KindRedis) }

func (*redisSource) each(context.Context, *Reader, func(Record) bool) error {
	return sourceNotBuilt(KindRedis)
}
