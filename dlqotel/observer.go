package dlqotel

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dlqkit/dlq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// DefaultBuckets are the write-duration histogram's bucket boundaries, in
// seconds: from a tmpfs fsync (well under a millisecond) to a broker write
// timing out (10 s by default) or a slow HTTP sink. They are the
// instrument's advice; a View may replace them.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// maxEarly bounds the batch events kept before New binds the observer.
const maxEarly = 64

// BatchObserver records an Orchestrator's batch writes in the
// dlq.backend.write.duration histogram. Its Observe method is the
// Orchestrator's Config.OnBatch hook; see the package doc for the wiring.
// Until New binds it, it keeps the first 64 events and records them then:
// the few batches written between dlq.New and dlqotel.New are not lost.
// Bind an observer to one New only. It is safe for concurrent use.
type BatchObserver struct {
	bound atomic.Pointer[histogram]
	mu    sync.Mutex
	early []dlq.BatchEvent
}

// histogram is the instrument an observer records into, with the
// attributes of each backend.
type histogram struct {
	h     metric.Float64Histogram
	attrs []attribute.KeyValue
	sets  sync.Map // dlq.Kind → metric.RecordOption
}

// NewBatchObserver returns an observer for New's WithBatchObserver.
func NewBatchObserver() *BatchObserver { return &BatchObserver{} }

// Observe records one batch write. It allocates nothing once the backend's
// attributes are cached, and is fit to run as Config.OnBatch on the drain
// goroutine.
func (b *BatchObserver) Observe(ev dlq.BatchEvent) {
	if h := b.bound.Load(); h != nil {
		h.record(ev)
		return
	}
	b.mu.Lock()
	if h := b.bound.Load(); h != nil { // bound meanwhile
		b.mu.Unlock()
		h.record(ev)
		return
	}
	if len(b.early) < maxEarly {
		b.early = append(b.early, ev)
	}
	b.mu.Unlock()
}

// bind starts recording into h, first the events kept so far.
func (b *BatchObserver) bind(h *histogram) {
	b.mu.Lock()
	b.bound.Store(h)
	early := b.early
	b.early = nil
	b.mu.Unlock()
	for _, ev := range early {
		h.record(ev)
	}
}

func (h *histogram) record(ev dlq.BatchEvent) {
	opt, ok := h.sets.Load(ev.Kind)
	if !ok {
		attrs := append(h.attrs[:len(h.attrs):len(h.attrs)], attribute.String("backend", ev.Kind.String()))
		opt, _ = h.sets.LoadOrStore(ev.Kind, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
	h.h.Record(context.Background(), ev.Duration.Seconds(), opt.(metric.RecordOption))
}
