//go:build dlq_all

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// kcat runs Debian's kcat (librdkafka) against the broker.
func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		testenv.SkipOrFail(t, "needs kcat on PATH (apt-get install kcat)")
	}
	cmd := exec.CommandContext(t.Context(), path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kcat %v: %s", args, stderr.String())
	return out
}

// TestKcatRoundTrip: kcat produces envelopes into a DLQ topic, the command
// reads them, replays them, and kcat -C sees payload, key and headers byte
// for byte.
func TestKcatRoundTrip(t *testing.T) {
	broker := kafkatest.Start(t)
	conn, err := kafka.Dial("tcp", broker.Addr)
	require.NoError(t, err)
	require.NoError(t, conn.CreateTopics(kafka.TopicConfig{Topic: "orders.dlq", NumPartitions: 1, ReplicationFactor: 1},
		kafka.TopicConfig{Topic: "orders", NumPartitions: 1, ReplicationFactor: 1}))
	require.NoError(t, conn.Close())
	withNewline := []byte("line one\nline two\r\n")
	entries := []dlq.Entry{
		{Timestamp: fixtureTime, Service: "loader", Reason: "poison", Payload: allBytes, ID: "e-bin",
			Key: []byte{0, 0xff, '|'}, Headers: []dlq.Header{{Key: "trace", Value: []byte("t-1")}},
			Source: dlq.Source{Topic: "orders"}},
		{Timestamp: fixtureTime, Service: "loader", Reason: "parse_error", Payload: withNewline, ID: "e-nl",
			Key: []byte("k2"), Source: dlq.Source{Topic: "orders"}},
	}
	var lines []byte
	for i := range entries {
		lines = append(dlq.AppendEnvelope(lines, &entries[i]), '\n')
	}
	lines = append(lines, "not an envelope\n"...)
	kcat(t, lines, "-P", "-b", broker.Addr, "-t", "orders.dlq", "-p", "0")

	src := "kafka://" + broker.Addr + "/orders.dlq"
	out, err := run(t, "inspect", src, "--json")
	require.NoError(t, err)
	assert.Contains(t, out, `"total":2,"unreadable":1`)
	out, err = run(t, "show", "--raw", src, "e-nl")
	require.NoError(t, err)
	assert.Equal(t, withNewline, []byte(out))

	_, err = run(t, "replay", src, "--to", "kafka://"+broker.Addr)
	require.NoError(t, err)
	got := kcat(t, nil, "-C", "-b", broker.Addr, "-t", "orders", "-p", "0", "-o", "beginning", "-e", "-q",
		"-f", `%K|%k|%S|%s|%h\n`)
	var want []byte
	for _, e := range entries {
		var headers []string
		for _, h := range e.Headers {
			headers = append(headers, h.Key+"="+string(h.Value))
		}
		headers = append(headers, "dlq.replay_of="+e.ID, "dlq.replay_count=1")
		want = fmt.Appendf(want, "%d|%s|%d|%s|%s\n", len(e.Key), e.Key, len(e.Payload), e.Payload, strings.Join(headers, ","))
	}
	assert.Equal(t, want, got)
}
