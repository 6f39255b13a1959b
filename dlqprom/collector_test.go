package dlqprom_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqprom"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pinned are the metric names DESIGN.md lists, with their types, and the
// storm brake's trip count.
var pinned = map[string]dto.MetricType{
	"dlq_entries_accepted_total":         dto.MetricType_COUNTER,
	"dlq_entries_written_total":          dto.MetricType_COUNTER,
	"dlq_entries_retried_total":          dto.MetricType_COUNTER,
	"dlq_entries_dropped_total":          dto.MetricType_COUNTER,
	"dlq_entries_lost_total":             dto.MetricType_COUNTER,
	"dlq_entries_by_reason_total":        dto.MetricType_COUNTER,
	"dlq_entries_pending":                dto.MetricType_GAUGE,
	"dlq_queue_depth":                    dto.MetricType_GAUGE,
	"dlq_queue_capacity":                 dto.MetricType_GAUGE,
	"dlq_oldest_pending_age_seconds":     dto.MetricType_GAUGE,
	"dlq_backend_entries_total":          dto.MetricType_COUNTER,
	"dlq_backend_batches_total":          dto.MetricType_COUNTER,
	"dlq_backend_errors_total":           dto.MetricType_COUNTER,
	"dlq_backend_missed_total":           dto.MetricType_COUNTER,
	"dlq_backend_up":                     dto.MetricType_GAUGE,
	"dlq_backend_write_duration_seconds": dto.MetricType_HISTOGRAM,
	"dlq_storm_tripped":                  dto.MetricType_GAUGE,
	"dlq_storm_trips_total":              dto.MetricType_COUNTER,
}

// scrape GETs url and parses the text exposition.
func scrape(t *testing.T, url string) families {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

type families map[string]*dto.MetricFamily

// metric returns the one series of name whose labels include the given
// name=value pairs.
func (f families) metric(t *testing.T, name string, pairs ...string) *dto.Metric {
	t.Helper()
	fam, ok := f[name]
	require.True(t, ok, "no family %s", name)
	var found []*dto.Metric
	for _, m := range fam.GetMetric() {
		if hasLabels(m, pairs...) {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "series of %s with %v", name, pairs)
	return found[0]
}

func hasLabels(m *dto.Metric, pairs ...string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == pairs[i] && l.GetValue() == pairs[i+1]
		}) {
			return false
		}
	}
	return true
}

func (f families) value(t *testing.T, name string, pairs ...string) float64 {
	t.Helper()
	m := f.metric(t, name, pairs...)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is neither counter nor gauge", name)
	return 0
}

// requireBetween checks every scraped value against two Stats snapshots
// taken just before (lo) and after (hi) the scrape: counters and ages only
// grow, so each lies between the two; on a quiet Orchestrator lo == hi.
func requireBetween(t *testing.T, f families, lo, hi dlq.Stats, withHistogram bool) {
	t.Helper()
	between := func(name string, lo, hi float64, pairs ...string) {
		t.Helper()
		v := f.value(t, name, pairs...)
		assert.True(t, lo <= v && v <= hi, "%s%v = %v, Stats say %v..%v", name, pairs, v, lo, hi)
	}
	u := func(n uint64) float64 { return float64(n) }
	between("dlq_entries_accepted_total", u(lo.Accepted), u(hi.Accepted))
	between("dlq_entries_written_total", u(lo.Written), u(hi.Written))
	between("dlq_entries_retried_total", u(lo.Retried), u(hi.Retried))
	for _, r := range []string{dlq.ReasonQueueFull, dlq.ReasonClosed, dlq.ReasonCanceled, dlq.ReasonDisabled, dlq.ReasonStorm} {
		between("dlq_entries_dropped_total", u(lo.DroppedBy[r]), u(hi.DroppedBy[r]), "reason", r)
	}
	for _, r := range []dlq.LossReason{dlq.ReasonAllFailed, dlq.ReasonOversize, dlq.ReasonShutdown} {
		between("dlq_entries_lost_total", u(lo.LostBy[r]), u(hi.LostBy[r]), "reason", string(r))
	}
	assert.Len(t, f["dlq_entries_by_reason_total"].GetMetric(), len(hi.ByReason))
	for r := range hi.ByReason {
		label := strings.ToValidUTF8(r, "\uFFFD") // as label values must be
		between("dlq_entries_by_reason_total", u(lo.ByReason[r]), u(hi.ByReason[r]), "reason", label)
	}
	between("dlq_entries_pending", float64(min(lo.Pending, hi.Pending)), float64(max(lo.Pending, hi.Pending)))
	between("dlq_queue_depth", float64(min(lo.QueueDepth, hi.QueueDepth)), float64(max(lo.QueueDepth, hi.QueueDepth)))
	between("dlq_queue_capacity", float64(hi.QueueCapacity), float64(hi.QueueCapacity))
	between("dlq_oldest_pending_age_seconds", lo.OldestPendingAge.Seconds(), hi.OldestPendingAge.Seconds())
	between("dlq_storm_trips_total", u(lo.StormTrips), u(hi.StormTrips))
	if lo.StormTripped == hi.StormTripped {
		tripped := 0.0
		if hi.StormTripped {
			tripped = 1
		}
		between("dlq_storm_tripped", tripped, tripped)
	}
	for i, b := range hi.Backends {
		l, name := lo.Backends[i], b.Kind.String()
		between("dlq_backend_entries_total", u(l.Entries), u(b.Entries), "backend", name)
		between("dlq_backend_batches_total", u(l.Batches), u(b.Batches), "backend", name)
		between("dlq_backend_errors_total", u(l.Errors), u(b.Errors), "backend", name)
		between("dlq_backend_missed_total", u(l.Missed), u(b.Missed), "backend", name)
		if l.CoolingDown == b.CoolingDown {
			up := 1.0
			if b.CoolingDown {
				up = 0
			}
			between("dlq_backend_up", up, up, "backend", name)
		}
		if withHistogram {
			h := f.metric(t, "dlq_backend_write_duration_seconds", "backend", name).GetHistogram()
			assert.True(t, l.Batches <= h.GetSampleCount() && h.GetSampleCount() <= b.Batches,
				"one observation per batch: %d, Stats say %d..%d", h.GetSampleCount(), l.Batches, b.Batches)
		}
	}
	for name, fam := range f {
		for _, m := range fam.GetMetric() {
			assert.True(t, hasLabels(m, "service", "loader"), "%s has the service label: %v", name, m.GetLabel())
		}
	}
}

func TestScrapeThroughOutage(t *testing.T) {
	// A file backend on a full tmpfs, scraped over HTTP while it is down,
	// after the tmpfs is enlarged, and after Close.
	disk := testenv.MountTmpfs(t, 64<<10)
	disk.Fill()
	h := dlqprom.NewBatchObserver()
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: disk.Dir},
		BatchSize: 8, QueueCapacity: 16,
		Retry:   dlq.RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 20},
		OnBatch: h.Observe,
		Logger:  slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer o.Close(context.Background())     // a failed test must not leave the tmpfs busy
	reg := prometheus.NewPedanticRegistry() // checks Collect against Describe
	require.NoError(t, reg.Register(dlqprom.New(o, dlqprom.WithBatchObserver(h))))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	url := srv.URL + "/metrics"

	for i := range 5 {
		require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "p%d", i)}))
	}
	require.Eventually(t, func() bool { return o.Stats().Retried > 3 }, 10*time.Second, time.Millisecond)
	// The drain takes nothing new while it retries: 16 fill the queue.
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
		f := scrape(t, url)
		hi := o.Stats()
		requireBetween(t, f, lo, hi, true)
		assert.Equal(t, 0.0, f.value(t, "dlq_backend_up", "backend", "file"))
		assert.Equal(t, 21.0, f.value(t, "dlq_entries_pending"))
		assert.Equal(t, 16.0, f.value(t, "dlq_queue_depth"))
		assert.Equal(t, 4.0, f.value(t, "dlq_entries_dropped_total", "reason", "queue_full"))
		assert.Positive(t, f.value(t, "dlq_oldest_pending_age_seconds"))
		assert.Positive(t, f.value(t, "dlq_backend_errors_total", "backend", "file"))
		assert.Zero(t, f.value(t, "dlq_entries_written_total"))
		for name, typ := range pinned {
			require.Contains(t, f, name)
			assert.Equal(t, typ, f[name].GetType(), name)
		}
		assert.Len(t, f, len(pinned), "only the pinned names")
	})

	disk.Resize(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, o.SendContext(ctx, dlq.Entry{Reason: "bad\xffutf8", Payload: []byte("b")}), "waits for the queue to move")
	flush(t, o)

	t.Run("backend recovered", func(t *testing.T) {
		s := o.Stats()
		f := scrape(t, url)
		requireBetween(t, f, s, s, true)
		assert.Equal(t, 1.0, f.value(t, "dlq_backend_up", "backend", "file"))
		assert.Equal(t, 22.0, f.value(t, "dlq_entries_written_total"))
		assert.Zero(t, f.value(t, "dlq_entries_pending"))
		assert.Zero(t, f.value(t, "dlq_oldest_pending_age_seconds"))
		assert.Equal(t, 5.0, f.value(t, "dlq_entries_by_reason_total", "reason", "parse_error"))
		assert.Equal(t, 16.0, f.value(t, "dlq_entries_by_reason_total", "reason", "timeout"))
		assert.Equal(t, 1.0, f.value(t, "dlq_entries_by_reason_total", "reason", "bad\uFFFDutf8"),
			"an invalid UTF-8 reason is repaired, not a failed scrape")
		hist := f.metric(t, "dlq_backend_write_duration_seconds", "backend", "file").GetHistogram()
		assert.Equal(t, s.Backends[0].Batches, hist.GetSampleCount())
		assert.Positive(t, hist.GetSampleSum())
		buckets := hist.GetBucket()
		require.Len(t, buckets, len(dlqprom.DefaultBuckets)+1, "and +Inf")
		assert.Equal(t, hist.GetSampleCount(), buckets[len(buckets)-2].GetCumulativeCount(), "no tmpfs write takes 30 s")
	})

	require.NoError(t, o.Close(context.Background()))
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "late"}), dlq.ErrClosed)

	t.Run("after Close", func(t *testing.T) {
		s := o.Stats()
		f := scrape(t, url)
		requireBetween(t, f, s, s, true)
		assert.Equal(t, 1.0, f.value(t, "dlq_entries_dropped_total", "reason", "closed"))
	})
}

func TestScrapeStormBrake(t *testing.T) {
	// A storm brake that trips on 3 dead letters in a row, scraped before,
	// while it refuses entries, and after Close.
	o := newQuiet(t, dlq.Config{Service: "loader", Logger: slog.New(slog.DiscardHandler),
		Storm: dlq.StormConfig{MaxConsecutive: 3}})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(dlqprom.New(o)))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	url := srv.URL + "/metrics"

	f := scrape(t, url)
	assert.Zero(t, f.value(t, "dlq_storm_tripped"))
	assert.Zero(t, f.value(t, "dlq_storm_trips_total"))
	assert.Zero(t, f.value(t, "dlq_entries_dropped_total", "reason", "storm"), "exported before the first refusal")

	for i := range 3 {
		require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: fmt.Appendf(nil, "p%d", i)}))
	}
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "parse_error"}), dlq.ErrStorm)
	require.ErrorIs(t, o.Send(dlq.Entry{Reason: "parse_error"}), dlq.ErrStorm)
	require.Eventually(t, func() bool { return o.Stats().StormTrips == 1 }, 30*time.Second, time.Millisecond,
		"the brake's goroutine counts the trip")
	flush(t, o)
	s := o.Stats()
	f = scrape(t, url)
	requireBetween(t, f, s, s, false)
	assert.Equal(t, 1.0, f.value(t, "dlq_storm_tripped"))
	assert.Equal(t, 1.0, f.value(t, "dlq_storm_trips_total"))
	assert.Equal(t, 2.0, f.value(t, "dlq_entries_dropped_total", "reason", "storm"))
	assert.Equal(t, 3.0, f.value(t, "dlq_entries_accepted_total"))
}

func flush(t *testing.T, o *dlq.Orchestrator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, o.Flush(ctx))
}

func newQuiet(t *testing.T, cfg dlq.Config) *dlq.Orchestrator {
	t.Helper()
	cfg.File.Dir = t.TempDir()
	o, err := dlq.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close(context.Background())) })
	return o
}

func TestCollectorLint(t *testing.T) {
	for _, test := range []struct {
		name string
		opts func(h *dlqprom.BatchObserver) []dlqprom.Option
	}{
		{name: "defaults", opts: func(*dlqprom.BatchObserver) []dlqprom.Option { return nil }},
		{name: "with histogram", opts: func(h *dlqprom.BatchObserver) []dlqprom.Option {
			return []dlqprom.Option{dlqprom.WithBatchObserver(h)}
		}},
	} {
		t.Run(test.name, func(t *testing.T) {
			h := dlqprom.NewBatchObserver()
			o := newQuiet(t, dlq.Config{Service: "loader", OnBatch: h.Observe})
			require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte("x")}))
			flush(t, o)
			problems, err := testutil.CollectAndLint(dlqprom.New(o, test.opts(h)...))
			require.NoError(t, err)
			assert.Empty(t, problems)
		})
	}
}

func TestCollectorOptions(t *testing.T) {
	h := dlqprom.NewBatchObserver(1, 0.1, 0.1) // unsorted, repeated
	o := newQuiet(t, dlq.Config{Service: "loader", OnBatch: h.Observe})
	require.NoError(t, o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte("x")}))
	flush(t, o)

	t.Run("namespace and const labels", func(t *testing.T) {
		c := dlqprom.New(o, dlqprom.WithNamespace("acme"), dlqprom.WithBatchObserver(h),
			dlqprom.WithConstLabels(prometheus.Labels{"pipeline": "ingest"}))
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))
		fams, err := reg.Gather()
		require.NoError(t, err)
		require.Len(t, fams, len(pinned))
		for _, fam := range fams {
			assert.True(t, strings.HasPrefix(fam.GetName(), "acme_"), fam.GetName())
			for _, m := range fam.GetMetric() {
				assert.True(t, hasLabels(m, "service", "loader", "pipeline", "ingest"), "%s: %v", fam.GetName(), m.GetLabel())
			}
		}
		n, err := testutil.GatherAndCount(reg, "acme_entries_accepted_total")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
	t.Run("a service label replaces the service name", func(t *testing.T) {
		c := dlqprom.New(o, dlqprom.WithConstLabels(prometheus.Labels{"service": "renamed"}))
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dlq_entries_accepted_total Entries Send or SendContext accepted.
# TYPE dlq_entries_accepted_total counter
dlq_entries_accepted_total{service="renamed"} 1
`), "dlq_entries_accepted_total"))
	})
	t.Run("buckets sorted and deduplicated", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(dlqprom.New(o, dlqprom.WithBatchObserver(h))))
		fams, err := reg.Gather()
		require.NoError(t, err)
		for _, fam := range fams {
			if fam.GetName() == "dlq_backend_write_duration_seconds" {
				var bounds []float64
				for _, b := range fam.GetMetric()[0].GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				assert.Equal(t, []float64{0.1, 1}, bounds)
				return
			}
		}
		t.Fatal("no histogram")
	})
	t.Run("without an observer, no histogram", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(dlqprom.New(o)))
		fams, err := reg.Gather()
		require.NoError(t, err)
		assert.Len(t, fams, len(pinned)-1)
		for _, fam := range fams {
			assert.NotEqual(t, "dlq_backend_write_duration_seconds", fam.GetName())
		}
	})
}

func TestBatchObserverBuckets(t *testing.T) {
	// Bounds are inclusive upper bounds, and counts cumulative.
	h := dlqprom.NewBatchObserver(0.001, 0.01)
	for _, d := range []time.Duration{500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 2 * time.Second} {
		h.Observe(dlq.BatchEvent{Kind: dlq.KindFile, Entries: 1, Duration: d})
	}
	h.Observe(dlq.BatchEvent{Kind: dlq.KindKafka, Entries: 1, Duration: time.Second}) // not a backend of o
	o := newQuiet(t, dlq.Config{Service: "loader"})
	assert.NoError(t, testutil.CollectAndCompare(dlqprom.New(o, dlqprom.WithBatchObserver(h)), strings.NewReader(`
# HELP dlq_backend_write_duration_seconds How long batch writes to the backend took.
# TYPE dlq_backend_write_duration_seconds histogram
dlq_backend_write_duration_seconds_bucket{backend="file",service="loader",le="0.001"} 2
dlq_backend_write_duration_seconds_bucket{backend="file",service="loader",le="0.01"} 3
dlq_backend_write_duration_seconds_bucket{backend="file",service="loader",le="+Inf"} 4
dlq_backend_write_duration_seconds_sum{backend="file",service="loader"} 2.0065
dlq_backend_write_duration_seconds_count{backend="file",service="loader"} 4
`), "dlq_backend_write_duration_seconds"))
}
