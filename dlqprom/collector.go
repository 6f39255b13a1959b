package dlqprom

import (
	"strings"
	"unicode/utf8"

	"github.com/dlqkit/dlq"
	"github.com/prometheus/client_golang/prometheus"
)

// dropReasons and lossReasons are exported even while their count is zero.
var (
	dropReasons = []string{dlq.ReasonQueueFull, dlq.ReasonClosed, dlq.ReasonCanceled, dlq.ReasonDisabled, dlq.ReasonStorm}
	lossReasons = []dlq.LossReason{dlq.ReasonAllFailed, dlq.ReasonOversize, dlq.ReasonShutdown}
)

// Collector is a prometheus.Collector over one Orchestrator's Stats, read
// at every scrape. Create it with New and register it with a
// prometheus.Registerer. It is safe for concurrent use.
type Collector struct {
	o        *dlq.Orchestrator
	observer *BatchObserver

	accepted, written, retried *prometheus.Desc
	dropped, lost, byReason    *prometheus.Desc
	pending, depth, capacity   *prometheus.Desc
	oldestAge                  *prometheus.Desc

	backendEntries, backendBatches *prometheus.Desc
	backendErrors, backendMissed   *prometheus.Desc
	backendUp, writeDuration       *prometheus.Desc
	stormTripped, stormTrips       *prometheus.Desc
}

// New returns a Collector of o's metrics.
func New(o *dlq.Orchestrator, opts ...Option) *Collector {
	cfg := options{namespace: defaultNamespace}
	for _, opt := range opts {
		opt(&cfg)
	}
	labels := prometheus.Labels{"service": o.Service()}
	for k, v := range cfg.constLabels {
		labels[k] = v
	}
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "", name), help, variable, labels)
	}
	return &Collector{
		o:        o,
		observer: cfg.observer,

		accepted: desc("entries_accepted_total", "Entries Send or SendContext accepted."),
		written:  desc("entries_written_total", "Accepted entries held by at least one backend."),
		retried:  desc("entries_retried_total", "Write attempts after an entry's first."),
		dropped:  desc("entries_dropped_total", "Entries refused at admission, by reason.", "reason"),
		lost:     desc("entries_lost_total", "Accepted entries given up without being written, by reason.", "reason"),
		byReason: desc("entries_by_reason_total",
			`Accepted entries by their own Reason: at most 100 distinct, then "other".`, "reason"),
		pending:   desc("entries_pending", "Accepted entries neither written nor lost yet."),
		depth:     desc("queue_depth", "Entries waiting in the queue."),
		capacity:  desc("queue_capacity", "The queue's configured capacity."),
		oldestAge: desc("oldest_pending_age_seconds", "How long the oldest pending entry has waited; 0 when none is pending."),

		backendEntries: desc("backend_entries_total", "Entries the backend holds.", "backend"),
		backendBatches: desc("backend_batches_total", "Batch writes to the backend.", "backend"),
		backendErrors:  desc("backend_errors_total", "Entries the backend failed, each attempt counted.", "backend"),
		backendMissed:  desc("backend_missed_total", "Entries a fan-out backend gave up catching up on.", "backend"),
		backendUp:      desc("backend_up", "1 when the backend takes writes, 0 while it cools down after failing a whole batch.", "backend"),
		writeDuration:  desc("backend_write_duration_seconds", "How long batch writes to the backend took.", "backend"),
		stormTripped:   desc("storm_tripped", "1 while the storm brake is tripped, 0 otherwise and without a brake."),
		stormTrips:     desc("storm_trips_total", "Times the storm brake tripped."),
	}
}

// Describe sends the descriptors of every metric Collect sends.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.accepted, c.written, c.retried, c.dropped, c.lost, c.byReason,
		c.pending, c.depth, c.capacity, c.oldestAge,
		c.backendEntries, c.backendBatches, c.backendErrors, c.backendMissed, c.backendUp,
		c.stormTripped, c.stormTrips,
	} {
		ch <- d
	}
	if c.observer != nil {
		ch <- c.writeDuration
	}
}

// Collect reads the Orchestrator's Stats once and sends them as metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.o.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.accepted, s.Accepted)
	counter(c.written, s.Written)
	counter(c.retried, s.Retried)
	for _, r := range dropReasons {
		counter(c.dropped, s.DroppedBy[r], r)
	}
	for _, r := range lossReasons {
		counter(c.lost, s.LostBy[r], string(r))
	}
	for r, n := range validReasons(s.ByReason) {
		counter(c.byReason, n, r)
	}
	gauge(c.pending, float64(s.Pending))
	gauge(c.depth, float64(s.QueueDepth))
	gauge(c.capacity, float64(s.QueueCapacity))
	gauge(c.oldestAge, s.OldestPendingAge.Seconds())
	tripped := 0.0
	if s.StormTripped {
		tripped = 1
	}
	gauge(c.stormTripped, tripped)
	counter(c.stormTrips, s.StormTrips)
	for _, b := range s.Backends {
		name := b.Kind.String()
		counter(c.backendEntries, b.Entries, name)
		counter(c.backendBatches, b.Batches, name)
		counter(c.backendErrors, b.Errors, name)
		counter(c.backendMissed, b.Missed, name)
		up := 1.0
		if b.CoolingDown {
			up = 0
		}
		gauge(c.backendUp, up, name)
		if c.observer != nil {
			count, sum, buckets := c.observer.snapshot(b.Kind)
			ch <- prometheus.MustNewConstHistogram(c.writeDuration, count, sum, buckets, name)
		}
	}
}

// validReasons returns counts with every reason made valid UTF-8, as label
// values must be, merging reasons that become the same.
func validReasons(counts map[string]uint64) map[string]uint64 {
	valid := true
	for r := range counts {
		valid = valid && utf8.ValidString(r)
	}
	if valid {
		return counts
	}
	out := make(map[string]uint64, len(counts))
	for r, n := range counts {
		out[strings.ToValidUTF8(r, "\uFFFD")] += n
	}
	return out
}
