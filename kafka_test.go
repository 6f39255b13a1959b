//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func kafkaConfig(broker string, dir string) Config {
	return Config{Service: "svc", Order: []Kind{KindKafka, KindFile}, File: FileConfig{Dir: dir},
		Kafka: KafkaConfig{Brokers: []string{broker}, WriteTimeoutMS: 2000}}
}

// byKafkaPayload indexes messages by the payload of their envelope.
func byKafkaPayload(t *testing.T, msgs []kafka.Message) map[string]kafka.Message {
	t.Helper()
	out := map[string]kafka.Message{}
	for _, m := range msgs {
		e, err := ParseEnvelope(m.Value)
		require.NoError(t, err)
		out[string(e.Payload)] = m
	}
	return out
}

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

func TestKafkaRouting(t *testing.T) {
	broker := kafkatest.Start(t)
	t.Run("per_table", func(t *testing.T) {
		o, err := New(kafkaConfig(broker.Addr, t.TempDir()))
		require.NoError(t, err)
		for _, dest := range []string{"acme.auth", "", "not legal", "a/b", strings.Repeat("x", 246), strings.Repeat("y", 245)} {
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: dest, Payload: []byte("to:" + dest)}))
		}
		closeOK(t, o)
		perTable := byKafkaPayload(t, broker.ReadTopic("acme.auth.dlq"))
		assert.Contains(t, perTable, "to:acme.auth")
		assert.Equal(t, "acme.auth", string(perTable["to:acme.auth"].Key), "key = destination")
		long := byKafkaPayload(t, broker.ReadTopic(strings.Repeat("y", 245)+".dlq"))
		assert.Len(t, long, 1, "245 + 4 = 249 characters is still legal")
		common := byKafkaPayload(t, broker.ReadTopic("dlq"))
		for _, dest := range []string{"", "not legal", "a/b", strings.Repeat("x", 246)} {
			assert.Contains(t, common, "to:"+dest, "destination %q goes to the common topic", dest)
		}
		assert.Nil(t, common["to:"].Key, "no destination, no key")
	})
	t.Run("common with suffix and topic", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.Routing, cfg.Kafka.CommonTopic = "common", "all-failures"
		o, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("o")}))
		closeOK(t, o)
		assert.Len(t, broker.ReadTopic("all-failures"), 1)
		assert.NotContains(t, broker.Topics(), "orders.dlq")
	})
	t.Run("suffix", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.TopicSuffix = "-dead"
		o, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("o")}))
		closeOK(t, o)
		assert.Len(t, broker.ReadTopic("orders-dead"), 1)
	})
}

func TestKafkaMessageValueKeyTimestampAndHeaders(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	ts := time.UnixMilli(1764200000123)
	full := Entry{Timestamp: ts, Reason: "schema_mismatch", Error: "field x missing", Attempts: 3,
		Payload: []byte("full"), Destination: "acme.auth", Source: KafkaSource("events", 0, 0)}
	huge := Entry{Timestamp: ts, Reason: "r", Error: strings.Repeat("e", 100_000), Payload: []byte("huge-error"), Destination: "acme.auth"}
	require.NoError(t, o.Send(full))
	require.NoError(t, o.Send(huge))
	flushOK(t, o)
	closeOK(t, o)

	msgs := byKafkaPayload(t, broker.ReadTopic("acme.auth.dlq"))
	require.Len(t, msgs, 2)
	m := msgs["full"]
	e, err := ParseEnvelope(m.Value)
	require.NoError(t, err)
	full.Service, full.ID = "svc", e.ID
	assertSameEntry(t, full, e)
	assert.Equal(t, "acme.auth", string(m.Key))
	assert.True(t, ts.Equal(m.Time), "message timestamp = entry timestamp")
	assert.Equal(t, map[string]string{
		"__connect.errors.topic":             "events",
		"__connect.errors.partition":         "0",
		"__connect.errors.offset":            "0",
		"__connect.errors.exception.message": "field x missing",
		"__connect.errors.class.name":        "schema_mismatch",
		"dlq.service":                        "svc",
		"dlq.reason":                         "schema_mismatch",
		"dlq.attempts":                       "3",
		"dlq.id":                             e.ID,
	}, headers(m))

	h := headers(msgs["huge-error"])
	assert.Len(t, h["__connect.errors.exception.message"], 8<<10, "header values are capped at 8 KiB")
	_, hasTopic := h["__connect.errors.topic"]
	assert.False(t, hasTopic, "absent source parts have no header")
	assert.Empty(t, readDir(t, filepath.Join(dir, "svc")))
}

func TestKafkaOversizeEntryLandsInFileAlone(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	sendAll(t, o, payloads(10, "mate"))
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: make([]byte, 2<<20)}))
	sendAll(t, o, payloads(10, "mate2"))
	flushOK(t, o)
	closeOK(t, o)
	inKafka := byKafkaPayload(t, broker.ReadTopic("dlq"))
	requireHolds(t, inKafka, append(payloads(10, "mate"), payloads(10, "mate2")...))
	inFile := readDir(t, filepath.Join(dir, "svc"))
	require.Len(t, inFile, 1)
	for _, e := range inFile {
		assert.Len(t, e.Payload, 2<<20)
	}
	s := o.Stats()
	assert.Equal(t, uint64(20), s.Backends[0].Entries)
	assert.Equal(t, uint64(1), s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "too large")
}

func TestKafkaBrokerRefusingLargeBatchFailsOnlyTheLargeMessage(t *testing.T) {
	// The broker's limit is below the client's: the broker refuses the
	// whole partition batch, and the backend finds the one message at fault.
	broker := kafkatest.Start(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000"}))
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	sendAll(t, o, payloads(5, "ok"))
	require.NoError(t, o.Send(Entry{Reason: "r", Payload: make([]byte, 50_000)}))
	flushOK(t, o)
	closeOK(t, o)
	requireHolds(t, byKafkaPayload(t, broker.ReadTopic("dlq")), payloads(5, "ok"))
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 1)
}

func TestKafkaBrokerStoppedMidStream(t *testing.T) {
	broker := kafkatest.StartInProcess(t) // it stops the broker: not a real cluster
	dir := t.TempDir()
	cfg := kafkaConfig(broker.Addr, dir)
	cfg.Kafka.WriteTimeoutMS, cfg.BatchSize, cfg.FlushIntervalMS = 500, 64, 5
	o, err := New(cfg)
	require.NoError(t, err)

	before, after := payloads(3000, "before"), payloads(200, "after")
	down := sendThroughOutage(t, o, before, 300, broker.Stop)
	assert.NotZero(t, down.Backends[1].Entries, "the file took over while the broker was down")

	broker.Restart()
	probe := probeUntilUsed(t, o, down, 30*time.Second, "Kafka is used again once the broker is back")
	sendAll(t, o, after)
	flushOK(t, o)
	closeOK(t, o)

	inKafka := byKafkaPayload(t, broker.ReadTopic("dlq"))
	inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
	for _, p := range append(before, after...) {
		_, k := inKafka[p]
		_, f := inFile[p]
		require.True(t, k || f, "entry %s is neither in Kafka nor in the file", p)
	}
	requireHolds(t, inKafka, after)
	s := o.Stats()
	assert.Equal(t, uint64(3200+probe), s.Written)
	assert.GreaterOrEqual(t, s.Backends[0].Entries, uint64(len(inKafka)), "stats say what Kafka holds")
	requireAccounted(t, s)
	t.Logf("kafka %d (stats %d), file %d (stats %d)", len(inKafka), s.Backends[0].Entries, len(inFile), s.Backends[1].Entries)
}

func TestKafkaUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	dir := t.TempDir()
	cfg := kafkaConfig(addr, dir)
	cfg.Kafka.WriteTimeoutMS = 300
	o, err := New(cfg)
	require.NoError(t, err, "New does not fail because a broker is down")
	sendAll(t, o, payloads(10, "u"))
	flushOK(t, o)
	closeOK(t, o)
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 10)
	assert.Contains(t, o.Stats().Backends[0].LastError, "connection refused")
}

func TestKafkaSASL(t *testing.T) {
	for _, mechanism := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		t.Run(mechanism, func(t *testing.T) {
			broker := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(mechanism), "dlq", "right-pa55"))
			t.Run("right password", func(t *testing.T) {
				cfg := kafkaConfig(broker.Addr, t.TempDir())
				cfg.Kafka.SASL = KafkaSASL{Mechanism: mechanism, Username: "dlq", Password: "right-pa55"}
				o, err := New(cfg)
				require.NoError(t, err)
				sendAll(t, o, payloads(5, "s"))
				closeOK(t, o)
				assert.Equal(t, uint64(5), o.Stats().Backends[0].Entries)
			})
			t.Run("wrong password never shown", func(t *testing.T) {
				dir := t.TempDir()
				var logged strings.Builder
				cfg := kafkaConfig(broker.Addr, dir)
				cfg.Kafka.WriteTimeoutMS = 500
				cfg.Kafka.SASL = KafkaSASL{Mechanism: mechanism, Username: "dlq", Password: "wrong-pa55"}
				cfg.OnError = func(err error) { logged.WriteString(err.Error()) }
				o, err := New(cfg)
				require.NoError(t, err)
				sendAll(t, o, payloads(5, "s"))
				closeOK(t, o)
				s := o.Stats()
				assert.Zero(t, s.Backends[0].Entries)
				assert.NotEmpty(t, s.Backends[0].LastError)
				assert.NotContains(t, s.Backends[0].LastError, "wrong-pa55")
				assert.NotContains(t, logged.String(), "wrong-pa55")
				assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 5)
			})
		})
	}
}

func TestKafkaTLS(t *testing.T) {
	caPEM, serverTLS := selfSignedTLS(t)
	broker := kafkatest.Start(t, kfake.TLS(serverTLS))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, caPEM, 0o600))
	for _, test := range []struct {
		name    string
		tls     KafkaTLS
		written bool
	}{
		{"trusted with ca_file", KafkaTLS{Enabled: true, CAFile: caFile}, true},
		{"refused without ca_file", KafkaTLS{Enabled: true}, false},
		{"insecure_skip_verify when asked", KafkaTLS{Enabled: true, InsecureSkipVerify: true}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := kafkaConfig(broker.Addr, dir)
			cfg.Kafka.TLS, cfg.Kafka.WriteTimeoutMS = test.tls, 1000
			o, err := New(cfg)
			require.NoError(t, err)
			sendAll(t, o, payloads(3, "tls"))
			closeOK(t, o)
			s := o.Stats()
			if test.written {
				assert.Equal(t, uint64(3), s.Backends[0].Entries)
			} else {
				assert.Zero(t, s.Backends[0].Entries)
				assert.Contains(t, s.Backends[0].LastError, "certificate")
				assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 3)
			}
		})
	}
}

// produceLog is what the broker saw in the Produce requests of one topic:
// the acks asked for and the compression codec of each record batch.
type produceLog struct {
	mu     sync.Mutex
	acks   map[int16]int
	codecs map[int8]int
}

func observeProduce(broker *kafkatest.Broker, topic string) *produceLog {
	l := &produceLog{acks: map[int16]int{}, codecs: map[int8]int{}}
	broker.Observe(kmsg.Produce.Int16(), func(r kmsg.Request) {
		req := r.(*kmsg.ProduceRequest)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, tp := range req.Topics {
			if tp.Topic != topic {
				continue
			}
			l.acks[req.Acks]++
			for _, p := range tp.Partitions {
				// A v2 record batch: attributes at byte 21, codec in the
				// low three bits.
				if len(p.Records) > 22 {
					l.codecs[int8(p.Records[22]&0x07)]++
				}
			}
		}
	})
	return l
}

func (l *produceLog) seen() (map[int16]int, map[int8]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acks, l.codecs
}

// TestKafkaAcksAndCompressionReachTheBroker watches the Produce requests:
// the configured acks and compression are what the broker is asked for.
func TestKafkaAcksAndCompressionReachTheBroker(t *testing.T) {
	broker := kafkatest.StartInProcess(t)
	for _, test := range []struct {
		acks        string
		wantAcks    int16
		compression string
		wantCodec   int8
	}{
		{"", -1, "", 0}, // defaults: acks all, no compression
		{"all", -1, "none", 0},
		{"one", 1, "gzip", 1},
		{"all", -1, "snappy", 2},
		{"all", -1, "lz4", 3},
		{"all", -1, "zstd", 4},
		{"none", 0, "none", 0},
	} {
		t.Run("acks "+test.acks+" compression "+test.compression, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			topic := "acks-" + test.acks + "-" + test.compression
			cfg.Kafka.Acks, cfg.Kafka.Compression, cfg.Kafka.CommonTopic = test.acks, test.compression, topic
			log := observeProduce(broker, topic)
			o, err := New(cfg)
			require.NoError(t, err)
			sendAll(t, o, payloads(50, "c"))
			flushOK(t, o)
			closeOK(t, o)
			held := byKafkaPayload(t, broker.ReadTopic(topic))
			if test.wantAcks == 0 {
				// acks none: the broker never answers, so a request the
				// connection loses (closed before the broker read it) is
				// lost without anyone knowing, as the README says. What
				// landed is what was sent.
				require.NotEmpty(t, held, "the broker holds records of %s", topic)
				for p := range held {
					require.Contains(t, payloads(50, "c"), p)
				}
			} else {
				requireHolds(t, held, payloads(50, "c"))
			}
			acks, codecs := log.seen()
			require.NotEmpty(t, acks, "the broker saw Produce requests for %s", topic)
			assert.Equal(t, []int16{test.wantAcks}, keysOf(acks), "acks in every Produce request")
			assert.Equal(t, []int8{test.wantCodec}, keysOf(codecs), "compression codec of every record batch")
			assert.Zero(t, o.Stats().Backends[1].Entries, "Kafka took every entry")
		})
	}
}

// lostAnswers makes broker apply every produce request but answer about a
// fifth of them REQUEST_TIMED_OUT: what a client sees when the answer to a
// request the broker applied is lost. It returns the number of records in
// the requests so answered.
func lostAnswers(t *testing.T, broker *kafkatest.Broker, fraction float64) func() int {
	c := broker.Cluster()
	if c == nil {
		t.Fatal("needs the in-process kfake broker (kafkatest.StartInProcess)")
	}
	var mu sync.Mutex
	decided := map[kmsg.Request]bool{} // kfake asks once per partition of a request
	records := 0
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: -1,
		When: func(req kmsg.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			lose, seen := decided[req]
			if !seen {
				lose = rand.Float64() < fraction
				decided[req] = lose
				if lose {
					records += produceRecords(t, req.(*kmsg.ProduceRequest))
				}
			}
			return lose
		}})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return records
	}
}

// produceRecords counts the records in a produce request's batches.
func produceRecords(t *testing.T, req *kmsg.ProduceRequest) int {
	n := 0
	for _, topic := range req.Topics {
		for _, p := range topic.Partitions {
			for raw := p.Records; len(raw) > 0; {
				var b kmsg.RecordBatch
				if err := b.ReadFrom(raw); err != nil {
					t.Errorf("read a record batch: %v", err)
					return n
				}
				n += int(b.NumRecords)
				raw = raw[min(len(raw), 12+int(b.Length)):]
			}
		}
	}
	return n
}

// TestKafkaLostAnswersDoNotStackRetries: kafka-go's own attempts are off
// (MaxAttempts 1), so a produce whose answer is lost after the broker
// applied it is written to Kafka once and, failed there, once to the next
// backend: never twice to Kafka.
func TestKafkaLostAnswersDoNotStackRetries(t *testing.T) {
	const n = 2000
	broker := kafkatest.StartInProcess(t) // its fault hooks need kfake, whatever $DLQ_KAFKA_BROKERS says
	dropped := lostAnswers(t, broker, 0.2)
	dir := t.TempDir()
	cfg := kafkaConfig(broker.Addr, dir)
	cfg.Logger = discardLogger()
	cfg.File.SyncIntervalMS = hourMS
	o, err := New(cfg)
	require.NoError(t, err)
	ids := idRange("id", n)
	sendIDs(t, o, ids, 100)
	flushOK(t, o)
	closeOK(t, o)

	inKafka := map[string]int{}
	messages := broker.ReadTopic(defaultCommonTopic)
	for _, m := range messages {
		e, err := ParseEnvelope(m.Value)
		require.NoError(t, err)
		inKafka[e.ID]++
	}
	inFile := idCounts(t, filepath.Join(dir, "svc"))
	lost := dropped()
	require.Positive(t, lost, "some answers were lost")
	duplicates := len(messages) - len(inKafka)
	t.Logf("%d messages in Kafka for %d ids, %d lines in the file; %d records' answers lost",
		len(messages), len(inKafka), len(inFile), lost)
	assert.LessOrEqual(t, duplicates, lost, "Kafka holds no more duplicates than records whose answer was lost")
	assert.Zero(t, duplicates, "kafka-go's retries do not stack on the drain's: every id is in Kafka at most once")
	copies := 0
	for _, id := range ids {
		require.Positive(t, inKafka[id]+inFile[id], "entry %s is in Kafka or the file", id)
		copies += inKafka[id] + inFile[id]
	}
	assert.Equal(t, n+lost, copies, "each lost answer costs one copy in the file, no more")
	s := o.Stats()
	assert.Equal(t, uint64(n), s.Accepted)
	assert.Equal(t, uint64(n), s.Written)
	assert.Zero(t, s.Lost)
	requireAccounted(t, s)
}

// hangProduce makes broker take every produce request and never answer it
// (until the test ends), while it answers everything else: kafka-go's
// writer then has a produce in flight, which its Close waits for up to the
// write timeout. It returns how many produce requests arrived.
func hangProduce(t *testing.T, broker *kafkatest.Broker) *atomic.Int64 {
	c := broker.Cluster()
	if c == nil {
		t.Fatal("needs the in-process kfake broker (kafkatest.StartInProcess)")
	}
	release := make(chan struct{})
	var produced, answered atomic.Int64
	t.Cleanup(func() { // before the broker stops: kfake leaks a control still asleep when it closes
		close(release)
		require.Eventually(t, func() bool { return answered.Load() == produced.Load() }, liveness, time.Millisecond)
		broker.Topics() // a round trip: the broker's loop has taken the controls' answers
	})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		produced.Add(1)
		defer answered.Add(1)
		c.SleepControl(func() { <-release })
		return nil, errors.New("hung produce"), true
	})
	return &produced
}

func TestKafkaCloseKeepsItsDeadlineWithAProduceInFlight(t *testing.T) {
	const n = 50
	start := func(t *testing.T) (*Orchestrator, *atomic.Int64) {
		broker := kafkatest.StartInProcess(t) // its fault hooks need kfake, whatever $DLQ_KAFKA_BROKERS says
		produced := hangProduce(t, broker)
		o, err := New(Config{Service: "svc", Logger: slog.New(slog.DiscardHandler), File: FileConfig{Disabled: true},
			Kafka: KafkaConfig{Brokers: []string{broker.Addr}, WriteTimeoutMS: 60_000}})
		require.NoError(t, err)
		for i := range n {
			require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
		}
		require.Eventually(t, func() bool { return produced.Load() > 0 }, liveness, time.Millisecond,
			"the drain's produce reached the broker")
		return o, produced
	}
	closeLosing := func(t *testing.T, o *Orchestrator, ctx context.Context) {
		err, took := within(t, "Close", func() error { return o.Close(ctx) })
		require.Error(t, err)
		assert.ErrorContains(t, err, fmt.Sprintf("%d entries lost", n))
		s := o.Stats()
		assert.Equal(t, map[LossReason]uint64{ReasonShutdown: n}, s.LostBy)
		requireAccounted(t, s)
		t.Logf("Close took %s", took)
	}
	t.Run("Close with a produce in flight", func(t *testing.T) {
		o, _ := start(t)
		ctx, cancel := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel()
		closeLosing(t, o, ctx)
	})
	t.Run("Flush then Close with the same expired context", func(t *testing.T) {
		o, _ := start(t)
		ctx, cancel := context.WithTimeout(context.Background(), closeDeadline)
		defer cancel()
		err, _ := within(t, "Flush", func() error { return o.Flush(ctx) })
		require.ErrorIs(t, err, ErrNotWritten)
		closeLosing(t, o, ctx)
	})
}

// TestKafkaHangingBrokerDeadlinesHold runs the shutdown patterns against a
// TCP listener that never answers. kafka-go then waits for metadata, which
// follows the write's context, and never has a produce in flight: the test
// above, with kfake holding the produce, is the one that needs close(ctx).
func TestKafkaHangingBrokerDeadlinesHold(t *testing.T) {
	hanging := startHanging(t)
	requireDeadlinesHold(t, Config{Service: "svc", File: FileConfig{Disabled: true},
		Kafka: KafkaConfig{Brokers: []string{hanging.addr()}, WriteTimeoutMS: 60_000}}, hanging)
}
