//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/wire"
	"github.com/segmentio/kafka-go"
)

// BenchmarkKafka sends b.N entries through the orchestrator to a topic on
// an in-process kfake broker, beside raw kafka-go writing the same
// envelopes in slices of 256 (same acks, BatchTimeout 1 ms), and beside
// the naive pattern of one WriteMessages per message. Compare entries/s.
func BenchmarkKafka(b *testing.B) {
	broker := kafkatest.Start(b)
	ctx := context.Background()
	e := benchEntry
	e.Timestamp = time.Time{}

	b.Run("dlq", func(b *testing.B) {
		o := benchSendFlush(b, Config{Service: "bench", File: FileConfig{Disabled: true},
			Kafka: KafkaConfig{Brokers: []string{broker.Addr}, CommonTopic: "bench-dlq"}}, e)
		if s := o.Stats(); s.Backends[0].Entries != uint64(b.N) {
			b.Fatalf("kafka holds %d of %d", s.Backends[0].Entries, b.N)
		}
	})
	raw := func(b *testing.B, topic string, slice int, batchTimeout time.Duration) {
		// A transport of its own, closed at the end: kafka-go's default
		// one keeps its connection goroutines (goleak).
		transport := &kafka.Transport{}
		defer transport.CloseIdleConnections()
		w := &kafka.Writer{Addr: kafka.TCP(broker.Addr), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchSize: max(slice, 100), BatchTimeout: batchTimeout, AllowAutoTopicCreation: true, Transport: transport}
		defer w.Close()
		ids := wire.NewIDSource()
		msgs := make([]kafka.Message, 0, slice)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for done := 0; done < b.N; {
			msgs = msgs[:0]
			for range min(slice, b.N-done) {
				x := e
				x.Timestamp, x.Service = time.Now(), "bench"
				x.ID = ids.Next(x.Timestamp)
				msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(x.Destination), Value: AppendEnvelope(nil, &x), Time: x.Timestamp,
					Headers: []kafka.Header{ // the same headers the backend writes
						{Key: "__connect.errors.topic", Value: []byte(x.Source.Topic)},
						{Key: "__connect.errors.partition", Value: strconv.AppendInt(nil, int64(x.Source.Partition), 10)},
						{Key: "__connect.errors.offset", Value: strconv.AppendInt(nil, x.Source.Offset, 10)},
						{Key: "__connect.errors.exception.message", Value: []byte(x.Error)},
						{Key: "__connect.errors.class.name", Value: []byte(x.Reason)},
						{Key: "dlq.service", Value: []byte(x.Service)},
						{Key: "dlq.reason", Value: []byte(x.Reason)},
						{Key: "dlq.attempts", Value: strconv.AppendInt(nil, int64(x.Attempts), 10)},
						{Key: "dlq.id", Value: []byte(x.ID)},
					}})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			done += len(msgs)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	}
	b.Run("kafka-go-slices-256", func(b *testing.B) { raw(b, "bench-raw", 256, time.Millisecond) })
	b.Run("naive-one-per-call-1ms", func(b *testing.B) { raw(b, "bench-naive", 1, time.Millisecond) })
	b.Run("naive-one-per-call-defaults", func(b *testing.B) { raw(b, "bench-naive-defaults", 1, time.Second) })
}
