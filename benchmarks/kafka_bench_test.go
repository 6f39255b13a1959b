//go:build dlq_kafka || dlq_all

package benchmarks

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafka sends b.N entries through dlq to a topic on an in-process
// kfake broker (loopback TCP, synced writes), beside franz-go's async
// producer on the same broker: linger 5 ms, acks all, idempotent writes off
// (dlq's writer is not idempotent either), each record carrying the same key,
// envelope value (AppendEnvelope per entry) and nine headers, then Flush.
// Compare the entries/s column.
func BenchmarkKafka(b *testing.B) {
	broker := kafkatest.Start(b)
	ctx := context.Background()

	b.Run("dlq", func(b *testing.B) {
		o, err := dlq.New(dlq.Config{Service: "bench", File: dlq.FileConfig{Disabled: true},
			Kafka: dlq.KafkaConfig{Brokers: []string{broker.Addr}, CommonTopic: "bench-dlq"}})
		if err != nil {
			b.Fatal(err)
		}
		e := entry()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if err := o.SendContext(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		if err := o.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
		b.StopTimer()
		if err := o.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if s := o.Stats(); s.Backends[0].Entries != uint64(b.N) {
			b.Fatalf("kafka holds %d of %d", s.Backends[0].Entries, b.N)
		}
	})
	b.Run("franz-go-async-linger5ms", func(b *testing.B) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Addr), kgo.AllowAutoTopicCreation(),
			kgo.ProducerLinger(5*time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic("bench-franz"))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		e := entry()
		e.Service = "bench"
		var failed atomic.Pointer[error]
		done := func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			e.Timestamp = time.Now()
			e.ID = strconv.FormatUint(uint64(i), 16) // dlq writes a UUIDv7 here
			r := &kgo.Record{Key: []byte(e.Destination), Value: dlq.AppendEnvelope(nil, &e), Timestamp: e.Timestamp,
				Headers: []kgo.RecordHeader{ // the same headers dlq's backend writes
					{Key: "__connect.errors.topic", Value: []byte(e.Source.Topic)},
					{Key: "__connect.errors.partition", Value: strconv.AppendInt(nil, int64(e.Source.Partition), 10)},
					{Key: "__connect.errors.offset", Value: strconv.AppendInt(nil, e.Source.Offset, 10)},
					{Key: "__connect.errors.exception.message", Value: []byte(e.Error)},
					{Key: "__connect.errors.class.name", Value: []byte(e.Reason)},
					{Key: "dlq.service", Value: []byte(e.Service)},
					{Key: "dlq.reason", Value: []byte(e.Reason)},
					{Key: "dlq.attempts", Value: strconv.AppendInt(nil, int64(e.Attempts), 10)},
					{Key: "dlq.id", Value: []byte(e.ID)},
				}}
			cl.Produce(ctx, r, done)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
	})
}
