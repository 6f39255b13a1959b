//go:build dlq_kafka || dlq_all

package dlq

import (
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
