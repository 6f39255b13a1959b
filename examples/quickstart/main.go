// Command quickstart sends the messages it cannot parse to a file-only DLQ
// and prints where they went.
//
// The DLQ folder is $DLQ_DIR when set; otherwise a temporary folder, removed
// before the command exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq"
)

// event is what the messages should hold.
type event struct {
	User string `json:"user"`
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir := os.Getenv("DLQ_DIR")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dlq-quickstart")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		dir = tmp
		fmt.Printf("writing to %s, removed on exit (set DLQ_DIR to keep the files)\n", dir)
	}
	o, err := dlq.New(dlq.Config{Service: "quickstart", File: dlq.FileConfig{Dir: dir}})
	if err != nil {
		return err
	}

	// On the hot path: hand over what could not be processed, with the real
	// error, and go on.
	for i, raw := range []string{`{"user":"ada"}`, `{"user":`, `not json`, `{"id":"x"}`} {
		reason, perr := "parse_error", error(nil)
		var ev event
		if perr = json.Unmarshal([]byte(raw), &ev); perr == nil && ev.User == "" {
			reason, perr = "validation_error", errors.New(`field "user" is missing`)
		}
		if perr == nil {
			continue // processed
		}
		err := o.Send(dlq.Entry{
			Reason:      reason,
			Error:       perr.Error(),
			Payload:     []byte(raw),
			Destination: "acme.auth",
			Source:      dlq.KafkaSource("events", 0, int64(i)),
		})
		if err != nil {
			log.Print(err) // dlq.ErrQueueFull or dlq.ErrClosed: refused, and counted in Stats
		}
	}

	// At shutdown: make everything durable, then stop. Both retry a backend
	// that is down until their ctx ends: give each a deadline.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFlush()
	if err := o.Flush(flushCtx); err != nil {
		log.Print(err)
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelClose()
	if err := o.Close(closeCtx); err != nil {
		return err
	}

	path := filepath.Join(dir, "quickstart", "dlq.ndjson")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := o.Stats()
	fmt.Printf("%d entries accepted, %d written, %d lost; they are in %s:\n%s", s.Accepted, s.Written, s.Lost, path, data)
	return nil
}
