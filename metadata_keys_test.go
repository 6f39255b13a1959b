package dlq

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetadataKeysNeverCollapse: keys that differ only in invalid UTF-8
// become distinct JSON keys, every pair kept, the same way every time.
func TestMetadataKeysNeverCollapse(t *testing.T) {
	e := Entry{Reason: "r", Metadata: map[string]string{
		"\xff":     "a",
		"\xfe":     "b",
		"\ufffd":   "c", // already the replacement character
		"k\xff":    "d",
		"k\ufffd":  "e",
		"\xff (2)": "f", // the suffix the first collision would take
		"plain":    "g",
	}}
	line := AppendEnvelope(nil, &e)
	var raw struct {
		Metadata map[string]string `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(line, &raw))
	assert.Len(t, raw.Metadata, len(e.Metadata), "no pair lost: %s", line)
	values := map[string]bool{}
	for _, v := range raw.Metadata {
		values[v] = true
	}
	assert.Len(t, values, len(e.Metadata), "every value kept")
	assert.Equal(t, "c", raw.Metadata["\ufffd"], "a valid key keeps its name")
	assert.Equal(t, "g", raw.Metadata["plain"])

	parsed, err := ParseEnvelope(line)
	require.NoError(t, err)
	assert.Len(t, parsed.Metadata, len(e.Metadata))
	assert.Equal(t, string(line), string(AppendEnvelope(nil, &e)), "deterministic")
}
