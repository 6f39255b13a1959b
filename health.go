package dlq

import (
	"errors"
	"fmt"
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
// try every backend: they are the caller asking for the best attempt.
func (d *drain) available(i int) bool {
	if d.probing {
		return true
	}
	h := &d.health[i]
	return h.until.IsZero() || !time.Now().Before(h.until)
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
		h.until = time.Now().Add(h.cooldown)
	}
	d.noteCoolDown(i)
}

// passOver records on r that backend i was skipped.
func (d *drain) passOver(i int, r *record) {
	r.oversize = false // a skipped backend might have taken it
	if r.lastErr == nil {
		r.lastErr = &BackendError{Kind: d.o.backends[i].kind, Entries: 1,
			Err: fmt.Errorf("%w (until %s)", errCoolingDown, d.health[i].until.Format(time.RFC3339Nano))}
	}
}
