package dlqotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope the Meter is named after.
const scope = "github.com/dlqkit/dlq/dlqotel"

// Option configures New.
type Option func(*options)

type options struct {
	provider metric.MeterProvider
	attrs    []attribute.KeyValue
	observer *BatchObserver
}

// WithMeterProvider takes the Meter from mp. Defaults to the global
// provider, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.provider = mp }
}

// WithAttributes adds attributes with fixed values to every measurement. A
// "service" attribute given here replaces the Orchestrator's service name.
// Defaults to none.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(o *options) { o.attrs = append(o.attrs, attrs...) }
}

// WithBatchObserver records h's batch events in the dlq.backend.write.duration
// histogram. h must be the observer set as the Orchestrator's
// Config.OnBatch. Defaults to none: no histogram.
func WithBatchObserver(h *BatchObserver) Option {
	return func(o *options) { o.observer = h }
}

func (o *options) meterProvider() metric.MeterProvider {
	if o.provider == nil {
		return otel.GetMeterProvider()
	}
	return o.provider
}
