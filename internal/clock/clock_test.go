package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSleepWaitsItsDuration(t *testing.T) {
	start := time.Now()
	assert.True(t, Sleep(context.Background(), 20*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
}

func TestSleepEndsWithItsContext(t *testing.T) {
	t.Run("ended before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.False(t, Sleep(ctx, time.Hour))
	})
	t.Run("ended while asleep", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		assert.False(t, Sleep(ctx, time.Hour))
		assert.Less(t, time.Since(start), 10*time.Second, "returned when ctx ended, not after the hour")
	})
}
