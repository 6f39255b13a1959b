// Package dlqotel exports a dlq.Orchestrator's Stats as OpenTelemetry
// metrics through an otel/metric Meter.
//
// Counters and gauges are observable instruments whose one callback reads
// Stats at collection time. The write-duration histogram is recorded from
// the Orchestrator's Config.OnBatch hook by a BatchObserver. Config.OnBatch
// must be set before dlq.New, while New needs the Orchestrator, so the
// observer is made first and handed to both:
//
//	h := dlqotel.NewBatchObserver()
//	cfg.OnBatch = h.Observe
//	o, err := dlq.New(cfg)
//	...
//	m, err := dlqotel.New(o, dlqotel.WithBatchObserver(h))
//	...
//	defer m.Unregister()
//
// To keep a hook of your own, call both from one function:
//
//	cfg.OnBatch = func(ev dlq.BatchEvent) { h.Observe(ev); mine(ev) }
//
// # Metrics
//
// The names are dlqprom's in dotted form, the unit apart, so that
// OpenTelemetry's Prometheus exporter gives back dlqprom's names. Each
// carries a constant service attribute (Orchestrator.Service):
//
//	dlq.entries.accepted            counter    {entry}
//	dlq.entries.written             counter    {entry}
//	dlq.entries.retried             counter    {attempt}
//	dlq.entries.dropped{reason}     counter    {entry}  queue_full|closed|canceled|disabled|storm
//	dlq.entries.lost{reason}        counter    {entry}  all_failed|oversize|shutdown
//	dlq.entries.by_reason{reason}   counter    {entry}  the entries' own Reason, at most 100 distinct, then "other"
//	dlq.entries.pending             gauge      {entry}
//	dlq.queue.depth                 gauge      {entry}
//	dlq.queue.capacity              gauge      {entry}
//	dlq.oldest_pending.age          gauge      s        0 when nothing is pending
//	dlq.backend.entries{backend}    counter    {entry}
//	dlq.backend.batches{backend}    counter    {batch}
//	dlq.backend.errors{backend}     counter    {entry}
//	dlq.backend.missed{backend}     counter    {entry}
//	dlq.backend.up{backend}         gauge      1        0 while in cool-down
//	dlq.backend.write.duration{backend} histogram s
//	dlq.storm.tripped               gauge      1        1 while the storm brake is tripped
//	dlq.storm.trips                 counter    {trip}   each trip of the storm brake once
package dlqotel
