package dlq

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExpandRefusesLineBreaksInValues: a ${VAR} whose value holds CR, LF
// or NUL is an error naming the field, its line and the variable, never
// showing the value. Before, a value with CR/LF went into an HTTP header,
// and the backend then failed every request.
func TestExpandRefusesLineBreaksInValues(t *testing.T) {
	const secret = "s3cr3t"
	for _, test := range []struct {
		name, value, doc, field, want string
		line                          int
	}{
		{"LF in a header value", secret + "\n", "http:\n  url: http://127.0.0.1:1\n  headers:\n    X-Api-Key: ${KEY}\n",
			"http.headers", "${KEY}: environment variable KEY holds a line feed (LF) at byte 6", 6},
		{"CR LF inside a header value", "Bearer " + secret + "\r\nX-Evil: 1", "http:\n  url: http://127.0.0.1:1\n  headers: {Authorization: \"${KEY}\"}\n",
			"http.headers", "holds a carriage return (CR) at byte 13", 5},
		{"NUL in a password", secret + "\x00", "kafka:\n  brokers: [127.0.0.1:9092]\n  sasl:\n    mechanism: plain\n    username: dlq\n    password: ${KEY}\n",
			"kafka.sasl.password", "holds a NUL byte", 8},
		{"LF in the value of :-", "x\n", "file:\n  dir: ${KEY:-/var/dlq}\n", "file.dir", "holds a line feed", 4},
		{"LF in the value of -", "x\n", "file:\n  dir: ${KEY-/var/dlq}\n", "file.dir", "holds a line feed", 4},
		{"LF in the value of :?", "x\n", "file:\n  dir: ${KEY:?set it}\n", "file.dir", "holds a line feed", 4},
		{"LF in a default's reference", "x\n", "file:\n  dir: ${NOPE:-${KEY}}\n", "file.dir", "holds a line feed", 4},
		{"LF in the url", "http://127.0.0.1:1\n", "http:\n  url: ${KEY}\n", "http.url", "holds a line feed", 4},
	} {
		t.Run(test.name, func(t *testing.T) {
			doc := "service: svc\n\n" + test.doc
			check := func(t *testing.T, err error) {
				ce := requireConfigError(t, err)
				var found *FieldError // among others, such as a backend not built
				for _, f := range ce.Fields {
					if f.Field == test.field && strings.Contains(f.Problem, test.want) {
						found = f
					}
				}
				require.NotNil(t, found, "no error on %s saying %q: %v", test.field, test.want, err)
				assert.Equal(t, test.line, found.Line)
				assert.NotContains(t, err.Error(), secret, "the value is never shown")
			}
			t.Run("ParseConfig", func(t *testing.T) {
				_, err := parseConfig([]byte(doc), envOf(map[string]string{"KEY": test.value}))
				check(t, err)
			})
			if strings.IndexByte(test.value, 0) >= 0 {
				return // no process environment holds a NUL
			}
			t.Run("LoadConfig", func(t *testing.T) {
				t.Setenv("KEY", test.value)
				path := filepath.Join(t.TempDir(), "dlq.yaml")
				require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
				_, err := LoadConfig(path)
				check(t, err)
				assert.ErrorContains(t, err, path)
			})
		})
	}
	t.Run("a tab and a trailing space are kept", func(t *testing.T) {
		cfg, err := parseConfig([]byte("service: svc\nhttp:\n  url: http://127.0.0.1:1\n  headers: {X-Api-Key: \"${KEY}\"}\n"),
			envOf(map[string]string{"KEY": "a\tb "}))
		if err != nil {
			assert.NotContains(t, err.Error(), "http.headers")
		}
		_ = cfg
	})
}
