package dlq

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEntryLogValue(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	e := Entry{
		ID:          "0192b0b4-0000-7000-8000-000000000000",
		Timestamp:   time.UnixMilli(1764200000000).UTC(),
		Service:     "loader",
		Reason:      "parse_error",
		Error:       "unexpected end of JSON input",
		Attempts:    2,
		Payload:     []byte("secret-card-number 4111"),
		Destination: "acme.auth",
		Source:      KafkaSource("events", 0, 42),
		Metadata:    map[string]string{"token": "secret-token"},
	}
	logger.Info("dead-lettered", "entry", e)
	assert.NotContains(t, buf.String(), "secret", "neither payload nor metadata values are logged")

	var line struct {
		Entry map[string]any `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, map[string]any{
		"id":            e.ID,
		"timestamp":     "2025-11-26T23:33:20Z",
		"service":       "loader",
		"reason":        "parse_error",
		"error":         "unexpected end of JSON input",
		"attempts":      2.0,
		"destination":   "acme.auth",
		"topic":         "events",
		"partition":     0.0,
		"offset":        42.0,
		"payload_bytes": 23.0,
		"metadata_keys": 1.0,
	}, line.Entry)

	buf.Reset()
	logger.Info("minimal", "entry", Entry{Reason: "r"})
	line.Entry = nil
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, map[string]any{"reason": "r", "payload_bytes": 0.0}, line.Entry)
}
