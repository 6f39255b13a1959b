package dlq

import (
	"log/slog"
	"time"
)

// Entry is one message that could not be processed, with the reason why.
//
// Only Reason and Payload are needed in practice; Send fills a zero
// Timestamp from the orchestrator's clock and an empty Service from
// [Config.Service]. The drain gives every entry an ID (a UUIDv7) before its
// first write; a caller may set one itself to de-duplicate across processes.
//
// An Entry handed to Send belongs to the DLQ from then on: do not modify its
// Payload, Key, Headers or Metadata afterwards.
type Entry struct {
	// Timestamp is when the message failed. Encoded as epoch milliseconds.
	Timestamp time.Time
	// Service names the service that hands the entry over.
	Service string
	// Reason is a short machine-readable category such as "parse_error".
	Reason string
	// Error is the human-readable error message. Optional.
	Error string
	// Attempts is how many times the caller tried to process the message.
	Attempts int
	// Payload is the original message, any bytes.
	Payload []byte
	// Destination is where the message was going, e.g. "acme.auth". Optional.
	Destination string
	// Source holds the origin coordinates of the message. Optional.
	Source Source
	// Metadata holds extra string pairs. Optional.
	Metadata map[string]string
	// ID uniquely identifies the entry across backends and retries. The drain
	// sets it when empty.
	ID string
	// Key is the original message's key, kept so that a replay sends the
	// message back as it came. Optional.
	Key []byte
	// Headers are the original message's headers, in order, kept so that a
	// replay sends them back. Optional.
	Headers []Header
}

// Header is one header of the original message: a Kafka record header, an
// HTTP header, a Redis stream field. Keys may repeat.
type Header struct {
	// Key is the header's name.
	Key string
	// Value is the header's value, any bytes.
	Value []byte
}

// Source is where a message came from: Kafka coordinates, each part
// optional. Partition and Offset count only when their Has flag is set, so
// that a present partition 0 or offset 0 is kept apart from an absent one.
// [KafkaSource] builds a complete one.
type Source struct {
	// Topic is the topic (or queue, or table) the message was read from.
	Topic string
	// Partition is the partition the message was read from.
	Partition int32
	// Offset is the message's offset within its partition.
	Offset int64
	// HasPartition says Partition is present.
	HasPartition bool
	// HasOffset says Offset is present.
	HasOffset bool
}

// KafkaSource returns a Source with all three coordinates present.
func KafkaSource(topic string, partition int32, offset int64) Source {
	return Source{Topic: topic, Partition: partition, Offset: offset, HasPartition: true, HasOffset: true}
}

// IsZero reports whether no part of s is present.
func (s Source) IsZero() bool {
	return s.Topic == "" && !s.HasPartition && !s.HasOffset
}

// LogValue implements slog.LogValuer: an Entry logs as a group of its
// identifying fields and the payload's size. The payload itself is never
// logged, nor are Metadata values (only their count): either may hold
// personal data or secrets.
func (e Entry) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 11)
	str := func(key, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(key, v))
		}
	}
	str("id", e.ID)
	if !e.Timestamp.IsZero() {
		attrs = append(attrs, slog.Time("timestamp", e.Timestamp))
	}
	str("service", e.Service)
	str("reason", e.Reason)
	str("error", e.Error)
	if e.Attempts != 0 {
		attrs = append(attrs, slog.Int("attempts", e.Attempts))
	}
	str("destination", e.Destination)
	str("topic", e.Source.Topic)
	if e.Source.HasPartition {
		attrs = append(attrs, slog.Int("partition", int(e.Source.Partition)))
	}
	if e.Source.HasOffset {
		attrs = append(attrs, slog.Int64("offset", e.Source.Offset))
	}
	attrs = append(attrs, slog.Int("payload_bytes", len(e.Payload)))
	if len(e.Metadata) > 0 {
		attrs = append(attrs, slog.Int("metadata_keys", len(e.Metadata)))
	}
	return slog.GroupValue(attrs...)
}
