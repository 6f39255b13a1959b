package wire

import (
	"bytes"
	"encoding/base64"
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
		for _, in := range []string{`"\u004"`, `"\uD83D\u"`, `"\x"`, `"tab` + "\t" + `"`, "\"\xff\"", `"open`, `x`, `"ends in \`} {
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
	f.Add([]byte(`"\u00e9\uD83D\uDE00 \ud800\u0041 \udc00 \uD83D\n"`), uint8(3))
	f.Fuzz(func(t *testing.T, input []byte, kind uint8) {
		p := NewScanner(input)
		switch kind % 5 {
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
		case 3: // Span, then Unquote: the value encoding/json reads
			text, escaped, ok := p.Span()
			if ok && p.Done() {
				var want string
				require.NoError(t, json.Unmarshal(input, &want), "%q", input)
				got := string(text)
				if escaped {
					got = string(Unquote(nil, text))
				}
				require.Equal(t, want, got, "%q", input)
				require.Equal(t, bytes.IndexByte(text, '\\') >= 0, escaped, "%q", input)
			}
		case 4: // Base64Text checks what DecodeBase64 then decodes
			text, ok := p.Base64Text()
			if ok && p.Done() {
				var want []byte
				require.NoError(t, json.Unmarshal(input, &want), "%q", input)
				require.True(t, bytes.Equal(want, DecodeBase64(text)), "%q", input)
			}
		}
	})
}

// FuzzValidBase64: ValidBase64 says what base64.StdEncoding's decoder
// says, for text without the CR and LF it skips.
func FuzzValidBase64(f *testing.F) {
	for _, s := range []string{"", "AA==", "AAA=", "AAAA", "A===", "AB=C", "AB==AB==", "====", "aGVsbG8gd29ybGQ=", "+/+/"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if bytes.ContainsAny(s, "\r\n") {
			return
		}
		_, err := base64.StdEncoding.DecodeString(string(s))
		require.Equal(t, err == nil, ValidBase64(s), "%q: %v", s, err)
	})
}

func TestSpan(t *testing.T) {
	t.Run("reads strings as encoding/json does", func(t *testing.T) {
		for _, in := range []string{
			`"plain"`, `"ünï 😀"`, `"q \" b \\ s \/ \b\f\n\r\t"`,
			`"\u0041\u00e9\u20AC"`,               // BMP escapes, either case
			`"\uD83D\uDE00"`,                     // a surrogate pair
			`"\uD83D"`, `"\uDE00"`, `"a\uD83Dz"`, // lone halves: U+FFFD
			`"\uD83D\u0041"`,       // a high half, then a letter read on its own
			`"\uD83D\uD83D\uDE00"`, // a lone high half, then a pair
			`"\uD83D\n"`,           // a high half, then another escape
			`"\u0000"`,
		} {
			var want string
			require.NoError(t, json.Unmarshal([]byte(in), &want), in)
			p := NewScanner([]byte(in))
			text, escaped, ok := p.Span()
			require.True(t, ok && p.Done(), in)
			got := string(text)
			if escaped {
				got = string(Unquote(nil, text))
			}
			assert.Equal(t, want, got, in)
			p = NewScanner([]byte(in))
			s, ok := p.Str()
			require.True(t, ok, in)
			assert.Equal(t, want, s, in)
		}
	})
	t.Run("refuses what encoding/json refuses or reads otherwise", func(t *testing.T) {
		for _, in := range []string{`"\u12"`, `"\u12G4"`, `"\x"`, `"\'"`, "\"\x01\"", "\"\xff\"", "\"\xed\xa0\x80\"", `"open`, `"ends in \`, `x`} {
			p := NewScanner([]byte(in))
			_, _, ok := p.Span()
			assert.False(t, ok, in)
		}
	})
}

func TestValidBase64(t *testing.T) {
	for _, s := range []string{"", "AA==", "AAA=", "AAAA", "aGVsbG8gd29ybGQ=", "+/+/", "AAAAAAAAAAAAAAAA"} {
		assert.True(t, ValidBase64([]byte(s)), s)
	}
	for _, s := range []string{"A", "AA=", "A===", "AB=C", "AB==AB==", "====", "AA-_", "AAAAAAA!AAAAAAAA", "AA\x80A"} {
		assert.False(t, ValidBase64([]byte(s)), s)
	}
}
