//go:build dlq_kafka || dlq_all

package dlq

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
