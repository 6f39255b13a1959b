package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// record is an accepted entry as the drain holds it.
type record struct {
	entry Entry
	seq   uint64 // order of arrival, from 1
	tries int    // write attempts so far
	held  bool   // some backend holds it: counted in Written
	need  uint64 // fan-out: bit i set while backend i still lacks it
	// oversize stays true while every failure of the last attempt was
	// ErrOversize.
	oversize bool
	lastErr  error
	line     []byte // the envelope, valid during one delivery
	// since is when the drain took it, to within a batch (observe.go).
	since time.Time
}

// drain is the state of the drain goroutine; nothing else touches it.
type drain struct {
	o        *Orchestrator
	ctx      context.Context // for backend writes; Close's ctx at shutdown
	log      *slog.Logger
	ids      *idSource
	received uint64

	pending    []record // the batch being filled
	batchTimer *time.Timer
	timerOn    bool

	retry      []*record // entries failed somewhere, waiting for another try
	unheld     int       // how many of them no backend holds yet
	retryTimer *time.Timer
	retryOn    bool
	backoff    time.Duration

	dirty   []bool   // backend i was written since its last sync
	health  []health // backend i's cool-down after failures
	probing bool     // Flush or Close: try backends in their cool-down too

	// scratch reused across deliveries
	arena   []byte
	ptrs    []*record
	bt      batch
	offsets []int

	watch watch // Stats.ByReason and Stats.OldestPendingAge (observe.go)
}

func (o *Orchestrator) run() {
	defer close(o.done)
	d := &drain{
		o:          o,
		ctx:        context.Background(),
		log:        o.cfg.logger(),
		ids:        newIDSource(),
		pending:    make([]record, 0, o.batchSize),
		batchTimer: time.NewTimer(time.Hour),
		retryTimer: time.NewTimer(time.Hour),
		dirty:      make([]bool, len(o.backends)),
		health:     make([]health, len(o.backends)),
	}
	d.batchTimer.Stop()
	d.retryTimer.Stop()
	defer d.batchTimer.Stop()
	defer d.retryTimer.Stop()
	for {
		var in chan Entry
		if !d.backpressure() {
			in = o.queue
		}
		select {
		case e := <-in:
			d.add(e)
			d.takeQueued(o.batchSize - len(d.pending))
			d.batchReadyOrTimer()
		case <-d.batchTimer.C:
			d.timerOn = false
			d.writePending()
		case <-d.retryTimer.C:
			d.retryOn = false
			d.retryRound()
		case reply := <-o.flushReq:
			reply <- d.flush()
		case ctx := <-o.stop:
			o.closeErr = d.shutdown(ctx)
			return
		}
	}
}

// backpressure reports whether new entries must wait: some entry is held
// by no backend and is being retried.
func (d *drain) backpressure() bool { return d.unheld > 0 }

// add takes one entry off the queue into the pending batch.
func (d *drain) add(e Entry) {
	d.received++
	if e.ID == "" {
		e.ID = d.ids.next(e.Timestamp)
	}
	d.pending = append(d.pending, record{entry: e, seq: d.received})
	d.took(&d.pending[len(d.pending)-1])
}

// takeQueued moves up to n queued entries into the pending batch without
// waiting.
func (d *drain) takeQueued(n int) {
	for ; n > 0; n-- {
		select {
		case e := <-d.o.queue:
			d.add(e)
		default:
			return
		}
	}
}

// batchReadyOrTimer writes a full batch, or starts the flush-interval timer
// for a new one.
func (d *drain) batchReadyOrTimer() {
	if len(d.pending) >= d.o.batchSize {
		d.writePending()
		return
	}
	if !d.timerOn && len(d.pending) > 0 {
		d.batchTimer.Reset(d.o.cfg.flushInterval())
		d.timerOn = true
	}
}

// writePending delivers the pending batch.
func (d *drain) writePending() {
	if d.timerOn {
		d.batchTimer.Stop()
		d.timerOn = false
	}
	if len(d.pending) == 0 {
		return
	}
	d.ptrs = d.ptrs[:0]
	for i := range d.pending {
		d.ptrs = append(d.ptrs, &d.pending[i])
	}
	d.deliver(d.ptrs)
	for _, r := range d.ptrs {
		if !r.done() {
			kept := *r
			d.retry = append(d.retry, &kept)
		}
	}
	clear(d.pending)
	d.pending = d.pending[:0]
	d.settleRetries()
}

// done reports whether r needs nothing more.
func (r *record) done() bool { return r.held && r.need == 0 }

// settleRetries gives up the retry entries that have no attempts left and
// schedules the next retry round.
func (d *drain) settleRetries() {
	maxAttempts := d.o.cfg.Retry.MaxAttempts
	kept := d.retry[:0]
	for _, r := range d.retry {
		switch {
		case r.done():
			continue
		case !r.held && r.oversize:
			d.lose(r, ReasonOversize, &d.o.drained.oversize)
			continue
		case maxAttempts > 0 && r.tries >= maxAttempts:
			if r.held {
				d.miss(r)
			} else {
				d.lose(r, ReasonAllFailed, &d.o.drained.allFailed)
			}
			continue
		}
		kept = append(kept, r)
	}
	clear(d.retry[len(kept):])
	d.retry = kept
	d.capCatchUp()
	d.unheld = 0
	for _, r := range d.retry {
		if !r.held {
			d.unheld++
		}
	}
	if len(d.retry) > 0 && !d.retryOn {
		d.retryTimer.Reset(d.jittered())
		d.retryOn = true
	}
	d.noteOldest()
}

// capCatchUp bounds the fan-out catch-up list to the queue capacity: the
// oldest entries that some backend already holds are given up first.
func (d *drain) capCatchUp() {
	excess := len(d.retry) - cap(d.o.queue)
	if excess <= 0 {
		return
	}
	kept := d.retry[:0]
	for _, r := range d.retry {
		if excess > 0 && r.held {
			d.miss(r)
			excess--
			continue
		}
		kept = append(kept, r)
	}
	clear(d.retry[len(kept):])
	d.retry = kept
}

// miss gives up catching r up on the backends that still lack it.
func (d *drain) miss(r *record) {
	for i := range d.o.backends {
		if r.need&(1<<i) != 0 {
			d.o.backendCounters[i].missed.Add(1)
		}
	}
	d.log.Warn("dlq: fan-out backend gave up on entry", "id", r.entry.ID, "error", r.lastErr)
	r.need = 0
}

// lose counts r as lost and tells the OnLoss hook.
func (d *drain) lose(r *record, reason string, counter interface{ Add(uint64) uint64 }) {
	counter.Add(1)
	err := fmt.Errorf("dlq: entry %s lost (%s) after %d attempts: %w", r.entry.ID, reason, r.tries, r.lastErr)
	d.log.Error("dlq: entry lost", "id", r.entry.ID, "reason", reason, "attempts", r.tries, "error", r.lastErr)
	if d.o.cfg.OnLoss != nil {
		d.o.cfg.OnLoss(r.entry, err)
	}
	r.held, r.need = true, 0 // nothing more to do with it
}

// retryRound tries the retry entries once more: all of them, or when they
// are many (a fan-out mirror's long catch-up list) a bounded round, the
// entries no backend holds first.
func (d *drain) retryRound() {
	if len(d.retry) == 0 {
		return
	}
	round := d.retry
	if limit := maxRoundBatches * d.o.batchSize; len(round) > limit {
		round = make([]*record, 0, limit)
		for _, held := range []bool{false, true} {
			for _, r := range d.retry {
				if r.held == held && len(round) < limit {
					round = append(round, r)
				}
			}
		}
	}
	d.o.drained.retried.Add(uint64(len(round)))
	progress := d.deliver(round)
	if progress {
		d.backoff = 0
	} else {
		d.backoff = min(max(2*d.backoff, d.o.cfg.Retry.initialBackoff()), d.o.cfg.Retry.maxBackoff())
	}
	d.settleRetries()
}

// maxRoundBatches bounds a retry round, in batches.
const maxRoundBatches = 16

const (
	defaultInitialBackoffMS = 100
	defaultMaxBackoffMS     = 10000
)

func (r *RetryConfig) initialBackoffMS() int {
	return orDefault(r.InitialBackoffMS, defaultInitialBackoffMS)
}

func (r *RetryConfig) initialBackoff() time.Duration {
	return ms(r.initialBackoffMS())
}

func (r *RetryConfig) maxBackoff() time.Duration {
	return ms(max(orDefault(r.MaxBackoffMS, defaultMaxBackoffMS), r.initialBackoffMS()))
}

// jittered returns the current backoff with jitter: a uniform draw from its
// upper half, so retries of many DLQs do not fall in step.
func (d *drain) jittered() time.Duration {
	b := max(d.backoff, d.o.cfg.Retry.initialBackoff())
	return b/2 + rand.N(b/2+1)
}

// flush is the barrier behind Orchestrator.Flush.
func (d *drain) flush() error {
	d.probing = true
	defer func() { d.probing = false }()
	// Everything Sent before the Flush call is in the queue now, or already
	// taken off it.
	for n := len(d.o.queue); n > 0; n-- {
		d.add(<-d.o.queue)
		if len(d.pending) >= d.o.batchSize {
			d.writePending()
		}
	}
	d.writePending()
	barrier := d.received
	if len(d.retry) > 0 {
		d.retryRound()
	}
	var unwritten []error
	count := 0
	for _, r := range d.retry {
		if !r.held && r.seq <= barrier {
			count++
			if len(unwritten) < 3 {
				unwritten = append(unwritten, r.lastErr)
			}
		}
	}
	syncErr := d.syncAll(d.ctx)
	if count > 0 {
		return fmt.Errorf("%w: %d entries, retrying: %w", ErrNotWritten, count, errors.Join(append(unwritten, syncErr)...))
	}
	return syncErr
}

// syncAll makes every backend written since its last sync durable.
func (d *drain) syncAll(ctx context.Context) error {
	var errs []error
	for i := range d.o.backends {
		if !d.dirty[i] {
			continue
		}
		b := &d.o.backends[i]
		if err := b.sync(ctx); err != nil {
			err = &BackendError{Kind: b.kind, Err: fmt.Errorf("sync: %w", err)}
			d.backendFailed(i, err, 0)
			errs = append(errs, err)
			continue
		}
		d.dirty[i] = false
	}
	return errors.Join(errs...)
}

// shutdown drains the queue, retries until ctx ends, syncs and closes the
// backends, and accounts for what is left.
func (d *drain) shutdown(ctx context.Context) error {
	d.ctx = ctx
	d.probing = true
	for {
		d.takeQueued(d.o.batchSize - len(d.pending))
		if len(d.pending) == 0 {
			break
		}
		d.writePending()
	}
	for len(d.retry) > 0 && ctx.Err() == nil {
		select {
		case <-d.retryTimer.C:
			d.retryOn = false
			d.retryRound()
		case <-ctx.Done():
		}
	}
	var errs []error
	if err := d.syncAll(ctx); err != nil {
		errs = append(errs, err)
	}
	lost, missed := 0, 0
	for _, r := range d.retry {
		if r.held {
			missed++
			d.miss(r)
			continue
		}
		lost++
		if r.lastErr == nil {
			r.lastErr = ctx.Err()
		}
		d.lose(r, ReasonShutdown, &d.o.drained.shutdown)
	}
	d.retry = nil
	d.noteOldest()
	if lost > 0 {
		errs = append(errs, fmt.Errorf("dlq: close: %d entries lost: %w", lost, ctx.Err()))
	}
	if missed > 0 {
		errs = append(errs, fmt.Errorf("dlq: close: %d entries missing from some fan-out backend: %w", missed, ctx.Err()))
	}
	for i := range d.o.backends {
		if err := d.o.backends[i].close(); err != nil {
			errs = append(errs, &BackendError{Kind: d.o.backends[i].kind, Err: fmt.Errorf("close: %w", err)})
		}
	}
	return errors.Join(errs...)
}

// backendFailed records a backend failure concerning n entries.
func (d *drain) backendFailed(i int, err error, n int) {
	c := &d.o.backendCounters[i]
	c.errors.Add(uint64(n))
	c.setError(err)
	d.log.Warn("dlq: backend failed", "backend", d.o.backends[i].kind.String(), "entries", n, "error", err)
	if d.o.cfg.OnError != nil {
		d.o.cfg.OnError(err)
	}
}
