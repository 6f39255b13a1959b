//go:build dlq_redis || dlq_all

package dlq

import "testing"

func TestRedisHangingServerDeadlinesHold(t *testing.T) {
	hanging := startHanging(t)
	requireDeadlinesHold(t, Config{Service: "svc", File: FileConfig{Disabled: true},
		Redis: RedisConfig{URL: "redis://" + hanging.addr(), TimeoutMS: 60_000}}, hanging)
}
