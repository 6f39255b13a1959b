package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// target is where replay sends messages: a kind and one pointer per
// variant, as the library's backend sum type is.
type target struct {
	kind  string // kafka, http or redis
	url   *url.URL
	kafka *kafkaTarget
	http  *httpTarget
	redis *redisTarget
}

// parseTarget reads --to.
func parseTarget(to string) (*target, error) {
	u, err := url.Parse(to)
	if err != nil || u.Host == "" && u.Scheme != "unix" {
		return nil, fmt.Errorf("%w: --to %s is not kafka://HOST:PORT/TOPIC, http(s)://URL or redis://HOST:PORT/DB?stream=NAME", errUsage, redacted(to))
	}
	t := &target{url: u}
	switch u.Scheme {
	case "kafka":
		t.kind = "kafka"
	case "http", "https":
		t.kind = "http"
	case "redis", "rediss", "unix":
		t.kind = "redis"
	default:
		return nil, fmt.Errorf("%w: --to scheme %q is not kafka, http, https, redis, rediss or unix", errUsage, u.Scheme)
	}
	return t, nil
}

// open connects to the target (dry runs do not).
func (t *target) open() error {
	var err error
	switch t.kind {
	case "kafka":
		t.kafka, err = newKafkaTarget(t.url)
	case "http":
		t.http, err = newHTTPTarget(t.url)
	case "redis":
		t.redis, err = newRedisTarget(t.url)
	default:
		panic("dlq: unknown target kind " + t.kind)
	}
	return err
}

// send writes msgs in order and returns how many of the first ones the
// target confirmed; with an error, the rest are not known to be written.
func (t *target) send(ctx context.Context, msgs []replayMsg) (int, error) {
	switch t.kind {
	case "kafka":
		return t.kafka.send(ctx, msgs)
	case "http":
		return t.http.send(ctx, msgs)
	case "redis":
		return t.redis.send(ctx, msgs)
	default:
		panic("dlq: unknown target kind " + t.kind)
	}
}

func (t *target) close() error {
	switch {
	case t.kafka != nil:
		return t.kafka.close()
	case t.redis != nil:
		return t.redis.close()
	}
	return nil
}

// redacted returns a URL as the user wrote it, with its password hidden:
// not escaped again, so that a template such as {source.topic} reads as
// given.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			return "(unparsable URL)"
		}
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	// The user information ends at the last '@' before the path.
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return u.Redacted()
	}
	rest := raw[scheme+3:]
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return u.Redacted()
	}
	return raw[:scheme+3] + url.UserPassword(u.User.Username(), "xxxxx").String() + rest[at:]
}
