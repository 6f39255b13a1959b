package dlqkgo

import (
	"github.com/dlqkit/dlq"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultReason is the Reason of an entry whose error no classifier named:
// Entry's classify is nil or returned "".
const DefaultReason = "processing_error"

// Entry returns the dead letter of rec, which failed with err:
//
//   - Source: the record's topic, partition and offset (a partition 0 and
//     an offset 0 are kept, as every coordinate is present);
//   - Destination: the record's topic, so that the Kafka backend's
//     per_table routing sends the dead letters of "events" to
//     "events.dlq", and a replay to {destination} sends them back;
//   - Key and Headers: the record's, headers in their order, so that a
//     replay sends the message back as it came;
//   - Timestamp: the record's (a record without one, or with a negative
//     one, leaves it zero: Send then fills in the time it failed);
//   - Payload: the record's Value;
//   - Error: err.Error() ("" when err is nil);
//   - Reason: classify(err), or DefaultReason when classify is nil or
//     returns "".
//
// The entry shares the record's Key, Value and header values, without
// copying them: a program that recycles records (kgo.WithPools) must not
// recycle one it dead-lettered.
func Entry(rec *kgo.Record, err error, classify func(error) string) dlq.Entry {
	e := dlq.Entry{
		Reason:      DefaultReason,
		Payload:     rec.Value,
		Destination: rec.Topic,
		Source:      dlq.KafkaSource(rec.Topic, rec.Partition, rec.Offset),
		Key:         rec.Key,
	}
	if classify != nil {
		if r := classify(err); r != "" {
			e.Reason = r
		}
	}
	if err != nil {
		e.Error = err.Error()
	}
	if !rec.Timestamp.IsZero() && rec.Timestamp.UnixMilli() >= 0 {
		e.Timestamp = rec.Timestamp
	}
	if len(rec.Headers) > 0 {
		e.Headers = make([]dlq.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			e.Headers[i] = dlq.Header{Key: h.Key, Value: h.Value}
		}
	}
	return e
}
