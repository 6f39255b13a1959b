package dlq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const configYAML = `
service: loader
disabled: false
mode: fan_out
order: [kafka, redis, http, file]
queue_capacity: 5000
batch_size: 128
flush_interval_ms: 50
retry:
  max_attempts: 7
  initial_backoff_ms: 20
  max_backoff_ms: 2000
file:
  disabled: false
  dir: /var/lib/dlq
  rotation: daily
  max_size_mb: 50
  max_age_days: 14
  max_backups: 9
  compress: true
kafka:
  brokers: [127.0.0.1:9092, 127.0.0.1:9093]
  routing: common
  topic_suffix: .dead
  common_topic: all-dlq
  acks: one
  compression: zstd
  write_timeout_ms: 3000
  tls: {enabled: true, ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, insecure_skip_verify: true}
  sasl: {mechanism: scram-sha-512, username: u, password: p}
http:
  url: https://dlq.example/ingest
  timeout_ms: 1000
  headers: {Authorization: "Bearer t"}
  gzip: true
  max_body_bytes: 1024
  max_retries: 5
  tls: {ca_file: ca.pem, insecure_skip_verify: true}
redis:
  url: redis://127.0.0.1:6379/0
  stream: "dlq:{destination}"
  common_stream: dlq-common
  max_len: 1000
  dial_timeout_ms: 150
  timeout_ms: 250
  wait_replicas: 2
  wait_timeout_ms: 350
storm:
  max_ratio: 0.25
  min_events: 50
  window_ms: 30000
  max_consecutive: 20
  action: signal
  cool_down_ms: 5000
`

var wantConfig = Config{
	Service: "loader", Mode: ModeFanOut, Order: []Kind{KindKafka, KindRedis, KindHTTP, KindFile},
	QueueCapacity: 5000, BatchSize: 128, FlushIntervalMS: 50,
	Retry: RetryConfig{MaxAttempts: 7, InitialBackoffMS: 20, MaxBackoffMS: 2000},
	File:  FileConfig{Dir: "/var/lib/dlq", Rotation: RotateDaily, MaxSizeMB: 50, MaxAgeDays: 14, MaxBackups: 9, Compress: true},
	Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}, Routing: "common", TopicSuffix: ".dead",
		CommonTopic: "all-dlq", Acks: "one", Compression: "zstd", WriteTimeoutMS: 3000,
		TLS:  KafkaTLS{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true},
		SASL: KafkaSASL{Mechanism: "scram-sha-512", Username: "u", Password: "p"}},
	HTTP: HTTPConfig{URL: "https://dlq.example/ingest", TimeoutMS: 1000, Headers: map[string]string{"Authorization": "Bearer t"},
		Gzip: true, MaxBodyBytes: 1024, MaxRetries: 5, TLS: HTTPTLS{CAFile: "ca.pem", InsecureSkipVerify: true}},
	Redis: RedisConfig{URL: "redis://127.0.0.1:6379/0", Stream: "dlq:{destination}", CommonStream: "dlq-common", MaxLen: 1000,
		DialTimeoutMS: 150, TimeoutMS: 250, WaitReplicas: 2, WaitTimeoutMS: 350},
	Storm: StormConfig{MaxRatio: 0.25, MinEvents: 50, WindowMS: 30000, MaxConsecutive: 20, Action: StormSignal, CoolDownMS: 5000},
}

// TestDefaultConfigIsWithDefaults: DefaultConfig reports, field by field,
// what withDefaults (the one place defaults are applied) fills into a zero
// Config, save the hooks: withDefaults sets Clock and Logger when New reads
// the Config, DefaultConfig leaves them nil.
func TestDefaultConfigIsWithDefaults(t *testing.T) {
	got, want := DefaultConfig("svc"), Config{Service: "svc"}.withDefaults()
	assert.Nil(t, got.Clock, "DefaultConfig's Clock")
	assert.Nil(t, got.Logger, "DefaultConfig's Logger")
	require.NotNil(t, want.Clock, "withDefaults' Clock")
	require.NotNil(t, want.Logger, "withDefaults' Logger")
	want.Clock, want.Logger = nil, nil
	eachConfigField(reflect.ValueOf(want), "Config", func(path string, w reflect.Value, _ reflect.StructField) {
		g := reflect.ValueOf(got).FieldByIndex(fieldIndex(t, path))
		if w.Kind() == reflect.Func { // not comparable: by name, or nil
			assert.Equal(t, defaultText(w), defaultText(g), path)
			return
		}
		assert.Equal(t, w.Interface(), g.Interface(), path)
	})
}

// TestConfigDocsStateTheDefaults: the "Defaults to …" ending each field's
// doc in config.go (and storm.go) is the value withDefaults gives the field, and a field
// whose doc states none is left zero (Service aside: it is required).
func TestConfigDocsStateTheDefaults(t *testing.T) {
	docs := docDefaults(t, "config.go")
	maps.Copy(docs, docDefaults(t, "storm.go")) // StormConfig lives with the brake
	filled := Config{Service: "svc"}.withDefaults()
	eachConfigField(reflect.ValueOf(filled), "Config", func(path string, v reflect.Value, f reflect.StructField) {
		key := f.Tag.Get("owner") + "." + f.Name
		doc, ok := docs[key]
		switch {
		case path == "Config.Service":
		case !ok:
			assert.True(t, v.IsZero(), "%s (%s) has no \"Defaults to\" but withDefaults sets it to %v", path, key, v)
		default:
			assert.Equal(t, doc, defaultText(v), "%s (%s): its doc says one default, withDefaults gives another", path, key)
		}
	})
}

// eachConfigField calls fn for every field of the config struct v that is
// not itself a config struct, descending into those; the field's tag gets
// an "owner" key naming the struct type that declares it.
func eachConfigField(v reflect.Value, path string, fn func(path string, v reflect.Value, f reflect.StructField)) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		f.Tag = reflect.StructTag(string(f.Tag) + ` owner:"` + v.Type().Name() + `"`)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type().PkgPath() == v.Type().PkgPath() {
			eachConfigField(fv, path+"."+f.Name, fn)
			continue
		}
		fn(path+"."+f.Name, fv, f)
	}
}

// fieldIndex turns a path such as "Config.File.Dir" into its field index.
func fieldIndex(t *testing.T, path string) []int {
	typ := reflect.TypeFor[Config]()
	var index []int
	for _, name := range strings.Split(path, ".")[1:] {
		f, ok := typ.FieldByName(name)
		require.True(t, ok, "no field %s in %s", name, path)
		index, typ = append(index, f.Index...), f.Type
	}
	return index
}

// docDefaults returns, by "Type.Field", the X of each struct field's doc
// in file that ends "Defaults to X.", with quotes and a closing
// parenthetical remark cut.
func docDefaults(t *testing.T, file string) map[string]string {
	parsed, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	require.NoError(t, err)
	stated := regexp.MustCompile(`Defaults\s+to\s+(.*?)(\s+\(.*\))?\.$`)
	docs := map[string]string{}
	ast.Inspect(parsed, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := spec.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, f := range st.Fields.List {
			m := stated.FindStringSubmatch(strings.TrimSpace(f.Doc.Text()))
			for _, name := range f.Names {
				if m != nil {
					docs[spec.Name.Name+"."+name.Name] = strings.Trim(m[1], `"`)
				}
			}
		}
		return false
	})
	require.NotEmpty(t, docs, "no \"Defaults to\" found in %s", file)
	return docs
}

// defaultText writes v as a field's doc states its default.
func defaultText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice:
		if kinds, ok := v.Interface().([]Kind); ok {
			var names []string
			for _, k := range kinds {
				names = append(names, k.String())
			}
			return strings.Join(names, ", ")
		}
	case reflect.Func:
		if v.IsNil() {
			return "nil"
		}
		return runtime.FuncForPC(v.Pointer()).Name()
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		if v.Interface() == any(slog.Default()) {
			return "slog.Default()"
		}
	}
	return fmt.Sprintf("%v", v)
}

func TestConfigDecodesFromYAMLAndJSON(t *testing.T) {
	t.Run("yaml", func(t *testing.T) {
		var cfg Config
		dec := yaml.NewDecoder(strings.NewReader(configYAML))
		dec.KnownFields(true) // every key of the contract is a field
		require.NoError(t, dec.Decode(&cfg))
		assert.Equal(t, wantConfig, cfg)
	})
	t.Run("json", func(t *testing.T) {
		var generic map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(configYAML), &generic))
		doc, err := json.Marshal(generic)
		require.NoError(t, err)
		var cfg Config
		jd := json.NewDecoder(bytes.NewReader(doc))
		jd.DisallowUnknownFields()
		require.NoError(t, jd.Decode(&cfg))
		assert.Equal(t, wantConfig, cfg)
	})
	t.Run("round trip", func(t *testing.T) {
		for _, codec := range []struct {
			name      string
			marshal   func(any) ([]byte, error)
			unmarshal func([]byte, any) error
		}{
			{"json", json.Marshal, json.Unmarshal},
			{"yaml", yaml.Marshal, yaml.Unmarshal},
		} {
			data, err := codec.marshal(wantConfig)
			require.NoError(t, err, codec.name)
			var back Config
			require.NoError(t, codec.unmarshal(data, &back), codec.name)
			assert.Equal(t, wantConfig, back, codec.name)
		}
	})
	t.Run("unknown backend in order", func(t *testing.T) {
		var cfg Config
		err := yaml.Unmarshal([]byte("order: [kafka, s3]"), &cfg)
		assert.ErrorContains(t, err, `unknown backend "s3"`)
	})
}
