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
		{"a token in the query hidden", "http://h/ingest?token=s3cret&stream={x}", "http://h/ingest?token=xxxxx&stream={x}"},
		{"keys and signatures hidden", "https://h/p?api_key=s3cret&X-Amz-Signature=s3cret&key=s3cret#f", "https://h/p?api_key=xxxxx&X-Amz-Signature=xxxxx&key=xxxxx#f"},
		{"both hidden", "redis://u:s3cret@h:6379/0?stream=s&password=s3cret", "redis://u:xxxxx@h:6379/0?stream=s&password=xxxxx"},
		{"an escaped name", "http://h/?access%5Ftoken=s3cret", "http://h/?access%5Ftoken=xxxxx"},
		{"other parameters kept", "http://h/?stream=a&partition=3&flag", "http://h/?stream=a&partition=3&flag"},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := URL(test.raw)
			assert.Equal(t, test.want, got)
			assert.NotContains(t, got, "s3cret")
		})
	}
}
