package dlqkafkago

import (
	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// DefaultReason is the Reason of an entry whose error no classifier named:
// Entry's classify is nil or returned "". dlqkgo uses the same.
const DefaultReason = "processing_error"

// Entry returns the dead letter of msg, which failed with err:
//
//   - Source: the message's topic, partition and offset (a partition 0
//     and an offset 0 are kept, as every coordinate is present);
//   - Destination: the message's topic, so that the Kafka backend's
//     per_table routing sends the dead letters of "events" to
//     "events.dlq", and a replay to {destination} sends them back;
//   - Key and Headers: the message's, headers in their order, so that a
//     replay sends the message back as it came;
//   - Timestamp: the message's (kafka.Message.Time; a message without
//     one, or with a negative one, leaves it zero: Send then fills in the
//     time it failed);
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
		e.Timestamp = msg.Time
	}
	if len(msg.Headers) > 0 {
		e.Headers = make([]dlq.Header, len(msg.Headers))
		for i, h := range msg.Headers {
			e.Headers[i] = dlq.Header{Key: h.Key, Value: h.Value}
		}
	}
	return e
}
