package wire

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanner(t *testing.T) {
	t.Run("reads compact JSON token by token", func(t *testing.T) {
		p := NewScanner([]byte(`{"k\/\"":"v\n\t","n":-42,"b":"aGk=","e":""}`))
		require.True(t, p.Byte('{'))
		k, ok := p.Str()
		require.True(t, ok)
		assert.Equal(t, `k/"`, k)
		require.True(t, p.Byte(':'))
		v, ok := p.Str()
		require.True(t, ok)
		assert.Equal(t, "v\n\t", v)
		require.True(t, p.Byte(','))
		_, _ = p.Str()
		require.True(t, p.Byte(':'))
		n, ok := p.Int(64)
		require.True(t, ok)
		assert.Equal(t, int64(-42), n)
		require.True(t, p.Byte(','))
		_, _ = p.Str()
		require.True(t, p.Byte(':'))
		b, ok := p.Base64()
		require.True(t, ok)
		assert.Equal(t, []byte("hi"), b)
		require.True(t, p.Byte(','))
		_, _ = p.Str()
		require.True(t, p.Byte(':'))
		b, ok = p.Base64()
		require.True(t, ok)
		assert.Equal(t, []byte{}, b)
		assert.False(t, p.Done())
		require.True(t, p.Byte('}'))
		assert.True(t, p.Done())
		assert.False(t, p.Byte('}'), "nothing is left")
	})
	t.Run("leaves the rest to encoding/json", func(t *testing.T) {
		for _, in := range []string{`"\u0041"`, `"\x"`, `"tab` + "\t" + `"`, "\"\xff\"", `"open`, `x`, `"ends in \`} {
			p := NewScanner([]byte(in))
			_, ok := p.Str()
			assert.False(t, ok, "Str %s", in)
		}
		for _, in := range []string{`01`, `-`, `-01`, `1.5`, `1e3`, `9223372036854775808`, `x`} {
			p := NewScanner([]byte(in))
			v, ok := p.Int(64)
			assert.False(t, ok && p.Done(), "Int %s gave %d", in, v)
		}
		p := NewScanner([]byte(`2147483648`))
		_, ok := p.Int(32)
		assert.False(t, ok, "Int(32) 2^31")
		for _, in := range []string{`"aGk"`, `"!!"`, `"aG\u006b="`, `"aGk=` + "\n" + `"`, `aGk=`} {
			p := NewScanner([]byte(in))
			_, ok := p.Base64()
			assert.False(t, ok, "Base64 %s", in)
		}
	})
}

// FuzzScanner: a token the Scanner reads from the whole input is the
// value encoding/json reads from it.
func FuzzScanner(f *testing.F) {
	f.Add([]byte(`"plain"`), uint8(0))
	f.Add([]byte(`"esc \" \\ \/ \b \f \n \r \t ünï"`), uint8(0))
	f.Add([]byte(`-9223372036854775808`), uint8(1))
	f.Add([]byte(`"aGVsbG8gd29ybGQ="`), uint8(2))
	f.Fuzz(func(t *testing.T, input []byte, kind uint8) {
		p := NewScanner(input)
		switch kind % 3 {
		case 0:
			s, ok := p.Str()
			if ok && p.Done() {
				var want string
				require.NoError(t, json.Unmarshal(input, &want), "%q", input)
				require.Equal(t, want, s, "%q", input)
			}
		case 1:
			n, ok := p.Int(64)
			if ok && p.Done() {
				var want int64
				require.NoError(t, json.Unmarshal(input, &want), "%q", input)
				require.Equal(t, want, n, "%q", input)
			}
		case 2:
			b, ok := p.Base64()
			if ok && p.Done() {
				var want []byte
				require.NoError(t, json.Unmarshal(input, &want), "%q", input)
				require.True(t, bytes.Equal(want, b), "%q: %q, encoding/json %q", input, b, want)
			}
		}
	})
}
