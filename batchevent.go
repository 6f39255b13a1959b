package dlq

import (
	"time"
)

// BatchEvent describes one batch write to one backend: what Config.OnBatch
// receives after each write, successful or not. A backend passed over in its
// cool-down is not written and produces no event.
type BatchEvent struct {
	// Kind is the backend written to.
	Kind Kind
	// Entries is how many entries the batch held.
	Entries int
	// Failed is how many of them the backend failed; 0 when all were written.
	Failed int
	// Duration is how long the backend's write call took.
	Duration time.Duration
	// Err is the backend's error when Failed > 0, otherwise nil.
	Err error
}

// batchStart returns the time a batch write begins, or the zero time when
// nobody listens for batch events.
func (d *drain) batchStart() time.Time {
	if d.o.cfg.OnBatch == nil {
		return time.Time{}
	}
	return time.Now()
}

// batchDone tells Config.OnBatch about a write to backend i that began at
// start.
func (d *drain) batchDone(i int, start time.Time, entries, failed int, err error) {
	if d.o.cfg.OnBatch == nil {
		return
	}
	if failed == 0 {
		err = nil
	}
	d.o.cfg.OnBatch(BatchEvent{
		Kind:     d.o.backends[i].kind,
		Entries:  entries,
		Failed:   failed,
		Duration: time.Since(start),
		Err:      err,
	})
}
