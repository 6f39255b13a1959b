package dlq

import "time"

// rateBurst is how far behind its schedule a rate-capped replay may fall
// and then catch up at once (a sleep that overslept, a slow answer).
const rateBurst = 50 * time.Millisecond

// limiter spaces messages at most rate per second: each is due one interval
// after the one before, and a sender behind its schedule catches up by at
// most rateBurst. Over any span of time T it lets at most
// rate·(T+rateBurst)+1 messages go, however the sender was scheduled.
type limiter struct {
	rate     float64
	interval time.Duration
	next     time.Time // when the next message is due
}

// newLimiter returns a limiter for rate messages per second, or nil (no
// cap) when rate is 0.
func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, interval: time.Duration(float64(time.Second) / rate)}
}

// reserve books the next message's slot and returns how long to wait,
// from now, before sending it.
func (l *limiter) reserve(now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	if floor := now.Add(-rateBurst); l.next.Before(floor) {
		l.next = floor
	}
	wait := l.next.Sub(now)
	l.next = l.next.Add(l.interval)
	return max(wait, 0)
}

// setRate changes the cap to rate messages per second (rate > 0): the
// message after the one reserved last is due one new interval after it.
func (l *limiter) setRate(rate float64) {
	next := l.next.Add(-l.interval)
	l.rate, l.interval = rate, time.Duration(float64(time.Second)/rate)
	l.next = next.Add(l.interval)
}

// hold lets no message go before until; after it the cap resumes, with no
// more than rateBurst to catch up on, as after any wait.
func (l *limiter) hold(until time.Time) {
	if l.next.Before(until) {
		l.next = until
	}
}

// current returns the cap in force, in messages per second; 0: none.
func (l *limiter) current() float64 {
	if l == nil {
		return 0
	}
	return l.rate
}
