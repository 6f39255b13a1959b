package dlqkafkago

import (
	"strconv"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
)

// DefaultReason is the Reason of a dead letter when no classifier is given,
// or the classifier returns "".
const DefaultReason = "consumer_error"

// MetaTimestamp is the Metadata key holding the message's own timestamp
// (kafka.Message.Time), in epoch milliseconds. The Entry's Timestamp is
// when the message failed, which the DLQ's ids and file names follow: a
// consumer far behind its topic would otherwise write today's failures
// with last week's times.
const MetaTimestamp = "kafka.timestamp"

// Entry returns the dead letter of msg, which failed with err: the value
// as Payload, the key, the headers in order, the topic, partition and
// offset as Source, the topic as Destination, err's text as Error, the
// message's timestamp in Metadata under MetaTimestamp, and the Reason that
// classify gives for err (DefaultReason when classify is nil or returns
// ""). The Entry shares msg's value, key and header values: do not modify
// them once the Entry is sent.
func Entry(msg kafka.Message, err error, classify func(error) string) dlq.Entry {
	e := dlq.Entry{
		Reason:      reason(err, classify),
		Payload:     msg.Value,
		Key:         msg.Key,
		Destination: msg.Topic,
		Source:      dlq.KafkaSource(msg.Topic, int32(msg.Partition), msg.Offset),
	}
	if err != nil {
		e.Error = err.Error()
	}
	if len(msg.Headers) > 0 {
		e.Headers = make([]dlq.Header, len(msg.Headers))
		for i, h := range msg.Headers {
			e.Headers[i] = dlq.Header{Key: h.Key, Value: h.Value}
		}
	}
	if !msg.Time.IsZero() {
		e.Metadata = map[string]string{MetaTimestamp: strconv.FormatInt(msg.Time.UnixMilli(), 10)}
	}
	return e
}

func reason(err error, classify func(error) string) string {
	if classify != nil {
		if r := classify(err); r != "" {
			return r
		}
	}
	return DefaultReason
}
