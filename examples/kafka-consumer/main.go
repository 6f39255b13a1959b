// Command kafka-consumer reads a Kafka topic, treats messages that are not
// JSON as poison and hands them to the DLQ (cascade kafka → file), and on
// SIGINT or SIGTERM calls Flush, then Close.
//
// Its DLQ config is dlq.yaml beside this file (built in), which takes the
// brokers from KAFKA_BROKERS; without it the example starts an in-process
// demo broker and sets KAFKA_BROKERS itself, as a deployment would.
//
//	go run -tags dlq_kafka ./examples/kafka-consumer                  # demo: in-process broker
//	KAFKA_BROKERS=127.0.0.1:9092 go run -tags dlq_kafka ./examples/kafka-consumer -topic events
package main

import (
	"context"
	_ "embed"
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

//go:embed dlq.yaml
var config []byte

func main() {
	topic := flag.String("topic", "events", "topic to consume")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	demo := os.Getenv("KAFKA_BROKERS") == ""
	if demo {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, *topic))
		if err != nil {
			log.Fatal(err)
		}
		defer cluster.Close()
		_ = os.Setenv("KAFKA_BROKERS", cluster.ListenAddrs()[0])
		produceDemo(ctx, cluster.ListenAddrs()[0], *topic)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*time.Second) // the demo ends by itself
		defer cancel()
	}

	cfg, err := dlq.ParseConfig(config)
	if err != nil {
		log.Fatal(err) // without -tags dlq_kafka this names the missing tag
	}
	q, err := dlq.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: *topic, MaxWait: 100 * time.Millisecond})
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
