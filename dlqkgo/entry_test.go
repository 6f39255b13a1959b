package dlqkgo_test

import (
	"context"
	"errors"
	"path/filepath"
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
// record's timestamp, the reason from the classifier.
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
		Timestamp:   stamp,
		Reason:      "parse_error",
		Error:       errParse.Error(),
		Payload:     []byte(`{"id":`),
		Destination: topic,
		Source:      dlq.KafkaSource(topic, 0, 0),
		Key:         []byte("k-0"),
		Headers: []dlq.Header{{Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("1")},
			{Key: "b", Value: []byte{0, 0xff}}, {Key: "empty"}},
	}
	assertEntry(t, want, e)

	// Through the file backend and back, as an operator reads it.
	dir := t.TempDir()
	o := newDLQ(t, dlq.Config{File: dlq.FileConfig{Dir: dir}})
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

	t.Run("a record without a timestamp leaves it to Send", func(t *testing.T) {
		for _, ts := range []time.Time{{}, time.UnixMilli(-1)} {
			r := *rec
			r.Timestamp = ts
			assert.True(t, dlqkgo.Entry(&r, errParse, nil).Timestamp.IsZero(), "timestamp %v", ts)
		}
	})

	t.Run("a record without key or headers", func(t *testing.T) {
		e := dlqkgo.Entry(&kgo.Record{Topic: topic, Partition: 3, Offset: 7, Value: []byte("v")}, errParse, nil)
		assert.Nil(t, e.Key)
		assert.Nil(t, e.Headers)
		assert.Equal(t, dlq.KafkaSource(topic, 3, 7), e.Source)
	})
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
