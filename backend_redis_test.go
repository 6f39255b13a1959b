//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func init() { conformanceRigs = append(conformanceRigs, redisRig()) }

// redisRig is the Redis backend against the real server the tests use
// ($DLQ_REDIS_ADDR, or 127.0.0.1:6379), through a loopback proxy that can
// hold the backend's commands, with stream keys of the subtest's own.
func redisRig() backendRig {
	return backendRig{kind: KindRedis, features: rigFeatures{
		fallback: true,
		// The backend sets no limit: the server takes a value up to its
		// proto-max-bulk-len (512 MB by default), beyond any entry the
		// suite could send.
		maxEntryBytes: 0,
		hangs:         true,
	}, start: startRedisTarget}
}

type redisTarget struct {
	addr  string
	proxy *holdProxy
	base  string // every stream key of the subtest starts with it
}

func startRedisTarget(t *testing.T, _ bool) rigTarget {
	addr := testenv.RedisAddr(t)
	r := &redisTarget{
		addr:  addr,
		proxy: startHoldProxy(t, addr),
		base:  fmt.Sprintf("dlq-conformance-%016x", rand.Uint64()),
	}
	t.Cleanup(func() {
		c := r.client()
		defer c.Close()
		ctx := context.Background()
		if keys, err := c.Keys(ctx, r.base+"*").Result(); err == nil && len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return r
}

// client is a go-redis client of the test's own, straight to the server.
func (r *redisTarget) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.addr, DisableIdentity: true})
}

// configure writes to base.{destination}, and to base for entries without
// one, through the proxy, with a minute for each read and write: only
// cancellation can end a hung one within the suite's bounds.
func (r *redisTarget) configure(cfg *Config) {
	cfg.File = FileConfig{Disabled: true}
	cfg.Redis = RedisConfig{URL: "redis://" + r.proxy.addr(), Stream: r.base + "." + destinationPlaceholder,
		CommonStream: r.base, TimeoutMS: 60_000}
}

// landed reads every stream of the subtest back with XRANGE.
func (r *redisTarget) landed(t *testing.T) map[string][]Entry {
	t.Helper()
	c := r.client()
	defer c.Close()
	ctx := t.Context()
	keys, err := c.Keys(ctx, r.base+"*").Result()
	require.NoError(t, err)
	out := map[string][]Entry{}
	for _, key := range keys {
		if kind, err := c.Type(ctx, key).Result(); err != nil || kind != "stream" {
			continue // refuseSome's string
		}
		msgs, err := c.XRange(ctx, key, "-", "+").Result()
		require.NoError(t, err)
		for _, m := range msgs {
			data, _ := m.Values["data"].(string)
			e, err := ParseEnvelope([]byte(data))
			require.NoError(t, err, "stream %s entry %s", key, m.ID)
			require.Equal(t, e.ID, m.Values["id"], "stream %s entry %s: the id field", key, m.ID)
			out[e.ID] = append(out[e.ID], e)
		}
	}
	return out
}

// refuseSome makes the refused destination's stream key a string: its
// XADDs fail with WRONGTYPE, in the same pipeline as the others.
func (r *redisTarget) refuseSome(t *testing.T) (func(int, *Entry), func([]Entry) map[string]bool) {
	t.Helper()
	c := r.client()
	defer c.Close()
	require.NoError(t, c.Set(t.Context(), r.base+"."+refusedDest, "not a stream", 0).Err())
	return refuseEveryThird, byDestination
}

// hang makes the proxy hold whatever the backend sends from now on until
// release.
func (r *redisTarget) hang(t *testing.T) (func() bool, func()) {
	t.Helper()
	return r.proxy.hold(t)
}

// holdProxy forwards loopback connections to a server. While it holds, a
// connection that sends anything is held: what it sent is never
// forwarded and nothing is answered, until release closes it.
type holdProxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]bool
	released chan struct{} // closed on release; nil when not holding
	held     atomic.Int64
}

func startHoldProxy(t *testing.T, upstream string) *holdProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &holdProxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		if p.released != nil {
			close(p.released)
			p.released = nil
		}
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *holdProxy) addr() string { return p.ln.Addr().String() }

func (p *holdProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(client, server) })
		p.wg.Go(func() { p.copyBack(client, server) })
	}
}

// forward copies client to server, unless the proxy holds.
func (p *holdProxy) forward(client, server net.Conn) {
	defer p.drop(client, server)
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			released := p.released
			p.mu.Unlock()
			if released != nil {
				p.held.Add(1)
				<-released
				return // the connection is out of step: drop it
			}
			if _, err := server.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// copyBack copies server to client.
func (p *holdProxy) copyBack(client, server net.Conn) {
	defer p.drop(client, server)
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *holdProxy) drop(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// hold makes the proxy hold from now on; inFlight reports that a
// connection sent something since, release lets the held ones go (closed)
// and forwards again.
func (p *holdProxy) hold(t *testing.T) (func() bool, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	released := make(chan struct{})
	p.released = released
	before := p.held.Load()
	var once sync.Once
	release := func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.released == released {
				p.released = nil
				close(released)
			}
		})
	}
	t.Cleanup(release)
	return func() bool { return p.held.Load() > before }, release
}
