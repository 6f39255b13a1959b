package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestURLKeepsTheURLAsWritten(t *testing.T) {
	for _, test := range []struct{ name, raw, want string }{
		{"a template is not escaped", "kafka://127.0.0.1:9092/{source.topic}.replay", "kafka://127.0.0.1:9092/{source.topic}.replay"},
		{"a query as written", "redis://127.0.0.1:6379/0?stream=dlq:{destination}", "redis://127.0.0.1:6379/0?stream=dlq:{destination}"},
		{"a password hidden", "redis://u:s3cret@127.0.0.1:6379/0?stream={x}", "redis://u:xxxxx@127.0.0.1:6379/0?stream={x}"},
		{"a password with an @ hidden", "http://u:p%40ss@h/{a}", "http://u:xxxxx@h/{a}"},
		{"a user without a password kept", "http://u@h/{a}", "http://u@h/{a}"},
		{"unparsable with credentials", "http://u:p@h:port/", "(unparsable URL)"},
		{"unparsable without credentials", "http://h:port/", "http://h:port/"},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := URL(test.raw)
			assert.Equal(t, test.want, got)
			assert.NotContains(t, got, "s3cret")
		})
	}
}
