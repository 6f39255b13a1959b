package dlqkafkago_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// errNotJSON is the handler's error for a poison message.
var errNotJSON = errors.New("not valid JSON")

// Example is a consumer loop over an in-process broker: poison messages go
// to the DLQ, the others are processed, and the offsets are committed once
// the dead letters are durable.
func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	produceExample(brokers[0], `{"id":1}`, `{"id":`, `{"id":3}`, `<xml/>`, `{"id":5}`)

	dir, err := os.MkdirTemp("", "dlqkafkago-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir},
		Storm:  dlq.StormConfig{MaxRatio: 0.5, MinEvents: 100}, // stop the consumer on a bad deploy
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "loader", Topic: "events",
		MaxWait: 500 * time.Millisecond})
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{Classify: func(err error) string {
		if errors.Is(err, errNotJSON) {
			return "parse_error"
		}
		return "" // DefaultReason
	}})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 5 {
		msg, err := c.Fetch(ctx) // waits while the storm brake is tripped
		if err != nil {
			log.Fatal(err)
		}
		if !json.Valid(msg.Value) {
			err := c.DeadLetter(ctx, msg, errNotJSON)
			fmt.Printf("offset %d: dead letter (%v)\n", msg.Offset, err)
			continue
		}
		c.Done(msg)
		fmt.Printf("offset %d: processed\n", msg.Offset)
	}
	// Flush the DLQ, then commit: the offsets move past the dead letters
	// only now that they are durable. Then close, Reader first.
	if err := c.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
	if err := o.Close(ctx); err != nil {
		log.Fatal(err)
	}
	s := c.Stats()
	fmt.Printf("fetched %d, done %d, dead letters %d, held %d\n", s.Fetched, s.Done, s.DeadLetters, s.Held)
	// Output:
	// offset 0: processed
	// offset 1: dead letter (<nil>)
	// offset 2: processed
	// offset 3: dead letter (<nil>)
	// offset 4: processed
	// fetched 5, done 3, dead letters 2, held 0
}

// produceExample writes the values to topic events.
func produceExample(broker string, values ...string) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "events", BatchTimeout: time.Millisecond, Transport: tr}
	defer w.Close()
	var msgs []kafka.Message
	for _, v := range values {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		log.Fatal(err)
	}
}
