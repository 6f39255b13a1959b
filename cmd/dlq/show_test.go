package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/dlqkit/dlq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShow(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	t.Run("binary payload as a hex dump, key and headers", func(t *testing.T) {
		out, err := run(t, "show", dir, "id-binary")
		require.NoError(t, err)
		assert.Contains(t, out, "reason:      poison\n")
		assert.Contains(t, out, "key:         0x00ff0a\n")
		assert.Contains(t, out, "header:      trace=\"t-1\"\nheader:      bin=0xfe00\n")
		assert.Contains(t, out, "payload:     256 bytes, hex\n"+hex.Dump(allBytes))
	})
	t.Run("text payload as text", func(t *testing.T) {
		out, err := run(t, "show", dir, "id-parse-2")
		require.NoError(t, err)
		assert.Contains(t, out, "error:       unexpected token 'c' at offset 14 in \"doc-2\"\n")
		assert.Contains(t, out, "source:      events partition 0 offset 102\n")
		assert.True(t, strings.HasSuffix(out, "payload:     6 bytes, text\n{\"n\":2\n"), out)
	})
	t.Run("raw is the payload's bytes exactly", func(t *testing.T) {
		out, err := run(t, "show", "--raw", dir, "id-binary")
		require.NoError(t, err)
		assert.Equal(t, allBytes, []byte(out))
	})
	t.Run("json is the envelope", func(t *testing.T) {
		out, err := run(t, "show", "--json", dir, "id-binary")
		require.NoError(t, err)
		e, err := dlq.ParseEnvelope([]byte(out))
		require.NoError(t, err)
		assert.Equal(t, allBytes, e.Payload)
	})
	t.Run("an unknown id is an error", func(t *testing.T) {
		_, err := run(t, "show", dir, "nope")
		assert.ErrorContains(t, err, `no entry with id "nope"`)
		_, err = run(t, "show", dir)
		assert.ErrorContains(t, err, "SRC and ID")
	})
}
