//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
