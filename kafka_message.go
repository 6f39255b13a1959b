//go:build dlq_kafka || dlq_all

package dlq

import (
	"strconv"

	"github.com/segmentio/kafka-go"
)

const (
	// maxHeaderValue caps each header value, so that a huge error message
	// cannot make the message too large for the broker.
	maxHeaderValue = 8 << 10
	// messageOverhead over-estimates a record's framing beside its key,
	// value and headers.
	messageOverhead = 64
	// kafkaHeaders is the most headers a message carries.
	kafkaHeaders = 9
	// maxCachedTopics bounds the destination-to-topic cache; past it the
	// cache starts afresh.
	maxCachedTopics = 1024
	// maxReusedHeaders bounds the header slab kept from one batch to the next.
	maxReusedHeaders = 1 << 18
)

// topicFor routes an entry: per table to destination+suffix when that is a
// legal topic name, else (and in common routing) to the common topic. The
// answer is cached per destination, so that a batch does not build the
// same name once per message.
func (k *kafkaBackend) topicFor(dest string) string {
	if !k.perTable || dest == "" {
		return k.common
	}
	if topic, ok := k.topics[dest]; ok {
		return topic
	}
	topic := dest + k.suffix
	if !legalTopic(topic) {
		topic = k.common
	}
	if k.topics == nil || len(k.topics) >= maxCachedTopics {
		k.topics = make(map[string]string)
	}
	k.topics[dest] = topic
	return topic
}

// kafkaSlab holds the bytes and the headers of one batch's messages: two
// allocations per batch instead of several per message. kafka-go reads them
// until the produce requests it was given are answered, so a slab is used
// again only when no request that may refer to it is still in flight.
type kafkaSlab struct {
	bytes   []byte
	headers []kafka.Header
	lent    bool // a write ended before kafka-go was done with the slab
}

// reset makes room for bt's messages: the memory of the last batch when
// kafka-go is done with it and it is not too big to keep, else new memory.
func (s *kafkaSlab) reset(bt *batch) {
	size, headers := kafkaSlabSize(bt), kafkaHeaders*len(bt.recs)
	if s.lent || cap(s.bytes) < size || cap(s.bytes) > maxReusedBuffer {
		s.bytes = make([]byte, 0, size)
	}
	if s.lent || cap(s.headers) < headers || cap(s.headers) > maxReusedHeaders {
		s.headers = make([]kafka.Header, 0, headers)
	}
	s.bytes, s.headers, s.lent = s.bytes[:0], s.headers[:0], false
}

// kafkaSlabSize bounds the bytes message needs for a batch.
func kafkaSlabSize(bt *batch) int {
	n := 0
	for i, rec := range bt.recs {
		e := &rec.entry
		n += len(bt.lines[i]) + len(e.Destination) + len(e.Key) + 2*min(len(e.Reason), maxHeaderValue) +
			min(len(e.Error), maxHeaderValue) + len(e.Service) + len(e.ID) + len(e.Source.Topic) + 3*20
	}
	return n
}

// put copies b into the slab.
func (s *kafkaSlab) put(b []byte) []byte {
	start := len(s.bytes)
	s.bytes = append(s.bytes, b...)
	return s.bytes[start:len(s.bytes):len(s.bytes)]
}

// putString copies a header value into the slab, capped.
func (s *kafkaSlab) putString(v string) []byte {
	start := len(s.bytes)
	s.bytes = append(s.bytes, v[:min(len(v), maxHeaderValue)]...)
	return s.bytes[start:len(s.bytes):len(s.bytes)]
}

// putInt writes v in decimal into the slab.
func (s *kafkaSlab) putInt(v int64) []byte {
	start := len(s.bytes)
	s.bytes = strconv.AppendInt(s.bytes, v, 10)
	return s.bytes[start:len(s.bytes):len(s.bytes)]
}

// header appends one header.
func (s *kafkaSlab) header(key string, value []byte) {
	s.headers = append(s.headers, kafka.Header{Key: key, Value: value})
}

// message builds the Kafka message of e, its bytes and headers in the slab.
func (k *kafkaBackend) message(e *Entry, line []byte) kafka.Message {
	s := &k.slab
	first := len(s.headers)
	if e.Source.Topic != "" {
		s.header("__connect.errors.topic", s.putString(e.Source.Topic))
	}
	if e.Source.HasPartition {
		s.header("__connect.errors.partition", s.putInt(int64(e.Source.Partition)))
	}
	if e.Source.HasOffset {
		s.header("__connect.errors.offset", s.putInt(e.Source.Offset))
	}
	if e.Error != "" {
		s.header("__connect.errors.exception.message", s.putString(e.Error))
	}
	reason := s.putString(e.Reason)
	s.header("__connect.errors.class.name", reason)
	s.header("dlq.service", s.putString(e.Service))
	s.header("dlq.reason", reason)
	s.header("dlq.attempts", s.putInt(int64(e.Attempts)))
	s.header("dlq.id", s.putString(e.ID))
	m := kafka.Message{
		Topic:   k.topicFor(e.Destination),
		Value:   s.put(line),
		Headers: s.headers[first:len(s.headers):len(s.headers)],
		Time:    e.Timestamp,
	}
	switch {
	case k.originalKey && len(e.Key) > 0:
		m.Key = s.put(e.Key)
	case !k.originalKey && e.Destination != "":
		start := len(s.bytes)
		s.bytes = append(s.bytes, e.Destination...)
		m.Key = s.bytes[start:len(s.bytes):len(s.bytes)]
	}
	return m
}

// messageSize over-estimates the size kafka-go and the broker see.
func messageSize(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value) + messageOverhead
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}
