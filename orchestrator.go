package dlq

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

const (
	defaultQueueCapacity   = 10000
	defaultBatchSize       = 256
	defaultFlushIntervalMS = 100
)

var defaultOrder = []Kind{KindKafka, KindRedis, KindHTTP, KindFile}

func (cfg *Config) queueCapacity() int { return orDefault(cfg.QueueCapacity, defaultQueueCapacity) }
func (cfg *Config) batchSize() int     { return orDefault(cfg.BatchSize, defaultBatchSize) }
func (cfg *Config) flushInterval() time.Duration {
	return ms(orDefault(cfg.FlushIntervalMS, defaultFlushIntervalMS))
}

func (cfg *Config) order() []Kind {
	if len(cfg.Order) == 0 {
		return defaultOrder
	}
	return cfg.Order
}

func (cfg *Config) mode() Mode {
	if cfg.Mode == "" {
		return ModeCascade
	}
	return cfg.Mode
}

func (cfg *Config) clock() func() time.Time {
	if cfg.Clock == nil {
		return time.Now
	}
	return cfg.Clock
}

func (cfg *Config) logger() *slog.Logger {
	if cfg.Logger == nil {
		return slog.Default()
	}
	return cfg.Logger
}

// ms converts a config value in milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Orchestrator is a dead-letter queue: Send hands it entries from any
// goroutine, and one drain goroutine batches them into the backends.
// All methods are safe for concurrent use. Create it with New and stop it
// with Close.
type Orchestrator struct {
	admission admissionCounters
	queue     chan Entry
	service   string
	clock     func() time.Time
	disabled  bool

	cfg             Config
	batchSize       int
	backends        []Backend
	backendCounters []backendCounters
	drained         drainCounters

	closing   chan struct{}        // closed when Close begins
	flushReq  chan chan error      // Flush asks the drain for a barrier
	stop      chan context.Context // Close hands the drain its deadline
	done      chan struct{}        // closed when the drain has returned
	closeOnce sync.Once
	closeErr  error // set by the drain before done closes
}

// New validates cfg, builds its backends and starts the drain goroutine.
// Every invalid field is named in one *ConfigError. New does not fail because
// a network backend is unreachable: the DLQ exists for the moment things are
// down.
func New(cfg Config) (*Orchestrator, error) {
	kinds, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg.Order = append([]Kind(nil), cfg.Order...)
	backends := make([]Backend, 0, len(kinds))
	for _, k := range kinds {
		b, err := newBackend(k, &cfg)
		if err != nil {
			for i := range backends {
				_ = backends[i].close()
			}
			return nil, fmt.Errorf("dlq: %s backend: %w", k, err)
		}
		backends = append(backends, b)
	}
	o := newOrchestrator(cfg, backends)
	go o.run()
	return o, nil
}

// newOrchestrator builds an Orchestrator around backends without starting
// its drain.
func newOrchestrator(cfg Config, backends []Backend) *Orchestrator {
	return &Orchestrator{
		queue:           make(chan Entry, cfg.queueCapacity()),
		service:         cfg.Service,
		clock:           cfg.clock(),
		disabled:        cfg.Disabled,
		cfg:             cfg,
		batchSize:       cfg.batchSize(),
		backends:        backends,
		backendCounters: make([]backendCounters, len(backends)),
		closing:         make(chan struct{}),
		flushReq:        make(chan chan error),
		stop:            make(chan context.Context),
		done:            make(chan struct{}),
	}
}

// Send hands e to the DLQ without blocking and without I/O. It fills a zero
// Timestamp from the clock and an empty Service from Config.Service. It
// returns ErrQueueFull when the queue has no room and ErrClosed once Close
// has begun; both refusals are counted in Stats.Dropped. A nil return means
// the entry is accepted: it will be written, or counted in Stats.Lost.
func (o *Orchestrator) Send(e Entry) error {
	if refusal, ok := o.enter(&e); !ok {
		return refusal
	}
	select {
	case o.queue <- e:
		o.admission.accepted.Add(1)
		return nil
	default:
		o.admission.queueFull.Add(1)
		return ErrQueueFull
	}
}

// enter admits one Send or SendContext and fills e's defaults. It reports
// false with what to return when the DLQ is disabled (nil: accepted and
// discarded) or closing (ErrClosed). A call that entered ends in exactly one
// of accepted, queueFull, canceled or closedWaiting: Close counts on it.
func (o *Orchestrator) enter(e *Entry) (refusal error, ok bool) {
	if o.disabled {
		o.admission.disabled.Add(1)
		return nil, false
	}
	if o.admission.state.Add(1)&closedBit != 0 {
		o.admission.closed.Add(1)
		return ErrClosed, false
	}
	o.fill(e)
	return nil, true
}

// SendContext is Send that waits for room in the queue until ctx ends. It
// returns ctx's error if it ends first (the entry is then not accepted) and
// ErrClosed if Close begins while it waits.
func (o *Orchestrator) SendContext(ctx context.Context, e Entry) error {
	if refusal, ok := o.enter(&e); !ok {
		return refusal
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
		o.admission.canceled.Add(1)
		return ctx.Err()
	case <-o.closing:
		o.admission.closedWaiting.Add(1)
		return ErrClosed
	}
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
// by the broker or server). When entries could not be written it returns an
// error wrapping ErrNotWritten and the backends' errors; they stay queued for
// retry, and a later Flush may succeed. If ctx ends first Flush returns its
// error, and the entries are neither known durable nor abandoned: the drain
// goes on with them. After Close, Flush returns ErrClosed.
func (o *Orchestrator) Flush(ctx context.Context) error {
	if o.admission.state.Load()&closedBit != 0 {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case o.flushReq <- reply:
	case <-ctx.Done():
		return ctx.Err()
	case <-o.done:
		return ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops admission, drains the queue, retries what failed until ctx
// ends, flushes and closes the backends, and stops the drain goroutine.
// Entries still unwritten when ctx ends are counted as lost (reason
// "shutdown") and the error says how many. Close is idempotent: later calls
// wait for the first to finish and return its result.
func (o *Orchestrator) Close(ctx context.Context) error {
	o.closeOnce.Do(func() {
		begun := o.admission.state.Or(closedBit) &^ closedBit
		close(o.closing)
		// Wait for Sends that entered before the closed bit to settle, so
		// no entry can reach the queue after the drain's last look.
		for o.admission.settled() < begun {
			runtime.Gosched()
		}
		o.stop <- ctx
	})
	<-o.done
	return o.closeErr
}
