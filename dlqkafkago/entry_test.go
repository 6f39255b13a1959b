package dlqkafkago_test

import (
	"errors"
	"io/fs"
	"strconv"
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
// back from the DLQ with dlq.Reader, keeps every field.
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
	o := newDLQ(t, dir, dlq.Config{})
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
		assert.Nil(t, e.Metadata)
		assert.True(t, at.Equal(e.Timestamp), "Timestamp %v is the message's", e.Timestamp)
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
			dlq.Entry{Timestamp: time.UnixMilli(5), Reason: dlqkafkago.DefaultReason, Destination: "t", Source: dlq.KafkaSource("t", 0, 0)}},
		{"a negative timestamp is none", kafka.Message{Topic: "t", Time: time.UnixMilli(-1)}, nil, nil,
			dlq.Entry{Reason: dlqkafkago.DefaultReason, Destination: "t", Source: dlq.KafkaSource("t", 0, 0)}},
	} {
		t.Run(test.name, func(t *testing.T) {
			assert.Equal(t, test.want, dlqkafkago.Entry(test.msg, test.err, test.classify))
		})
	}
}
