// Command redis writes a few entries to a Redis stream through the DLQ and
// reads them back with XRANGE, as an operator would.
//
// Its config is dlq.yaml beside this file (built in); REDIS_URL overrides
// the server.
//
//	go run -tags dlq_redis ./examples/redis
//	REDIS_URL=redis://127.0.0.1:6380/0 go run -tags dlq_redis ./examples/redis
package main

import (
	"context"
	_ "embed"
	"fmt"
	"log"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/redis/go-redis/v9"
)

//go:embed dlq.yaml
var config []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cfg, err := dlq.ParseConfig(config)
	if err != nil {
		log.Fatal(err) // without -tags dlq_redis this names the missing tag
	}
	q, err := dlq.New(cfg)
	if err != nil {
		log.Fatal(err)
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

	opts, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		log.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	msgs, err := c.XRevRangeN(ctx, cfg.Redis.Stream, "+", "-", 3).Result()
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
