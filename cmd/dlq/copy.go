package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/dlqkit/dlq"
	"github.com/dlqkit/dlq/internal/redact"
	"github.com/urfave/cli/v3"
)

// copyService names the orchestrator of a copy into a network backend;
// the entries keep their own service.
const copyService = "dlq-copy"

// copyMaxAttempts bounds the retries of an entry the target refuses, so
// that a copy into a dead target ends with an error instead of waiting.
const copyMaxAttempts = 5

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:  "copy",
		Usage: "copy the entries, envelopes unchanged and ids kept, into another DLQ backend",
		Description: "TARGET is one of:\n" +
			"  file://DIR                        DIR/<service>/dlq.ndjson; always built in\n" +
			"  kafka://HOST:PORT/TOPIC           kafka://HOST:PORT alone routes per destination as the backend does;\n" +
			"                                    needs -tags dlq_kafka or dlq_all\n" +
			"  redis://HOST:PORT/DB?stream=NAME  needs -tags dlq_redis or dlq_all\n" +
			"  http(s)://URL                     needs -tags dlq_http or dlq_all\n" +
			"The entries go through the library's own backends.\n\n" + sourceHelp,
		ArgsUsage: "SRC --to TARGET",
		Flags: append(filterFlags(),
			&cli.StringFlag{Name: "to", Required: true, Usage: "the backend to copy into"},
		),
		Action: runCopy,
	}
}

// copyConfig returns the library config that writes to target, for
// entries of service.
func copyConfig(target, service string) (dlq.Config, error) {
	u, err := url.Parse(target)
	if err != nil {
		return dlq.Config{}, fmt.Errorf("%w: --to %s: not a URL", errUsage, redact.URL(target))
	}
	cfg := dlq.Config{Service: copyService, Retry: dlq.RetryConfig{MaxAttempts: copyMaxAttempts}}
	cfg.File.Disabled = true
	switch u.Scheme {
	case "file":
		dir := u.Path
		if u.Host != "" && u.Host != "localhost" {
			dir = u.Host + u.Path
		}
		if dir == "" {
			return cfg, fmt.Errorf("%w: --to file:// names no folder", errUsage)
		}
		if service == "" {
			service = copyService
		}
		cfg.Service, cfg.File = service, dlq.FileConfig{Dir: dir}
	case "kafka":
		cfg.Kafka.Brokers = []string{u.Host}
		if topic := strings.TrimPrefix(u.Path, "/"); topic != "" {
			cfg.Kafka.Routing, cfg.Kafka.CommonTopic = "common", topic
		}
	case "redis", "rediss", "unix":
		q := u.Query()
		cfg.Redis.Stream = q.Get("stream")
		q.Del("stream")
		v := *u
		v.RawQuery = q.Encode()
		cfg.Redis.URL = v.String()
	case "http", "https":
		cfg.HTTP.URL = target
	default:
		return cfg, fmt.Errorf("%w: --to scheme %q is not file, kafka, redis, rediss, unix, http or https", errUsage, u.Scheme)
	}
	return cfg, nil
}

func runCopy(ctx context.Context, cmd *cli.Command) error {
	to := cmd.String("to")
	perService := strings.HasPrefix(to, "file:")
	if _, err := copyConfig(to, ""); err != nil {
		return err
	}
	r, err := openReader(cmd, dlq.ReaderOptions{})
	if err != nil {
		return err
	}
	// One orchestrator per service for a file target (DIR/<service>/),
	// one in all otherwise, made before anything is read: a target whose
	// build tag is missing fails here, before any summary.
	writers := map[string]*dlq.Orchestrator{}
	writerFor := func(service string) (*dlq.Orchestrator, error) {
		if !perService {
			service = ""
		}
		if o := writers[service]; o != nil {
			return o, nil
		}
		cfg, err := copyConfig(to, service)
		if err != nil {
			return nil, err
		}
		o, err := dlq.New(cfg)
		if err != nil {
			return nil, err
		}
		writers[service] = o
		return o, nil
	}
	if !perService {
		if _, err := writerFor(""); err != nil {
			return err
		}
	}
	out := cmd.Root().Writer
	bar := newProgress(cmd, "copy", r)
	var copied atomic.Uint64
	bar.also(func() string { return "copied " + thousands(copied.Load()) })
	var copyErr error
	for rec, err := range records(ctx, r, bar) {
		if err != nil {
			copyErr = err
			break
		}
		o, err := writerFor(rec.Entry.Service)
		if err != nil {
			copyErr = err
			break
		}
		if err := o.SendContext(ctx, rec.Entry); err != nil {
			copyErr = err
			break
		}
		copied.Add(1)
	}
	var lost uint64
	bar.done()
	for _, o := range writers {
		copyErr = errors.Join(copyErr, o.Flush(ctx))
		copyErr = errors.Join(copyErr, o.Close(ctx))
		lost += o.Stats().Lost
	}
	n := copied.Load()
	fmt.Fprintf(out, "copied %d to %s; lost %d; unreadable %d\n", n-lost, redact.URL(to), lost, r.Stats().Unreadable)
	if copyErr != nil {
		return fmt.Errorf("copy: %d of %d entries written: %w", n-lost, n, copyErr)
	}
	return nil
}
