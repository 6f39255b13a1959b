//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

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
