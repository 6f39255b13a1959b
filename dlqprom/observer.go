package dlqprom

import (
	"slices"
	"sync"

	"github.com/dlqkit/dlq"
)

// DefaultBuckets are the write-duration histogram's upper bounds, in
// seconds: from a tmpfs fsync (well under a millisecond) to a broker write
// timing out (10 s by default) or a slow HTTP sink.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// BatchObserver keeps the write durations of an Orchestrator's batches, per
// backend, for a Collector to export. Its Observe method is the
// Orchestrator's Config.OnBatch hook; see the package doc for the wiring.
// It is safe for concurrent use.
type BatchObserver struct {
	buckets []float64 // upper bounds, sorted

	mu     sync.Mutex
	byKind map[dlq.Kind]*durations
}

// durations is one backend's histogram: counts[i] counts observations in
// (buckets[i-1], buckets[i]]; the last counts those above every bound.
type durations struct {
	counts []uint64
	count  uint64
	sum    float64
}

// NewBatchObserver returns an observer with the given bucket upper bounds
// in seconds, or DefaultBuckets when none are given.
func NewBatchObserver(buckets ...float64) *BatchObserver {
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	buckets = slices.Clone(buckets)
	slices.Sort(buckets)
	return &BatchObserver{buckets: slices.Compact(buckets), byKind: map[dlq.Kind]*durations{}}
}

// Observe records one batch write. It takes a short lock and allocates
// only the first time it sees a backend, so it is fit to run as
// Config.OnBatch on the drain goroutine.
func (h *BatchObserver) Observe(ev dlq.BatchEvent) {
	secs := ev.Duration.Seconds()
	i, _ := slices.BinarySearch(h.buckets, secs)
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.byKind[ev.Kind]
	if d == nil {
		d = &durations{counts: make([]uint64, len(h.buckets)+1)}
		h.byKind[ev.Kind] = d
	}
	d.counts[i]++
	d.count++
	d.sum += secs
}

// snapshot returns backend kind's observations in the form
// prometheus.NewConstHistogram takes: cumulative counts by upper bound.
func (h *BatchObserver) snapshot(kind dlq.Kind) (count uint64, sum float64, cumulative map[float64]uint64) {
	cumulative = make(map[float64]uint64, len(h.buckets))
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.byKind[kind]
	var n uint64
	for i, upper := range h.buckets {
		if d != nil {
			n += d.counts[i]
		}
		cumulative[upper] = n
	}
	if d == nil {
		return 0, 0, cumulative
	}
	return d.count, d.sum, cumulative
}
