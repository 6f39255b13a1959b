package wire

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBase64MatchesStdlib(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i * 37)
	}
	for n := range len(data) {
		assert.Equal(t, base64.StdEncoding.EncodeToString(data[:n]), string(AppendBase64([]byte("x"), data[:n]))[1:], "length %d", n)
	}
}

func FuzzBase64MatchesStdlib(f *testing.F) {
	f.Add([]byte("hello"), 0)
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 20), 3)
	f.Fuzz(func(t *testing.T, data []byte, prefix int) {
		dst := bytes.Repeat([]byte("x"), prefix&15) // whatever dst already holds stays
		got := AppendBase64(dst, data)
		require.Equal(t, string(dst)+base64.StdEncoding.EncodeToString(data), string(got))
	})
}
