//go:build dlq_redis || dlq_all

package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	redisReadPage    = 500 // entries per XRANGE
	redisFollowBlock = 500 * time.Millisecond
)

// redisSource reads a stream with XRANGE pages up to the last entry it held
// when reading began; following, it goes on with XREAD BLOCK.
type redisSource struct {
	opts   *redis.Options
	stream string
}

// sourceStream takes the stream name out of a Redis source URL (go-redis
// refuses options it does not know). Defaults to "dlq".
func sourceStream(u *url.URL) (string, string) {
	q := u.Query()
	stream := q.Get("stream")
	if stream == "" {
		stream = defaultRedisStream
	}
	q.Del("stream")
	v := *u
	v.RawQuery = q.Encode()
	return v.String(), stream
}

func newRedisSource(u *url.URL) (*redisSource, error) {
	raw, stream := sourceStream(u)
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("dlq: source: %w", redactURLError(err))
	}
	opts.DisableIdentity = true
	opts.ContextTimeoutEnabled = true
	return &redisSource{opts: opts, stream: stream}, nil
}

func (s *redisSource) each(ctx context.Context, r *Reader, emit func(Record) bool) error {
	client := redis.NewClient(s.opts)
	defer func() { _ = client.Close() }()
	last, err := client.XRevRangeN(ctx, s.stream, "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("dlq: source redis stream %s: %w", s.stream, err)
	}
	next := "-"
	if r.opts.After != "" {
		next = "(" + r.opts.After
	}
	if len(last) > 0 && (r.opts.After == "" || compareStreamIDs(r.opts.After, last[0].ID) < 0) {
		end := last[0].ID
		for {
			page, err := client.XRangeN(ctx, s.stream, next, end, redisReadPage).Result()
			if err != nil {
				return fmt.Errorf("dlq: source redis stream %s: %w", s.stream, err)
			}
			for _, m := range page {
				if !s.decode(r, m, emit) {
					return nil
				}
			}
			if len(page) < redisReadPage || page[len(page)-1].ID == end {
				break
			}
			next = "(" + page[len(page)-1].ID
		}
	}
	if !r.opts.Follow {
		return nil
	}
	from := "0" // an empty or missing stream: everything that comes
	if len(last) > 0 {
		from = last[0].ID
	}
	if r.opts.After != "" && compareStreamIDs(r.opts.After, from) > 0 {
		from = r.opts.After
	}
	r.caughtUp()
	for {
		streams, err := client.XRead(ctx, &redis.XReadArgs{Streams: []string{s.stream, from}, Count: redisReadPage, Block: redisFollowBlock}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("dlq: source redis stream %s: %w", s.stream, err)
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				from = m.ID
				if !s.decode(r, m, emit) {
					return nil
				}
			}
		}
	}
}

func (s *redisSource) decode(r *Reader, m redis.XMessage, emit func(Record) bool) bool {
	data, ok := m.Values["data"].(string)
	if !ok {
		r.unreadable()
		return true
	}
	e, err := parseLine([]byte(data))
	if err != nil {
		r.unreadable()
		return true
	}
	return emit(Record{Entry: e, Position: m.ID})
}

// compareStreamIDs orders two stream ids "MS-SEQ".
func compareStreamIDs(a, b string) int {
	var ams, aseq, bms, bseq uint64
	_, _ = fmt.Sscanf(a, "%d-%d", &ams, &aseq)
	_, _ = fmt.Sscanf(b, "%d-%d", &bms, &bseq)
	if ams != bms {
		return cmp.Compare(ams, bms)
	}
	return cmp.Compare(aseq, bseq)
}
