package dlq

import (
	"errors"
	"math/rand/v2"
	"time"
)

// A backend that fails a whole batch is passed over for a cool-down, so
// that a dead broker's write timeout is not paid again on every batch: the
// entries go straight to the next backend (cascade) or to the catch-up list
// (fan-out). The cool-down follows the retry backoff (Retry.InitialBackoffMS
// doubling up to Retry.MaxBackoffMS) while the backend keeps failing, and
// ends at its first success.

// errCoolingDown is the failure recorded for an entry that passed over a
// backend in its cool-down.
var errCoolingDown = errors.New("passed over: cooling down after failing a whole batch")

// health is the drain's view of one backend.
type health struct {
	until    time.Time // passed over until then
	cooldown time.Duration
}

// available reports whether backend i may be tried now. Flush and Close
// respect the cool-down too: trying a backend that hangs on every batch
// would make every batch pay the hang.
func (d *drain) available(i int) bool {
	h := &d.health[i]
	return h.until.IsZero() || !time.Now().Before(h.until)
}

// untilAvailable returns how long until some backend is out of its
// cool-down: 0 when one is now.
func (d *drain) untilAvailable() time.Duration {
	now := time.Now()
	soonest := time.Duration(-1)
	for i := range d.health {
		wait := max(d.health[i].until.Sub(now), 0)
		if soonest < 0 || wait < soonest {
			soonest = wait
		}
	}
	return max(soonest, 0)
}

// noteResult updates backend i's health after a write of which written
// entries succeeded and unavailable failed for reasons other than size.
func (d *drain) noteResult(i, written, unavailable int) {
	h := &d.health[i]
	switch {
	case written > 0:
		*h = health{}
	case unavailable > 0:
		retry := &d.o.cfg.Retry
		h.cooldown = min(max(2*h.cooldown, retry.initialBackoff()), retry.maxBackoff())
		h.until = time.Now().Add(jitter(h.cooldown))
	}
	d.noteCoolDown(i)
}

// jitter returns a uniform draw from the upper half of d, so that the
// retries and cool-downs of many DLQs do not fall in step.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// passOver records on r that backend i was skipped, and why. It is no
// attempt: r.tries stays as it was.
func (d *drain) passOver(i int, r *record, why error) {
	r.oversize = false // a skipped backend might have taken it
	if r.lastErr == nil {
		r.lastErr = &BackendError{Kind: d.o.backends[i].kind, Entries: 1, Err: why}
	}
}
