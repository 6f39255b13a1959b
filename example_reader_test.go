package dlq_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq"
)

// ExampleOpenReader reads a service folder back, keeping only parse errors.
func ExampleOpenReader() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	var lines []byte
	for i, reason := range []string{"parse_error", "timeout", "parse_error"} {
		e := dlq.Entry{Timestamp: time.UnixMilli(1764200000000), Service: "loader", Reason: reason,
			Payload: fmt.Appendf(nil, "message %d", i), ID: fmt.Sprintf("id-%d", i)}
		lines = append(dlq.AppendEnvelope(lines, &e), '\n')
	}
	lines = append(lines, `{"torn":`...) // a line cut short by a crash
	_ = os.WriteFile(filepath.Join(dir, "dlq.ndjson"), lines, 0o600)

	r, err := dlq.OpenReader(dir, dlq.ReaderOptions{Filter: dlq.Filter{Reasons: []string{"parse_*"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for rec, err := range r.All(context.Background()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Entry.ID, string(rec.Entry.Payload))
	}
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// id-0 message 0
	// id-2 message 2
	// {Read:3 Matched:2 Unreadable:1}
}
