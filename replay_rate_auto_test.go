package dlq

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutoRate drives the AIMD controller with a clock of its own: a send
// every tick, confirmed in full unless the test says otherwise.
func TestAutoRate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	healthy := func(a *autoRate, now time.Time, d time.Duration) time.Time {
		// d of sends at the rate in force, one every 10 ms, answered in 1 ms.
		for end := now.Add(d); now.Before(end); {
			now = now.Add(10 * time.Millisecond)
			a.observe(now, max(int(a.current()/100), 1), &sendReport{took: time.Millisecond})
		}
		return now
	}
	t.Run("begins at MaxRate/100, 10,000 a second by default, never below the floor", func(t *testing.T) {
		assert.Equal(t, 50.0, newAutoRate(5000, t0).current())
		assert.Equal(t, 100.0, newAutoRate(0, t0).current())
		assert.Equal(t, 1.0, newAutoRate(50, t0).current())
		assert.Equal(t, 1.0, newAutoRate(1, t0).current())
	})
	t.Run("rises by MaxRate/100 every quarter second of sends at the rate, up to MaxRate", func(t *testing.T) {
		a := newAutoRate(5000, t0)
		now := healthy(a, t0, time.Second)
		assert.Equal(t, 250.0, a.current(), "four steps of 50 in a second")
		healthy(a, now, time.Minute)
		assert.Equal(t, 5000.0, a.current(), "the ceiling")
		assert.Equal(t, 5000.0, a.limiter.rate)
		assert.Equal(t, time.Second/5000, a.limiter.interval, "the limiter spaces messages at the new rate")
		assert.Zero(t, a.cuts)
	})
	t.Run("a target slower than the rate holds it", func(t *testing.T) {
		a := newAutoRate(5000, t0)
		now := t0
		for range 100 {
			now = now.Add(100 * time.Millisecond)
			a.observe(now, 1, &sendReport{took: time.Millisecond}) // 10 a second, at a rate of 50
		}
		assert.Equal(t, 50.0, a.current())
	})
	for _, test := range []struct {
		name string
		rep  sendReport
	}{
		{"429 or 503", sendReport{took: time.Millisecond, throttled: 1}},
		{"another 5xx, a failed produce", sendReport{took: time.Millisecond, failing: 1}},
	} {
		t.Run("halves on "+test.name+", once a second at most, down to the floor", func(t *testing.T) {
			a := newAutoRate(5000, t0)
			now := healthy(a, t0, 2*time.Second)
			require.Equal(t, 450.0, a.current())
			rep := test.rep
			a.observe(now, 0, &rep)
			assert.Equal(t, 225.0, a.current(), "halved")
			now = now.Add(autoRateCooldown - time.Millisecond)
			a.observe(now, 0, &rep)
			assert.Equal(t, 225.0, a.current(), "within the cooldown: the answers of the rate before")
			now = now.Add(time.Millisecond)
			a.observe(now, 0, &rep)
			assert.Equal(t, 112.5, a.current(), "halved again after the cooldown")
			for range 20 {
				now = now.Add(autoRateCooldown)
				a.observe(now, 0, &rep)
			}
			assert.Equal(t, float64(autoRateFloor), a.current(), "the floor")
			assert.Equal(t, uint64(22), a.cuts)
			now = healthy(a, now, autoRateEvery/2)
			assert.Equal(t, float64(autoRateFloor), a.current(), "no step before a quarter second of health")
			healthy(a, now, autoRateEvery)
			assert.Equal(t, autoRateFloor+50.0, a.current(), "rises again")
		})
	}
	t.Run("waits out the pause the target asks for", func(t *testing.T) {
		a := newAutoRate(5000, t0)
		now := healthy(a, t0, time.Second)
		a.observe(now, 1, &sendReport{took: time.Millisecond, throttled: 1, pause: 2 * time.Second})
		assert.Equal(t, 125.0, a.current())
		assert.Equal(t, 2*time.Second, a.limiter.reserve(now), "nothing goes for the pause")
		later := now.Add(2 * time.Second)
		assert.Equal(t, time.Second/125, a.limiter.reserve(later), "then the halved rate")
	})
	t.Run("halves when the latency doubles over its moving average", func(t *testing.T) {
		a := newAutoRate(5000, t0)
		now := healthy(a, t0, time.Second) // 100 answers in 1 ms: the baseline
		require.Equal(t, 250.0, a.current())
		rep := sendReport{took: 2*time.Millisecond + 40*time.Millisecond, calls: 2, slept: 2 * time.Millisecond} // 20 ms an answer
		halvedAfter := 0
		for i := 1; i <= 10 && a.cuts == 0; i++ {
			now = now.Add(10 * time.Millisecond)
			a.observe(now, 2, &rep)
			halvedAfter = i
		}
		assert.Equal(t, 125.0, a.current(), "halved")
		t.Logf("halved after %d answers 20 times slower", halvedAfter)

		a = newAutoRate(5000, t0)
		now = healthy(a, t0, time.Second)
		for range 200 {
			now = now.Add(10 * time.Millisecond)
			a.observe(now, 2, &sendReport{took: 5 * time.Millisecond}) // 5 times slower, but 4 ms
		}
		assert.Zero(t, a.cuts, "a rise of a few milliseconds is noise")
		assert.GreaterOrEqual(t, a.current(), 250.0)
	})
	t.Run("the baseline moves with a lasting change", func(t *testing.T) {
		a := newAutoRate(5000, t0)
		now := healthy(a, t0, time.Second)
		slow := sendReport{took: 30 * time.Millisecond}
		for range 400 {
			now = now.Add(10 * time.Millisecond)
			a.observe(now, 2, &slow)
		}
		cuts := a.cuts
		require.NotZero(t, cuts)
		for range 400 {
			now = now.Add(10 * time.Millisecond)
			a.observe(now, 2, &slow)
		}
		assert.Equal(t, cuts, a.cuts, "30 ms is the target's latency now")
	})
}

// throttlingServer is an HTTP target that takes at most limit requests a
// second: it answers 429 (Retry-After: retryAfter, when set) to a request
// when more than limit arrived in the second before it, those it refused
// included. It records when each request arrived, and the ids it took.
type throttlingServer struct {
	limit      int
	retryAfter string

	mu       sync.Mutex
	arrived  []time.Time
	refused  int
	accepted map[string]int
}

func (s *throttlingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now()
	s.mu.Lock()
	s.arrived = append(s.arrived, now)
	from := sort.Search(len(s.arrived), func(i int) bool { return s.arrived[i].After(now.Add(-time.Second)) })
	over := len(s.arrived)-from > s.limit
	if over {
		s.refused++
	} else {
		s.accepted[r.Header.Get(HeaderReplayOf)]++
	}
	s.mu.Unlock()
	if over {
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}
}

// rateOver returns the requests a second that arrived in the last part of
// the run (from fraction of its span on), and the most that arrived in any
// second of it.
func (s *throttlingServer) rateOver(fraction float64) (mean float64, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last := s.arrived[0], s.arrived[len(s.arrived)-1]
	from := first.Add(time.Duration(fraction * float64(last.Sub(first))))
	i := sort.Search(len(s.arrived), func(i int) bool { return !s.arrived[i].Before(from) })
	tail := s.arrived[i:]
	for j, lo := range tail {
		hi := sort.Search(len(tail), func(k int) bool { return tail[k].Sub(lo) >= time.Second })
		peak = max(peak, hi-j)
	}
	return float64(len(tail)-1) / last.Sub(from).Seconds(), peak
}

// TestReplayRateAutoSettles: against an HTTP target that refuses (429)
// what goes above 500 requests a second, a replay with RateAuto and a
// MaxRate of 5,000 settles below 600 a second, by the server's own count
// of what arrived in the last part of the run, and loses nothing: every
// id taken exactly once, the refused ones sent again.
func TestReplayRateAutoSettles(t *testing.T) {
	const n, limit = 5000, 500
	src := writeNumbered(t, t.TempDir(), n)
	for _, retryAfter := range []string{"1", ""} {
		t.Run(fmt.Sprintf("Retry-After %q", retryAfter), func(t *testing.T) {
			s := &throttlingServer{limit: limit, retryAfter: retryAfter, accepted: map[string]int{}}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var rates []float64
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := Replay(ctx, src, srv.URL, ReplayOptions{RateAuto: true, MaxRate: 5000,
				ProgressInterval: 250 * time.Millisecond, OnProgress: func(p ReplayProgress) { rates = append(rates, p.Rate) }})
			require.NoError(t, err, "the replay of %d entries ended within its deadline", n)
			took := time.Since(start)
			assert.Equal(t, uint64(n), res.Sent)
			for _, id := range numbers(0, n) {
				if s.accepted[id] != 1 {
					assert.Failf(t, "an id not taken exactly once", "%s taken %d times", id, s.accepted[id])
				}
			}
			assert.Len(t, s.accepted, n)
			mean, peak := s.rateOver(0.5)
			assert.Less(t, mean, 600.0, "the rate settled below 600 a second")
			assert.Positive(t, s.refused, "the replay went above the limit, and came back below it")
			assert.Less(t, s.refused, n/10, "it backed off: refusals are few")
			require.NotEmpty(t, rates)
			assert.Equal(t, 50.0, rates[0], "the start: MaxRate/100")
			assert.Greater(t, slicesMax(rates), 50.0, "the rate the progress reports moves")
			t.Logf("%d entries in %v (%.0f/s overall); %d refused (429); second half: %.0f requests/s arrived, at most %d in a second; rate at the end %.0f/s, highest %.0f/s",
				n, took.Round(time.Millisecond), float64(n)/took.Seconds(), s.refused, mean, peak, rates[len(rates)-1], slicesMax(rates))
			t.Logf("rate every 250 ms: %v", rates)
		})
	}
}

func slicesMax(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
