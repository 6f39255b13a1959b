package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)

	o, err := dlq.New(dlq.Config{Service: "loader", File: dlq.FileConfig{Dir: dir}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = o.Send(dlq.Entry{Reason: "parse_error", Payload: []byte(`{"broken`)})
	_ = o.Close(context.Background())

	s := o.Stats()
	fmt.Println("written:", s.Written, "lost:", s.Lost)
	_, err = os.Stat(filepath.Join(dir, "loader", "dlq.ndjson"))
	fmt.Println("file exists:", err == nil)
	// Output:
	// written: 1 lost: 0
	// file exists: true
}

func ExampleNew_invalidConfig() {
	_, err := dlq.New(dlq.Config{Service: "../etc", Mode: "sideways"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, dlq.ErrInvalidConfig))
	// Output:
	// dlq: invalid config: service: "../etc" is not a safe folder name: use 1 to 255 letters, digits, '.', '_' or '-', not "." or ".."; mode: "sideways" is not one of cascade, fan_out, file_only, kafka_only
	// true
}

func ExampleOrchestrator_Flush() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	o, _ := dlq.New(dlq.Config{Service: "ingest", File: dlq.FileConfig{Dir: dir}})
	defer o.Close(context.Background())

	_ = o.Send(dlq.Entry{Reason: "schema_mismatch", Payload: []byte("x")})

	// At shutdown, or before acknowledging upstream: wait until everything
	// sent so far is durable.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		fmt.Println("not durable:", err)
		return
	}
	fmt.Println("durable:", o.Stats().Written)
	// Output: durable: 1
}

func ExampleOrchestrator_Send() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	o, _ := dlq.New(dlq.Config{Service: "consumer", File: dlq.FileConfig{Dir: dir}})
	defer o.Close(context.Background())

	err := o.Send(dlq.Entry{
		Reason:      "parse_error",
		Error:       "invalid character 'x'",
		Payload:     []byte("x"),
		Destination: "acme.auth",
		Source:      dlq.KafkaSource("events", 3, 12345),
		Metadata:    map[string]string{"trace_id": "abc"},
	})
	switch {
	case errors.Is(err, dlq.ErrQueueFull):
		// The DLQ is saturated: the entry was refused and counted.
	case errors.Is(err, dlq.ErrClosed):
		// Shutting down.
	}
	fmt.Println(err)
	// Output: <nil>
}

func Example_fanOut() {
	// Fan-out: every enabled backend gets every entry. Here only the file
	// backend is built in; with -tags dlq_all, Kafka, HTTP and Redis join.
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	cfg := dlq.Config{Service: "mirror", Mode: dlq.ModeFanOut, File: dlq.FileConfig{Dir: dir}}
	o, err := dlq.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = o.Send(dlq.Entry{Reason: "r", Payload: []byte("p")})
	_ = o.Close(context.Background())
	for _, b := range o.Stats().Backends {
		fmt.Println(b.Kind, b.Entries)
	}
	// Output: file 1
}

func ExampleParseEnvelope() {
	line := []byte(`{"timestamp":1764200000001,"service":"receiver","reason":"parse_error","attempts":2,"payload":"YmFkIGpzb24=","destination":"acme.auth","source":{"topic":"events","partition":3,"offset":12345}}`)
	e, err := dlq.ParseEnvelope(line)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s %q %s/%d/%d\n", e.Service, e.Reason, e.Payload, e.Source.Topic, e.Source.Partition, e.Source.Offset)
	// Output: receiver parse_error "bad json" events/3/12345
}

func ExampleAppendEnvelope() {
	e := dlq.Entry{Timestamp: time.UnixMilli(1764200000000), Service: "loader", Reason: "parse_error",
		Attempts: 2, Payload: []byte("hello"), Destination: "acme.auth", Source: dlq.KafkaSource("events", 1, 42)}
	fmt.Println(string(dlq.AppendEnvelope(nil, &e)))
	// Output: {"timestamp":1764200000000,"service":"loader","reason":"parse_error","attempts":2,"payload":"aGVsbG8=","destination":"acme.auth","source":{"topic":"events","partition":1,"offset":42}}
}

func ExampleSetDefault() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	o, _ := dlq.New(dlq.Config{Service: "svc", File: dlq.FileConfig{Dir: dir}})
	dlq.SetDefault(o)
	defer dlq.SetDefault(nil)

	// Anywhere in the service, without passing the orchestrator around:
	_ = dlq.Send(dlq.Entry{Reason: "poison", Payload: []byte("?")})
	fmt.Println(dlq.Flush(context.Background()))
	_ = o.Close(context.Background())
	// Output: <nil>
}
