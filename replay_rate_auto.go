package dlq

import (
	"fmt"
	"math"
	"time"
)

// The automatic rate's constants (ReplayOptions.RateAuto).
const (
	// defaultMaxRate is ReplayOptions.MaxRate's default with RateAuto.
	defaultMaxRate = 10_000
	// autoRateFloor is the least rate the automatic rate falls to, in
	// messages per second.
	autoRateFloor = 1
	// autoRateSteps is how many additive steps take the rate from the
	// floor to MaxRate; it begins one step up (MaxRate/100).
	autoRateSteps = 100
	// autoRateEvery is how long the target must take messages without a
	// sign of load before the rate goes up one step.
	autoRateEvery = 250 * time.Millisecond
	// autoRateCooldown is how long after a halving the signs of load do
	// not halve the rate again: the answers of that time still tell of the
	// rate before it.
	autoRateCooldown = time.Second
	// autoRateWarmup is how many sends set the latency baseline before a
	// doubling of latency counts.
	autoRateWarmup = 16
	// autoRateMinRise is the least rise of latency over the baseline that
	// counts as the target slowing down: a doubling of sub-millisecond
	// answers is the noise of the machine, not the load of the target.
	autoRateMinRise = 10 * time.Millisecond
)

// autoRate is the automatic rate (ReplayOptions.RateAuto): additive
// increase, multiplicative decrease (AIMD), as TCP and SQS's
// "system-optimized" message move rate. It begins at MaxRate/100; every
// autoRateEvery in which the target took messages without a sign of load,
// at about the rate in force, it rises by MaxRate/100, up to MaxRate. It
// halves, down to autoRateFloor, on a sign of load: an answer that asks to
// slow down (HTTP 429 or 503, a Kafka throttle), another answer of a
// target in trouble (HTTP 5xx, a failed Kafka produce), or the latency
// of the target's answers (a short moving average) more than twice its
// baseline (a long moving average, which a lasting change of the target
// joins in time) and autoRateMinRise above it. It halves at most once per
// autoRateCooldown. A pause the target asks for (a Kafka broker's throttle
// time) holds the limiter that long.
//
// It is owned by Replay's goroutine; time comes in as arguments, so tests
// drive it with a clock of their own.
type autoRate struct {
	limiter *limiter
	max     float64
	step    float64

	since time.Time // the start of the interval that can earn the next step
	sent  int       // messages confirmed since then
	cut   time.Time // the last halving (zero: none yet)
	cuts  uint64

	base, recent float64 // moving averages of the latency, in seconds
	samples      int
}

// newAutoRate returns the automatic rate below maxRate (0: defaultMaxRate),
// driving a limiter of its own from now.
func newAutoRate(maxRate float64, now time.Time) *autoRate {
	if maxRate == 0 {
		maxRate = defaultMaxRate
	}
	step := maxRate / autoRateSteps
	start := max(step, autoRateFloor)
	return &autoRate{limiter: newLimiter(min(start, maxRate)), max: maxRate, step: step, since: now}
}

// validAutoRate checks ReplayOptions' rate fields for RateAuto.
func validAutoRate(o *ReplayOptions) error {
	switch {
	case o.MaxRate < 0 || math.IsNaN(o.MaxRate) || math.IsInf(o.MaxRate, 0):
		return fmt.Errorf("dlq: replay: max rate %v is not a number of messages per second", o.MaxRate)
	case !o.RateAuto && o.MaxRate != 0:
		return fmt.Errorf("dlq: replay: max rate %v bounds the automatic rate: set RateAuto too", o.MaxRate)
	case o.RateAuto && o.Rate != 0:
		return fmt.Errorf("dlq: replay: rate %v and RateAuto: choose one (MaxRate bounds the automatic rate)", o.Rate)
	case o.RateAuto && o.MaxRate != 0 && o.MaxRate < autoRateFloor:
		return fmt.Errorf("dlq: replay: max rate %v is below the automatic rate's floor of %d a second", o.MaxRate, autoRateFloor)
	}
	return nil
}

// observe adjusts the rate after a send that ended at now, in which the
// target confirmed confirmed messages and said rep of its load.
func (a *autoRate) observe(now time.Time, confirmed int, rep *sendReport) {
	if a == nil {
		return
	}
	loaded := rep.throttled > 0 || rep.failing > 0
	if !loaded && confirmed > 0 {
		loaded = a.slower(rep.latency())
	}
	if loaded {
		a.halve(now)
	}
	if rep.pause > 0 {
		a.limiter.hold(now.Add(rep.pause))
	}
	if loaded {
		return
	}
	a.sent += confirmed
	elapsed := now.Sub(a.since)
	if elapsed < autoRateEvery {
		return
	}
	// A step is earned at about the rate in force: a target slower than
	// the rate holds it where it is, so that the rate says what goes.
	if float64(a.sent) >= a.limiter.rate*elapsed.Seconds()/2 {
		a.limiter.setRate(min(a.limiter.rate+a.step, a.max))
	}
	a.since, a.sent = now, 0
}

// halve halves the rate, unless it did less than autoRateCooldown ago.
func (a *autoRate) halve(now time.Time) {
	a.since, a.sent = now, 0 // the next step starts from here
	if !a.cut.IsZero() && now.Sub(a.cut) < autoRateCooldown {
		return
	}
	a.cut = now
	a.cuts++
	a.limiter.setRate(max(a.limiter.rate/2, autoRateFloor))
}

// slower folds a latency into the moving averages and reports whether the
// recent one doubled over the baseline.
func (a *autoRate) slower(latency time.Duration) bool {
	l := latency.Seconds()
	a.samples++
	if a.samples == 1 {
		a.base, a.recent = l, l
		return false
	}
	a.recent += (l - a.recent) / 8
	a.base += (l - a.base) / 64
	return a.samples > autoRateWarmup && a.recent > 2*a.base &&
		a.recent-a.base > autoRateMinRise.Seconds()
}

// current returns the rate in force, in messages per second.
func (a *autoRate) current() float64 { return a.limiter.current() }
