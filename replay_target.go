package dlq

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/dlqkit/dlq/internal/redact"
)

// replayTarget is where Replay sends messages: a kind and one pointer per
// variant, of which the kind's is set once opened, dispatched by a switch
// as backend is. A dry run parses a target and never opens it.
type replayTarget struct {
	kind  Kind // KindKafka, KindHTTP or KindRedis
	url   *url.URL
	kafka *replayKafka
	http  *replayHTTP
	redis *replayRedis
}

// replayMsg is one message to send back.
type replayMsg struct {
	entry   *Entry
	headers []Header // the originals, then HeaderReplayOf and HeaderReplayCount
	pos     string   // the entry's Record.Position
}

// sendReport is what one send told of the target besides the messages it
// confirmed: how long it took and what the target said of its load. The
// send loop hands each to its batch hook (replayRun.onBatch) and to the
// automatic rate (autoRate.observe).
type sendReport struct {
	took time.Duration
	// throttled counts the answers that asked to slow down: HTTP 429 or
	// 503 (retried), a Kafka produce the broker throttled.
	throttled int
	// failing counts the other answers of a target in trouble that were
	// retried: HTTP 5xx, Kafka produce errors.
	failing int
	// slept is the part of took the target spent waiting to retry
	// (backoff, Retry-After), not waiting for answers.
	slept time.Duration
	// calls is how many requests took made (HTTP: one per attempt; Kafka
	// and Redis: one per send); 0 counts as 1.
	calls int
	// pause is how long the target asked that nothing more be sent, from
	// the end of the send: a Kafka broker's throttle time. (The HTTP
	// target waits out a Retry-After itself before its retry.)
	pause time.Duration
	// confirmed, when set, is told as soon as the target confirmed the
	// batch's messages up to n, by a target that confirms them one by one
	// (HTTP): the ledger writes them down at once, so that a replay killed
	// mid-batch sends again only the request in flight. An error (the
	// ledger could not be written) ends the send there, with it.
	confirmed func(n int) error
}

// latency is how long the target took to answer one request of the send.
func (r *sendReport) latency() time.Duration {
	return (r.took - r.slept) / time.Duration(max(r.calls, 1))
}

// parseReplayTarget reads a target URL: kafka://HOST:PORT/TOPIC,
// http(s)://URL or redis://HOST:PORT/DB?stream=NAME (rediss:// and
// unix:// too).
func parseReplayTarget(target string) (*replayTarget, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" && u.Scheme != "unix" {
		return nil, fmt.Errorf("%w %s: not kafka://HOST:PORT/TOPIC, http(s)://URL or redis://HOST:PORT/DB?stream=NAME", ErrInvalidTarget, redact.URL(target))
	}
	t := &replayTarget{url: u}
	switch u.Scheme {
	case "kafka":
		t.kind = KindKafka
		if u.User != nil {
			// No SASL here: credentials would be dropped without a word.
			return nil, fmt.Errorf("%w %s: a user in a kafka:// target is not supported (no SASL): replay to a broker listener without authentication", ErrInvalidTarget, redact.URL(target))
		}
	case "http", "https":
		t.kind = KindHTTP
	case "redis", "rediss", "unix":
		t.kind = KindRedis
		if u.Query().Get("stream") == "" {
			return nil, fmt.Errorf("%w %s: names no stream (?stream=NAME)", ErrInvalidTarget, redact.URL(target))
		}
	default:
		return nil, fmt.Errorf("%w %s: scheme %q is not kafka, http, https, redis, rediss or unix", ErrInvalidTarget, redact.URL(target), u.Scheme)
	}
	return t, nil
}

// open makes the target's client (dry runs do not).
func (t *replayTarget) open() error {
	var err error
	switch t.kind {
	case KindKafka:
		t.kafka, err = newReplayKafka(t.url)
	case KindHTTP:
		t.http = newReplayHTTP(t.url)
	case KindRedis:
		t.redis, err = newReplayRedis(t.url)
	default:
		panic("dlq: unknown replay target kind " + t.kind.String())
	}
	return err
}

// send writes msgs in order and returns how many of the first ones the
// target confirmed; with an error, the rest are not known to be written.
func (t *replayTarget) send(ctx context.Context, msgs []replayMsg, rep *sendReport) (int, error) {
	switch t.kind {
	case KindKafka:
		return t.kafka.send(ctx, msgs, rep)
	case KindHTTP:
		return t.http.send(ctx, msgs, rep)
	case KindRedis:
		return t.redis.send(ctx, msgs)
	default:
		panic("dlq: unknown replay target kind " + t.kind.String())
	}
}

// close releases the client open made.
func (t *replayTarget) close() error {
	switch t.kind {
	case KindKafka:
		if t.kafka != nil {
			return t.kafka.close()
		}
	case KindHTTP:
		if t.http != nil {
			t.http.close()
		}
	case KindRedis:
		if t.redis != nil {
			return t.redis.close()
		}
	default:
		panic("dlq: unknown replay target kind " + t.kind.String())
	}
	return nil
}

// describedError is a failure told in words of its own (a Kafka topic the
// broker does not have, a target not built); it still matches what it
// describes.
type describedError struct {
	msg string
	err error
}

func (e *describedError) Error() string { return e.msg }

func (e *describedError) Unwrap() error { return e.err }

// targetNotBuilt is the error for a target of kind in a build without its
// tag; it matches ErrBackendNotBuilt.
func targetNotBuilt(kind Kind) error {
	return &describedError{err: ErrBackendNotBuilt, msg: fmt.Sprintf(
		"dlq: a %s:// target needs build tag %s or dlq_all (go install -tags dlq_all github.com/dlqkit/dlq/cmd/dlq@latest)", kind, buildTags[kind])}
}
