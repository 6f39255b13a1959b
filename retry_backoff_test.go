package dlq

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRetryRoundBackoffDoublesWithJitter checks the drain's own retry
// backoff, the one that paces retry rounds when some backend is not in its
// cool-down (a batch that only partly failed): it starts at
// initial_backoff_ms, doubles after each round that tried a backend and
// made no progress, stops at max_backoff_ms, and each wait is drawn from
// the upper half of it. TestRetryBackoffDoublesWithJitter watches the
// cool-down of a backend that failed whole batches, which paces the rounds
// instead when every backend is cooling down.
func TestRetryRoundBackoffDoublesWithJitter(t *testing.T) {
	d := &drain{o: &Orchestrator{cfg: Config{Retry: RetryConfig{InitialBackoffMS: 100, MaxBackoffMS: 1000}}}}
	ms := time.Millisecond
	var got []time.Duration
	for range 6 {
		d.backOff()
		got = append(got, d.backoff)
	}
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}, got,
		"the backoff after each round without progress")

	draws := map[time.Duration]bool{}
	for range 64 {
		w := d.jittered()
		assert.GreaterOrEqual(t, w, 500*ms, "a wait is at least half the backoff")
		assert.LessOrEqual(t, w, 1000*ms, "a wait is at most the backoff")
		draws[w] = true
	}
	// 64 draws from 500,000,001 values all equal: probability ~0.
	assert.Greater(t, len(draws), 1, "the waits are jittered, not all the same")

	d.backoff = 0 // progress resets it: the next wait is the initial backoff again
	w := d.jittered()
	assert.True(t, w >= 50*ms && w <= 100*ms, "after progress the wait is drawn from the initial backoff, got %s", w)
}
