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
	// ReasonCanceled, ReasonDisabled); reasons never seen are absent.
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
	room     atomic.Int64 // units of memory left for entries; see memory_bound.go
	_        [40]byte
	// Refusals of Sends begun before Close; Close waits until accepted plus
	// these reach the begun count.
	queueFull     atomic.Uint64
	canceled      atomic.Uint64
	closedWaiting atomic.Uint64
	// Refusals that never entered.
	closed   atomic.Uint64
	disabled atomic.Uint64
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
	if accepted > written+lost {
		s.Pending = int(accepted - written - lost)
	}
	s.OldestPendingAge = o.oldestPendingAge(s.Pending)
	for reason, n := range map[string]uint64{
		ReasonQueueFull: a.queueFull.Load(),
		ReasonClosed:    a.closed.Load() + a.closedWaiting.Load(),
		ReasonCanceled:  a.canceled.Load(),
		ReasonDisabled:  a.disabled.Load(),
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
