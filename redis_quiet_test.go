//go:build dlq_redis || dlq_all

package dlq

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// quietRedis drops go-redis's own log lines. The fault tests kill Redis
// servers on purpose, and go-redis then logs every failed dial through its
// package logger ("redis: connection pool: failed to dial after 5
// attempts"), burying a failing test's output; the backend reports the same
// failures as errors, which the tests check.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// init rather than TestMain, which the untagged build shares.
func init() { redis.SetLogger(quietRedis{}) }
