package dlqkafkago_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errSchema is an error a classifier recognises.
var errSchema = errors.New("unknown field \"tier\"")

func classify(err error) string {
	if errors.Is(err, errSchema) {
		return "schema_mismatch"
	}
	return ""
}

// TestEntryRoundTrip: a message read from a topic, dead-lettered and read
// back from the DLQ with dlq.Reader, keeps every field; its Timestamp is
// when it failed (the Orchestrator's clock at Send), the message's own
// time in Metadata under MetadataTimestamp.
func TestEntryRoundTrip(t *testing.T) {
	b := kafkatest.StartInProcess(t)
	at := time.UnixMilli(1764200000123)
	headers := []kafka.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0, 0xff, '\n'}},
		{Key: "trace", Value: []byte("t-2")}}
	produce(t, b, "acme.auth", 2, 3, func(i int) kafka.Message {
		return kafka.Message{Partition: 1, Key: []byte("user-" + strconv.Itoa(i)), Value: []byte{'{', byte(i), 0xfe},
			Headers: headers, Time: at}
	})
	dir := t.TempDir()
	failed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	o := newDLQ(t, dir, dlq.Config{Clock: func() time.Time { return failed }})
	c, err := dlqkafkago.New(newReader(t, b, "acme.auth", "g"), o, dlqkafkago.Options{Classify: classify})
	require.NoError(t, err)
	ctx := deadline(t, time.Minute)

	msgs := fetchAll(ctx, t, c, 3)
	require.NoError(t, c.DeadLetter(ctx, msgs[0], errSchema))
	require.NoError(t, c.DeadLetter(ctx, msgs[1], &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}))
	c.Done(msgs[2])
	require.NoError(t, c.Commit(ctx))

	inDLQ, _ := readDLQ(t, dir)
	require.Len(t, inDLQ, 2)
	for i, want := range []struct{ reason, err string }{
		{"schema_mismatch", `unknown field "tier"`},
		{dlqkafkago.DefaultReason, "open /x: file does not exist"},
	} {
		e := inDLQ[int64(i)]
		assert.Equal(t, want.reason, e.Reason)
		assert.Equal(t, want.err, e.Error)
		assert.Equal(t, []byte{'{', byte(i), 0xfe}, e.Payload)
		assert.Equal(t, []byte("user-"+strconv.Itoa(i)), e.Key)
		assert.Equal(t, []dlq.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0, 0xff, '\n'}},
			{Key: "trace", Value: []byte("t-2")}}, e.Headers, "every header, in order")
		assert.Equal(t, "acme.auth", e.Destination)
		assert.Equal(t, dlq.KafkaSource("acme.auth", 1, int64(i)), e.Source)
		assert.Equal(t, map[string]string{"kafka.timestamp": "2025-11-26T23:33:20.123Z"}, e.Metadata)
		assert.True(t, failed.Equal(e.Timestamp), "Timestamp %v is when the message failed, %v", e.Timestamp, failed)
		assert.Equal(t, "consumer", e.Service)
		assert.NotEmpty(t, e.ID)
	}
}

func TestEntry(t *testing.T) {
	for _, test := range []struct {
		name     string
		msg      kafka.Message
		err      error
		classify func(error) string
		want     dlq.Entry
	}{
		{"no classifier", kafka.Message{Topic: "t", Offset: 0, Value: []byte("v")}, errors.New("boom"), nil,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Error: "boom", Payload: []byte("v"), Destination: "t",
				Source: dlq.KafkaSource("t", 0, 0)}},
		{"the classifier has no reason", kafka.Message{Topic: "t", Partition: 3, Offset: 9}, errors.New("boom"), classify,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Error: "boom", Destination: "t", Source: dlq.KafkaSource("t", 3, 9)}},
		{"the classifier's reason", kafka.Message{Topic: "t"}, errSchema, classify,
			dlq.Entry{Reason: "schema_mismatch", Error: errSchema.Error(), Destination: "t", Source: dlq.KafkaSource("t", 0, 0)}},
		{"no error", kafka.Message{Topic: "t", Time: time.UnixMilli(5)}, nil, nil,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Destination: "t", Source: dlq.KafkaSource("t", 0, 0),
				Metadata: map[string]string{dlqkafkago.MetadataTimestamp: "1970-01-01T00:00:00.005Z"}}},
		{"the message's time in UTC", kafka.Message{Topic: "t", Time: time.UnixMilli(1764200000123).In(time.FixedZone("UTC-7", -7*3600))}, nil, nil,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Destination: "t", Source: dlq.KafkaSource("t", 0, 0),
				Metadata: map[string]string{dlqkafkago.MetadataTimestamp: "2025-11-26T23:33:20.123Z"}}},
		{"a negative timestamp is none", kafka.Message{Topic: "t", Time: time.UnixMilli(-1)}, nil, nil,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Destination: "t", Source: dlq.KafkaSource("t", 0, 0)}},
	} {
		t.Run(test.name, func(t *testing.T) {
			assert.Equal(t, test.want, dlqkafkago.Entry(test.msg, test.err, test.classify))
		})
	}
}

// TestEntryTimestampIsWhenTheMessageFailed: messages produced three hours
// before they fail (a consumer lagging behind) are dead-lettered, the
// second after the DLQ's clock moved into the next hour, which rotates
// the file holding the first. A Reader with Filter{Since: an hour ago}
// on the folder, as dlq inspect --since 1h, finds both: their Timestamp
// is when they failed, their produce time in Metadata.
func TestEntryTimestampIsWhenTheMessageFailed(t *testing.T) {
	assert.Equal(t, "kafka.timestamp", dlqkafkago.MetadataTimestamp)
	b := kafkatest.StartInProcess(t)
	fails := []time.Time{time.Date(2026, 3, 1, 10, 50, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 5, 0, 0, time.UTC)}
	now := fails[1]
	produce(t, b, "events", 1, len(fails), func(i int) kafka.Message {
		return kafka.Message{Value: []byte(strconv.Itoa(i)), Time: fails[i].Add(-3 * time.Hour)}
	})
	dir := t.TempDir()
	var clock atomic.Int64 // the DLQ's clock, in Unix milliseconds
	clock.Store(fails[0].UnixMilli())
	o := newDLQ(t, dir, dlq.Config{File: dlq.FileConfig{Rotation: dlq.RotateHourly},
		Clock: func() time.Time { return time.UnixMilli(clock.Load()) }})
	c, err := dlqkafkago.New(newReader(t, b, "events", "g"), o, dlqkafkago.Options{})
	require.NoError(t, err)
	ctx := deadline(t, time.Minute)
	for i, msg := range fetchAll(ctx, t, c, len(fails)) {
		clock.Store(fails[i].UnixMilli())
		require.NoError(t, c.DeadLetter(ctx, msg, errSchema))
		require.NoError(t, c.Commit(ctx)) // written (and the file rotated) at this clock
	}
	rotated, err := filepath.Glob(filepath.Join(dir, "consumer", "dlq-*"))
	require.NoError(t, err)
	require.Len(t, rotated, 1, "the file rotated at %s", now)

	r, err := dlq.OpenReader(filepath.Join(dir, "consumer"), dlq.ReaderOptions{Filter: dlq.Filter{Since: now.Add(-time.Hour)}})
	require.NoError(t, err)
	got := map[int64]dlq.Entry{}
	for rec, err := range r.All(ctx) {
		require.NoError(t, err)
		got[rec.Entry.Source.Offset] = rec.Entry
	}
	require.Len(t, got, len(fails), "dead letters found --since %s", now.Add(-time.Hour))
	for i, at := range fails {
		e := got[int64(i)]
		assert.True(t, at.Equal(e.Timestamp), "message %d: Timestamp %v, failed at %v", i, e.Timestamp, at)
		assert.Equal(t, map[string]string{dlqkafkago.MetadataTimestamp: at.Add(-3 * time.Hour).Format("2006-01-02T15:04:05.000Z")},
			e.Metadata, "message %d", i)
	}
}
