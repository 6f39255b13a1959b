// Command redis writes a few entries to a Redis stream through the DLQ and
// reads them back with XRANGE, as an operator would.
//
//	go run -tags dlq_redis ./examples/redis -url redis://127.0.0.1:6379/0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/redis/go-redis/v9"
)

func main() {
	url := flag.String("url", "redis://127.0.0.1:6379/0", "Redis URL (redis://, rediss:// or unix://)")
	stream := flag.String("stream", "dlq-example", "stream key; {destination} is replaced per entry")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	q, err := dlq.New(dlq.Config{
		Service: "redis-example",
		Redis:   dlq.RedisConfig{URL: *url, Stream: *stream, MaxLen: 10000},
		File:    dlq.FileConfig{Disabled: true},
	})
	if err != nil {
		log.Fatal(err) // without -tags dlq_redis this names the missing tag
	}
	for i, raw := range []string{"not json", "{\"id\":", "\x00\x01binary"} {
		_ = q.Send(dlq.Entry{Reason: "parse_error", Payload: []byte(raw), Source: dlq.KafkaSource("events", 0, int64(i))})
	}
	if err := q.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		log.Fatal(err)
	}

	opts, err := redis.ParseURL(*url)
	if err != nil {
		log.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	msgs, err := c.XRevRangeN(ctx, *stream, "+", "-", 3).Result()
	if err != nil {
		log.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		e, err := dlq.ParseEnvelope([]byte(m.Values["data"].(string)))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s reason=%s id=%s payload=%q\n", m.ID, m.Values["reason"], m.Values["id"], e.Payload)
	}
}
