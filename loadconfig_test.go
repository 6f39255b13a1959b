package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// noEnv is an environment without variables.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment holding vars.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// requireConfigError checks that err is a *ConfigError matching
// ErrInvalidConfig and returns it.
func requireConfigError(t *testing.T, err error) *ConfigError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalidConfig)
	ce, ok := errors.AsType[*ConfigError](err)
	require.True(t, ok, "want a *ConfigError, got %T: %v", err, err)
	return ce
}

func TestParseConfigRejects(t *testing.T) {
	for _, test := range []struct {
		name  string
		doc   string
		field string
		line  int
		want  string // in the message
	}{
		{"typo at the top", "service: x\nqueue_capacty: 5\n", "queue_capacty", 2,
			`line 2: queue_capacty: unknown key (did you mean "queue_capacity"?)`},
		{"typo in redis", "service: x\nredis:\n  uri: redis://127.0.0.1:6379\n", "redis.uri", 3,
			`line 3: redis.uri: unknown key (did you mean "url"?)`},
		{"typo in file", "service: x\nfile:\n  dirr: /var/dlq\n", "file.dirr", 3,
			`line 3: file.dirr: unknown key (did you mean "dir"?)`},
		{"typo two levels down", "service: x\nkafka:\n  tls:\n    insecure_skp_verify: true\n", "kafka.tls.insecure_skp_verify", 4,
			`(did you mean "insecure_skip_verify"?)`},
		{"wrong case", "Service: x\n", "Service", 1, `(did you mean "service"?)`},
		{"key of another section", "service: x\nbrokers: [a:9092]\n", "brokers", 2, `(did you mean "kafka.brokers"?)`},
		{"unknown without a near key", "service: x\nwhatever: 1\n", "whatever", 2, "line 2: whatever: unknown key"},
		{"a Go-only field", "service: x\nclock: now\n", "clock", 2, "clock: unknown key"},
		{"key given twice", "service: x\nbatch_size: 1\nbatch_size: 2\n", "batch_size", 3, "given twice (first on line 2)"},
		{"text for a number", "service: x\nqueue_capacity: lots\n", "queue_capacity", 2, `want a whole number, got "lots"`},
		{"fraction for a number", "service: x\nbatch_size: 1.5\n", "batch_size", 2, `want a whole number, got "1.5"`},
		{"text for a boolean", "service: x\nfile:\n  compress: maybe\n", "file.compress", 3, `want true or false, got "maybe"`},
		{"list for a string", "service: [a, b]\n", "service", 1, "want a string, got a list"},
		{"scalar for a section", "service: x\nretry: 3\n", "retry", 2, `want a mapping of retry keys, got "3"`},
		{"mapping for a list", "service: x\nkafka:\n  brokers: {a: b}\n", "kafka.brokers", 3, "cannot unmarshal !!map into []string"},
		{"mode", "service: x\nmode: FAN_OUT\n", "mode", 2,
			`line 2: mode: "FAN_OUT" is not one of cascade, fan_out, file_only, kafka_only`},
		{"order", "service: x\norder:\n  - file\n  - Kafka\n", "order", 4,
			`line 4: order: unknown backend "Kafka" (want file, kafka, http or redis)`},
		{"rotation", "service: x\nfile: {rotation: Hourly}\n", "file.rotation", 2,
			`line 2: file.rotation: "Hourly" is not one of hourly, daily, size, none`},
		{"acks", "service: x\nkafka:\n  acks: ALL\n", "kafka.acks", 3, `"ALL" is not one of all, one, none`},
		{"compression", "service: x\nkafka:\n  compression: brotli\n", "kafka.compression", 3, `"brotli" is not one of none, gzip`},
		{"routing", "service: x\nkafka:\n  routing: per-table\n", "kafka.routing", 3, `"per-table" is not one of per_table, common`},
		{"sasl mechanism", "service: x\nkafka:\n  sasl: {mechanism: PLAIN, username: u}\n", "kafka.sasl.mechanism", 3, `"PLAIN" is not one of plain`},
		{"negative number", "service: x\nretry:\n  max_attempts: -1\n", "retry.max_attempts", 3, "line 3: retry.max_attempts: must not be negative"},
		{"bad service", "service: ../etc\n", "service", 1, `line 1: service: "../etc" is not a safe folder name`},
		{"order listed twice", "service: x\norder: [file, file]\n", "order[1]", 2, "order[1]: file is listed twice"},
		{"order listed twice, one a line", "service: x\norder:\n  - file\n  - file\n", "order[1]", 4, "line 4: order[1]: file is listed twice"},
		{"unknown section, its keys below", "service: x\nfiel:\n  dir: /a\n", "fiel", 2, "line 2: fiel: unknown key"},
		{"a missing key points at its section", "service: x\nkafka:\n  sasl:\n    mechanism: plain\n", "kafka.sasl.username", 3,
			"line 3: kafka.sasl.username: must be set with a SASL mechanism"},
		{"a section's own error points at its key", "service: x\nkafka:\n  tls:\n    cert_file: /c\n", "kafka.tls", 3,
			"line 3: kafka.tls: cert_file and key_file go together"},
		{"empty document", "", "service", 0, "service: must be set"},
		{"only a comment", "# nothing yet\n", "service", 0, "service: must be set"},
		{"a list document", "- service: x\n", "", 1, "want a mapping of the config keys, got a list"},
		{"syntax error", "service: x\nfile: {dir: /a\n", "", -1, "did not find expected ',' or '}'"},
		{"a merge of itself", "service: x\nfile: &f\n  <<: *f\n", "file.<<", 3, "line 3: file.<<: merge key: a config file may not use aliases"},
		{"an alias to itself in a value", "service: x\nfile: &f\n  dir: *f\n", "file.dir", 3, "line 3: file.dir: alias *f: a config file may not use aliases"},
		{"an alias in a list", "service: x\nkafka:\n  brokers:\n    - &b a:9092\n    - *b\n", "kafka.brokers[1]", 5, "alias *b"},
		{"an alias as a key", "service: x\nfile:\n  &k dir: /a\n  *k : /b\n", "file.*k", 4, "alias *k as a key"},
		{"two documents", "service: x\n---\nservice: y\n", "", 2, "a second YAML document"},
		{"json typo", `{"service": "x", "queue_capacty": 5}`, "queue_capacty", 1, `(did you mean "queue_capacity"?)`},
		{"json typo on a later line", "{\n\t\"service\": \"x\",\n\t\"file\": {\"dirr\": \"/a\"}\n}\n", "file.dirr", 3, `(did you mean "dir"?)`},
	} {
		t.Run(test.name, func(t *testing.T) {
			cfg, err := parseConfig([]byte(test.doc), noEnv)
			ce := requireConfigError(t, err)
			assert.Equal(t, Config{}, cfg, "on error ParseConfig returns the zero Config")
			assert.Contains(t, err.Error(), test.want)
			require.NotEmpty(t, ce.Fields)
			assert.Equal(t, test.field, ce.Fields[0].Field)
			switch {
			case test.line < 0:
				assert.Positive(t, ce.Fields[0].Line, "yaml's own line")
			case test.line == 0:
				assert.Zero(t, ce.Fields[0].Line)
				assert.NotContains(t, err.Error(), "line 0", "no line is named when there is none")
			default:
				assert.Equal(t, test.line, ce.Fields[0].Line)
			}
			if test.field == "" {
				assert.Len(t, ce.Fields, 1, "nothing to validate in a document that did not parse")
			}
		})
	}
}

func TestParseConfigReportsEveryProblemInLineOrder(t *testing.T) {
	doc := "service: x\nmode: FAN_OUT\nqueue_capacty: 5\nkafka:\n  acks: ALL\nfile:\n  rotation: Hourly\n  max_size_mb: -1\n"
	_, err := parseConfig([]byte(doc), noEnv)
	ce := requireConfigError(t, err)
	var got []string
	for _, f := range ce.Fields {
		got = append(got, f.Field)
	}
	assert.Equal(t, []string{"mode", "queue_capacty", "kafka.acks", "file.rotation", "file.max_size_mb"}, got)
}

func TestParseConfigDecodesEveryKey(t *testing.T) {
	t.Run("the full config", func(t *testing.T) {
		cfg, l := decodeConfig([]byte(configYAML), noEnv)
		require.Empty(t, l.fields)
		assert.Equal(t, wantConfig, cfg)
	})
	t.Run("DefaultConfig round trip", func(t *testing.T) {
		// Every key DefaultConfig fills in is written out by yaml.Marshal and
		// must be known to the strict loader: a key whose yaml tag the loader
		// did not find would fail here.
		doc, err := yaml.Marshal(DefaultConfig("loader"))
		require.NoError(t, err)
		cfg, err := parseConfig(doc, noEnv)
		require.NoError(t, err)
		want := DefaultConfig("loader")
		want.Kafka.Brokers, want.HTTP.Headers = []string{}, map[string]string{} // written as [] and {}
		assert.Equal(t, want, cfg)
	})
	t.Run("json", func(t *testing.T) {
		want := DefaultConfig("loader")
		doc, err := json.MarshalIndent(want, "", "\t")
		require.NoError(t, err)
		cfg, err := parseConfig(doc, noEnv)
		require.NoError(t, err)
		assert.Equal(t, want, cfg)
	})
	t.Run("nulls keep the defaults", func(t *testing.T) {
		cfg, err := parseConfig([]byte("service: x\nfile:\nretry: ~\nqueue_capacity: null\n"), noEnv)
		require.NoError(t, err)
		assert.Equal(t, Config{Service: "x"}, cfg)
	})
	t.Run("an anchor alone means nothing", func(t *testing.T) {
		doc := "service: x\nfile: &f\n  dir: /a\n  compress: true\nhttp:\n  headers: &h {X-A: \"1\"}\n"
		cfg, l := decodeConfig([]byte(doc), noEnv)
		require.Empty(t, l.fields)
		assert.Equal(t, FileConfig{Dir: "/a", Compress: true}, cfg.File)
		assert.Equal(t, map[string]string{"X-A": "1"}, cfg.HTTP.Headers)
	})
}

// aliasBomb is a config of levels lines, each merging width aliases of the
// line before into one mapping, and a retry section merging the last: a
// few hundred bytes that a loader following aliases expands to
// width^(levels+1) values. Eleven levels of 9 make 640 bytes, which would
// stall such a loader for hours.
func aliasBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("service: x\nx0: &a0 {max_attempts: 1}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &a%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), width), ","))
	}
	return b.String() + fmt.Sprintf("retry:\n  <<: *a%d\n", levels)
}

func TestParseConfigRefusesAliasBombs(t *testing.T) {
	for _, test := range []struct {
		name          string
		levels, width int
	}{
		{"merge keys nested six deep", 6, 9},
		{"eleven deep, 640 bytes", 11, 9},
	} {
		t.Run(test.name, func(t *testing.T) {
			doc := aliasBomb(test.levels, test.width)
			cfg, l := decodeConfig([]byte(doc), noEnv)
			assert.Equal(t, Config{}, cfg)
			assert.True(t, l.unreadable, "refused whole")
			assert.Empty(t, l.lines, "refused before any key is decoded")
			// One error per merge key and per alias: the work is the
			// document's size, not what the aliases expand to.
			want := test.levels*(1+test.width) + 2
			require.Len(t, l.fields, want)
			last := l.fields[want-1]
			assert.Equal(t, "retry.<<", last.Field)
			assert.Equal(t, test.levels+4, last.Line)
			assert.Equal(t, fmt.Sprintf("line %d: retry.<<: alias *a%d: a config file may not use aliases or merge keys (<<): write the values out", test.levels+4, test.levels), last.Error())

			_, err := parseConfig([]byte(doc), noEnv)
			ce := requireConfigError(t, err)
			assert.Len(t, ce.Fields, want, "nothing validated")
			assert.Contains(t, err.Error(), "line 3: x1.<<: merge key: a config file may not use aliases")
		})
	}
}

func TestParseConfigExpandsEnvironment(t *testing.T) {
	env := envOf(map[string]string{"DIR": "/var/dlq", "HOST": "replica-1", "CAP": "5000", "PW": "12345", "EMPTY": "", "TOKEN": "t0k$n", "ON": "true"})
	for _, test := range []struct {
		name string
		doc  string
		want func(*Config)
	}{
		{"a whole value", "file:\n  dir: ${DIR}\n", func(c *Config) { c.File.Dir = "/var/dlq" }},
		{"inside a value", "file:\n  dir: ${DIR}/${HOST}\n", func(c *Config) { c.File.Dir = "/var/dlq/replica-1" }},
		{"a number", "queue_capacity: ${CAP}\n", func(c *Config) { c.QueueCapacity = 5000 }},
		{"a boolean", "file:\n  compress: ${ON}\n", func(c *Config) { c.File.Compress = true }},
		{"digits stay a string", "kafka:\n  sasl:\n    password: ${PW}\n", func(c *Config) { c.Kafka.SASL.Password = "12345" }},
		{"quoted", "kafka:\n  sasl: {password: \"${PW}\"}\n", func(c *Config) { c.Kafka.SASL.Password = "12345" }},
		{"a $ in the value is not expanded again", "http:\n  headers:\n    Authorization: Bearer ${TOKEN}\n",
			func(c *Config) { c.HTTP.Headers = map[string]string{"Authorization": "Bearer t0k$n"} }},
		{"in a list", "kafka:\n  topic_suffix: .x\n  brokers:\n    - ${HOST}:9092\n", func(c *Config) {
			c.Kafka.Brokers, c.Kafka.TopicSuffix = []string{"replica-1:9092"}, ".x"
		}},
		{":- default when unset", "file:\n  dir: ${NOPE:-/tmp/dlq}\n", func(c *Config) { c.File.Dir = "/tmp/dlq" }},
		{":- default when empty", "file:\n  dir: ${EMPTY:-/tmp/dlq}\n", func(c *Config) { c.File.Dir = "/tmp/dlq" }},
		{":- value when set", "file:\n  dir: ${DIR:-/tmp/dlq}\n", func(c *Config) { c.File.Dir = "/var/dlq" }},
		{"- keeps an empty value", "file:\n  dir: x${EMPTY-/tmp/dlq}\n", func(c *Config) { c.File.Dir = "x" }},
		{"- default when unset", "file:\n  dir: ${NOPE-/tmp/dlq}\n", func(c *Config) { c.File.Dir = "/tmp/dlq" }},
		{"empty default", "file:\n  dir: /a${NOPE:-}\n", func(c *Config) { c.File.Dir = "/a" }},
		{"a default holding a reference", "file:\n  dir: ${NOPE:-${DIR}/b}\n", func(c *Config) { c.File.Dir = "/var/dlq/b" }},
		{"$$ is a literal $", "file:\n  dir: /a$${DIR}\n", func(c *Config) { c.File.Dir = "/a${DIR}" }},
		{"a lone $ stays", "file:\n  dir: /a$b$\n", func(c *Config) { c.File.Dir = "/a$b$" }},
		{"comments are not expanded", "# ${NOPE}\nfile:\n  dir: /a # ${NOPE}\n", func(c *Config) { c.File.Dir = "/a" }},
		{"a value cannot add keys", "file:\n  dir: ${X}\n", func(c *Config) { c.File.Dir = "{queue_capacity: 1}" }},
	} {
		t.Run(test.name, func(t *testing.T) {
			env := env
			if strings.Contains(test.doc, "${X}") {
				env = envOf(map[string]string{"X": "{queue_capacity: 1}"})
			}
			cfg, l := decodeConfig([]byte("service: x\n"+test.doc), env)
			require.Empty(t, l.fields)
			want := Config{Service: "x"}
			test.want(&want)
			assert.Equal(t, want, cfg)
		})
	}
	t.Run("from the process environment", func(t *testing.T) {
		t.Setenv("DLQ_TEST_SERVICE", "from-env")
		cfg, err := ParseConfig([]byte("service: ${DLQ_TEST_SERVICE}\n"))
		require.NoError(t, err)
		assert.Equal(t, "from-env", cfg.Service)
	})
}

func TestParseConfigEnvironmentErrors(t *testing.T) {
	env := envOf(map[string]string{"EMPTY": ""})
	for _, test := range []struct {
		name, value, want string
	}{
		{"unset", "${DLQ_DIR}", "line 3: file.dir: ${DLQ_DIR}: environment variable DLQ_DIR is not set (write ${DLQ_DIR:-default} for a default)"},
		{"unset inside a default", "${A:-${B}}", "environment variable B is not set"},
		{":? unset", "${DLQ_DIR:?set it to the volume}", "environment variable DLQ_DIR is not set: set it to the volume"},
		{":? empty", "${EMPTY:?}", "environment variable EMPTY is empty"},
		{"? unset", "${DLQ_DIR?}", "environment variable DLQ_DIR is not set"},
		{"unterminated", "/a/${DLQ_DIR", `"${DLQ_DIR" has no closing }`},
		{"bad name", "${1X}", "a variable name starts with a letter or _"},
		{"empty name", "${}", "a variable name starts with a letter or _"},
		{"unsupported modifier", "${DLQ_DIR:+x}", "unsupported"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := parseConfig([]byte("service: x\nfile:\n  dir: \""+test.value+"\"\n"), env)
			ce := requireConfigError(t, err)
			assert.Contains(t, err.Error(), test.want)
			assert.Equal(t, "file.dir", ce.Fields[0].Field)
			assert.Equal(t, 3, ce.Fields[0].Line)
		})
	}
	t.Run("?: set", func(t *testing.T) {
		_, err := parseConfig([]byte("service: ${EMPTY-x}${S:?}\n"), envOf(map[string]string{"S": "y"}))
		require.NoError(t, err)
	})
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	t.Run("a file", func(t *testing.T) {
		path := filepath.Join(dir, "dlq.yaml")
		require.NoError(t, os.WriteFile(path, []byte("service: loader\nfile:\n  dir: "+dir+"\n"), 0o600))
		cfg, err := LoadConfig(path)
		require.NoError(t, err)
		assert.Equal(t, Config{Service: "loader", File: FileConfig{Dir: dir}}, cfg)
	})
	t.Run("an invalid file is named", func(t *testing.T) {
		path := filepath.Join(dir, "bad.yaml")
		require.NoError(t, os.WriteFile(path, []byte("service: loader\nqueue_capacty: 1\n"), 0o600))
		_, err := LoadConfig(path)
		ce := requireConfigError(t, err)
		assert.Equal(t, path, ce.File)
		assert.EqualError(t, err, "dlq: invalid config in "+path+`: line 2: queue_capacty: unknown key (did you mean "queue_capacity"?)`)
	})
	t.Run("a missing file", func(t *testing.T) {
		_, err := LoadConfig(filepath.Join(dir, "missing.yaml"))
		require.ErrorIs(t, err, ErrInvalidConfig)
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), "missing.yaml")
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{configYAML, "", "service: x\n", "service: ${A:-${B:-c}}\n", "{\"service\": \"x\"}",
		"a: &a [*a]\n", "service: x\n<<: {mode: fan_out}\n", "file: &f\n  <<: *f\n", "http: &h\n  headers: *h\n", "file: !!binary aGk=\n", "service: x\norder: [1, file]\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig(data, envOf(map[string]string{"A": "a"}))
		if err != nil {
			requireConfigError(t, err)
			return
		}
		_, err = cfg.validate()
		require.NoError(t, err, "a config ParseConfig accepts must be valid")
	})
}

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
