package dlqotel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dlqkit/dlq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// dropReasons and lossReasons are observed even while their count is zero.
var (
	dropReasons = []string{dlq.ReasonQueueFull, dlq.ReasonClosed, dlq.ReasonCanceled, dlq.ReasonDisabled, dlq.ReasonStorm}
	lossReasons = []dlq.LossReason{dlq.ReasonAllFailed, dlq.ReasonOversize, dlq.ReasonShutdown}
)

// Metrics is one Orchestrator's instruments, registered with a Meter by
// New. It is safe for concurrent use.
type Metrics struct {
	o     *dlq.Orchestrator
	attrs []attribute.KeyValue // service and WithAttributes
	base  metric.MeasurementOption
	reg   metric.Registration

	accepted, written, retried metric.Int64ObservableCounter
	dropped, lost, byReason    metric.Int64ObservableCounter
	pending, depth, capacity   metric.Int64ObservableGauge
	oldestAge                  metric.Float64ObservableGauge

	backendEntries, backendBatches metric.Int64ObservableCounter
	backendErrors, backendMissed   metric.Int64ObservableCounter
	backendUp                      metric.Int64ObservableGauge

	stormTripped metric.Int64ObservableGauge
	stormTrips   metric.Int64ObservableCounter
}

// New creates o's instruments on a Meter from the configured provider and
// registers the callback that reads o's Stats at each collection. Call
// Unregister to stop observing o.
func New(o *dlq.Orchestrator, opts ...Option) (*Metrics, error) {
	var cfg options
	for _, opt := range opts {
		opt(&cfg)
	}
	meter := cfg.meterProvider().Meter(scope)
	m := &Metrics{o: o, attrs: []attribute.KeyValue{attribute.String("service", o.Service())}}
	m.attrs = append(m.attrs, cfg.attrs...) // a later "service" wins in a Set
	m.base = metric.WithAttributeSet(attribute.NewSet(m.attrs...))

	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	m.accepted = counter("dlq.entries.accepted", "{entry}", "Entries Send or SendContext accepted.")
	m.written = counter("dlq.entries.written", "{entry}", "Accepted entries held by at least one backend.")
	m.retried = counter("dlq.entries.retried", "{attempt}", "Write attempts after an entry's first.")
	m.dropped = counter("dlq.entries.dropped", "{entry}", "Entries refused at admission, by reason.")
	m.lost = counter("dlq.entries.lost", "{entry}", "Accepted entries given up without being written, by reason.")
	m.byReason = counter("dlq.entries.by_reason", "{entry}",
		`Accepted entries by their own Reason: at most 100 distinct, then "other".`)
	m.pending = gauge("dlq.entries.pending", "{entry}", "Accepted entries neither written nor lost yet.")
	m.depth = gauge("dlq.queue.depth", "{entry}", "Entries waiting in the queue.")
	m.capacity = gauge("dlq.queue.capacity", "{entry}", "The queue's configured capacity.")
	var err error
	m.oldestAge, err = meter.Float64ObservableGauge("dlq.oldest_pending.age", metric.WithUnit("s"),
		metric.WithDescription("How long the oldest pending entry has waited; 0 when none is pending."))
	errs = append(errs, err)
	m.backendEntries = counter("dlq.backend.entries", "{entry}", "Entries the backend holds.")
	m.backendBatches = counter("dlq.backend.batches", "{batch}", "Batch writes to the backend.")
	m.backendErrors = counter("dlq.backend.errors", "{entry}", "Entries the backend failed, each attempt counted.")
	m.backendMissed = counter("dlq.backend.missed", "{entry}", "Entries a fan-out backend gave up catching up on.")
	m.backendUp = gauge("dlq.backend.up", "1", "1 when the backend takes writes, 0 while it cools down after failing a whole batch.")
	m.stormTripped = gauge("dlq.storm.tripped", "1", "1 while the storm brake is tripped, 0 otherwise and without a brake.")
	m.stormTrips = counter("dlq.storm.trips", "{trip}", "Times the storm brake tripped.")

	var hist metric.Float64Histogram
	if cfg.observer != nil {
		hist, err = meter.Float64Histogram("dlq.backend.write.duration", metric.WithUnit("s"),
			metric.WithDescription("How long batch writes to the backend took."),
			metric.WithExplicitBucketBoundaries(DefaultBuckets...))
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dlq: otel instruments: %w", err)
	}
	m.reg, err = meter.RegisterCallback(m.observe,
		m.accepted, m.written, m.retried, m.dropped, m.lost, m.byReason,
		m.pending, m.depth, m.capacity, m.oldestAge,
		m.backendEntries, m.backendBatches, m.backendErrors, m.backendMissed, m.backendUp,
		m.stormTripped, m.stormTrips)
	if err != nil {
		return nil, fmt.Errorf("dlq: otel callback: %w", err)
	}
	if cfg.observer != nil {
		cfg.observer.bind(&histogram{h: hist, attrs: m.attrs})
	}
	return m, nil
}

// Unregister stops observing the Orchestrator's Stats. The histogram's
// instrument stays with its Meter.
func (m *Metrics) Unregister() error { return m.reg.Unregister() }

// with returns the measurement option of the constant attributes plus one
// more.
func (m *Metrics) with(key, value string) metric.MeasurementOption {
	attrs := append(m.attrs[:len(m.attrs):len(m.attrs)], attribute.String(key, value))
	return metric.WithAttributeSet(attribute.NewSet(attrs...))
}

// observe is the callback: one Stats read per collection.
func (m *Metrics) observe(_ context.Context, obs metric.Observer) error {
	s := m.o.Stats()
	count := func(inst metric.Int64Observable, n uint64, opt metric.MeasurementOption) {
		obs.ObserveInt64(inst, int64(n), opt)
	}
	count(m.accepted, s.Accepted, m.base)
	count(m.written, s.Written, m.base)
	count(m.retried, s.Retried, m.base)
	for _, r := range dropReasons {
		count(m.dropped, s.DroppedBy[r], m.with("reason", r))
	}
	for _, r := range lossReasons {
		count(m.lost, s.LostBy[r], m.with("reason", string(r)))
	}
	for r, n := range validReasons(s.ByReason) {
		count(m.byReason, n, m.with("reason", r))
	}
	obs.ObserveInt64(m.pending, int64(s.Pending), m.base)
	obs.ObserveInt64(m.depth, int64(s.QueueDepth), m.base)
	obs.ObserveInt64(m.capacity, int64(s.QueueCapacity), m.base)
	obs.ObserveFloat64(m.oldestAge, s.OldestPendingAge.Seconds(), m.base)
	tripped := int64(0)
	if s.StormTripped {
		tripped = 1
	}
	obs.ObserveInt64(m.stormTripped, tripped, m.base)
	count(m.stormTrips, s.StormTrips, m.base)
	for _, b := range s.Backends {
		opt := m.with("backend", b.Kind.String())
		count(m.backendEntries, b.Entries, opt)
		count(m.backendBatches, b.Batches, opt)
		count(m.backendErrors, b.Errors, opt)
		count(m.backendMissed, b.Missed, opt)
		up := int64(1)
		if b.CoolingDown {
			up = 0
		}
		obs.ObserveInt64(m.backendUp, up, opt)
	}
	return nil
}

// validReasons returns counts with every reason made valid UTF-8, merging
// reasons that become the same, as dlqprom does, so that both report the
// same series.
func validReasons(counts map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(counts))
	for r, n := range counts {
		out[strings.ToValidUTF8(r, "\uFFFD")] += n
	}
	return out
}
