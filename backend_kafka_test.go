//go:build dlq_kafka || dlq_all

package dlq

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { conformanceRigs = append(conformanceRigs, kafkaRig()) }

// kafkaRig is the Kafka backend against kfake on a loopback port, started
// in process whatever $DLQ_KAFKA_BROKERS says: the faults are kfake's hooks.
func kafkaRig() backendRig {
	return backendRig{kind: KindKafka, features: rigFeatures{
		fallback:      true,
		maxEntryBytes: kafkaMaxMessageBytes - messageOverhead,
		hangs:         true,
	}, start: func(t *testing.T, _ bool) rigTarget {
		return &kafkaTarget{broker: kafkatest.StartInProcess(t)}
	}}
}

type kafkaTarget struct {
	broker *kafkatest.Broker
}

// configure routes per table (an entry without a destination goes to the
// common topic) with a write timeout of a minute: only cancellation can
// end a hung write within the suite's bounds.
func (k *kafkaTarget) configure(cfg *Config) {
	cfg.File = FileConfig{Disabled: true}
	cfg.Kafka = KafkaConfig{Brokers: []string{k.broker.Addr}, WriteTimeoutMS: 60_000}
}

// landed reads every topic back with a kafka-go connection of its own.
func (k *kafkaTarget) landed(t *testing.T) map[string][]Entry {
	t.Helper()
	out := map[string][]Entry{}
	for _, topic := range k.broker.Topics() {
		if strings.HasPrefix(topic, "__") {
			continue
		}
		for _, m := range k.broker.ReadTopic(topic) {
			e, err := ParseEnvelope(m.Value)
			require.NoError(t, err, "a message of topic %s", topic)
			out[e.ID] = append(out[e.ID], e)
		}
	}
	return out
}

// refuseSome makes the broker refuse every produce to the refused
// destination's topic (POLICY_VIOLATION), and take the others.
func (k *kafkaTarget) refuseSome(t *testing.T) (func(int, *Entry), func([]Entry) map[string]bool) {
	t.Helper()
	k.broker.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: refusedDest + defaultTopicSuffix,
		Err: kerr.PolicyViolation, Count: -1})
	return refuseEveryThird, byDestination
}

// hang makes the broker take every produce request and answer none until
// release; the requests held are then dropped unapplied, and later ones
// answered as usual.
func (k *kafkaTarget) hang(t *testing.T) (func() bool, func()) {
	t.Helper()
	c := k.broker.Cluster()
	released := make(chan struct{})
	var produced, answered atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-released:
			return nil, nil, false // the broker answers
		default:
		}
		produced.Add(1)
		defer answered.Add(1)
		c.SleepControl(func() { <-released })
		return nil, errors.New("held produce dropped"), true
	})
	var once sync.Once
	release := func() {
		once.Do(func() {
			close(released)
			// Before the broker stops: kfake leaks a control still asleep
			// when it closes.
			require.Eventually(t, func() bool { return answered.Load() == produced.Load() }, confWait, time.Millisecond,
				"the held produce requests are let go")
			k.broker.Topics() // a round trip: the broker's loop has taken the controls' answers
		})
	}
	t.Cleanup(release)
	return func() bool { return produced.Load() > 0 }, release
}
