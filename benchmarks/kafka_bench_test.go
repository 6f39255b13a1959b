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
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkKafka sends b.N entries through dlq to a topic on an in-process
// kfake broker (loopback TCP, synced writes), beside franz-go's async
// producer on the same broker: linger 5 ms, acks all, idempotent writes off
// (dlq's writer is not idempotent either), each record carrying the same key,
// envelope value (AppendEnvelope per entry) and nine headers, then Flush.
// Compare the entries/s column.
//
// kfake fsyncs each partition's part of each produce request, so the
// records/request column, reported when the broker is in process, explains
// most of the difference: dlq sends one request per drain batch (256
// entries by default), franz-go whatever accumulated while its one request
// in flight was answered (up to 1 MB per partition). franz-go compresses
// with snappy by default and dlq with nothing, hence dlq-snappy.
func BenchmarkKafka(b *testing.B) {
	broker := kafkatest.Start(b)
	ctx := context.Background()
	perRequest := produceCounter(broker)

	for _, test := range []struct{ name, compression string }{{"dlq", ""}, {"dlq-snappy", "snappy"}} {
		b.Run(test.name, func(b *testing.B) {
			benchDLQKafka(b, broker.Addr, test.compression, perRequest)
		})
	}
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
		perRequest(nil)
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
		perRequest(b)
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
	})
}

// benchDLQKafka is BenchmarkKafka's dlq side.
func benchDLQKafka(b *testing.B, addr, compression string, perRequest func(*testing.B)) {
	ctx := context.Background()
	o, err := dlq.New(dlq.Config{Service: "bench", File: dlq.FileConfig{Disabled: true},
		Kafka: dlq.KafkaConfig{Brokers: []string{addr}, CommonTopic: "bench-dlq", Compression: compression}})
	if err != nil {
		b.Fatal(err)
	}
	e := entry()
	b.ReportAllocs()
	perRequest(nil)
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
	perRequest(b)
	b.StopTimer()
	if err := o.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if s := o.Stats(); s.Backends[0].Entries != uint64(b.N) {
		b.Fatalf("kafka holds %d of %d", s.Backends[0].Entries, b.N)
	}
}

// produceCounter counts the produce requests an in-process broker handles.
// Called with nil it starts afresh; called with b it reports b.N records
// over the requests since then. A real cluster cannot be watched: nothing
// is reported.
func produceCounter(broker *kafkatest.Broker) func(*testing.B) {
	if broker.Real() {
		return func(*testing.B) {}
	}
	var requests atomic.Int64
	broker.Observe(kmsg.Produce.Int16(), func(kmsg.Request) { requests.Add(1) })
	return func(b *testing.B) {
		if b == nil {
			requests.Store(0)
			return
		}
		if n := requests.Load(); n > 0 {
			b.ReportMetric(float64(b.N)/float64(n), "records/request")
		}
	}
}
