package dlqkgo_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEntry: a record read from a broker becomes a dead letter with every
// field a replay needs, and reads back from the DLQ the same: partition 0
// and offset 0 present, key, headers in order (a repeated key kept), the
// reason from the classifier, no Timestamp (Send stamps the time it
// failed, the Orchestrator's clock) and the record's timestamp in
// Metadata under MetadataTimestamp.
func TestEntry(t *testing.T) {
	b := startBroker(t, 2)
	stamp := time.UnixMilli(1764200000123)
	headers := []kgo.RecordHeader{{Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("1")},
		{Key: "b", Value: []byte{0, 0xff}}, {Key: "empty"}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	require.NoError(t, pr.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: []byte("k-0"),
		Value: []byte(`{"id":`), Headers: headers, Timestamp: stamp}).FirstErr())
	pr.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	require.NoError(t, err)
	defer cl.Close()
	var rec *kgo.Record
	for rec == nil {
		fs := cl.PollFetches(ctx)
		require.NoError(t, fs.Err0())
		if recs := fs.Records(); len(recs) > 0 {
			rec = recs[0]
		}
	}
	require.Zero(t, rec.Offset)

	classify := func(err error) string {
		if errors.Is(err, errParse) {
			return "parse_error"
		}
		return ""
	}
	e := dlqkgo.Entry(rec, errParse, classify)
	want := dlq.Entry{
		Reason:      "parse_error",
		Error:       errParse.Error(),
		Payload:     []byte(`{"id":`),
		Destination: topic,
		Source:      dlq.KafkaSource(topic, 0, 0),
		Key:         []byte("k-0"),
		Headers: []dlq.Header{{Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("1")},
			{Key: "b", Value: []byte{0, 0xff}}, {Key: "empty"}},
		Metadata: map[string]string{dlqkgo.MetadataTimestamp: "2025-11-26T23:33:20.123Z"},
	}
	assert.Equal(t, "kafka.timestamp", dlqkgo.MetadataTimestamp)
	assert.True(t, e.Timestamp.IsZero(), "Timestamp %v: Send stamps the time it failed", e.Timestamp)
	assertEntry(t, want, e)

	// Through the file backend and back, as an operator reads it: the
	// Timestamp is the Orchestrator's clock at Send, the Metadata kept.
	dir := t.TempDir()
	failed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}, Clock: func() time.Time { return failed }})
	require.NoError(t, o.Send(e))
	require.NoError(t, o.Flush(ctx))
	r, err := dlq.OpenReader(filepath.Join(dir, service), dlq.ReaderOptions{})
	require.NoError(t, err)
	var read []dlq.Entry
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		read = append(read, rec.Entry)
	}
	require.Len(t, read, 1)
	want.Service = service
	want.Timestamp = failed
	assertEntry(t, want, read[0])

	t.Run("reason and error defaults", func(t *testing.T) {
		for _, test := range []struct {
			name     string
			err      error
			classify func(error) string
			reason   string
			text     string
		}{
			{"no classifier", errParse, nil, dlqkgo.DefaultReason, errParse.Error()},
			{"the classifier names none", errors.New("boom"), classify, dlqkgo.DefaultReason, "boom"},
			{"no error", nil, nil, dlqkgo.DefaultReason, ""},
		} {
			t.Run(test.name, func(t *testing.T) {
				e := dlqkgo.Entry(rec, test.err, test.classify)
				assert.Equal(t, test.reason, e.Reason)
				assert.Equal(t, test.text, e.Error)
			})
		}
	})

	t.Run("a record without a timestamp has no metadata", func(t *testing.T) {
		for _, ts := range []time.Time{{}, time.UnixMilli(-1)} {
			r := *rec
			r.Timestamp = ts
			e := dlqkgo.Entry(&r, errParse, nil)
			assert.True(t, e.Timestamp.IsZero(), "timestamp %v", ts)
			assert.Nil(t, e.Metadata, "timestamp %v", ts)
		}
	})

	t.Run("the record's timestamp in UTC", func(t *testing.T) {
		r := *rec
		r.Timestamp = time.UnixMilli(0).In(time.FixedZone("UTC+5", 5*3600))
		assert.Equal(t, map[string]string{dlqkgo.MetadataTimestamp: "1970-01-01T00:00:00.000Z"},
			dlqkgo.Entry(&r, errParse, nil).Metadata)
	})

	t.Run("a record without key or headers", func(t *testing.T) {
		e := dlqkgo.Entry(&kgo.Record{Topic: topic, Partition: 3, Offset: 7, Value: []byte("v")}, errParse, nil)
		assert.Nil(t, e.Key)
		assert.Nil(t, e.Headers)
		assert.Equal(t, dlq.KafkaSource(topic, 3, 7), e.Source)
	})
}

// TestEntryTimestampIsWhenTheRecordFailed: records produced three hours
// before they fail (a consumer lagging behind) are dead-lettered, the
// second after the DLQ's clock moved into the next hour, which rotates
// the file holding the first. A Reader with Filter{Since: an hour ago}
// on the folder, as dlq inspect --since 1h, finds both: their Timestamp
// is when they failed, their produce time in Metadata.
func TestEntryTimestampIsWhenTheRecordFailed(t *testing.T) {
	b := startBroker(t, 1)
	fails := []time.Time{time.Date(2026, 3, 1, 10, 50, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 5, 0, 0, time.UTC)}
	now := fails[1]
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	for i, at := range fails {
		require.NoError(t, pr.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i)),
			Timestamp: at.Add(-3 * time.Hour)}).FirstErr())
	}
	pr.Close()

	dir := t.TempDir()
	var clock atomic.Int64 // the DLQ's clock, in Unix milliseconds
	clock.Store(fails[0].UnixMilli())
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir, Rotation: dlq.RotateHourly},
		Clock: func() time.Time { return time.UnixMilli(clock.Load()) }})
	c := newConsumer(t, newClient(t, b.Addr, "g"), o, dlqkgo.Options{})
	for n := 0; n < len(fails); {
		fs := c.Poll(ctx)
		require.NoError(t, ctx.Err(), "%d of %d records dead-lettered", n, len(fails))
		for rec := range c.Records(fs) {
			clock.Store(fails[seq(t, rec)].UnixMilli())
			require.NoError(t, c.DeadLetter(ctx, rec, errParse))
			require.NoError(t, c.Commit(ctx)) // written (and the file rotated) at this clock
			n++
		}
	}
	rotated, err := filepath.Glob(filepath.Join(dir, service, "dlq-*"))
	require.NoError(t, err)
	require.Len(t, rotated, 1, "the file rotated at %s", now)

	r, err := dlq.OpenReader(filepath.Join(dir, service), dlq.ReaderOptions{Filter: dlq.Filter{Since: now.Add(-time.Hour)}})
	require.NoError(t, err)
	got := map[int64]dlq.Entry{}
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got[rec.Entry.Source.Offset] = rec.Entry
	}
	require.Len(t, got, len(fails), "dead letters found --since %s", now.Add(-time.Hour))
	for i, at := range fails {
		e := got[int64(i)]
		assert.True(t, at.Equal(e.Timestamp), "record %d: Timestamp %v, failed at %v", i, e.Timestamp, at)
		assert.Equal(t, map[string]string{dlqkgo.MetadataTimestamp: at.Add(-3 * time.Hour).Format("2006-01-02T15:04:05.000Z")},
			e.Metadata, "record %d", i)
	}
}

var errParse = errors.New("parse: unexpected end of JSON input")

// assertEntry compares the fields Entry sets, the timestamp to the
// millisecond (the envelope's precision).
func assertEntry(t *testing.T, want, got dlq.Entry) {
	t.Helper()
	assert.Equal(t, want.Timestamp.UnixMilli(), got.Timestamp.UnixMilli(), "timestamp")
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	got.ID = ""
	for i := range got.Headers {
		if len(got.Headers[i].Value) == 0 {
			got.Headers[i].Value = nil // nil and empty read back alike
		}
	}
	assert.Equal(t, want, got)
}
