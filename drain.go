package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/dlqkit/dlq/internal/wire"
)

// record is an accepted entry as the drain holds it.
type record struct {
	entry Entry
	seq   uint64 // order of arrival, from 1
	tries int    // write attempts so far: backends passed over do not count
	round uint64 // the last delivery in which tries counted
	held  bool   // some backend holds it: counted in Written
	need  uint64 // fan-out: bit i set while backend i still lacks it
	// oversize stays true while every failure of the last attempt was
	// ErrOversize.
	oversize bool
	lastErr  error
	line     []byte // the envelope, valid during one delivery
	// resendGroup, when not empty, names the entries a backend last sent
	// together in a write that failed in a way the receiver may have
	// seen: they are sent again together, as that same unit, under that
	// name (the HTTP backend's Idempotency-Key). The backend sets and
	// clears it; the drain keeps a group whole across retry rounds.
	resendGroup string
	// since is when the drain took it, to within a batch.
	since time.Time
}

// drain is the state of the drain goroutine; nothing else touches it.
type drain struct {
	o *Orchestrator
	// ctx is what backend writes run under: the drain's own (o.base), or
	// while a Flush or Close waits, one that ends when that caller gives up.
	ctx      context.Context
	log      *slog.Logger
	warn     *warner
	ids      *wire.IDSource
	received uint64
	taken    int    // entries taken off the queue whose room is not given back
	round    uint64 // deliveries so far
	allNeed  uint64 // fan-out: the need of a new entry, one bit per backend
	lost     int    // entries lost since a Flush last reported losses

	pending    []record // the batch being filled
	batchTimer *time.Timer
	timerOn    bool

	retry      []*record // entries failed somewhere, waiting for another try
	unheld     int       // how many of them no backend holds yet
	retryTimer *time.Timer
	retryOn    bool
	backoff    time.Duration

	dirty  []bool   // backend i was written since its last sync
	health []health // backend i's cool-down after failures

	lane encodeLane // encoding overlapped with writes

	// scratch reused across deliveries
	ptrs []*record
	bt   batch
	slot int // while the pending batch is delivered: 1 + the lane slot its work ahead is in

	newlyHeld uint64 // entries held for the first time in this delivery, for Stats.Written

	age pendingAge // Stats.OldestPendingAge

	letters []recentLetter // storm brake: taken since the last publishLetters
}

func (o *Orchestrator) run() {
	defer close(o.done)
	d := &drain{
		o:          o,
		ctx:        o.base,
		log:        o.cfg.Logger,
		warn:       newWarner(o.cfg.Logger, o.cfg.Clock),
		ids:        wire.NewIDSource(),
		pending:    make([]record, 0, o.batchSize),
		lane:       encodeLane{spare: make([]record, 0, o.batchSize)},
		batchTimer: time.NewTimer(time.Hour),
		retryTimer: time.NewTimer(time.Hour),
		dirty:      make([]bool, len(o.backends)),
		health:     make([]health, len(o.backends)),
	}
	if o.cfg.Mode == ModeFanOut {
		d.allNeed = uint64(1)<<len(o.backends) - 1
	}
	d.batchTimer.Stop()
	d.retryTimer.Stop()
	defer d.batchTimer.Stop()
	defer d.retryTimer.Stop()
	defer func() { o.encoded = d.lane.encoded }()
	for {
		var in chan Entry
		if !d.backpressure() && len(d.pending) < o.batchSize {
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
		case req := <-o.flushReq:
			req.reply <- d.flush(req.ctx)
		case ctx := <-o.stop:
			o.closeErr = d.shutdown(ctx)
			return
		}
		d.release()
	}
}

// release gives back the room of the entries that left memory since the
// last call: written where they are needed, lost, or given up.
func (d *drain) release() {
	held := len(d.pending) + len(d.retry)
	if freed := d.taken - held; freed > 0 {
		d.taken = held
		d.o.giveRoom(freed)
	}
}

// backpressure reports whether new entries must wait: some entry is held
// by no backend and is being retried.
func (d *drain) backpressure() bool { return d.unheld > 0 }

// add takes one entry off the queue into the pending batch.
func (d *drain) add(e Entry) {
	d.received++
	d.taken++
	if held := int64(d.taken + len(d.o.queue)); held > d.o.peakHeld.Load() {
		d.o.peakHeld.Store(held)
	}
	if e.ID == "" {
		e.ID = d.ids.Next(e.Timestamp)
	}
	d.pending = append(d.pending, record{entry: e, seq: d.received, need: d.allNeed})
	d.took(&d.pending[len(d.pending)-1])
}

// takeQueued moves up to n queued entries into the pending batch without
// waiting.
func (d *drain) takeQueued(n int) {
	defer d.publishLetters()
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
		d.batchTimer.Reset(ms(d.o.cfg.FlushIntervalMS))
		d.timerOn = true
	}
}

// writePending delivers the pending batch. In the normal rhythm (no Flush
// or Close waiting, no entry waiting for a backend) it first takes the
// entries queued behind the batch into the next one and encodes them while
// this one is written; that batch is then written when it is full
// or its flush interval passes. Entries taken ahead hold their room, so the
// memory bound is the same.
func (d *drain) writePending() {
	if d.timerOn {
		d.batchTimer.Stop()
		d.timerOn = false
	}
	d.publishLetters()
	if len(d.pending) == 0 {
		return
	}
	d.ptrs = d.ptrs[:0]
	for i := range d.pending {
		d.ptrs = append(d.ptrs, &d.pending[i])
	}
	busy := d.lane.encode(d.ptrs)
	batch := d.pending
	ahead := d.ctx == d.o.base && !d.backpressure()
	if ahead {
		d.pending, d.lane.spare = d.lane.spare[:0], nil
		d.takeQueued(d.o.batchSize)
		if len(d.pending) > 0 {
			d.lane.start(d.pending, busy, d.preparer())
		}
	}
	d.slot = busy + 1
	d.deliver(d.ptrs)
	d.slot = 0
	d.lane.join()
	before := len(d.retry)
	for _, r := range d.ptrs {
		if !r.done() {
			kept := *r
			d.retry = append(d.retry, &kept)
		}
	}
	clear(batch)
	if ahead {
		d.lane.spare = batch[:0]
	} else {
		d.pending = batch[:0]
	}
	d.settleRetries(before)
	if ahead && len(d.pending) > 0 {
		wait := ms(d.o.cfg.FlushIntervalMS)
		if len(d.pending) >= d.o.batchSize {
			wait = 0 // full: write it at the next turn of the loop
		}
		d.batchTimer.Reset(wait)
		d.timerOn = true
	}
}

// done reports whether r needs nothing more.
func (r *record) done() bool { return r.held && r.need == 0 }

// settleRetries gives up the retry entries that have no attempts left and
// schedules the next retry round. The entries before from are as the last
// settleRetries left them (a batch only adds entries behind them), so only
// those from on are looked at: a batch costs its own size, not the list's,
// and draining a long queue into the list is not quadratic.
func (d *drain) settleRetries(from int) {
	maxAttempts := d.o.cfg.Retry.MaxAttempts
	kept := d.retry[:from]
	unheld := d.unheld
	if from == 0 {
		unheld = 0
	}
	for _, r := range d.retry[from:] {
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
		if !r.held {
			unheld++
		}
		kept = append(kept, r)
	}
	clear(d.retry[len(kept):])
	d.retry = kept
	d.unheld = unheld
	d.capCatchUp() // gives up held entries only: unheld stays
	if len(d.retry) > 0 && !d.retryOn {
		d.armRetry()
	}
	d.noteOldest()
}

// armRetry starts the retry timer: the jittered backoff, or, when every
// backend is in its cool-down, the end of the first cool-down (itself
// jittered), since a round before that could try nothing.
func (d *drain) armRetry() {
	wait := d.jittered()
	if until := d.untilAvailable(); until > 0 {
		wait = until
	}
	d.retryTimer.Reset(wait)
	d.retryOn = true
}

// capCatchUp bounds the fan-out catch-up list to half the queue capacity,
// so that a mirror's outage leaves room for new entries: the oldest
// entries that some backend already holds are given up first.
func (d *drain) capCatchUp() {
	excess := len(d.retry) - max(cap(d.o.queue)/2, 1)
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
	d.warn.logf("missed", slog.LevelWarn, "dlq: fan-out backend gave up on entry", "id", r.entry.ID, "error", r.lastErr)
	r.need = 0
}

// lose counts r as lost and tells the OnLoss hook.
func (d *drain) lose(r *record, reason LossReason, counter interface{ Add(uint64) uint64 }) {
	counter.Add(1)
	d.lost++
	err := fmt.Errorf("dlq: entry %s lost (%s) after %d attempts: %w", r.entry.ID, reason, r.tries, r.lastErr)
	d.warn.logf("lost "+string(reason), slog.LevelError, "dlq: entry lost", "id", r.entry.ID, "reason", string(reason), "attempts", r.tries, "error", r.lastErr)
	if d.o.cfg.OnLoss != nil {
		d.o.cfg.OnLoss(r.entry, reason, err)
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
		round = d.withResendGroups(round)
	}
	attempted, progress := d.deliver(round)
	switch {
	case progress:
		d.backoff = 0
	case attempted:
		d.backOff()
	}
	d.settleRetries(0)
}

// withResendGroups adds to a bounded round the retry entries that share a
// resend group with an entry in it. A group is sent again with all of its
// entries still to be written, never cut in two: a receiver that stores
// what it got under a group's name once would drop the entries sent later
// under the same name, while dlq counted them written.
func (d *drain) withResendGroups(round []*record) []*record {
	groups := map[string]bool{}
	for _, r := range round {
		if r.resendGroup != "" {
			groups[r.resendGroup] = true
		}
	}
	if len(groups) == 0 {
		return round
	}
	in := make(map[*record]bool, len(round))
	for _, r := range round {
		in[r] = true
	}
	for _, r := range d.retry {
		if r.resendGroup != "" && groups[r.resendGroup] && !in[r] {
			round = append(round, r)
		}
	}
	return round
}

// backOff doubles the retry backoff within its bounds.
func (d *drain) backOff() {
	d.backoff = min(max(2*d.backoff, d.o.cfg.Retry.initialBackoff()), d.o.cfg.Retry.maxBackoff())
}

// maxRoundBatches bounds a retry round, in batches.
const maxRoundBatches = 16

func (r *RetryConfig) initialBackoff() time.Duration { return ms(r.InitialBackoffMS) }
func (r *RetryConfig) maxBackoff() time.Duration     { return ms(r.MaxBackoffMS) }

// jittered returns the current backoff with jitter: a uniform draw from its
// upper half, so retries of many DLQs do not fall in step.
func (d *drain) jittered() time.Duration {
	return jitter(max(d.backoff, d.o.cfg.Retry.initialBackoff()))
}

// backendFailed records a backend failure concerning n entries.
func (d *drain) backendFailed(i int, err error, n int) {
	c := &d.o.backendCounters[i]
	c.errors.Add(uint64(n))
	c.setError(err)
	d.warn.logf("failed "+d.o.backends[i].kind.String(), slog.LevelWarn, "dlq: backend failed", "backend", d.o.backends[i].kind.String(), "entries", n, "error", err)
	if d.o.cfg.OnError != nil {
		d.o.cfg.OnError(err)
	}
}

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
