package dlq

import (
	"time"
)

// pendingAge is the drain's side of Stats.OldestPendingAge: when the
// pending batch began and the oldest waiting time it last published.
type pendingAge struct {
	batchSince time.Time // when the pending batch took its first entry
	published  int64     // the oldest pending time last published, UnixNano
}

// took counts the entry just added to the pending batch by its Reason and
// stamps it with the time the batch began: an entry's wait is measured from
// when the drain took it, to within one flush interval, with one clock read
// per batch rather than per entry.
func (d *drain) took(r *record) {
	if len(d.pending) == 1 {
		d.age.batchSince = time.Now()
	}
	r.since = d.age.batchSince
	d.o.drained.byReason.add(r.entry.Reason)
	if d.age.published == 0 {
		d.publishOldest(r.since)
	}
}

// noteOldest publishes the time of the oldest entry no backend holds yet,
// after deliveries changed which entries those are. Retries are in arrival
// order and older than the pending batch.
func (d *drain) noteOldest() {
	for _, r := range d.retry {
		if !r.held {
			d.publishOldest(r.since)
			return
		}
	}
	if len(d.pending) > 0 {
		d.publishOldest(d.pending[0].since)
		return
	}
	d.publishOldest(time.Time{})
}

func (d *drain) publishOldest(t time.Time) {
	n := int64(0)
	if !t.IsZero() {
		n = t.UnixNano()
	}
	d.age.published = n
	d.o.drained.oldestPending.Store(n)
}

// oldestPendingAge is Stats.OldestPendingAge for a snapshot that counted
// pending entries.
func (o *Orchestrator) oldestPendingAge(pending int) time.Duration {
	since := o.drained.oldestPending.Load()
	if pending == 0 || since == 0 {
		return 0
	}
	return max(0, time.Duration(time.Now().UnixNano()-since))
}

// noteCoolDown publishes whether backend i is in its cool-down.
func (d *drain) noteCoolDown(i int) {
	d.o.backendCounters[i].coolingDown.Store(!d.health[i].until.IsZero())
}

// Service returns Config.Service, the name metrics label this DLQ with.
func (o *Orchestrator) Service() string { return o.service }
