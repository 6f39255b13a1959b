package dlq

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewRefusesLineBreaksInHeadersAndNames: a CR, LF or NUL in an HTTP
// header (name or value), a URL, a broker, a SASL credential or a stream
// name is refused by New and by ParseConfig, naming the field and never
// showing the value (often a secret). A header value holding CR/LF was
// accepted before, and the HTTP backend then failed every request.
func TestNewRefusesLineBreaksInHeadersAndNames(t *testing.T) {
	const secret = "s3cr3t"
	for _, test := range []struct {
		name  string
		set   func(*Config)
		yaml  string // the same as a document, "" when it cannot be written as one
		field string
		want  string
	}{
		{"CR LF in a header value", func(c *Config) {
			c.HTTP.Headers = map[string]string{"Authorization": "Bearer " + secret + "\r\nX-Evil: 1"}
		},
			`http: {url: "http://127.0.0.1:1", headers: {Authorization: "Bearer ` + secret + `\r\nX-Evil: 1"}}`,
			"http.headers.Authorization", "a carriage return (CR) at byte 13"},
		{"a trailing LF in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\n"} },
			`http: {url: "http://127.0.0.1:1", headers: {X-Api-Key: "` + secret + `\n"}}`,
			"http.headers.X-Api-Key", "a line feed (LF) at byte 6"},
		{"NUL in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\x00"} },
			`http: {url: "http://127.0.0.1:1", headers: {X-Api-Key: "` + secret + `\0"}}`,
			"http.headers.X-Api-Key", "a NUL byte"},
		{"DEL in a header value", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api-Key": secret + "\x7f"} },
			"", "http.headers.X-Api-Key", "the control byte 0x7f"},
		{"a space in a header name", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api Key": secret} },
			`http: {url: "http://127.0.0.1:1", headers: {"X-Api Key": "` + secret + `"}}`,
			`http.headers["X-Api Key"]`, "is not a legal header name"},
		{"LF in a header name", func(c *Config) { c.HTTP.Headers = map[string]string{"X-Api\nEvil": secret} },
			`http: {url: "http://127.0.0.1:1", headers: {"X-Api\nEvil": "` + secret + `"}}`,
			`http.headers["X-Api\nEvil"]`, "is not a legal header name"},
		{"an empty header name", func(c *Config) { c.HTTP.Headers = map[string]string{"": secret} },
			"", `http.headers[""]`, "is not a legal header name"},
		{"CR LF in the http url", func(c *Config) { c.HTTP.URL = "http://127.0.0.1:1/in\r\nX-Evil: 1" },
			`http: {url: "http://127.0.0.1:1/in\r\nX-Evil: 1"}`, "http.url", "control character"},
		{"LF in the redis url", func(c *Config) { c.Redis.URL = "redis://127.0.0.1:6379/0\n" },
			`redis: {url: "redis://127.0.0.1:6379/0\n"}`, "redis.url", "control character"},
		{"LF in a broker", func(c *Config) { c.Kafka.Brokers = []string{"127.0.0.1:9092\n"} },
			`kafka: {brokers: ["127.0.0.1:9092\n"]}`, "kafka.brokers[0]", "a line feed (LF)"},
		{"NUL in the SASL username", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.SASL = []string{"127.0.0.1:9092"}, KafkaSASL{Mechanism: "plain", Username: "dlq\x00admin", Password: secret}
		}, `kafka: {brokers: [127.0.0.1:9092], sasl: {mechanism: plain, username: "dlq\0admin", password: ` + secret + `}}`,
			"kafka.sasl.username", "a NUL byte"},
		{"a trailing LF in the SASL password", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.SASL = []string{"127.0.0.1:9092"}, KafkaSASL{Mechanism: "plain", Username: "dlq", Password: secret + "\n"}
		}, `kafka: {brokers: [127.0.0.1:9092], sasl: {mechanism: plain, username: dlq, password: "` + secret + `\n"}}`,
			"kafka.sasl.password", "a line feed (LF)"},
		{"CR in the topic suffix", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.TopicSuffix = []string{"127.0.0.1:9092"}, ".dlq\r"
		}, `kafka: {brokers: [127.0.0.1:9092], topic_suffix: ".dlq\r"}`, "kafka.topic_suffix", "a carriage return (CR)"},
		{"LF in the redis stream", func(c *Config) { c.Redis.URL, c.Redis.Stream = "redis://127.0.0.1:6379/0", "dlq\n{destination}" },
			`redis: {url: "redis://127.0.0.1:6379/0", stream: "dlq\n{destination}"}`, "redis.stream", "a line feed (LF)"},
	} {
		t.Run(test.name, func(t *testing.T) {
			check := func(t *testing.T, err error) {
				ce := requireConfigError(t, err)
				var problems []string // a field may have two: not built, and this
				for _, f := range ce.Fields {
					if f.Field == test.field {
						problems = append(problems, f.Problem)
					}
				}
				require.NotEmpty(t, problems, "no error names %s: %v", test.field, err)
				assert.Contains(t, strings.Join(problems, "; "), test.want)
				assert.NotContains(t, err.Error(), secret, "the value is never shown")
			}
			t.Run("New", func(t *testing.T) {
				cfg := Config{Service: "svc", File: FileConfig{Dir: t.TempDir()}}
				test.set(&cfg)
				o, err := New(cfg)
				if err == nil {
					closeOK(t, o)
				}
				check(t, err)
			})
			if test.yaml != "" {
				t.Run("ParseConfig", func(t *testing.T) {
					_, err := parseConfig([]byte("service: svc\n"+test.yaml+"\n"), noEnv)
					check(t, err)
					ce := requireConfigError(t, err)
					for _, f := range ce.Fields {
						if f.Field == test.field {
							assert.Equal(t, 2, f.Line, "the line of the section that holds it")
						}
					}
				})
			}
		})
	}
	t.Run("a tab and printable bytes are a legal header value", func(t *testing.T) {
		cfg := Config{Service: "svc", HTTP: HTTPConfig{URL: "http://127.0.0.1:1",
			Headers: map[string]string{"X-Api-Key": "a\tb ~!é", "Authorization": "Bearer x"}}}
		_, err := cfg.validate()
		if err != nil {
			for _, f := range err.(*ConfigError).Fields {
				assert.False(t, strings.HasPrefix(f.Field, "http.headers"), "%v", f)
			}
		}
	})
}
