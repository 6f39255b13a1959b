package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if args := os.Getenv("DLQ_TEST_RUN_MAIN"); args != "" {
		// The test binary runs as the command, for tests that kill it.
		os.Args = append([]string{"dlq"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// run runs the command in process and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCtx(t.Context(), t, args...)
}

func runCtx(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).Run(ctx, append([]string{"dlq"}, args...))
	return out.String(), err
}

var fixtureTime = time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC)

// allBytes holds every byte value, newlines and invalid UTF-8 among them.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// fixtureEntries are what the fixture folder holds, in order.
func fixtureEntries() []dlq.Entry {
	var out []dlq.Entry
	for i := range 6 {
		out = append(out, dlq.Entry{Timestamp: fixtureTime.Add(time.Duration(i) * time.Minute), Service: "loader",
			Reason: "parse_error", Error: fmt.Sprintf(`unexpected token '%c' at offset %d in "doc-%d"`, 'a'+i, i*7, i),
			Payload: fmt.Appendf(nil, `{"n":%d`, i), Destination: "acme.auth", Source: dlq.KafkaSource("events", int32(i%2), int64(100+i)),
			ID: fmt.Sprintf("id-parse-%d", i)})
	}
	out = append(out,
		dlq.Entry{Timestamp: fixtureTime.Add(90 * time.Minute), Service: "loader", Reason: "timeout",
			Error:   "call to 10.0.0.7:5432 timed out after 30s (request 0192f3c4-7d3e-7abc-8def-0123456789ab)",
			Payload: []byte("slow"), Destination: "acme.billing", ID: "id-timeout-1"},
		dlq.Entry{Timestamp: fixtureTime.Add(95 * time.Minute), Service: "loader", Reason: "timeout",
			Error:   "call to 10.0.0.9:5432 timed out after 12s (request 0192f3c4-0000-7abc-8def-ffffffffffff)",
			Payload: []byte("slower"), Destination: "acme.billing", ID: "id-timeout-2"},
		dlq.Entry{Timestamp: fixtureTime.Add(100 * time.Minute), Service: "ingest", Reason: "poison",
			Error: "checksum 0xdeadbeef mismatch", Payload: allBytes, Destination: "acme.auth",
			Key: []byte{0, 0xff, '\n'}, Headers: []dlq.Header{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xfe, 0}}},
			ID: "id-binary"},
	)
	return out
}

// writeFixture writes the fixture entries through the library's own file
// backend into dir/<service> and returns the service folder of "loader".
func writeFixture(t *testing.T, dir string) string {
	t.Helper()
	for _, service := range []string{"loader", "ingest"} {
		o, err := dlq.New(dlq.Config{Service: service, File: dlq.FileConfig{Dir: dir}})
		require.NoError(t, err)
		for _, e := range fixtureEntries() {
			if e.Service == service {
				require.NoError(t, o.Send(e))
			}
		}
		require.NoError(t, o.Close(t.Context()))
	}
	return filepath.Join(dir, "loader")
}

func itoa(v int64) string { return fmt.Sprint(v) }

func appendText(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
