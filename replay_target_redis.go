//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// replayRedis adds each message to a stream: field payload, then the
// headers as fields, in one pipelined round trip per batch.
type replayRedis struct {
	client *redis.Client
	stream string
}

func newReplayRedis(u *url.URL) (*replayRedis, error) {
	q := u.Query()
	stream := q.Get("stream") // parseReplayTarget checked it is there
	q.Del("stream")
	v := *u
	v.RawQuery = q.Encode()
	opts, err := redis.ParseURL(v.String())
	if err != nil {
		return nil, fmt.Errorf("redis target: %w", withoutURL(err))
	}
	opts.DisableIdentity = true
	opts.MaxRetries = -1 // a blind resend could add a message twice
	return &replayRedis{client: redis.NewClient(opts), stream: stream}, nil
}

func (r *replayRedis) send(ctx context.Context, msgs []replayMsg) (int, error) {
	pipe := r.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(msgs))
	for i := range msgs {
		values := make([]any, 0, 2+2*len(msgs[i].headers))
		values = append(values, "payload", msgs[i].entry.Payload)
		for _, h := range msgs[i].headers {
			values = append(values, h.Key, h.Value)
		}
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: r.stream, Values: values})
	}
	_, execErr := pipe.Exec(ctx)
	for i, c := range cmds {
		if err := c.Err(); err != nil {
			return i, fmt.Errorf("redis target: entry %s: %w", msgs[i].entry.ID, err)
		}
		// An XADD the server added answers its id. One with neither an
		// error nor an id never ran: go-redis leaves the commands so when
		// the connection's AUTH is refused (WRONGPASS), returning that
		// from Exec alone.
		if c.Val() == "" {
			err := execErr
			if err == nil {
				err = errors.New("no reply")
			}
			return i, fmt.Errorf("redis target: entry %s: %w", msgs[i].entry.ID, err)
		}
	}
	return len(msgs), nil
}

func (r *replayRedis) close() error { return r.client.Close() }
