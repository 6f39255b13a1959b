// Command kafka-consumer consumes a Kafka topic with franz-go and the
// dlqkgo adapter: it processes each message (JSON, or a parse error), hands
// the ones that fail to the DLQ (cascade kafka → file), counts the others
// as Ok, and commits in batches, each commit after a Flush. When the storm
// brake trips (more than half of the messages failing: a bad deploy) it
// stops fetching until the brake clears, then reads the refused messages
// again. On SIGINT or SIGTERM it commits what is durable, then closes the
// client and the DLQ.
//
// Its DLQ config is dlq.yaml beside this file (built in), which takes the
// brokers from KAFKA_BROKERS. Without it the example runs a demo: an
// in-process broker holding 20,000 messages, a handler whose "deploy"
// breaks every message from the 2,000th on until the storm brake trips
// (then it is rolled back), a window of half a second and a cool-down of
// one second; it ends once every message is handled.
//
//	go run -tags dlq_kafka ./examples/kafka-consumer                  # demo: in-process broker
//	KAFKA_BROKERS=127.0.0.1:9092 go run -tags dlq_kafka ./examples/kafka-consumer -topic events
package main

import (
	"context"
	_ "embed"
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
	"github.com/dlqkit/dlq/dlqkgo"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed dlq.yaml
var config []byte

// Commit after this many messages, or this long after the last commit.
const (
	commitEvery    = 1000
	commitInterval = time.Second
)

var (
	errNotJSON = errors.New("message is not valid JSON")
	errSchema  = errors.New("schema v2 is not supported") // the bad deploy
)

func main() {
	topic := flag.String("topic", "events", "topic to consume")
	group := flag.String("group", "kafka-consumer", "consumer group")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *topic, *group, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, topic, group string, out io.Writer) error {
	var d *demo
	if os.Getenv("KAFKA_BROKERS") == "" {
		var err error
		if d, err = startDemo(ctx, topic, out); err != nil {
			return err
		}
		defer d.close()
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute) // the demo ends by itself, sooner
		defer cancel()
	}

	cfg, err := dlq.ParseConfig(config)
	if err != nil {
		return err // without -tags dlq_kafka this names the missing tag
	}
	cfg.OnStorm = func(ev dlq.StormEvent) {
		if ev.Tripped {
			fmt.Fprintf(out, "storm brake tripped: %d of the last %d messages failed (%s); the consumer pauses\n",
				ev.DeadLetters, ev.DeadLetters+ev.Ok, tops(ev.TopReasons))
			if d != nil {
				d.rollBack()
			}
			return
		}
		fmt.Fprintln(out, "storm brake cleared: the consumer resumes")
	}
	q, err := dlq.New(cfg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),    // the adapter commits, after each Flush
		kgo.BlockRebalanceOnPoll(), // rebalances between batches
	)
	if err != nil {
		return err
	}
	c, err := dlqkgo.New(cl, q, dlqkgo.Options{Classify: classify, MaxPollRecords: 500})
	if err != nil {
		return err
	}

	var processed, deadLettered, refused, sinceCommit int
	lastCommit := time.Now()
	for ctx.Err() == nil {
		fetches := c.Poll(ctx) // waits, paused, while the storm brake is tripped
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) { log.Printf("fetch %s/%d: %v", t, p, err) })
		for rec := range c.Records(fetches) {
			sinceCommit++
			if err := d.process(rec); err != nil {
				if err := c.DeadLetter(ctx, rec, err); err != nil {
					refused++ // dlq.ErrStorm: read again after the pause
					continue
				}
				deadLettered++
				d.done(rec)
				continue
			}
			c.Done(rec) // Ok for the storm brake; committed at the next Commit
			processed++
			d.done(rec)
		}
		if sinceCommit >= commitEvery || time.Since(lastCommit) >= commitInterval || d.handled() {
			if err := c.Commit(ctx); err != nil {
				log.Print(err) // the offsets stay before what is not durable
			}
			sinceCommit, lastCommit = 0, time.Now()
			if d.handled() {
				break
			}
		}
	}

	// Shutdown: commit what is durable, then close the client and the DLQ.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Commit(shutdown); err != nil {
		log.Print(err)
	}
	cl.CloseAllowingRebalance()
	if err := q.Close(shutdown); err != nil {
		log.Print(err)
	}
	s := q.Stats()
	fmt.Fprintf(out, "processed %d, dead-lettered %d, refused during the storm and read again %d\n", processed, deadLettered, refused)
	fmt.Fprintf(out, "DLQ: %d accepted, %d written (kafka %d, file %d), %d lost\n",
		s.Accepted, s.Written, s.Backends[0].Entries, s.Backends[1].Entries, s.Lost)
	if d != nil {
		fmt.Fprintf(out, "the dead letters are in topic %s.dlq\n", topic)
	}
	return nil
}

// tops prints a storm event's top reasons.
func tops(counts []dlq.StormCount) string {
	s := make([]string, len(counts))
	for i, c := range counts {
		s[i] = fmt.Sprintf("%s %d", c.Key, c.Count)
	}
	return strings.Join(s, ", ")
}

// classify names the reason of a dead letter.
func classify(err error) string {
	switch {
	case errors.Is(err, errNotJSON):
		return "parse_error"
	case errors.Is(err, errSchema):
		return "schema_error"
	}
	return dlqkgo.DefaultReason
}
