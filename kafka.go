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

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// kafkaBuilt reports whether the kafka backend is compiled in: it needs
// the build tag dlq_kafka or dlq_all.
const kafkaBuilt = true

const (
	// maxHeaderValue caps each header value, so that a huge error message
	// cannot make the message too large for the broker.
	maxHeaderValue = 8 << 10
	// kafkaMaxMessageBytes is the largest message sent: the broker's
	// default message.max.bytes is 1048588, and a request to one partition
	// is kept under it too.
	kafkaMaxMessageBytes = 1 << 20
	// messageOverhead over-estimates a record's framing beside its key,
	// value and headers.
	messageOverhead = 64
)

// kafkaBackend writes each batch with one synchronous WriteMessages call,
// which returns once the broker acknowledged every message with the
// configured acks.
type kafkaBackend struct {
	writer       *kafka.Writer
	transport    *kafka.Transport
	conns        *kafkaConns // what transport dialed, closed when Close's deadline passes
	perTable     bool
	suffix       string
	common       string
	originalKey  bool // the message key is the entry's Key, not its Destination
	writeTimeout time.Duration
	msgs         []kafka.Message
	index        []int // msgs[j] is the batch's entry index[j]
}

func newKafkaBackend(cfg *Config) (*kafkaBackend, error) {
	kc := &cfg.Kafka
	conns := &kafkaConns{}
	transport := &kafka.Transport{
		Dial:        conns.dialer((&net.Dialer{}).DialContext),
		DialTimeout: ms(orDefault(kc.WriteTimeoutMS, defaultKafkaWriteTimeoutMS)),
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
	writeTimeout := ms(orDefault(kc.WriteTimeoutMS, defaultKafkaWriteTimeoutMS))
	return &kafkaBackend{
		writer: &kafka.Writer{
			Addr:     kafka.TCP(kc.Brokers...),
			Balancer: &kafka.Hash{}, // one destination keeps its order in one partition
			// The drain retries; kafka-go's own attempts would stack on top
			// of it and duplicate what a broker applied but did not answer.
			MaxAttempts:            1,
			BatchSize:              cfg.batchSize(), // one drain batch goes out at once
			BatchBytes:             kafkaMaxMessageBytes,
			BatchTimeout:           time.Millisecond,
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
		suffix:       orDefaultString(kc.TopicSuffix, defaultTopicSuffix),
		common:       orDefaultString(kc.CommonTopic, defaultCommonTopic),
		originalKey:  kc.Key == "original",
		writeTimeout: writeTimeout,
	}, nil
}

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
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

// topicFor routes an entry: per table to destination+suffix when that is a
// legal topic name, else (and in common routing) to the common topic.
func (k *kafkaBackend) topicFor(dest string) string {
	if !k.perTable || dest == "" {
		return k.common
	}
	if topic := dest + k.suffix; legalTopic(topic) {
		return topic
	}
	return k.common
}

func (k *kafkaBackend) write(ctx context.Context, bt *batch) error {
	// kafka-go may still be writing a batch after WriteMessages returned on
	// a timeout: the messages get bytes of their own, never the drain's
	// reused arena.
	slab := make([]byte, 0, kafkaSlabSize(bt))
	k.msgs, k.index = k.msgs[:0], k.index[:0]
	for i, rec := range bt.recs {
		var m kafka.Message
		m, slab = k.message(&rec.entry, bt.lines[i], slab)
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

// send writes msgs within the write timeout.
func (k *kafkaBackend) send(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, k.writeTimeout)
	defer cancel()
	return k.writer.WriteMessages(ctx, msgs...)
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

// message builds the Kafka message of e, its bytes appended to slab.
func (k *kafkaBackend) message(e *Entry, line, slab []byte) (kafka.Message, []byte) {
	put := func(b []byte) []byte {
		start := len(slab)
		slab = append(slab, b...)
		return slab[start:len(slab):len(slab)]
	}
	putString := func(s string) []byte { // a header value, capped
		start := len(slab)
		slab = append(slab, s[:min(len(s), maxHeaderValue)]...)
		return slab[start:len(slab):len(slab)]
	}
	putInt := func(v int64) []byte {
		start := len(slab)
		slab = strconv.AppendInt(slab, v, 10)
		return slab[start:len(slab):len(slab)]
	}
	headers := make([]kafka.Header, 0, 9)
	if e.Source.Topic != "" {
		headers = append(headers, kafka.Header{Key: "__connect.errors.topic", Value: putString(e.Source.Topic)})
	}
	if e.Source.HasPartition {
		headers = append(headers, kafka.Header{Key: "__connect.errors.partition", Value: putInt(int64(e.Source.Partition))})
	}
	if e.Source.HasOffset {
		headers = append(headers, kafka.Header{Key: "__connect.errors.offset", Value: putInt(e.Source.Offset)})
	}
	if e.Error != "" {
		headers = append(headers, kafka.Header{Key: "__connect.errors.exception.message", Value: putString(e.Error)})
	}
	reason := putString(e.Reason)
	headers = append(headers,
		kafka.Header{Key: "__connect.errors.class.name", Value: reason},
		kafka.Header{Key: "dlq.service", Value: putString(e.Service)},
		kafka.Header{Key: "dlq.reason", Value: reason},
		kafka.Header{Key: "dlq.attempts", Value: putInt(int64(e.Attempts))},
		kafka.Header{Key: "dlq.id", Value: putString(e.ID)},
	)
	m := kafka.Message{
		Topic:   k.topicFor(e.Destination),
		Value:   put(line),
		Headers: headers,
		Time:    e.Timestamp,
	}
	switch {
	case k.originalKey && len(e.Key) > 0:
		m.Key = put(e.Key)
	case !k.originalKey && e.Destination != "":
		start := len(slab)
		slab = append(slab, e.Destination...)
		m.Key = slab[start:len(slab):len(slab)]
	}
	return m, slab
}

// messageSize over-estimates the size kafka-go and the broker see.
func messageSize(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value) + messageOverhead
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// sync returns at once: WriteMessages returned only after the broker's
// acknowledgement.
func (k *kafkaBackend) sync(context.Context) error { return nil }
