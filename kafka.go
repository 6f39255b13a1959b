//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/dlqkit/dlq/internal/netconn"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// kafkaBuilt reports whether the kafka backend is compiled in: it needs
// the build tag dlq_kafka or dlq_all.
const kafkaBuilt = true

const (
	// kafkaMaxMessageBytes is the largest message sent: the broker's
	// default message.max.bytes is 1048588, and a request to one partition
	// is kept under it too.
	kafkaMaxMessageBytes = 1 << 20
	// kafkaBatchTimeout is how long kafka-go holds a partition's part of a
	// drain batch for more messages. A drain batch is handed over in one
	// WriteMessages call, which fills each partition's part before any
	// timer can take it, so there is nothing to wait for: with a drain
	// batch spread over several partitions, 1 ms here cost every batch 1 ms.
	kafkaBatchTimeout = time.Microsecond
)

// kafkaBackend writes each batch with one synchronous WriteMessages call,
// which returns once the broker acknowledged every message with the
// configured acks.
type kafkaBackend struct {
	writer       *kafka.Writer
	transport    *kafka.Transport
	conns        *netconn.Tracker // what transport dialed, closed when Close's deadline passes
	perTable     bool
	suffix       string
	common       string
	originalKey  bool // the message key is the entry's Key, not its Destination
	writeTimeout time.Duration
	topics       map[string]string // destination -> topic
	slab         kafkaSlab         // the bytes and headers of the batch's messages
	msgs         []kafka.Message
	index        []int // msgs[j] is the batch's entry index[j]
}

func newKafkaBackend(cfg *Config) (*kafkaBackend, error) {
	kc := &cfg.Kafka
	conns := &netconn.Tracker{}
	transport := &kafka.Transport{
		Dial:        conns.Dialer((&net.Dialer{}).DialContext),
		DialTimeout: ms(kc.WriteTimeoutMS),
		IdleTimeout: 30 * time.Second,
		ClientID:    "dlq-" + cfg.Service,
	}
	if kc.TLS.Enabled {
		tlsConfig, err := kafkaTLS(&kc.TLS)
		if err != nil {
			return nil, err
		}
		transport.TLS = tlsConfig
	}
	if kc.SASL.Mechanism != "" {
		mechanism, err := kafkaSASL(&kc.SASL)
		if err != nil {
			return nil, err
		}
		transport.SASL = mechanism
	}
	writeTimeout := ms(kc.WriteTimeoutMS)
	return &kafkaBackend{
		writer: &kafka.Writer{
			Addr:     kafka.TCP(kc.Brokers...),
			Balancer: &kafka.Hash{}, // one destination keeps its order in one partition
			// The drain retries; kafka-go's own attempts would stack on top
			// of it and duplicate what a broker applied but did not answer.
			MaxAttempts:            1,
			BatchSize:              cfg.BatchSize, // one drain batch goes out at once
			BatchBytes:             kafkaMaxMessageBytes,
			BatchTimeout:           kafkaBatchTimeout,
			ReadTimeout:            writeTimeout,
			WriteTimeout:           writeTimeout,
			RequiredAcks:           kafkaAcks(kc.Acks),
			Compression:            kafkaCompression(kc.Compression),
			Transport:              transport,
			AllowAutoTopicCreation: true,
		},
		transport:    transport,
		conns:        conns,
		perTable:     kc.Routing != "common",
		suffix:       kc.TopicSuffix,
		common:       kc.CommonTopic,
		originalKey:  kc.Key == "original",
		writeTimeout: writeTimeout,
	}, nil
}

func kafkaAcks(acks string) kafka.RequiredAcks {
	switch acks {
	case "one":
		return kafka.RequireOne
	case "none":
		return kafka.RequireNone
	default:
		return kafka.RequireAll
	}
}

func kafkaCompression(c string) kafka.Compression {
	switch c {
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	default:
		return 0
	}
}

func kafkaTLS(c *KafkaTLS) (*tls.Config, error) {
	config := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // only when the config asks
	if c.CAFile != "" {
		pool, err := certPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		config.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: %w", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

// kafkaSASL builds the mechanism. Its errors never hold the password.
func kafkaSASL(c *KafkaSASL) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "plain":
		return plain.Mechanism{Username: c.Username, Password: c.Password}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if c.Mechanism == "scram-sha-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.Username, c.Password)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl: %s for user %q: %w", c.Mechanism, c.Username, errors.Unwrap(err))
		}
		return m, nil
	default:
		return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not plain, scram-sha-256 or scram-sha-512", c.Mechanism)
	}
}

func (k *kafkaBackend) write(ctx context.Context, bt *batch) error {
	// kafka-go may still be writing a batch after WriteMessages returned on
	// a timeout: the messages get bytes of their own (the slab), never the
	// drain's reused arena.
	k.slab.reset(bt)
	k.msgs, k.index = k.msgs[:0], k.index[:0]
	for i, rec := range bt.recs {
		m := k.message(&rec.entry, bt.lines[i])
		if size := messageSize(&m); size > kafkaMaxMessageBytes {
			bt.errs[i] = fmt.Errorf("%w: a %d-byte message exceeds the %d-byte limit", ErrOversize, size, kafkaMaxMessageBytes)
			continue
		}
		k.msgs = append(k.msgs, m)
		k.index = append(k.index, i)
	}
	defer func() { clear(k.msgs) }()
	err := k.send(ctx, k.msgs)
	if err == nil {
		return firstError(bt.errs)
	}
	var perMessage kafka.WriteErrors
	if !errors.As(err, &perMessage) || len(perMessage) != len(k.msgs) {
		for _, i := range k.index {
			bt.errs[i] = err
		}
		return err
	}
	// Only the messages the broker refused fail. A partition's batch
	// refused as too large is tried one message at a time, so that only
	// the message too large for the broker fails.
	for j, merr := range perMessage {
		if merr != nil && errors.Is(merr, kafka.MessageSizeTooLarge) && perMessage.Count() > 1 {
			merr = k.send(ctx, k.msgs[j:j+1])
			if errors.Is(merr, kafka.MessageSizeTooLarge) {
				merr = fmt.Errorf("%w: %w", ErrOversize, merr)
			}
		}
		if merr != nil {
			bt.errs[k.index[j]] = fmt.Errorf("topic %s: %w", k.msgs[j].Topic, merr)
		}
	}
	return firstError(bt.errs)
}

// send writes msgs within the write timeout. A WriteMessages that failed
// may have returned before kafka-go was done with msgs: not only when ctx
// ends, but when one of its own produce timeouts (which can end a moment
// before ctx) failed a partition's batch while its connection goroutine was
// still encoding the request. After any failure the slab is lent to
// kafka-go for good; only a nil return means every request was answered.
func (k *kafkaBackend) send(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, k.writeTimeout)
	defer cancel()
	err := k.writer.WriteMessages(ctx, msgs...)
	if err != nil {
		k.slab.lent = true
	}
	return err
}

// sync returns at once: WriteMessages returned only after the broker's
// acknowledgement.
func (k *kafkaBackend) sync(context.Context) error { return nil }

// kafka-go's Writer.Close waits for every produce request in flight, each
// bounded only by the write timeout (a minute by default), and its
// Transport closes idle connections only. So that Close keeps its
// deadline, the backend dials through a netconn.Tracker and, when Close's
// context ends first, closes every connection: a produce blocked on a
// broker that does not answer fails at once, and Writer.Close returns.

// close closes the writer, which waits for the produce requests in flight,
// and when ctx ends first closes the connections under them. It returns
// only once kafka-go's goroutines for the writer are done.
func (k *kafkaBackend) close(ctx context.Context) error {
	closed := make(chan error, 1)
	go func() { closed <- k.writer.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-ctx.Done():
		k.conns.CloseAll()
		if err = <-closed; err == nil {
			err = fmt.Errorf("produce requests in flight cut: %w", ctx.Err())
		}
	}
	k.conns.CloseAll()
	k.transport.CloseIdleConnections()
	return err
}

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
