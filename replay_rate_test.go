package dlq

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var limiterSeed = flag.Uint64("limiter.seed", 19, "seed of the stalls and oversleeps of the sender TestLimiterCapsEverySpan drives")

// TestLimiterCapsEverySpan drives the limiter with a clock of its own: a
// sender that waits as told, sometimes oversleeps and sometimes stalls.
// Over every span between two sends, at most rate·(span+rateBurst)+1
// messages go, so a stall is never followed by more than a burst's worth;
// and a sender that never falls behind keeps the full rate.
func TestLimiterCapsEverySpan(t *testing.T) {
	rng := rand.New(rand.NewPCG(*limiterSeed, 2))
	for _, rate := range []float64{0.5, 40, 1000, 123456} {
		l := newLimiter(rate)
		now := time.Unix(1_800_000_000, 0)
		sent := make([]time.Time, 0, 3000)
		for range cap(sent) {
			if rng.IntN(20) == 0 {
				now = now.Add(time.Duration(rng.Int64N(int64(time.Second)))) // a stall
			}
			now = now.Add(l.reserve(now))
			sent = append(sent, now)
			if rng.IntN(3) == 0 {
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Millisecond)))) // an oversleep
			}
		}
		worst := 0.0
		for i := range sent {
			for j := i; j < len(sent); j++ {
				allowed := rate*(sent[j].Sub(sent[i])+rateBurst).Seconds() + 1
				if float64(j-i+1) > allowed+1e-9 {
					require.Failf(t, "too many in a span", "rate %v: %d sends in %v, at most %.1f allowed", rate, j-i+1, sent[j].Sub(sent[i]), allowed)
				}
				worst = max(worst, float64(j-i+1)/allowed)
			}
		}
		t.Logf("rate %v: at worst %.0f%% of what a span allows", rate, 100*worst)

		// Never behind: one message per interval, the first ones a burst.
		l, now = newLimiter(rate), time.Unix(1_800_000_000, 0)
		first := now
		for range 1000 {
			now = now.Add(l.reserve(now))
		}
		want := max(0, time.Duration(float64(999)/rate*float64(time.Second))-rateBurst)
		assert.InDelta(t, want.Seconds(), now.Sub(first).Seconds(), 1e-6+2/rate, "rate %v: the full rate", rate)
	}
	assert.Nil(t, newLimiter(0), "no Rate, no limiter")
	assert.Zero(t, newLimiter(0).current())
	assert.Equal(t, 40.0, newLimiter(40).current())
	assert.Zero(t, newLimiter(0).reserve(time.Now()))
}
