//go:build dlq_kafka || dlq_all

package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs the demo: the bad deploy trips the storm brake, the
// consumer pauses, the deploy is rolled back, the consumer resumes (and
// reads again the messages whose dead letters the brake refused, if the
// trip came in the middle of a batch), and every message ends processed or
// dead-lettered once, none lost.
func TestDemo(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("DLQ_DIR", t.TempDir())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, "events", "kafka-consumer", &out))
	t.Log(out.String())
	for _, line := range []string{"storm brake tripped", "demo: the bad deploy is rolled back", "storm brake cleared"} {
		assert.Contains(t, out.String(), line)
	}
	var processed, deadLettered, refused int
	_, err := fmt.Sscanf(lineWith(out.String(), "processed "), "processed %d, dead-lettered %d, refused during the storm and read again %d",
		&processed, &deadLettered, &refused)
	require.NoError(t, err)
	assert.Equal(t, demoMessages, processed+deadLettered, "every message handled once")
	t.Logf("%d dead letters refused while the brake was tripped, and read again", refused)
	assert.Contains(t, out.String(), fmt.Sprintf("DLQ: %d accepted, %d written", deadLettered, deadLettered))
	assert.Contains(t, out.String(), " 0 lost")
}

func lineWith(s, prefix string) string {
	for _, line := range bytes.Split([]byte(s), []byte("\n")) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			return string(line)
		}
	}
	return ""
}
