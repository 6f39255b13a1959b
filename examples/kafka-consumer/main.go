// Command kafka-consumer reads a Kafka topic, treats messages that are not
// JSON as poison and hands them to the DLQ (cascade kafka → file), and on
// SIGINT or SIGTERM calls Flush, then Close.
//
//	go run -tags dlq_kafka ./examples/kafka-consumer                  # demo: in-process broker
//	go run -tags dlq_kafka ./examples/kafka-consumer -brokers 127.0.0.1:9092 -topic events
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	brokers := flag.String("brokers", "", "Kafka bootstrap address; empty starts an in-process demo broker")
	topic := flag.String("topic", "events", "topic to consume")
	dir := flag.String("dir", os.TempDir(), "folder of the DLQ's fallback file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	demo := *brokers == ""
	if demo {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, *topic))
		if err != nil {
			log.Fatal(err)
		}
		defer cluster.Close()
		*brokers = cluster.ListenAddrs()[0]
		produceDemo(ctx, *brokers, *topic)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*time.Second) // the demo ends by itself
		defer cancel()
	}

	q, err := dlq.New(dlq.Config{
		Service: "kafka-consumer",
		Order:   []dlq.Kind{dlq.KindKafka, dlq.KindFile},
		Kafka:   dlq.KafkaConfig{Brokers: []string{*brokers}},
		File:    dlq.FileConfig{Dir: *dir},
	})
	if err != nil {
		log.Fatal(err) // without -tags dlq_kafka this names the missing tag
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{*brokers}, Topic: *topic, MaxWait: 100 * time.Millisecond})
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Print("read: ", err)
			}
			break
		}
		if json.Valid(m.Value) {
			fmt.Printf("processed %s/%d/%d\n", m.Topic, m.Partition, m.Offset)
			continue
		}
		err = q.Send(dlq.Entry{
			Reason:      "parse_error",
			Error:       "message is not valid JSON",
			Payload:     m.Value,
			Destination: m.Topic,
			Source:      dlq.KafkaSource(m.Topic, int32(m.Partition), m.Offset),
		})
		fmt.Printf("poison %s/%d/%d -> DLQ (%v)\n", m.Topic, m.Partition, m.Offset, err)
	}
	_ = r.Close()

	// Shutdown: make every DLQ entry durable, then stop.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(shutdown); err != nil {
		log.Print("flush: ", err)
	}
	if err := q.Close(shutdown); err != nil {
		log.Print("close: ", err)
	}
	s := q.Stats()
	fmt.Printf("DLQ: %d accepted, %d written (kafka %d, file %d), %d lost\n",
		s.Accepted, s.Written, s.Backends[0].Entries, s.Backends[1].Entries, s.Lost)
	if demo {
		fmt.Printf("the poison messages are in topic %s.dlq\n", *topic)
	}
}

// produceDemo writes a few messages, some of them poison.
func produceDemo(ctx context.Context, broker, topic string) {
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for _, v := range []string{`{"id":1}`, `{"id":`, `{"id":3}`, `<xml/>`, `{"id":5}`} {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		log.Fatal(err)
	}
}
