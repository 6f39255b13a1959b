//go:build !(dlq_redis || dlq_all)

package main

import (
	"context"
	"errors"
	"net/url"
)

// redisTarget is the stub of the Redis target in builds without its tag.
type redisTarget struct{}

var errRedisNotBuilt = errors.New("a redis:// target needs build tag dlq_redis or dlq_all (go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest)")

func newRedisTarget(*url.URL) (*redisTarget, error) { return nil, errRedisNotBuilt }

func (*redisTarget) send(context.Context, []replayMsg) (int, error) { return 0, errRedisNotBuilt }

func (*redisTarget) close() error { return nil }
