package dlqkgo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The loop of a consumer whose poison messages go to the DLQ: a record
// that is not JSON is dead-lettered, the others are processed, and each
// Commit flushes the DLQ before it commits.
func Example() {
	// An in-process broker holding five messages, two of them poison; a
	// program dials its cluster instead.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	produceExample(cluster.ListenAddrs(), `{"id":1}`, `{"id":`, `{"id":3}`, `<xml/>`, `{"id":5}`)

	dir, err := os.MkdirTemp("", "dlqkgo-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir}})
	if err != nil {
		log.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumerGroup("loader"), kgo.ConsumeTopics("events"),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll())
	if err != nil {
		log.Fatal(err)
	}
	c, err := dlqkgo.New(cl, o, dlqkgo.Options{
		Classify: func(error) string { return "parse_error" },
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for handled := 0; handled < 5; { // a service loops until SIGTERM
		fetches := c.Poll(ctx)
		for rec := range c.Records(fetches) {
			handled++
			if !json.Valid(rec.Value) {
				err := c.DeadLetter(ctx, rec, errors.New("not JSON"))
				fmt.Printf("offset %d: dead-lettered (error %v)\n", rec.Offset, err)
				continue
			}
			c.Done(rec)
			fmt.Printf("offset %d: processed\n", rec.Offset)
		}
		if err := c.Commit(ctx); err != nil {
			log.Print(err)
		}
	}

	cl.CloseAllowingRebalance()
	if err := o.Close(ctx); err != nil {
		log.Print(err)
	}
	s := o.Stats()
	fmt.Printf("DLQ: %d written, %d lost\n", s.Written, s.Lost)
	// Output:
	// offset 0: processed
	// offset 1: dead-lettered (error <nil>)
	// offset 2: processed
	// offset 3: dead-lettered (error <nil>)
	// offset 4: processed
	// DLQ: 2 written, 0 lost
}

func produceExample(brokers []string, values ...string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte(v)}).FirstErr(); err != nil {
			log.Fatal(err)
		}
	}
}
