// Command example is a Kafka consumer on dlqkafkago: it reads a topic as a
// kafka-go consumer group, processes the JSON messages and dead-letters the
// others, counts each success for the storm brake, commits in batches once
// the dead letters are durable, stops fetching while the brake is tripped
// and goes on when it clears, and on SIGINT or SIGTERM commits (which
// flushes the DLQ), then closes the Reader and the DLQ.
//
// Its DLQ config is dlq.yaml beside this file (built in). Without
// KAFKA_BROKERS it starts an in-process demo broker whose topic turns to
// poison after 2,000 messages, a bad deploy upstream: the brake trips, the
// consumer waits, and the demo ends after a few seconds.
//
//	go run ./example                                   # in dlqkafkago: the demo
//	KAFKA_BROKERS=127.0.0.1:9092 go run ./example -topic events -group loader
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/dlqkafkago"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

//go:embed dlq.yaml
var config []byte

// The demo topic: demoGood valid messages, then demoPoison that are not.
const (
	demoGood   = 2_000
	demoPoison = 100_000
)

func main() {
	topic := flag.String("topic", "events", "topic to consume")
	group := flag.String("group", "loader", "consumer group")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, *topic))
		if err != nil {
			log.Fatal(err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()[0]
		if err := produceDemo(ctx, brokers, *topic); err != nil {
			log.Fatal(err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second) // the demo ends by itself
		defer cancel()
	}
	if _, err := run(ctx, strings.Split(brokers, ","), *topic, *group, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// errNotJSON is the handler's error for a poison message.
var errNotJSON = errors.New("message is not valid JSON")

// handle processes one message.
func handle(msg kafka.Message) error {
	if !json.Valid(msg.Value) {
		return errNotJSON
	}
	return nil
}

// reason classifies a handler's error for the dead letter.
func reason(err error) string {
	if errors.Is(err, errNotJSON) {
		return "parse_error"
	}
	return "" // dlqkafkago.DefaultReason
}

// run consumes topic until ctx ends, then shuts down, and returns the
// Consumer's counts.
func run(ctx context.Context, brokers []string, topic, group string, out io.Writer) (dlqkafkago.Stats, error) {
	cfg, err := dlq.ParseConfig(config)
	if err != nil {
		return dlqkafkago.Stats{}, err
	}
	cfg.OnStorm = func(ev dlq.StormEvent) {
		if ev.Tripped {
			fmt.Fprintf(out, "storm brake tripped: %.0f%% of the window failed (%d dead letters, %d ok), top reasons %v: fetching stops\n",
				100*ev.Ratio, ev.DeadLetters, ev.Ok, ev.TopReasons)
		} else {
			fmt.Fprintln(out, "storm brake cleared: fetching goes on")
		}
	}
	o, err := dlq.New(cfg)
	if err != nil {
		return dlqkafkago.Stats{}, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 500 * time.Millisecond})
	c, err := dlqkafkago.New(r, o, dlqkafkago.Options{Classify: reason})
	if err != nil {
		return dlqkafkago.Stats{}, errors.Join(err, r.Close(), o.Close(ctx))
	}

	// The loop: commit every 1,000 messages or every second, whichever
	// comes first; each Commit flushes the DLQ before it commits.
	last := time.Now()
	for n := 1; ; n++ {
		msg, err := c.Fetch(ctx) // waits while the storm brake is tripped
		if err != nil {
			break // ctx ended: SIGTERM, or the demo's time
		}
		if err := handle(msg); err != nil {
			// ErrNotDone: the brake refused it; the Consumer holds it and
			// Fetch offers it again once the brake clears.
			if err := c.DeadLetter(ctx, msg, err); err != nil && !errors.Is(err, dlqkafkago.ErrNotDone) {
				log.Print(err)
			}
		} else {
			c.Done(msg) // a success, for the storm brake's ratio
		}
		if n%1000 == 0 || time.Since(last) > time.Second {
			if err := c.Commit(ctx); err != nil {
				log.Print(err) // the offsets stay; the next Commit tries again
			}
			last = time.Now()
		}
	}

	// Shutdown: the last Commit flushes the DLQ, then the Reader and the
	// DLQ close. A dead letter still held stays uncommitted: the next run
	// reads its message again.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(c.Commit(shutdown), r.Close(), o.Close(shutdown))
	s := c.Stats()
	fmt.Fprintf(out, "%d messages: %d processed, %d dead letters (in %s), %d held back by the storm brake\n",
		s.Fetched, s.Done, s.DeadLetters, cfg.File.Dir, s.Held)
	return s, err
}

// produceDemo writes demoGood valid messages, then demoPoison that are not.
func produceDemo(ctx context.Context, broker, topic string) error {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, BatchSize: 1000, BatchTimeout: time.Millisecond, Transport: tr}
	defer w.Close()
	msgs := make([]kafka.Message, 0, demoGood+demoPoison)
	for i := range demoGood + demoPoison {
		v := fmt.Sprintf(`{"id":%d}`, i)
		if i >= demoGood {
			v = fmt.Sprintf(`{"id":%d,`, i) // cut short
		}
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	return w.WriteMessages(ctx, msgs...)
}
