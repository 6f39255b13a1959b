package dlq

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Orchestrator is a dead-letter queue: Send hands it entries from any
// goroutine, and one drain goroutine batches them into the backends.
// All methods are safe for concurrent use. Create it with New and stop it
// with Close.
type Orchestrator struct {
	admission admissionCounters
	roomFreed waiters // SendContext calls waiting for room
	queue     chan Entry
	service   string
	clock     func() time.Time
	disabled  bool
	brake     *brake // the storm brake; nil when it is off

	cfg             Config // as New got it, with its defaults (withDefaults)
	batchSize       int
	backends        []backend
	backendCounters []backendCounters
	drained         drainCounters

	// base is the drain's own context; cancelBase ends it, and with it any
	// write in flight, when Close's context ends.
	base       context.Context
	cancelBase context.CancelFunc
	peakHeld   atomic.Int64 // the most entries held in memory, as the drain saw it

	closing   chan struct{}        // closed when Close begins
	flushReq  chan flushRequest    // Flush asks the drain for a barrier
	stop      chan context.Context // Close hands the drain its deadline
	done      chan struct{}        // closed when the drain has returned
	closeOnce sync.Once
	closeErr  error // set by the drain before done closes
	// encoded is how many entries the drain encoded, set before done
	// closes: what Close encoded, and what it did not.
	encoded uint64
}

// flushRequest is one Flush call waiting for the drain.
type flushRequest struct {
	ctx   context.Context
	reply chan error
}

// New validates cfg, builds its backends and starts the drain goroutine.
// The fields cfg leaves zero take their defaults (see DefaultConfig), in
// New's own copy. Every invalid field is named in one *ConfigError. New does not fail because
// a network backend is unreachable: the DLQ exists for the moment things are
// down.
func New(cfg Config) (*Orchestrator, error) {
	kinds, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	backends := make([]backend, 0, len(kinds))
	for _, k := range kinds {
		b, err := newBackend(k, &cfg)
		if err != nil {
			for i := range backends {
				_ = backends[i].close(context.Background())
			}
			return nil, fmt.Errorf("dlq: %s backend: %w", k, err)
		}
		backends = append(backends, b)
	}
	o := newOrchestrator(cfg, backends)
	go o.run()
	if o.brake != nil {
		o.brake.started = true
		go o.runBrake()
	}
	return o, nil
}

// newOrchestrator builds an Orchestrator around backends without starting
// its drain. The fields of cfg left zero take their defaults (New has
// filled them already).
func newOrchestrator(cfg Config, backends []backend) *Orchestrator {
	cfg = cfg.withDefaults()
	base, cancelBase := context.WithCancel(context.Background())
	o := &Orchestrator{
		queue:           make(chan Entry, cfg.QueueCapacity),
		service:         cfg.Service,
		clock:           cfg.Clock,
		disabled:        cfg.Disabled,
		brake:           newBrake(&cfg),
		cfg:             cfg,
		batchSize:       cfg.BatchSize,
		backends:        backends,
		backendCounters: make([]backendCounters, len(backends)),
		base:            base,
		cancelBase:      cancelBase,
		closing:         make(chan struct{}),
		flushReq:        make(chan flushRequest),
		stop:            make(chan context.Context),
		done:            make(chan struct{}),
	}
	o.admission.room.Store(int64(o.heldLimit()))
	return o
}

// heldLimit is the most entries the Orchestrator holds in memory at once:
// queued, batched, waiting for a retry or for a fan-out catch-up.
func (o *Orchestrator) heldLimit() int { return cap(o.queue) + o.batchSize }

// Send hands e to the DLQ without blocking and without I/O. It fills a zero
// Timestamp from the clock and an empty Service from Config.Service. It
// returns ErrQueueFull when the queue has no room and ErrClosed once Close
// has begun; both refusals are counted in Stats.Dropped. While the storm
// brake is tripped with action refuse, it returns ErrStorm (counted in
// Stats.Dropped under ReasonStorm). A nil return means the entry is
// accepted: it will be written, or counted in Stats.Lost.
func (o *Orchestrator) Send(e Entry) error {
	if refusal, ok := o.enter(&e); !ok {
		return refusal
	}
	if o.admission.takeRoom() {
		select {
		case o.queue <- e:
			o.admission.accepted.Add(1)
			return nil
		default:
			o.giveRoom(1)
		}
	}
	o.admission.queueFull.Add(1)
	return ErrQueueFull
}

// enter admits one Send or SendContext and fills e's defaults. It reports
// false with what to return when the DLQ is disabled (nil: accepted and
// discarded), the storm brake refuses (ErrStorm) or it is closing
// (ErrClosed). A call that entered ends in exactly one of accepted,
// queueFull, canceled or closedWaiting: Close counts on it.
func (o *Orchestrator) enter(e *Entry) (refusal error, ok bool) {
	if o.disabled {
		o.admission.disabled.Add(1)
		return nil, false
	}
	if o.brake != nil {
		return o.enterBraked(e)
	}
	if o.admission.state.Add(1)&closedBit != 0 {
		o.admission.closed.Add(1)
		return ErrClosed, false
	}
	o.fill(e)
	return nil, true
}

// SendContext is Send that waits for room in the queue until ctx ends. It
// returns ctx's error if it ends first (the entry is then not accepted),
// ErrClosed if Close begins while it waits, and ErrStorm, without waiting,
// while the storm brake refuses entries.
func (o *Orchestrator) SendContext(ctx context.Context, e Entry) error {
	if refusal, ok := o.enter(&e); !ok {
		return refusal
	}
	if err := o.waitRoom(ctx); err != nil {
		return err
	}
	select {
	case o.queue <- e:
		o.admission.accepted.Add(1)
		return nil
	default:
	}
	select {
	case o.queue <- e:
		o.admission.accepted.Add(1)
		return nil
	case <-ctx.Done():
		o.giveRoom(1)
		o.admission.canceled.Add(1)
		return ctx.Err()
	case <-o.closing:
		o.giveRoom(1)
		o.admission.closedWaiting.Add(1)
		return ErrClosed
	}
}

// waitRoom takes one unit of room for a SendContext, waiting until the
// drain frees some, ctx ends (counted canceled) or Close begins (counted
// closedWaiting).
func (o *Orchestrator) waitRoom(ctx context.Context) error {
	for !o.admission.takeRoom() {
		wake := o.roomFreed.wait()
		if o.admission.takeRoom() {
			o.roomFreed.leave()
			return nil
		}
		select {
		case <-wake:
			o.roomFreed.leave()
		case <-ctx.Done():
			o.roomFreed.leave()
			o.admission.canceled.Add(1)
			return ctx.Err()
		case <-o.closing:
			o.roomFreed.leave()
			o.admission.closedWaiting.Add(1)
			return ErrClosed
		}
	}
	return nil
}

// giveRoom returns n units of room and wakes SendContext calls waiting
// for it.
func (o *Orchestrator) giveRoom(n int) {
	o.admission.room.Add(int64(n))
	o.roomFreed.wake()
}

func (o *Orchestrator) fill(e *Entry) {
	if e.Timestamp.IsZero() {
		e.Timestamp = o.clock()
	}
	if e.Service == "" {
		e.Service = o.service
	}
}

// Flush is a barrier: it returns nil once every entry accepted before the
// call is durable in at least one backend (fsynced to the file, acknowledged
// by the broker, answered 2xx by the server, replied to by Redis). Until
// then it waits while the drain retries them with the usual backoff,
// backends in their cool-down included only once it is over.
//
// When ctx ends first, Flush returns an error matching both ErrNotWritten
// and ctx's error: the entries are neither known durable nor abandoned, and
// the drain goes on with them in its normal rhythm. Writes in flight on the
// caller's behalf are cancelled with ctx.
//
// When any entry was lost since the previous Flush returned (Retry.MaxAttempts
// spent, too large for every backend), Flush returns an error matching
// ErrLost that gives the count, even if everything else is durable: a
// caller that commits upstream offsets only on nil never commits past a
// lost entry. After Close has begun, Flush returns ErrClosed.
func (o *Orchestrator) Flush(ctx context.Context) error {
	if o.admission.state.Load()&closedBit != 0 {
		return ErrClosed
	}
	req := flushRequest{ctx: ctx, reply: make(chan error, 1)}
	select {
	case o.flushReq <- req:
	case <-ctx.Done():
		return fmt.Errorf("dlq: flush: %w: %w", ErrNotWritten, ctx.Err())
	case <-o.closing:
		return ErrClosed
	}
	// The drain has the request: it answers as soon as ctx ends, having
	// cancelled the write in flight, and its answer says what is missing.
	return <-req.reply
}

// Close stops admission, drains the queue, retries what failed until ctx
// ends, flushes and closes the backends, and stops the drain goroutine.
// Entries still unwritten when ctx ends are counted as lost (reason
// "shutdown") and the error says how many. Close returns by ctx's deadline
// plus the time to close the backends, whatever a backend does and however
// many entries are queued: the write in flight when ctx ends is cancelled,
// no write starts after it, and the entries still queued are counted lost
// at once, without being encoded or taken off the queue (their memory goes
// with the Orchestrator). With Config.OnLoss set, each of them is taken off
// the queue and handed to it, which adds the hook's time for each. A
// Flush waiting when Close begins returns an error matching ErrClosed.
// Close is idempotent: later calls wait for the first to finish and return
// its result.
func (o *Orchestrator) Close(ctx context.Context) error {
	o.closeOnce.Do(func() {
		begun := o.admission.state.Or(closedBit) &^ closedBit
		close(o.closing)
		// Wait for Sends that entered before the closed bit to settle, so
		// no entry can reach the queue after the drain's last look.
		for o.admission.settled() < begun {
			runtime.Gosched()
		}
		// When ctx ends, so does whatever the drain is writing, even a
		// write it began on its own before Close.
		stop := context.AfterFunc(ctx, o.cancelBase)
		defer stop()
		o.stop <- ctx
		<-o.done
		o.cancelBase()
		o.stopBrake()
	})
	<-o.done
	return o.closeErr
}

// Memory is bounded by room: Send takes one unit before it queues an entry,
// and the drain gives it back once the entry has left memory (held by
// every backend it needs, lost, or given up by a fan-out mirror). There
// are QueueCapacity + BatchSize units, so the entries queued, batched,
// waiting for a retry or for a fan-out catch-up never exceed that many,
// whatever the caller does; when they would, Send returns ErrQueueFull.

// takeRoom takes one unit of room, or reports false when there is none.
// A failed take may fail another racing one too; both then see the queue
// as full, which at that moment it nearly is.
func (a *admissionCounters) takeRoom() bool {
	if a.room.Add(-1) >= 0 {
		return true
	}
	a.room.Add(1)
	return false
}

// waiters lets SendContext calls sleep until room is given back. The drain
// gives room back after every batch; it takes the lock only when someone
// waits.
type waiters struct {
	n  atomic.Int64
	mu sync.Mutex
	ch chan struct{} // closed and replaced on wake
}

// wait registers a waiter and returns the channel that closes at the next
// wake. The caller tries for room once more before sleeping on it, and
// calls leave when done waiting.
func (w *waiters) wait() <-chan struct{} {
	w.n.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// leave unregisters a waiter.
func (w *waiters) leave() { w.n.Add(-1) }

// wake wakes every waiter. Room must be given back before wake is called.
func (w *waiters) wake() {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}
