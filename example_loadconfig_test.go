package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dlqkit/dlq"
)

func ExampleLoadConfig() {
	dir, _ := os.MkdirTemp("", "dlq-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dlq.yaml")
	_ = os.WriteFile(path, []byte(`
service: loader
file:
  dir: ${DLQ_EXAMPLE_DIR:-`+dir+`}   # from the environment, or the default
  rotation: daily
`), 0o600)

	cfg, err := dlq.LoadConfig(path)
	if err != nil {
		fmt.Println(err) // names the file, the line and the key
		return
	}
	q, err := dlq.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = q.Send(dlq.Entry{Reason: "parse_error", Error: "unexpected EOF", Payload: []byte(`{"id":`)})
	if err := q.Close(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.File.Rotation, "written:", q.Stats().Written)
	// Output: daily written: 1
}

func ExampleParseConfig() {
	_, err := dlq.ParseConfig([]byte(`
service: loader
queue_capacty: 5000
file:
  dirr: /var/lib/dlq
mode: FAN_OUT
`))
	fmt.Println(errors.Is(err, dlq.ErrInvalidConfig))
	var ce *dlq.ConfigError
	if errors.As(err, &ce) {
		for _, f := range ce.Fields {
			fmt.Println(f)
		}
	}
	// Output:
	// true
	// line 3: queue_capacty: unknown key (did you mean "queue_capacity"?)
	// line 5: file.dirr: unknown key (did you mean "dir"?)
	// line 6: mode: "FAN_OUT" is not one of cascade, fan_out, file_only, kafka_only
}

func ExampleParseConfig_environment() {
	// ${VAR:-default} takes the default when VAR is unset or empty; an
	// unset ${VAR} without one is an error naming VAR.
	_, err := dlq.ParseConfig([]byte(`
service: loader
redis:
  url: ${DLQ_EXAMPLE_REDIS_URL}
`))
	fmt.Println(err)
	// Output: dlq: invalid config: line 4: redis.url: ${DLQ_EXAMPLE_REDIS_URL}: environment variable DLQ_EXAMPLE_REDIS_URL is not set (write ${DLQ_EXAMPLE_REDIS_URL:-default} for a default)
}
