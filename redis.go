//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dlqkit/dlq/internal/netconn"
	"github.com/redis/go-redis/v9"
)

// redisBuilt reports whether the redis backend is compiled in: it needs
// the build tag dlq_redis or dlq_all.
const redisBuilt = true

const destinationPlaceholder = "{destination}"

// redisBackend writes each batch as one pipeline of XADDs.
type redisBackend struct {
	client       *redis.Client
	conns        *netconn.Tracker // cut when the context of a write or sync ends
	stream       string
	commonStream string
	perDest      bool
	maxLen       int64
	waitReplicas int
	waitTimeout  time.Duration
	xadds        xadds // the XADDs of the batch being written
}

func newRedisBackend(cfg *Config) (*redisBackend, error) {
	rc := &cfg.Redis
	opts, err := redis.ParseURL(rc.URL)
	if err != nil {
		// go-redis's message never holds the password, but the URL does:
		// keep the URL out.
		return nil, fmt.Errorf("redis.url: %w", redactURLError(err))
	}
	opts.DialTimeout = ms(rc.DialTimeoutMS)
	opts.ReadTimeout = ms(rc.TimeoutMS)
	opts.WriteTimeout = opts.ReadTimeout
	opts.MaxRetries = -1   // the drain retries; a blind resend could add an entry twice
	opts.DialerRetries = 1 // a refused connection costs one dial per batch, not five
	opts.PoolSize = 1      // only the drain uses the client, one command or pipeline at a time
	// Pipelines on that one connection too, not on go-redis's separate
	// pipeline pool: WAIT counts acknowledgements of the writes made on the
	// connection it is sent on.
	opts.PipelinePoolSize = -1
	opts.DisableIdentity = true
	opts.ContextTimeoutEnabled = true
	conns := &netconn.Tracker{}
	opts.Dialer = redisDialer(conns, redis.NewDialer(opts))
	return &redisBackend{
		client:       redis.NewClient(opts),
		conns:        conns,
		stream:       rc.Stream,
		commonStream: rc.CommonStream,
		perDest:      strings.Contains(rc.Stream, destinationPlaceholder),
		maxLen:       rc.MaxLen,
		waitReplicas: rc.WaitReplicas,
		waitTimeout:  ms(rc.WaitTimeoutMS),
	}, nil
}

// go-redis bounds a read by the context's deadline but does not notice a
// context cancelled without one, nor a deadline that comes after the read
// began. So that a write ends when the Flush or Close waiting for it gives
// up, the backend dials through a netconn.Tracker, and cuts every
// connection when the write's context ends: a blocked read or write
// returns at once, and go-redis drops the connection as broken.

// redisDialer dials through conns. A failed dial is handed back as a
// connection that fails (netconn.Failed): told of the failure itself,
// go-redis (with a pool of one) would stop dialing and probe in a
// goroutine of its own, which sleeps a second between dials and outlives
// Close. Handed this connection instead, it fails its first command with
// the dial's error and drops the connection, and the next batch dials
// again.
func redisDialer(conns *netconn.Tracker, dial netconn.DialFunc) netconn.DialFunc {
	dial = conns.Dialer(dial)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return netconn.Failed(err), nil
		}
		return conn, nil
	}
}

func (r *redisBackend) write(ctx context.Context, bt *batch) error {
	defer context.AfterFunc(ctx, r.conns.Cut)()
	defer r.xadds.clear()
	cmds := r.xadds.build(ctx, r, bt)
	pipe := r.client.Pipeline()
	_ = pipe.BatchProcess(ctx, cmds...) // only queues
	_, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for i, cmd := range cmds {
		if cerr := cmd.Err(); cerr != nil {
			bt.errs[i] = fmt.Errorf("XADD %s: %w", r.xadds.keys[i], cerr)
		}
	}
	if firstError(bt.errs) == nil {
		// Exec failed but every command has its reply: a failure of the
		// pipeline itself, so fail the lot.
		for i := range bt.errs {
			bt.errs[i] = err
		}
	}
	return err
}

// sync returns at once: every XADD already has its reply. With
// wait_replicas set it waits for that many replicas to acknowledge.
func (r *redisBackend) sync(ctx context.Context) error {
	if r.waitReplicas <= 0 {
		return nil
	}
	defer context.AfterFunc(ctx, r.conns.Cut)()
	n, err := r.client.Wait(ctx, r.waitReplicas, r.waitTimeout).Result()
	if err != nil {
		return fmt.Errorf("WAIT %d: %w", r.waitReplicas, err)
	}
	if n < int64(r.waitReplicas) {
		return fmt.Errorf("WAIT %d: only %d replicas acknowledged within %s", r.waitReplicas, n, r.waitTimeout)
	}
	return nil
}

func (r *redisBackend) close(context.Context) error {
	err := r.client.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

// xadds builds a batch's XADD commands without boxing a value per
// argument: go-redis takes *string, *int64 and encoding.BinaryMarshaler
// arguments, so each argument points into the batch (a line, an entry's
// fields) or into the backend (the stream key, MAXLEN), and the argument
// slices are reused from batch to batch. What is left per entry is the
// command go-redis reads the reply into and the reply itself.
type xadds struct {
	args []any // each XADD's arguments, xaddArgs of them
	keys []string
	cmds []redis.Cmder

	// streams caches the stream key of each destination seen, when the
	// key holds {destination}; it is dropped when it grows past
	// maxCachedStreams.
	streams map[string]string
}

// xaddArgs is the most arguments an XADD takes here:
// XADD key MAXLEN ~ n * data line reason r service s id i.
const xaddArgs = 14

// maxCachedStreams bounds xadds.streams.
const maxCachedStreams = 4096

// redisLine is a line handed to go-redis as a BinaryMarshaler through a
// pointer into the batch, so that it is not boxed.
type redisLine []byte

// MarshalBinary returns the line itself.
func (l *redisLine) MarshalBinary() ([]byte, error) { return *l, nil }

// build returns the XADD commands of bt, one per entry, in order. They and
// their arguments stay valid until the next build or clear.
func (x *xadds) build(ctx context.Context, r *redisBackend, bt *batch) []redis.Cmder {
	n := len(bt.recs)
	if cap(x.args) < xaddArgs*n {
		x.args = make([]any, xaddArgs*n)
		x.keys = make([]string, n)
	}
	x.keys = x.keys[:n]
	x.cmds = x.cmds[:0]
	for i, rec := range bt.recs {
		e := &rec.entry
		x.keys[i] = x.stream(r, e.Destination)
		a := append(x.args[xaddArgs*i:xaddArgs*i:xaddArgs*(i+1)], "xadd", &x.keys[i])
		if r.maxLen > 0 {
			a = append(a, "maxlen", "~", &r.maxLen)
		}
		a = append(a, "*", "data", (*redisLine)(&bt.lines[i]), "reason", &e.Reason, "service", &e.Service, "id", &e.ID)
		x.cmds = append(x.cmds, redis.NewStringCmd(ctx, a...))
	}
	return x.cmds
}

// stream returns the stream key of an entry with destination dest.
func (x *xadds) stream(r *redisBackend, dest string) string {
	if !r.perDest {
		return r.stream
	}
	if !legalName(dest, maxTopicLen) {
		return r.commonStream
	}
	if key, ok := x.streams[dest]; ok {
		return key
	}
	if x.streams == nil || len(x.streams) >= maxCachedStreams {
		x.streams = map[string]string{}
	}
	key := strings.ReplaceAll(r.stream, destinationPlaceholder, dest)
	x.streams[dest] = key
	return key
}

// clear drops the references to the last batch.
func (x *xadds) clear() {
	clear(x.args)
	clear(x.keys)
	clear(x.cmds)
}
