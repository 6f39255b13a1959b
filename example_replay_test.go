package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/dlqkit/dlq"
)

// ExampleReplay sends the entries of one bug in a DLQ folder back to an
// HTTP endpoint, once the bug is fixed: each payload as it came, with
// dlq.replay_of naming the entry. A checkpoint lets a rerun resume where a
// stopped replay left off.
func ExampleReplay() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	var lines []byte
	for i, text := range []string{"bad byte at offset 17", "call to 10.0.0.7:5432 timed out", "bad byte at offset 3"} {
		e := dlq.Entry{Timestamp: time.UnixMilli(1764200000000), Service: "loader", Reason: "failed",
			Error: text, Payload: fmt.Appendf(nil, `{"order":%d}`, i), ID: fmt.Sprintf("id-%d", i)}
		lines = append(dlq.AppendEnvelope(lines, &e), '\n')
	}
	_ = os.WriteFile(filepath.Join(dir, "dlq.ndjson"), lines, 0o600)

	// The service the messages go back to.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("received %s (%s %s)\n", body, dlq.HeaderReplayOf, r.Header.Get(dlq.HeaderReplayOf))
	}))
	defer srv.Close()

	res, err := dlq.Replay(context.Background(), dir, srv.URL+"/orders", dlq.ReplayOptions{
		// One bug: "bad byte at offset <n>", whatever the offset.
		Filter:     dlq.Filter{Fingerprints: []string{dlq.Fingerprint("bad byte at offset 0")}},
		Rate:       100, // messages per second
		Checkpoint: filepath.Join(dir, "replay.checkpoint"),
	})
	var stopped *dlq.ReplayError
	if errors.As(err, &stopped) {
		fmt.Printf("stopped after %d sent: %v\n", stopped.Sent, stopped.Err)
	} else if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sent %d, skipped %d, failed %d\n", res.Sent, res.Skipped, res.Failed)
	// Output:
	// received {"order":0} (dlq.replay_of id-0)
	// received {"order":2} (dlq.replay_of id-2)
	// sent 2, skipped 1, failed 0
}
