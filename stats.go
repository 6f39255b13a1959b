package dlq

import (
	"sync/atomic"
	"time"
)

// The reasons an entry is refused at admission (Stats.DroppedBy).
const (
	// ReasonQueueFull: Send found the queue full.
	ReasonQueueFull = "queue_full"
	// ReasonClosed: Send or SendContext came during or after Close.
	ReasonClosed = "closed"
	// ReasonDisabled: Config.Disabled discarded the entry.
	ReasonDisabled = "disabled"
	// ReasonCanceled: SendContext's context ended before there was room.
	ReasonCanceled = "canceled"
)

// LossReason says why an accepted entry was lost. It keys Stats.LostBy and
// is handed to Config.OnLoss, so a program can switch on it.
type LossReason string

// The reasons an accepted entry is lost.
const (
	// ReasonAllFailed: every backend failed the entry for
	// Retry.MaxAttempts attempts.
	ReasonAllFailed LossReason = "all_failed"
	// ReasonOversize: every backend refused the entry as too large.
	ReasonOversize LossReason = "oversize"
	// ReasonShutdown: Close's context ended before the entry was written.
	ReasonShutdown LossReason = "shutdown"
)

// Stats is a snapshot of an Orchestrator's counters. Counters are
// cumulative since New; they are never reset by reading them. Every accepted
// entry is counted once in Written or Lost, or is still Pending, so that
// Accepted == Written + Lost + Pending whenever no Send is in progress.
type Stats struct {
	// Accepted counts entries Send or SendContext took.
	Accepted uint64
	// Written counts entries held by at least one backend.
	Written uint64
	// Dropped counts entries refused at admission, or discarded because the
	// DLQ is disabled; DroppedBy splits it by reason.
	Dropped uint64
	// Retried counts write attempts after an entry's first.
	Retried uint64
	// Lost counts accepted entries given up; LostBy splits it by reason.
	Lost uint64
	// Pruned counts entries the file backend removed with the rotated
	// files it pruned (File.MaxAgeDays, File.MaxBackups), including files
	// found in the folder at start. It is retention, not loss: they stay
	// counted in Written. Each pruned file is also logged, with its count.
	Pruned uint64
	// Pending is how many accepted entries are neither written nor lost yet.
	Pending int
	// Held is how many entries are in memory now: queued, batched, waiting
	// for a retry or for a fan-out catch-up. It never exceeds
	// QueueCapacity + BatchSize.
	Held int
	// QueueDepth is how many entries wait in the queue now.
	QueueDepth int
	// QueueCapacity is the configured queue capacity.
	QueueCapacity int
	// BatchSize is the configured batch size.
	BatchSize int
	// DroppedBy counts refusals by reason (ReasonQueueFull, ReasonClosed,
	// ReasonCanceled, ReasonDisabled, ReasonStorm); reasons never seen are
	// absent.
	DroppedBy map[string]uint64
	// LostBy counts losses by reason (ReasonAllFailed, ReasonOversize,
	// ReasonShutdown); reasons never seen are absent.
	LostBy map[LossReason]uint64
	// ByReason counts accepted entries by their own Entry.Reason, as the
	// drain takes them off the queue: at most 100 distinct reasons, and the
	// entries with any further reason under ReasonOther. Entries that Close
	// counts lost while still queued (without OnLoss) are not taken off the
	// queue, and not counted here.
	ByReason map[string]uint64
	// OldestPendingAge is how long the oldest pending entry has waited since
	// the drain took it off the queue (to within one flush interval); 0 when
	// nothing is pending.
	OldestPendingAge time.Duration
	// Backends holds one entry per backend, in cascade order.
	Backends []BackendStats
	// StormTripped reports that the storm brake is tripped (Storm).
	StormTripped bool
	// StormTrips counts the times the storm brake tripped, each trip once
	// however long it lasted (its OnStorm events); 0 without a brake.
	StormTrips uint64
}

// BackendStats counts one backend's work.
type BackendStats struct {
	// Kind is the backend's kind; Kind.String() is its name.
	Kind Kind
	// Batches counts write calls.
	Batches uint64
	// Entries counts entries the backend holds.
	Entries uint64
	// Errors counts entries the backend failed (each attempt).
	Errors uint64
	// Missed counts entries a fan-out backend gave up catching up on.
	Missed uint64
	// LastError is the backend's most recent error, or "".
	LastError string
	// CoolingDown reports that the backend failed a whole batch and has
	// written nothing since: the drain passes it over for a cool-down that
	// grows while it keeps failing, then tries it again. Metrics report the
	// backend down while this holds.
	CoolingDown bool
}

// admissionCounters are written by senders. Send touches state and accepted
// only, kept on one cache line.
type admissionCounters struct {
	state    atomic.Uint64 // closedBit | number of Sends begun before Close
	accepted atomic.Uint64
	room     atomic.Int64 // units of memory left for entries; see admissionCounters.takeRoom
	_        [40]byte
	// Refusals of Sends begun before Close; Close waits until accepted plus
	// these reach the begun count.
	queueFull     atomic.Uint64
	canceled      atomic.Uint64
	closedWaiting atomic.Uint64
	// Refusals that never entered.
	closed   atomic.Uint64
	disabled atomic.Uint64
	storm    atomic.Uint64
}

const closedBit = 1 << 63

// settled counts Sends begun before Close that have finished.
func (a *admissionCounters) settled() uint64 {
	return a.accepted.Load() + a.queueFull.Load() + a.canceled.Load() + a.closedWaiting.Load()
}

// drainCounters are written by the drain goroutine.
type drainCounters struct {
	written   atomic.Uint64
	retried   atomic.Uint64
	allFailed atomic.Uint64
	oversize  atomic.Uint64
	shutdown  atomic.Uint64
	// abandoned is how many entries Close counted lost while they were
	// still in the queue, which holds them until the Orchestrator is gone.
	abandoned atomic.Int64

	byReason      reasonCounts
	oldestPending atomic.Int64 // UnixNano; 0 when the drain holds nothing unwritten
}

func (d *drainCounters) lost() uint64 {
	return d.allFailed.Load() + d.oversize.Load() + d.shutdown.Load()
}

// backendCounters are one backend's, written by the drain goroutine.
type backendCounters struct {
	batches   atomic.Uint64
	entries   atomic.Uint64
	errors    atomic.Uint64
	missed    atomic.Uint64
	lastError atomic.Pointer[string]
	// coolingDown mirrors the drain's health of the backend.
	coolingDown atomic.Bool
}

func (b *backendCounters) setError(err error) {
	s := err.Error()
	b.lastError.Store(&s)
}

// Stats returns a snapshot of the counters. It is safe to call from any
// goroutine at any time, including after Close.
func (o *Orchestrator) Stats() Stats {
	d, a := &o.drained, &o.admission
	lost := d.lost()
	written := d.written.Load()
	accepted := a.accepted.Load() // read last: it only grows past written+lost
	s := Stats{
		Accepted:      accepted,
		Written:       written,
		Retried:       d.retried.Load(),
		Lost:          lost,
		QueueDepth:    max(len(o.queue)-int(d.abandoned.Load()), 0),
		QueueCapacity: cap(o.queue),
		BatchSize:     o.batchSize,
		DroppedBy:     map[string]uint64{},
		LostBy:        map[LossReason]uint64{},
		Held:          o.heldLimit() - int(max(a.room.Load(), 0)),
		ByReason:      d.byReason.snapshot(),
	}
	if b := o.brake; b != nil {
		s.StormTripped, s.StormTrips = b.tripped.Load(), b.trips.Load()
	}
	if accepted > written+lost {
		s.Pending = int(accepted - written - lost)
	}
	s.OldestPendingAge = o.oldestPendingAge(s.Pending)
	for reason, n := range map[string]uint64{
		ReasonQueueFull: a.queueFull.Load(),
		ReasonClosed:    a.closed.Load() + a.closedWaiting.Load(),
		ReasonCanceled:  a.canceled.Load(),
		ReasonDisabled:  a.disabled.Load(),
		ReasonStorm:     a.storm.Load(),
	} {
		if n > 0 {
			s.DroppedBy[reason] = n
			s.Dropped += n
		}
	}
	for reason, n := range map[LossReason]uint64{
		ReasonAllFailed: d.allFailed.Load(),
		ReasonOversize:  d.oversize.Load(),
		ReasonShutdown:  d.shutdown.Load(),
	} {
		if n > 0 {
			s.LostBy[reason] = n
		}
	}
	for i := range o.backends {
		if o.backends[i].kind == KindFile {
			s.Pruned = o.backends[i].file.log.Pruned()
		}
		c := &o.backendCounters[i]
		bs := BackendStats{
			Kind:    o.backends[i].kind,
			Batches: c.batches.Load(),
			Entries: c.entries.Load(),
			Errors:  c.errors.Load(),
			Missed:  c.missed.Load(),

			CoolingDown: c.coolingDown.Load(),
		}
		if p := c.lastError.Load(); p != nil {
			bs.LastError = *p
		}
		s.Backends = append(s.Backends, bs)
	}
	return s
}

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
	if d.o.brake != nil {
		d.noteLetter(&r.entry)
	}
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

// maxReasons bounds how many distinct Entry.Reason values Stats.ByReason
// counts apart; entries with any further reason are counted under
// ReasonOther. The bound keeps a metrics label's cardinality, and the
// drain's memory, fixed whatever the callers put in Reason.
const maxReasons = 100

// ReasonOther is the Stats.ByReason key counting entries whose Reason came
// after the first 100 distinct ones.
const ReasonOther = "other"

// reasonCount is one reason's counter.
type reasonCount struct {
	name string
	n    atomic.Uint64
}

// reasonCounts counts accepted entries by their own Reason. The drain
// goroutine alone calls add; snapshot may be called from any goroutine.
// A new reason is published by swapping in a longer copy of the list, which
// happens at most maxReasons times.
type reasonCounts struct {
	seen  map[string]*reasonCount // the drain's index of all
	last  *reasonCount            // the reason added last: reasons come in runs
	all   atomic.Pointer[[]*reasonCount]
	other atomic.Uint64
}

// add counts one entry with reason.
func (rc *reasonCounts) add(reason string) {
	if c := rc.last; c != nil && c.name == reason {
		c.n.Add(1)
		return
	}
	c, ok := rc.seen[reason]
	if !ok {
		if len(rc.seen) >= maxReasons {
			rc.other.Add(1)
			return
		}
		if rc.seen == nil {
			rc.seen = make(map[string]*reasonCount)
		}
		c = &reasonCount{name: reason}
		rc.seen[reason] = c
		var all []*reasonCount
		if p := rc.all.Load(); p != nil {
			all = *p
		}
		all = append(all[:len(all):len(all)], c)
		rc.all.Store(&all)
	}
	rc.last = c
	c.n.Add(1)
}

// snapshot returns the counts by reason, ReasonOther included once it is
// not zero.
func (rc *reasonCounts) snapshot() map[string]uint64 {
	out := map[string]uint64{}
	if p := rc.all.Load(); p != nil {
		for _, c := range *p {
			out[c.name] = c.n.Load()
		}
	}
	if n := rc.other.Load(); n > 0 {
		out[ReasonOther] += n
	}
	return out
}

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
