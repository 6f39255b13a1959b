// Command quickstart writes a few entries to a file-only DLQ and prints
// where they went.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq"
)

func main() {
	dir, err := os.MkdirTemp("", "dlq-quickstart")
	if err != nil {
		log.Fatal(err)
	}
	o, err := dlq.New(dlq.Config{Service: "quickstart", File: dlq.FileConfig{Dir: dir}})
	if err != nil {
		log.Fatal(err)
	}

	// On the hot path: hand over what could not be processed, and go on.
	for i, raw := range []string{`{"user":`, `not json`, `{"id":"x"}`} {
		err := o.Send(dlq.Entry{
			Reason:      "parse_error",
			Error:       "unexpected end of JSON input",
			Payload:     []byte(raw),
			Destination: "acme.auth",
			Source:      dlq.KafkaSource("events", 0, int64(i)),
		})
		if errors.Is(err, dlq.ErrQueueFull) {
			log.Print("DLQ queue full: entry refused")
		}
	}

	// At shutdown: make everything durable, then stop.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	if err := o.Close(ctx); err != nil {
		log.Fatal(err)
	}

	path := filepath.Join(dir, "quickstart", "dlq.ndjson")
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	s := o.Stats()
	fmt.Printf("%d entries accepted, %d written, %d lost; they are in %s:\n%s", s.Accepted, s.Written, s.Lost, path, data)
}
