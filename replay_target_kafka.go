//go:build dlq_kafka || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// The placeholders a Kafka target's topic may hold.
const (
	topicSourcePlaceholder      = "{source.topic}"
	topicDestinationPlaceholder = "{destination}"
)

// replayKafka writes each message to TOPIC, which may name the entry's
// source topic or destination; the original key picks the partition as it
// did the first time.
type replayKafka struct {
	writer    *kafka.Writer
	transport *kafka.Transport
	topic     string
}

func newReplayKafka(u *url.URL) (*replayKafka, error) {
	topic := strings.TrimPrefix(u.Path, "/")
	if topic == "" {
		topic = topicSourcePlaceholder
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "9092")
	}
	transport := &kafka.Transport{DialTimeout: 10 * time.Second, ClientID: "dlq-replay"}
	return &replayKafka{topic: topic, transport: transport, writer: &kafka.Writer{
		Addr:         kafka.TCP(host),
		Transport:    transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    replayBatch,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  5,
		WriteTimeout: 30 * time.Second,
	}}, nil
}

// topicOf fills the topic's placeholders from the entry.
func (k *replayKafka) topicOf(m *replayMsg) (string, error) {
	topic := k.topic
	for _, p := range []struct{ name, value string }{
		{topicSourcePlaceholder, m.entry.Source.Topic},
		{topicDestinationPlaceholder, m.entry.Destination},
	} {
		if strings.Contains(topic, p.name) {
			if p.value == "" {
				return "", fmt.Errorf("kafka target: entry %s has no %s", m.entry.ID, strings.Trim(p.name, "{}"))
			}
			topic = strings.ReplaceAll(topic, p.name, p.value)
		}
	}
	return topic, nil
}

func (k *replayKafka) send(ctx context.Context, msgs []replayMsg, rep *sendReport) (int, error) {
	out := make([]kafka.Message, 0, len(msgs))
	var topicErr error
	for i := range msgs {
		topic, err := k.topicOf(&msgs[i])
		if err != nil {
			topicErr = err
			break
		}
		m := kafka.Message{Topic: topic, Key: msgs[i].entry.Key, Value: msgs[i].entry.Payload}
		for _, h := range msgs[i].headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		err := k.writer.WriteMessages(ctx, out...)
		k.report(rep)
		var perMessage kafka.WriteErrors
		switch {
		case errors.As(err, &perMessage):
			for i, merr := range perMessage {
				if merr != nil {
					if errors.Is(merr, kafka.UnknownTopicOrPartition) {
						return i, k.noTopic(out[i].Topic, merr)
					}
					return i, fmt.Errorf("kafka target: entry %s to %s: %w", msgs[i].entry.ID, out[i].Topic, merr)
				}
			}
		case errors.Is(err, kafka.UnknownTopicOrPartition):
			return 0, k.noTopic(out[0].Topic, err)
		case err != nil:
			return 0, fmt.Errorf("kafka target: %w", err)
		}
	}
	return len(out), topicErr
}

// report tells rep what the broker said of its load during the last
// WriteMessages, from the writer's stats, which kafka-go resets at each
// read (and nothing else reads): the longest time the broker throttled a
// produce (its WaitTime, since kafka-go 0.4), and the produce requests
// that failed, retried or not. kafka-go itself does not wait out a
// throttle: the send loop does (rep.pause).
func (k *replayKafka) report(rep *sendReport) {
	st := k.writer.Stats()
	rep.calls = max(int(st.Writes), 1)
	rep.failing += int(st.Errors)
	if st.WaitTime.Max > 0 {
		rep.throttled++
		rep.pause = max(rep.pause, st.WaitTime.Max)
	}
}

// noTopic is the error for a topic the broker does not have.
func (k *replayKafka) noTopic(topic string, err error) error {
	return &describedError{msg: fmt.Sprintf("kafka target: topic %s does not exist on %s", topic, k.writer.Addr), err: err}
}

func (k *replayKafka) close() error {
	err := k.writer.Close()
	k.transport.CloseIdleConnections()
	return err
}
