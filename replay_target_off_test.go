//go:build !(dlq_kafka || dlq_all) || !(dlq_redis || dlq_all)

package dlq

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayTargetNotBuilt: a target whose tag the build lacks fails
// before anything is read, naming the tag; a dry run, which connects to
// nothing, still counts.
func TestReplayTargetNotBuilt(t *testing.T) {
	src := writeReplayFixture(t, t.TempDir())
	var targets []string
	if !kafkaBuilt {
		targets = append(targets, "kafka://127.0.0.1:9092/x")
	}
	if !redisBuilt {
		targets = append(targets, "redis://127.0.0.1:6379/0?stream=s")
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			res, err := Replay(t.Context(), src, target, ReplayOptions{})
			require.ErrorIs(t, err, ErrBackendNotBuilt)
			assert.ErrorContains(t, err, "target needs build tag")
			assert.ErrorContains(t, err, "or dlq_all")
			assert.Zero(t, res)
			res, err = Replay(t.Context(), src, target, ReplayOptions{DryRun: true})
			require.NoError(t, err)
			assert.Equal(t, uint64(9), res.Sent)
		})
	}
}
