//go:build dlq_kafka || dlq_all

package dlq

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaTestBatch is a batch of n entries to destination dest, each with the
// id and payload prefix-NNN, ready for kafkaBackend.write.
func kafkaTestBatch(prefix, dest string, n int) *batch {
	bt := &batch{errs: make([]error, n)}
	for i := range n {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		r := &record{entry: Entry{Reason: "r", Error: "boom", Service: "svc", Attempts: 1, Destination: dest,
			ID: id, Payload: []byte(id), Timestamp: time.Now(), Source: KafkaSource("events", 1, 42)}}
		bt.recs = append(bt.recs, r)
		bt.lines = append(bt.lines, AppendEnvelope(nil, &r.entry))
	}
	return bt
}

func TestKafkaTopicCache(t *testing.T) {
	k := &kafkaBackend{perTable: true, suffix: ".dlq", common: "dlq"}
	t.Run("every destination gets its topic, past the cache's bound", func(t *testing.T) {
		for round := range 2 {
			for i := range 3 * maxCachedTopics {
				dest := fmt.Sprintf("db.t%d", i)
				require.Equal(t, dest+".dlq", k.topicFor(dest), "round %d", round)
				require.LessOrEqual(t, len(k.topics), maxCachedTopics)
			}
		}
	})
	t.Run("illegal and empty destinations go to the common topic, cached or not", func(t *testing.T) {
		for range 2 {
			assert.Equal(t, "dlq", k.topicFor("a/b"))
			assert.Equal(t, "dlq", k.topicFor(""))
			assert.Equal(t, "acme.auth.dlq", k.topicFor("acme.auth"))
		}
	})
	t.Run("common routing", func(t *testing.T) {
		c := &kafkaBackend{perTable: false, suffix: ".dlq", common: "all"}
		assert.Equal(t, "all", c.topicFor("acme.auth"))
	})
}

// TestKafkaMessagesOfABatchAllocateNothingOnceWarm: the bytes and headers of
// a batch's messages live in one slab kept from batch to batch, unless
// kafka-go may still read the last one.
func TestKafkaMessagesOfABatchAllocateNothingOnceWarm(t *testing.T) {
	k := &kafkaBackend{perTable: true, suffix: ".dlq", common: "dlq"}
	bt := kafkaTestBatch("warm", "acme.auth", 256)
	build := func() {
		k.slab.reset(bt)
		for i, r := range bt.recs {
			_ = k.message(&r.entry, bt.lines[i])
		}
	}
	t.Run("the slab is used again", func(t *testing.T) {
		if testenv.RaceEnabled {
			t.Skip("the race detector allocates")
		}
		build()
		assert.Zero(t, testing.AllocsPerRun(20, build))
	})
	t.Run("a slab lent to kafka-go is never written again", func(t *testing.T) {
		build()
		bytes, headers := &k.slab.bytes[0], &k.slab.headers[0]
		k.slab.lent = true
		build()
		assert.NotSame(t, bytes, &k.slab.bytes[0])
		assert.NotSame(t, headers, &k.slab.headers[0])
		assert.False(t, k.slab.lent)
	})
}

// holdFirstProduce makes broker hold the first produce request until the
// returned release is called, then answer it as usual.
func holdFirstProduce(t *testing.T, broker *kafkatest.Broker) (held func() bool, release func()) {
	c := broker.Cluster()
	require.NotNil(t, c, "needs the in-process kfake broker")
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	var produces atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produces.Add(1) == 1 {
			c.SleepControl(func() { <-gate })
		}
		return nil, nil, false // the broker answers
	})
	return func() bool { return produces.Load() > 0 }, release
}

// TestKafkaSlabLentToAnUnansweredProduceIsNotReused: when a write gives up
// (its context ended) while kafka-go still holds its messages, or queues
// them behind an unanswered produce, the next batch is built in new
// memory. Were the slab reused, the queued batch would go out with the
// next batch's bytes: that batch twice in Kafka, the queued one never.
func TestKafkaSlabLentToAnUnansweredProduceIsNotReused(t *testing.T) {
	broker := kafkatest.StartInProcess(t)
	held, release := holdFirstProduce(t, broker)
	cfg := Config{Service: "svc", Kafka: KafkaConfig{Brokers: []string{broker.Addr}, Routing: "common", CommonTopic: "slab", WriteTimeoutMS: 60_000}}
	k, err := newKafkaBackend(&cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, k.close(context.Background())) }()

	giveUp := func(bt *batch) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, k.write(ctx, bt), context.DeadlineExceeded)
		for i, err := range bt.errs {
			require.Error(t, err, "entry %d of a write that gave up", i)
		}
	}
	const n = 50
	batches := []*batch{kafkaTestBatch("one", "acme.auth", n), kafkaTestBatch("two", "acme.auth", n), kafkaTestBatch("six", "acme.auth", n)}
	giveUp(batches[0]) // in flight, held by the broker
	require.Eventually(t, held, liveness, time.Millisecond)
	giveUp(batches[1]) // queued in kafka-go behind the first
	giveUp(batches[2]) // queued too: built while the second waits unencoded
	release()
	last := kafkaTestBatch("ten", "acme.auth", n)
	require.NoError(t, k.write(context.Background(), last))

	ids := map[string]int{}
	for _, m := range broker.ReadTopic("slab") {
		e, err := ParseEnvelope(m.Value)
		require.NoError(t, err)
		assert.Equal(t, e.ID, headers(m)["dlq.id"], "header and value of one message")
		assert.Equal(t, e.ID, string(e.Payload))
		ids[e.ID]++
	}
	for _, bt := range append(batches, last) {
		for _, r := range bt.recs {
			assert.Equal(t, 1, ids[r.entry.ID], "entry %s once in Kafka", r.entry.ID)
		}
	}
	assert.Len(t, ids, 4*n)
}

// TestKafkaPartitionsOfABatchGoOutWhole: a drain batch spread over several
// partitions goes out as one produce per partition holding all of that
// partition's entries; kafka-go's batch timer (kafkaBatchTimeout, 1 µs)
// never takes a partial part, since WriteMessages fills a partition's part
// under the lock the timer needs.
func TestKafkaPartitionsOfABatchGoOutWhole(t *testing.T) {
	broker := kafkatest.StartInProcess(t, kfake.DefaultNumPartitions(4))
	var mu sync.Mutex
	requests := map[int32]int{} // partition -> produce requests holding its records
	records := map[int32]int{}
	broker.Observe(kmsg.Produce.Int16(), func(req kmsg.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range topic.Partitions {
				one := &kmsg.ProduceRequest{Topics: []kmsg.ProduceRequestTopic{{Partitions: []kmsg.ProduceRequestTopicPartition{p}}}}
				requests[p.Partition]++
				records[p.Partition] += produceRecords(t, one)
			}
		}
	})
	cfg := Config{Service: "svc", Kafka: KafkaConfig{Brokers: []string{broker.Addr}, Routing: "common", CommonTopic: "whole"}}
	k, err := newKafkaBackend(&cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, k.close(context.Background())) }()

	dests := []string{"acme.auth", "acme.orders", "billing.invoices", "crm.contacts", "crm.leads", "ops.audit"}
	bt := &batch{}
	for round := range 40 {
		for _, dest := range dests {
			one := kafkaTestBatch(fmt.Sprintf("%s-%02d", dest, round), dest, 1)
			bt.recs, bt.lines = append(bt.recs, one.recs...), append(bt.lines, one.lines...)
		}
	}
	bt.errs = make([]error, len(bt.recs))
	require.NoError(t, k.write(context.Background(), bt))

	mu.Lock()
	defer mu.Unlock()
	total := 0
	for p, n := range records {
		assert.Equal(t, 1, requests[p], "partition %d's part in one produce", p)
		total += n
	}
	assert.Equal(t, len(bt.recs), total)
	assert.Greater(t, len(records), 1, "the batch spreads over partitions (else the test shows nothing)")
}

// TestKafkaConnectHeadersCarryTheSourceCapped: each Kafka Connect header
// holds its own part of the source (a partition and an offset of
// different sizes, an offset past 32 bits), and every text header is cut
// at 8 KiB (maxHeaderValue), a value of exactly 8 KiB kept whole, so that
// a huge error, reason or topic cannot make the message too large.
func TestKafkaConnectHeadersCarryTheSourceCapped(t *testing.T) {
	broker := kafkatest.Start(t)
	dir := t.TempDir()
	o, err := New(kafkaConfig(broker.Addr, dir))
	require.NoError(t, err)
	const limit = 8 << 10
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	entries := []Entry{
		{Reason: "parse_error", Error: "boom", Payload: []byte("source"), Destination: "acme.auth",
			Source: KafkaSource("events", 7, 1<<40+3)},
		{Reason: long('r', limit), Error: long('e', limit), Payload: []byte("at-the-cap"), Destination: "acme.auth",
			Source: KafkaSource(long('t', limit), 0, 9)},
		{Reason: long('r', 3*limit), Error: long('e', limit+1), Payload: []byte("past-the-cap"), Destination: "acme.auth",
			Source: KafkaSource(long('t', 2*limit), 12, 0)},
	}
	for _, e := range entries {
		require.NoError(t, o.Send(e))
	}
	flushOK(t, o)
	closeOK(t, o)

	msgs := byKafkaPayload(t, broker.ReadTopic("acme.auth.dlq"))
	require.Len(t, msgs, 3)
	h := headers(msgs["source"])
	assert.Equal(t, "7", h["__connect.errors.partition"])
	assert.Equal(t, "1099511627779", h["__connect.errors.offset"])
	assert.Equal(t, "events", h["__connect.errors.topic"])

	h = headers(msgs["at-the-cap"])
	assert.Equal(t, "0", h["__connect.errors.partition"])
	assert.Equal(t, "9", h["__connect.errors.offset"])
	for _, key := range []string{"__connect.errors.topic", "__connect.errors.exception.message", "__connect.errors.class.name", "dlq.reason"} {
		assert.Len(t, h[key], limit, "%s of exactly 8 KiB kept whole", key)
	}

	h = headers(msgs["past-the-cap"])
	assert.Equal(t, "12", h["__connect.errors.partition"])
	assert.Equal(t, "0", h["__connect.errors.offset"])
	assert.Equal(t, long('t', limit), h["__connect.errors.topic"])
	assert.Equal(t, long('e', limit), h["__connect.errors.exception.message"])
	assert.Equal(t, long('r', limit), h["__connect.errors.class.name"])
	assert.Equal(t, long('r', limit), h["dlq.reason"])
	for _, m := range msgs {
		for _, hd := range m.Headers {
			assert.LessOrEqual(t, len(hd.Value), limit, "header %s", hd.Key)
		}
	}
	assert.Zero(t, len(readDir(t, filepath.Join(dir, "svc"))), "every message went to Kafka")
}

func TestKafkaMessageKey(t *testing.T) {
	broker := kafkatest.Start(t)
	for _, test := range []struct {
		name, key              string
		wantWithKey, wantNoKey []byte
	}{
		{name: "default is the destination", key: "", wantWithKey: []byte("orders"), wantNoKey: []byte("orders")},
		{name: "destination", key: "destination", wantWithKey: []byte("orders"), wantNoKey: []byte("orders")},
		{name: "original", key: "original", wantWithKey: []byte{0, 'k', 0xff}, wantNoKey: nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			cfg.Kafka.Key = test.key
			cfg.Kafka.Routing, cfg.Kafka.CommonTopic = "common", "keys-"+test.key
			o, err := New(cfg)
			require.NoError(t, err)
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("with"), Key: []byte{0, 'k', 0xff},
				Headers: []Header{{Key: "h", Value: []byte("v")}}}))
			require.NoError(t, o.Send(Entry{Reason: "r", Destination: "orders", Payload: []byte("without")}))
			closeOK(t, o)
			msgs := byKafkaPayload(t, broker.ReadTopic("keys-"+test.key))
			require.Len(t, msgs, 2)
			assert.Equal(t, test.wantWithKey, msgs["with"].Key)
			assert.Equal(t, test.wantNoKey, msgs["without"].Key)
			e, err := ParseEnvelope(msgs["with"].Value)
			require.NoError(t, err)
			assert.Equal(t, []byte{0, 'k', 0xff}, e.Key, "the envelope keeps the original key either way")
			assert.Equal(t, []Header{{Key: "h", Value: []byte("v")}}, e.Headers)
		})
	}
	t.Run("an unknown value is refused", func(t *testing.T) {
		cfg := kafkaConfig(broker.Addr, t.TempDir())
		cfg.Kafka.Key = "random"
		_, err := New(cfg)
		assert.ErrorContains(t, err, `kafka.key: "random" is not one of destination, original`)
	})
}

// TestKafkaKeepsEachDestinationInOrderInOnePartition: on topics of four
// partitions, every entry of one destination lands in one partition, in
// the order it was sent, whether topics are per table or common.
func TestKafkaKeepsEachDestinationInOrderInOnePartition(t *testing.T) {
	broker := kafkatest.StartInProcess(t, kfake.DefaultNumPartitions(4))
	dests := []string{"acme.auth", "acme.orders", "billing.invoices", "crm.contacts", "crm.leads", "ops.audit"}
	for _, test := range []struct {
		routing string
		topics  func() []string
	}{
		{"common", func() []string { return []string{"order-common"} }},
		{"per_table", func() []string {
			var out []string
			for _, d := range dests {
				out = append(out, d+".order")
			}
			return out
		}},
	} {
		t.Run(test.routing, func(t *testing.T) {
			cfg := kafkaConfig(broker.Addr, t.TempDir())
			cfg.BatchSize = 32
			cfg.Kafka.Routing, cfg.Kafka.CommonTopic, cfg.Kafka.TopicSuffix = test.routing, "order-common", ".order"
			o, err := New(cfg)
			require.NoError(t, err)
			const n = 600
			for i := range n {
				dest := dests[i%len(dests)]
				require.NoError(t, o.SendContext(t.Context(), Entry{Reason: "r", Destination: dest, Payload: fmt.Appendf(nil, "%s/%05d", dest, i)}))
			}
			flushOK(t, o)
			closeOK(t, o)

			partitions := map[string]map[int]bool{} // destination -> partitions used
			last := map[string]int{}                // destination -> last sequence read
			count := 0
			for _, topic := range test.topics() {
				for _, m := range broker.ReadTopic(topic) { // partition by partition, in offset order
					e, err := ParseEnvelope(m.Value)
					require.NoError(t, err)
					dest, seqText, _ := strings.Cut(string(e.Payload), "/")
					seq, err := strconv.Atoi(seqText)
					require.NoError(t, err)
					require.Equal(t, dest, string(m.Key), "key = destination")
					if partitions[dest] == nil {
						partitions[dest] = map[int]bool{}
						last[dest] = -1
					}
					partitions[dest][m.Partition] = true
					assert.Greater(t, seq, last[dest], "%s: entry %d after %d in partition %d", dest, seq, last[dest], m.Partition)
					last[dest] = seq
					count++
				}
			}
			assert.Equal(t, n, count)
			used := map[int]bool{}
			for _, dest := range dests {
				assert.Len(t, partitions[dest], 1, "%s in one partition", dest)
				for p := range partitions[dest] {
					used[p] = true
				}
			}
			if test.routing == "common" {
				assert.Greater(t, len(used), 1, "the destinations spread over the partitions (else the test shows nothing)")
			}
		})
	}
}

// TestKafkaSlabAfterBrokerStall: the broker stops answering produce
// requests (they sleep in kfake and are applied late), writes time out and
// cascade to the file, then the broker answers again. The late produce
// requests kafka-go still held must carry their own entries' bytes: every
// Kafka message parses, its dlq.id header and key match its envelope, and
// every copy of an id (Kafka, file) is the same bytes.
func TestKafkaSlabAfterBrokerStall(t *testing.T) {
	broker := kafkatest.StartInProcess(t)
	c := broker.Cluster()
	var (
		frozen atomic.Bool
		mu     sync.Mutex
		wake   = make(chan struct{})
	)
	c.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if frozen.Load() {
			mu.Lock()
			w := wake
			mu.Unlock()
			c.SleepControl(func() { <-w })
		}
		return nil, nil, false
	})
	dir := t.TempDir()
	cfg := kafkaConfig(broker.Addr, dir)
	cfg.Kafka.WriteTimeoutMS = 300
	cfg.BatchSize = 3
	cfg.QueueCapacity = 64
	cfg.FlushIntervalMS = 1
	cfg.Retry = RetryConfig{InitialBackoffMS: 5, MaxBackoffMS: 50}
	o, err := New(cfg)
	require.NoError(t, err)
	const n = 900
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			payload := append(fmt.Appendf(nil, "k%05d-", i), bytes.Repeat([]byte{byte('a' + i%26)}, 40+i%300)...)
			assert.NoError(t, o.SendContext(context.Background(), Entry{Reason: "r", Destination: "acme.t" + fmt.Sprint(i%3), Payload: payload}))
			if i%150 == 0 {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	for range 3 {
		time.Sleep(150 * time.Millisecond)
		frozen.Store(true)
		time.Sleep(900 * time.Millisecond)
		mu.Lock()
		frozen.Store(false)
		close(wake)
		wake = make(chan struct{})
		mu.Unlock()
	}
	<-done
	flushOK(t, o)
	closeOK(t, o)
	st := o.Stats()
	requireAccounted(t, st)

	copies := map[string][]byte{} // id -> envelope bytes
	check := func(where string, id string, value []byte) {
		if prev, ok := copies[id]; ok && !bytes.Equal(prev, value) {
			t.Errorf("%s: id %s has two different envelopes:\n%.120q\n%.120q", where, id, prev, value)
		}
		copies[id] = value
	}
	got := map[string]bool{}
	for dst := range 3 {
		for _, m := range broker.ReadTopic(fmt.Sprintf("acme.t%d.dlq", dst)) {
			e, err := ParseEnvelope(m.Value)
			if !assert.NoError(t, err, "a Kafka value that does not parse: %.80q", m.Value) {
				continue
			}
			h := headers(m)
			assert.Equal(t, e.ID, h["dlq.id"], "dlq.id header of %s", e.Payload[:7])
			assert.Equal(t, e.Destination, string(m.Key), "key of %s", e.Payload[:7])
			var i int
			fmt.Sscanf(string(e.Payload), "k%05d-", &i)
			want := append(fmt.Appendf(nil, "k%05d-", i), bytes.Repeat([]byte{byte('a' + i%26)}, 40+i%300)...)
			assert.Equal(t, string(want), string(e.Payload), "payload of %d", i)
			check("kafka", e.ID, append([]byte(nil), m.Value...))
			got[string(e.Payload[:6])] = true
		}
	}
	for _, e := range readDir(t, filepath.Join(dir, "svc")) {
		got[string(e.Payload[:6])] = true
	}
	for i := range n {
		assert.True(t, got[fmt.Sprintf("k%05d", i)], "entry %d in neither Kafka nor the file", i)
	}
	t.Logf("stats: written %d, kafka %+v", st.Written, st.Backends[0])
}
