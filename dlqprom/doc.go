// Package dlqprom exports a dlq.Orchestrator's Stats as Prometheus metrics.
//
// A Collector reads Stats at scrape time, so it costs nothing between
// scrapes. The write-duration histogram is the one metric Stats cannot give:
// it is fed from the Orchestrator's Config.OnBatch hook by a BatchObserver.
// Config.OnBatch must be set before dlq.New, while the Collector needs the
// Orchestrator New returns, so the observer is made first and handed to
// both:
//
//	h := dlqprom.NewBatchObserver()
//	cfg.OnBatch = h.Observe
//	o, err := dlq.New(cfg)
//	...
//	prometheus.MustRegister(dlqprom.New(o, dlqprom.WithBatchObserver(h)))
//
// To keep a hook of your own, call both from one function:
//
//	cfg.OnBatch = func(ev dlq.BatchEvent) { h.Observe(ev); mine(ev) }
//
// Without a BatchObserver the Collector exports everything but the
// histogram.
//
// # Metrics
//
// Each metric has a constant service label (Orchestrator.Service). With the
// default namespace "dlq":
//
//	dlq_entries_accepted_total                  counter
//	dlq_entries_written_total                   counter
//	dlq_entries_retried_total                   counter
//	dlq_entries_dropped_total{reason}           counter  queue_full|closed|canceled|disabled|storm
//	dlq_entries_lost_total{reason}              counter  all_failed|oversize|shutdown
//	dlq_entries_by_reason_total{reason}         counter  the entries' own Reason, at most 100 distinct, then "other"
//	dlq_entries_pending                         gauge
//	dlq_queue_depth                             gauge
//	dlq_queue_capacity                          gauge
//	dlq_oldest_pending_age_seconds              gauge    0 when nothing is pending
//	dlq_backend_entries_total{backend}          counter
//	dlq_backend_batches_total{backend}          counter
//	dlq_backend_errors_total{backend}           counter
//	dlq_backend_missed_total{backend}           counter
//	dlq_backend_up{backend}                     gauge    0 while in cool-down
//	dlq_backend_write_duration_seconds{backend} histogram
//	dlq_storm_tripped                           gauge    1 while the storm brake is tripped
//	dlq_storm_trips_total                       counter  each trip of the storm brake once
//
// The dropped and lost counters are exported for every reason, zero
// included, so that alerts on their rate see a series from the start.
package dlqprom
