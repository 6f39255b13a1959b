package dlqprom

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultNamespace prefixes every metric name unless WithNamespace says
// otherwise.
const defaultNamespace = "dlq"

// Option configures a Collector.
type Option func(*options)

type options struct {
	namespace   string
	constLabels prometheus.Labels
	observer    *BatchObserver
}

// WithNamespace replaces the metric names' prefix: with "acme",
// dlq_entries_accepted_total becomes acme_entries_accepted_total. An empty
// namespace drops the prefix. Defaults to "dlq".
func WithNamespace(namespace string) Option {
	return func(o *options) { o.namespace = namespace }
}

// WithConstLabels adds labels with fixed values to every metric, such as an
// instance or a pipeline name. A "service" label given here replaces the
// Orchestrator's service name. Defaults to none.
func WithConstLabels(labels prometheus.Labels) Option {
	return func(o *options) {
		if o.constLabels == nil {
			o.constLabels = prometheus.Labels{}
		}
		maps.Copy(o.constLabels, labels)
	}
}

// WithBatchObserver exports h's write durations as the
// backend_write_duration_seconds histogram. h must be the observer set as
// the Orchestrator's Config.OnBatch. Defaults to none: no histogram.
func WithBatchObserver(h *BatchObserver) Option {
	return func(o *options) { o.observer = h }
}
