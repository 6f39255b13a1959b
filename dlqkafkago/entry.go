package dlqkafkago

import (
	"time"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// DefaultReason is the Reason of an entry whose error no classifier named:
// Entry's classify is nil or returned "". dlqkgo uses the same.
const DefaultReason = "processing_error"

// MetadataTimestamp is the Metadata key under which Entry keeps the
// message's own timestamp (kafka.Message.Time, when it was produced), in
// RFC 3339 in UTC to the millisecond: "2025-11-26T23:33:20.123Z". The
// entry's Timestamp is when the message failed, which is what dlq inspect
// --since selects by. dlqkgo uses the same key.
const MetadataTimestamp = "kafka.timestamp"

// timestampLayout is the layout of the MetadataTimestamp value.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Entry returns the dead letter of msg, which failed with err:
//
//   - Source: the message's topic, partition and offset (a partition 0
//     and an offset 0 are kept, as every coordinate is present);
//   - Destination: the message's topic, so that the Kafka backend's
//     per_table routing sends the dead letters of "events" to
//     "events.dlq", and a replay to {destination} sends them back;
//   - Key and Headers: the message's, headers in their order, so that a
//     replay sends the message back as it came;
//   - Timestamp: zero, so that Send fills in the time it failed (the
//     Orchestrator's clock), the time dlq inspect --since and a Reader's
//     Filter select by: a message produced hours ago, or by a producer
//     whose clock runs ahead, is found among the last hour's failures;
//   - Metadata: the message's own timestamp (kafka.Message.Time) under
//     MetadataTimestamp, when it has one (not zero, not negative); none
//     otherwise;
//   - Payload: the message's Value;
//   - Error: err.Error() ("" when err is nil);
//   - Reason: classify(err), or DefaultReason when classify is nil or
//     returns "".
//
// The entry shares the message's Key, Value and header values, without
// copying them: do not modify them once the entry is sent.
func Entry(msg kafka.Message, err error, classify func(error) string) dlq.Entry {
	e := dlq.Entry{
		Reason:      DefaultReason,
		Payload:     msg.Value,
		Destination: msg.Topic,
		Source:      dlq.KafkaSource(msg.Topic, int32(msg.Partition), msg.Offset),
		Key:         msg.Key,
	}
	if classify != nil {
		if r := classify(err); r != "" {
			e.Reason = r
		}
	}
	if err != nil {
		e.Error = err.Error()
	}
	if !msg.Time.IsZero() && msg.Time.UnixMilli() >= 0 {
		e.Metadata = map[string]string{MetadataTimestamp: formatTimestamp(msg.Time)}
	}
	if len(msg.Headers) > 0 {
		e.Headers = make([]dlq.Header, len(msg.Headers))
		for i, h := range msg.Headers {
			e.Headers[i] = dlq.Header{Key: h.Key, Value: h.Value}
		}
	}
	return e
}

// formatTimestamp returns t as the MetadataTimestamp value.
func formatTimestamp(t time.Time) string {
	return t.UTC().Format(timestampLayout)
}
