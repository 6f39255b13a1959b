package dlqotel_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqotel"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// kinds are the instruments' names and aggregations, as the package doc
// lists them.
var kinds = map[string]string{
	"dlq.entries.accepted":       "counter",
	"dlq.entries.written":        "counter",
	"dlq.entries.retried":        "counter",
	"dlq.entries.dropped":        "counter",
	"dlq.entries.lost":           "counter",
	"dlq.entries.by_reason":      "counter",
	"dlq.entries.pending":        "gauge",
	"dlq.queue.depth":            "gauge",
	"dlq.queue.capacity":         "gauge",
	"dlq.oldest_pending.age":     "gauge",
	"dlq.backend.entries":        "counter",
	"dlq.backend.batches":        "counter",
	"dlq.backend.errors":         "counter",
	"dlq.backend.missed":         "counter",
	"dlq.backend.up":             "gauge",
	"dlq.backend.write.duration": "histogram",
	"dlq.storm.tripped":          "gauge",
	"dlq.storm.trips":            "counter",
}

// collected indexes one collection's metrics by name.
type collected map[string]metricdata.Metrics

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, "github.com/dlqkit/dlq/dlqotel", sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// kind names m's aggregation and checks a counter is a cumulative,
// monotonic sum.
func kind(t *testing.T, m metricdata.Metrics) string {
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		assert.True(t, d.IsMonotonic, m.Name)
		assert.Equal(t, metricdata.CumulativeTemporality, d.Temporality, m.Name)
		return "counter"
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		return "gauge"
	case metricdata.Histogram[float64]:
		return "histogram"
	}
	return fmt.Sprintf("%T", m.Data)
}

// attrsOf returns the attribute set of pairs plus the service.
func attrsOf(pairs ...string) attribute.Set {
	kvs := []attribute.KeyValue{attribute.String("service", "loader")}
	for i := 0; i < len(pairs); i += 2 {
		kvs = append(kvs, attribute.String(pairs[i], pairs[i+1]))
	}
	return attribute.NewSet(kvs...)
}

// value returns the one data point of name with exactly the service and
// pairs as attributes.
func (c collected) value(t *testing.T, name string, pairs ...string) float64 {
	t.Helper()
	m, ok := c[name]
	require.True(t, ok, "no metric %s", name)
	want := attrsOf(pairs...)
	var found []float64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				found = append(found, float64(p.Value))
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				found = append(found, float64(p.Value))
			}
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				found = append(found, p.Value)
			}
		}
	default:
		t.Fatalf("%s: %T", name, m.Data)
	}
	require.Len(t, found, 1, "points of %s with %v", name, pairs)
	return found[0]
}

func (c collected) points(name string) int {
	switch d := c[name].Data.(type) {
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	}
	return -1
}

func (c collected) histogram(t *testing.T, backend string) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	want := attrsOf("backend", backend)
	d, ok := c["dlq.backend.write.duration"].Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	for _, p := range d.DataPoints {
		if p.Attributes.Equals(&want) {
			return p
		}
	}
	t.Fatalf("no histogram point for %s", backend)
	return metricdata.HistogramDataPoint[float64]{}
}

// requireBetween checks every collected value against Stats taken just
// before (lo) and after (hi) the collection.
func requireBetween(t *testing.T, c collected, lo, hi dlq.Stats) {
	t.Helper()
	between := func(name string, lo, hi float64, pairs ...string) {
		t.Helper()
		v := c.value(t, name, pairs...)
		assert.True(t, lo <= v && v <= hi, "%s%v = %v, Stats say %v..%v", name, pairs, v, lo, hi)
	}
	u := func(n uint64) float64 { return float64(n) }
	between("dlq.entries.accepted", u(lo.Accepted), u(hi.Accepted))
	between("dlq.entries.written", u(lo.Written), u(hi.Written))
	between("dlq.entries.retried", u(lo.Retried), u(hi.Retried))
	for _, r := range []string{dlq.ReasonQueueFull, dlq.ReasonClosed, dlq.ReasonCanceled, dlq.ReasonDisabled, dlq.ReasonStorm} {
		between("dlq.entries.dropped", u(lo.DroppedBy[r]), u(hi.DroppedBy[r]), "reason", r)
	}
	for _, r := range []dlq.LossReason{dlq.ReasonAllFailed, dlq.ReasonOversize, dlq.ReasonShutdown} {
		between("dlq.entries.lost", u(lo.LostBy[r]), u(hi.LostBy[r]), "reason", string(r))
	}
	assert.Equal(t, len(hi.ByReason), c.points("dlq.entries.by_reason"))
	for r := range hi.ByReason {
		between("dlq.entries.by_reason", u(lo.ByReason[r]), u(hi.ByReason[r]), "reason", r)
	}
	between("dlq.entries.pending", float64(min(lo.Pending, hi.Pending)), float64(max(lo.Pending, hi.Pending)))
	between("dlq.queue.depth", float64(min(lo.QueueDepth, hi.QueueDepth)), float64(max(lo.QueueDepth, hi.QueueDepth)))
	between("dlq.queue.capacity", float64(hi.QueueCapacity), float64(hi.QueueCapacity))
	between("dlq.oldest_pending.age", lo.OldestPendingAge.Seconds(), hi.OldestPendingAge.Seconds())
	between("dlq.storm.trips", u(lo.StormTrips), u(hi.StormTrips))
	if lo.StormTripped == hi.StormTripped {
		tripped := 0.0
		if hi.StormTripped {
			tripped = 1
		}
		between("dlq.storm.tripped", tripped, tripped)
	}
	for i, b := range hi.Backends {
		l, name := lo.Backends[i], b.Kind.String()
		between("dlq.backend.entries", u(l.Entries), u(b.Entries), "backend", name)
		between("dlq.backend.batches", u(l.Batches), u(b.Batches), "backend", name)
		between("dlq.backend.errors", u(l.Errors), u(b.Errors), "backend", name)
		between("dlq.backend.missed", u(l.Missed), u(b.Missed), "backend", name)
		if l.CoolingDown == b.CoolingDown {
			up := 1.0
			if b.CoolingDown {
				up = 0
			}
			between("dlq.backend.up", up, up, "backend", name)
		}
		p := c.histogram(t, name)
		assert.True(t, l.Batches <= p.Count && p.Count <= b.Batches,
			"one observation per batch: %d, Stats say %d..%d", p.Count, l.Batches, b.Batches)
	}
}

func TestCollectThroughOutage(t *testing.T) {
	// A file backend on a full tmpfs, collected while it is down, after the
	// tmpfs is enlarged, and after Close.
	disk := testenv.MountTmpfs(t, 64<<10)
	disk.Fill()
	h := dlqotel.NewBatchObserver()
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: disk.Dir},
		BatchSize: 8, QueueCapacity: 16,
		Retry:   dlq.RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20},
		OnBatch: h.Observe,
		Logger:  slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer o.Close(context.Background()) // a failed test must not leave the tmpfs busy
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	for i := range 5 {
		require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "p%d", i)}))
	}
	// Batches written before New binds the observer are kept for it.
	require.Eventually(t, func() bool { return o.Stats().Backends[0].Batches > 0 }, 10*time.Second, time.Millisecond)
	m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp), dlqotel.WithBatchObserver(h))
	require.NoError(t, err)
	defer m.Unregister()
	require.Eventually(t, func() bool { return o.Stats().Retried > 3 }, 10*time.Second, time.Millisecond)
	full := 0
	for i := range 20 {
		if err := o.Send(dlq.Entry{Reason: "timeout", Payload: fmt.Appendf(nil, "t%d", i)}); err != nil {
			require.ErrorIs(t, err, dlq.ErrQueueFull)
			full++
		}
	}
	require.Equal(t, 4, full)

	t.Run("backend down", func(t *testing.T) {
		lo := o.Stats()
		c := collect(t, reader)
		hi := o.Stats()
		requireBetween(t, c, lo, hi)
		assert.Equal(t, 0.0, c.value(t, "dlq.backend.up", "backend", "file"))
		assert.Equal(t, 21.0, c.value(t, "dlq.entries.pending"))
		assert.Equal(t, 16.0, c.value(t, "dlq.queue.depth"))
		assert.Equal(t, 4.0, c.value(t, "dlq.entries.dropped", "reason", "queue_full"))
		assert.Positive(t, c.value(t, "dlq.oldest_pending.age"))
		assert.Zero(t, c.value(t, "dlq.entries.written"))
		got := map[string]string{}
		for name, m := range c {
			got[name] = kind(t, m)
		}
		assert.Equal(t, kinds, got)
		assert.Equal(t, "s", c["dlq.oldest_pending.age"].Unit)
		assert.Equal(t, "s", c["dlq.backend.write.duration"].Unit)
	})

	disk.Resize(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, o.SendContext(ctx, dlq.Entry{Reason: "bad\xffutf8", Payload: []byte("b")}), "waits for the queue to move")
	require.NoError(t, o.Flush(ctx))

	t.Run("backend recovered", func(t *testing.T) {
		s := o.Stats()
		c := collect(t, reader)
		s.ByReason = map[string]uint64{"parse_error": 5, "timeout": 16, "bad\uFFFDutf8": 1} // as attributes must be
		requireBetween(t, c, s, s)
		assert.Equal(t, 1.0, c.value(t, "dlq.backend.up", "backend", "file"))
		assert.Equal(t, 22.0, c.value(t, "dlq.entries.written"))
		assert.Zero(t, c.value(t, "dlq.oldest_pending.age"))
		p := c.histogram(t, "file")
		assert.Equal(t, s.Backends[0].Batches, p.Count)
		assert.Positive(t, p.Sum)
		assert.Equal(t, dlqotel.DefaultBuckets, p.Bounds)
	})

	require.NoError(t, o.Close(context.Background()))
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "late"}), dlq.ErrClosed)

	t.Run("after Close", func(t *testing.T) {
		s := o.Stats()
		c := collect(t, reader)
		s.ByReason = map[string]uint64{"parse_error": 5, "timeout": 16, "bad\uFFFDutf8": 1}
		requireBetween(t, c, s, s)
		assert.Equal(t, 1.0, c.value(t, "dlq.entries.dropped", "reason", "closed"))
	})
}

func TestCollectStormBrake(t *testing.T) {
	// A storm brake that trips on 3 dead letters in a row, collected
	// before and while it refuses entries.
	h := dlqotel.NewBatchObserver()
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: t.TempDir()},
		OnBatch: h.Observe, Logger: slog.New(slog.DiscardHandler),
		Storm: dlq.StormConfig{MaxConsecutive: 3}})
	require.NoError(t, err)
	defer o.Close(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp), dlqotel.WithBatchObserver(h))
	require.NoError(t, err)
	defer m.Unregister()

	c := collect(t, reader)
	assert.Zero(t, c.value(t, "dlq.storm.tripped"))
	assert.Zero(t, c.value(t, "dlq.storm.trips"))
	assert.Zero(t, c.value(t, "dlq.entries.dropped", "reason", "storm"), "observed before the first refusal")

	for i := range 3 {
		require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "p%d", i)}))
	}
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "parse_error"}), dlq.ErrStorm)
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "parse_error"}), dlq.ErrStorm)
	require.Eventually(t, func() bool { return o.Stats().StormTrips == 1 }, 30*time.Second, time.Millisecond,
		"the brake's goroutine counts the trip")
	require.NoError(t, o.Flush(context.Background()))
	s := o.Stats()
	c = collect(t, reader)
	requireBetween(t, c, s, s)
	assert.Equal(t, 1.0, c.value(t, "dlq.storm.tripped"))
	assert.Equal(t, 1.0, c.value(t, "dlq.storm.trips"))
	assert.Equal(t, 2.0, c.value(t, "dlq.entries.dropped", "reason", "storm"))
	assert.Equal(t, "1", c["dlq.storm.tripped"].Unit)
}

func TestOptions(t *testing.T) {
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: t.TempDir()}})
	require.NoError(t, err)
	defer o.Close(context.Background())
	require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte("x")}))
	require.NoError(t, o.Flush(context.Background()))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	t.Run("attributes, and a service attribute replaces the name", func(t *testing.T) {
		m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp),
			dlqotel.WithAttributes(attribute.String("pipeline", "ingest"), attribute.String("service", "renamed")))
		require.NoError(t, err)
		defer m.Unregister()
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		want := attribute.NewSet(attribute.String("service", "renamed"), attribute.String("pipeline", "ingest"))
		d := rm.ScopeMetrics[0].Metrics[slices.IndexFunc(rm.ScopeMetrics[0].Metrics, func(m metricdata.Metrics) bool {
			return m.Name == "dlq.entries.accepted"
		})].Data.(metricdata.Sum[int64])
		require.Len(t, d.DataPoints, 1)
		assert.True(t, d.DataPoints[0].Attributes.Equals(&want), d.DataPoints[0].Attributes.Encoded(attribute.DefaultEncoder()))
	})
	t.Run("Unregister stops observing", func(t *testing.T) {
		m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp))
		require.NoError(t, err)
		require.NoError(t, m.Unregister())
		c := collect(t, reader)
		assert.Empty(t, c)
	})
	t.Run("without an observer, no histogram", func(t *testing.T) {
		m, err := dlqotel.New(o, dlqotel.WithMeterProvider(mp))
		require.NoError(t, err)
		defer m.Unregister()
		c := collect(t, reader)
		assert.Len(t, c, len(kinds)-1)
		assert.NotContains(t, c, "dlq.backend.write.duration")
	})
}
