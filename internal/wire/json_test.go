package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		{"", `""`},
		{"plain text", `"plain text"`},
		{`a "quote" and a back\slash`, `"a \"quote\" and a back\\slash"`},
		{"new\nline, tab\t, return\r", `"new\nline, tab\t, return\r"`},
		{"nul \x00, unit separator \x1f, delete \x7f", `"nul \u0000, unit separator \u001f, delete ` + "\x7f" + `"`},
		{"two bad bytes \xff\xfe, one cut rune \xc3", "\"two bad bytes \ufffd\ufffd, one cut rune \ufffd\""},
		{"ünï 😀 \u2028 <&>", "\"ünï 😀 \u2028 <&>\""},
	} {
		got := AppendString([]byte("x"), test.in)
		assert.Equal(t, "x"+test.want, string(got), "%q", test.in)
	}
}

func TestAppendStringEscapesInsideLongPlainRuns(t *testing.T) {
	// Eight-byte words are checked at once, the last one overlapping and a
	// short string padded: put each special byte at every position of
	// strings of every length up to three words.
	for _, special := range []string{`"`, `\`, "\x00", "\x1f", "\n", "\x7f", "é", "\xff"} {
		for n := 1; n <= 24; n++ {
			for pos := range n {
				s := strings.Repeat("a", pos) + special + strings.Repeat("b", n-1-pos)
				got := AppendString(nil, s)
				var back string
				require.NoError(t, json.Unmarshal(got, &back), "%q gave %s", s, got)
				assert.Equal(t, strings.ToValidUTF8(s, "\ufffd"), back, "%q gave %s", s, got)
			}
		}
	}
}

// FuzzAppendString: whatever the string, AppendString writes one JSON
// string that encoding/json reads back as the string with each invalid
// byte replaced by U+FFFD, and that the Scanner, when it takes it, reads
// the same way.
func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("quote \" back\\slash \n\t\r \x00\x1f\x7f")
	f.Add("bad \xff\xfe utf8 \xc3 ünï 😀 \u2028")
	f.Add(strings.Repeat("eight by", 3) + "\"")
	f.Fuzz(func(t *testing.T, s string) {
		var want []byte
		for _, r := range s { // each invalid byte is one utf8.RuneError
			want = utf8.AppendRune(want, r)
		}
		got := AppendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q gave %s", s, got)
		require.Equal(t, string(want), back, "%q gave %s", s, got)
		p := NewScanner(got)
		if scanned, ok := p.Str(); ok {
			require.True(t, p.Done(), "%q gave %s", s, got)
			require.Equal(t, string(want), scanned, "%q gave %s", s, got)
		}
	})
}
