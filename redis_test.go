//go:build dlq_redis || dlq_all

package dlq

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// redisClient is an independent go-redis client for reading back.
func redisClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniqueStream returns a stream key of the test's own, deleted at the end.
func uniqueStream(t *testing.T, c *redis.Client) string {
	key := fmt.Sprintf("dlq-test-%s-%08x", strings.ReplaceAll(t.Name(), "/", "_"), rand.Uint32())
	t.Cleanup(func() { c.Del(context.Background(), key, key+".common") })
	return key
}

// readStream returns the entries of a stream by payload, checking that the
// operator fields agree with the envelope.
func readStream(t *testing.T, c *redis.Client, key string) map[string]Entry {
	t.Helper()
	msgs, err := c.XRange(context.Background(), key, "-", "+").Result()
	require.NoError(t, err)
	out := map[string]Entry{}
	for _, m := range msgs {
		e, err := ParseEnvelope([]byte(m.Values["data"].(string)))
		require.NoError(t, err)
		assert.Equal(t, e.Reason, m.Values["reason"])
		assert.Equal(t, e.Service, m.Values["service"])
		assert.Equal(t, e.ID, m.Values["id"])
		out[string(e.Payload)] = e
	}
	return out
}

func TestRedisWritesEnvelopeAndOperatorFields(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	key := uniqueStream(t, c)
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: t.TempDir()},
		Redis: RedisConfig{URL: "redis://" + addr + "/0", Stream: key}})
	require.NoError(t, err)
	want := Entry{Timestamp: time.UnixMilli(1764200000000), Reason: "parse_error", Error: "bad", Attempts: 2,
		Payload: []byte{0, 1, 2, 0xff}, Destination: "acme.auth", Source: KafkaSource("events", 0, 0),
		Metadata: map[string]string{"k": "v"}}
	require.NoError(t, o.Send(want))
	sendAll(t, o, payloads(300, "r"))
	flushOK(t, o)
	closeOK(t, o)

	got := readStream(t, c, key)
	require.Len(t, got, 301)
	requireHolds(t, got, payloads(300, "r"))
	e := got[string(want.Payload)]
	want.Service, want.ID = "svc", e.ID
	assertSameEntry(t, want, e)
	s := o.Stats()
	assert.Equal(t, uint64(301), s.Backends[0].Entries)
	assert.Equal(t, KindRedis, s.Backends[0].Kind)
	assert.Zero(t, s.Backends[1].Entries, "nothing fell through to the file")
}

func TestRedisStreamPerDestination(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	base := uniqueStream(t, c)
	common := base + ".common"
	perDest := base + ".acme.auth"
	t.Cleanup(func() { c.Del(context.Background(), perDest) })
	o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true},
		Redis: RedisConfig{URL: "redis://" + addr, Stream: base + ".{destination}", CommonStream: common}})
	require.NoError(t, err)
	for _, dest := range []string{"acme.auth", "", "not/legal", strings.Repeat("x", 250)} {
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: dest, Payload: []byte("to " + dest)}))
	}
	closeOK(t, o)
	assert.Equal(t, []string{"to acme.auth"}, keys(readStream(t, c, perDest)))
	assert.Len(t, readStream(t, c, common), 3, "empty and illegal destinations go to the common stream")
}

func keys(m map[string]Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRedisMaxLenTrims(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	key := uniqueStream(t, c)
	o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true},
		Redis: RedisConfig{URL: "redis://" + addr, Stream: key, MaxLen: 100}})
	require.NoError(t, err)
	sendAll(t, o, payloads(2000, "t"))
	closeOK(t, o)
	n, err := c.XLen(context.Background(), key).Result()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(100))
	assert.Less(t, n, int64(500), "MAXLEN ~ 100 trims (approximately)")
}

func TestRedisKilledMidStreamFallsBackAndRecovers(t *testing.T) {
	// appendfsync always: what Redis acknowledged survives the SIGKILL, so
	// every accepted entry must be in the stream or in the file.
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	c := redisClient(t, srv.Addr)
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, BatchSize: 32, FlushIntervalMS: 5,
		File:  FileConfig{Dir: dir},
		Redis: RedisConfig{URL: "redis://" + srv.Addr, Stream: "dlq", DialTimeoutMS: 200, TimeoutMS: 500}})
	require.NoError(t, err)

	before, after := payloads(3000, "before"), payloads(300, "after")
	down := sendThroughOutage(t, o, before, 500, srv.Kill)
	assert.NotZero(t, down.Backends[1].Entries, "the file took over while Redis was down")
	assert.NotEmpty(t, down.Backends[0].LastError)

	srv.Restart()
	// go-redis redials a pool that failed to dial about once a second.
	probe := probeUntilUsed(t, o, down, 20*time.Second, "Redis is used again once it is back, without restarting the DLQ")
	sendAll(t, o, after)
	flushOK(t, o)
	closeOK(t, o)

	inRedis := readStream(t, c, "dlq")
	inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
	for _, p := range append(before, after...) {
		_, r := inRedis[p]
		_, f := inFile[p]
		require.True(t, r || f, "entry %s is neither in Redis nor in the file", p)
	}
	requireHolds(t, inRedis, after) // Redis is used again without a restart of the DLQ
	s := o.Stats()
	// A batch whose XADDs Redis applied just before the SIGKILL, but whose
	// replies never came, failed here and went to the file too: those are
	// the only duplicates, and exactly what the stats cannot count as Redis's.
	duplicates := 0
	for p := range inRedis {
		if _, ok := inFile[p]; ok {
			duplicates++
		}
	}
	assert.Equal(t, uint64(len(inRedis)-duplicates), s.Backends[0].Entries)
	assert.Equal(t, uint64(len(inFile)), s.Backends[1].Entries)
	assert.Equal(t, uint64(3300+probe), s.Written)
	requireAccounted(t, s)
	t.Logf("redis %d, file %d, in both %d", len(inRedis), len(inFile), duplicates)
}

func TestRedisOOMFallsToFile(t *testing.T) {
	srv := testenv.StartRedis(t, "--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
	c := redisClient(t, srv.Addr)
	ballast := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		if err := c.Set(context.Background(), fmt.Sprint("ballast", i), ballast, 0).Err(); err != nil {
			require.ErrorContains(t, err, "OOM")
			break
		}
	}
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
		Redis: RedisConfig{URL: "redis://" + srv.Addr}})
	require.NoError(t, err)
	sendAll(t, o, payloads(50, "oom"))
	closeOK(t, o)
	requireHolds(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), payloads(50, "oom"))
	s := o.Stats()
	assert.Contains(t, s.Backends[0].LastError, "OOM")
	assert.Equal(t, uint64(50), s.Backends[1].Entries)
}

func TestRedisReplicaReadonlyFallsToFileAndWaitReplicas(t *testing.T) {
	primary := testenv.StartRedis(t)
	host, port, _ := strings.Cut(primary.Addr, ":")
	replica := testenv.StartRedis(t, "--replicaof", host, port, "--enable-debug-command", "yes")
	pc := redisClient(t, primary.Addr)
	require.Eventually(t, func() bool {
		info, _ := pc.Info(context.Background(), "replication").Result()
		return strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online")
	}, 10*time.Second, 10*time.Millisecond)

	t.Run("READONLY", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
			Redis: RedisConfig{URL: "redis://" + replica.Addr}})
		require.NoError(t, err)
		sendAll(t, o, payloads(20, "ro"))
		closeOK(t, o)
		requireHolds(t, byPayload(readDir(t, filepath.Join(dir, "svc"))), payloads(20, "ro"))
		assert.Contains(t, o.Stats().Backends[0].LastError, "READONLY")
	})
	t.Run("wait_replicas met", func(t *testing.T) {
		o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true},
			Redis: RedisConfig{URL: "redis://" + primary.Addr, WaitReplicas: 1}})
		require.NoError(t, err)
		sendAll(t, o, payloads(20, "w"))
		flushOK(t, o)
		closeOK(t, o)
		rc := redisClient(t, replica.Addr)
		assert.Len(t, readStream(t, rc, "dlq"), 20, "the replica has them")
	})
	t.Run("wait_replicas waits for the XADDs' own connection", func(t *testing.T) {
		// WAIT counts the replicas that acknowledged the writes of the
		// connection it is sent on (on Redis 7.0, the replication offset as
		// of that connection's previous command): sent on a connection other
		// than the pipeline's, it does not wait for the last batch.
		o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true},
			Redis: RedisConfig{URL: "redis://" + primary.Addr, Stream: uniqueStream(t, pc), WaitReplicas: 1, WaitTimeoutMS: 50}})
		require.NoError(t, err)
		sendAll(t, o, payloads(2, "awake"))
		flushOK(t, o)
		rc := redisClient(t, replica.Addr)
		slept := make(chan error, 1)
		go func() { slept <- rc.Do(context.Background(), "DEBUG", "SLEEP", "1").Err() }()
		t.Cleanup(func() { require.NoError(t, <-slept) })
		time.Sleep(100 * time.Millisecond) // the replica is asleep: it acknowledges nothing new
		sendAll(t, o, payloads(2, "asleep"))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err = o.Flush(ctx)
		require.ErrorIs(t, err, ErrNotWritten, "acknowledged by a replica that was asleep")
		assert.ErrorContains(t, err, "only 0 replicas acknowledged")
		_ = o.Close(context.Background())
	})
	t.Run("wait_replicas not met", func(t *testing.T) {
		o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true},
			Redis: RedisConfig{URL: "redis://" + primary.Addr, WaitReplicas: 2, WaitTimeoutMS: 50}})
		require.NoError(t, err)
		sendAll(t, o, payloads(2, "w2"))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = o.Flush(ctx) // retries the WAIT until ctx ends
		require.ErrorIs(t, err, ErrNotWritten)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorContains(t, err, "only 1 replicas acknowledged")
		_ = o.Close(context.Background())
	})
}

func TestRedisURLForms(t *testing.T) {
	const password = "s3cret-pa55"
	sock := filepath.Join(t.TempDir(), "redis.sock")
	srv := testenv.StartRedis(t, "--requirepass", password, "--unixsocket", sock, "--unixsocketperm", "700")
	for _, test := range []struct {
		name, url string
		db        int // the database the URL names: each case its own
	}{
		{"redis with password and db", "redis://:" + password + "@" + srv.Addr + "/2", 2},
		{"redis with user", "redis://default:" + password + "@" + srv.Addr, 0},
		{"unix", "unix://:" + password + "@" + sock + "?db=3", 3},
	} {
		t.Run(test.name, func(t *testing.T) {
			o, err := New(Config{Service: "svc", File: FileConfig{Disabled: true}, Redis: RedisConfig{URL: test.url}})
			require.NoError(t, err)
			sendAll(t, o, payloads(3, "u"))
			flushOK(t, o)
			closeOK(t, o)
			assert.Equal(t, uint64(3), o.Stats().Backends[0].Entries)
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: password, DB: test.db, DisableIdentity: true})
			defer c.Close()
			assert.Len(t, readStream(t, c, "dlq"), 3, "the entries are in database %d", test.db)
		})
	}
	t.Run("wrong password never shown", func(t *testing.T) {
		const wrong = "wrong-pa55word"
		dir := t.TempDir()
		var logged strings.Builder
		o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
			Redis:   RedisConfig{URL: "redis://:" + wrong + "@" + srv.Addr},
			OnError: func(err error) { logged.WriteString(err.Error()) }})
		require.NoError(t, err)
		sendAll(t, o, payloads(3, "p"))
		closeOK(t, o)
		s := o.Stats()
		assert.Contains(t, s.Backends[0].LastError, "WRONGPASS")
		assert.NotContains(t, s.Backends[0].LastError, wrong)
		assert.NotContains(t, logged.String(), wrong)
		assert.Equal(t, uint64(3), s.Backends[1].Entries)
	})
	t.Run("bad URL never shows the password", func(t *testing.T) {
		_, err := New(Config{Service: "svc", Redis: RedisConfig{URL: "redis://:" + password + "@host:notaport"}})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), password)
	})
}

// TestRedisRefusedCostsOneDialPerBatch: with nothing listening, each batch
// Redis is tried on costs one dial, not go-redis's default five, and the
// entries fall through to the file; and no goroutine of go-redis's, such as
// its dial prober, outlives Close.
func TestRedisRefusedCostsOneDialPerBatch(t *testing.T) {
	before := goleak.IgnoreCurrent()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // refused from now on
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
		QueueCapacity: 20_000, Redis: RedisConfig{URL: "redis://" + addr},
		Retry:  RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 1}, // Redis is tried often
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for i := range 10_000 {
		require.NoError(t, o.Send(Entry{Reason: "r", Payload: fmt.Appendf(nil, "%d", i)}))
	}
	flushOK(t, o)
	s := o.Stats()
	dials := o.backends[0].redis.conns.Dials()
	closeOK(t, o)
	t.Logf("%d batches tried on Redis, %d dials", s.Backends[0].Batches, dials)
	assert.Equal(t, uint64(10_000), s.Backends[1].Entries, "all in the file")
	require.NotZero(t, s.Backends[0].Batches)
	assert.LessOrEqual(t, dials, int64(s.Backends[0].Batches), "one dial per batch at most")
	assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 10_000)
	goleak.VerifyNone(t, before)
}

// TestRedisKillRestartLoopTinyBatches: a private Redis (appendfsync
// always) killed and restarted three times while entries with distinct
// reasons, destinations (per-destination streams) and sizes flow in
// batches of two; then killed for good and the DLQ closed while every dial
// fails. Every entry is in Redis or the file; each XADD's fields (data,
// reason, service, id) are the entry's own, and the bytes of an id in
// both places are equal. goleak (TestMain) checks Close left nothing.
func TestRedisKillRestartLoopTinyBatches(t *testing.T) {
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, BatchSize: 2, QueueCapacity: 4,
		FlushIntervalMS: 1, Retry: RetryConfig{InitialBackoffMS: 2, MaxBackoffMS: 20},
		File:  FileConfig{Dir: dir},
		Redis: RedisConfig{URL: "redis://" + srv.Addr, Stream: "s.{destination}", DialTimeoutMS: 100, TimeoutMS: 300}})
	require.NoError(t, err)
	const n = 1500
	payload := func(i int) []byte {
		return append(fmt.Appendf(nil, "r%05d-", i), bytes.Repeat([]byte{byte('A' + i%26)}, 10+(i*37)%2000)...)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := o.SendContext(context.Background(), Entry{Reason: fmt.Sprint("reason-", i), Destination: fmt.Sprint("d", i%4),
				Payload: payload(i)}); err != nil {
				t.Errorf("SendContext %d: %v", i, err)
				return
			}
		}
	})
	for range 3 {
		time.Sleep(200 * time.Millisecond)
		srv.Kill()
		time.Sleep(300 * time.Millisecond)
		srv.Restart()
	}
	wg.Wait()
	flushOK(t, o)
	c := redisClient(t, srv.Addr)
	srv.Kill() // Close while every dial fails
	for i := n; i < n+20; i++ {
		require.NoError(t, o.SendContext(context.Background(), Entry{Reason: fmt.Sprint("reason-", i), Destination: "d0", Payload: payload(i)}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, o.Close(ctx))
	srv.Restart()
	st := o.Stats()
	requireAccounted(t, st)

	inFile := readDir(t, filepath.Join(dir, "svc"))
	got := map[string]bool{}
	for _, e := range inFile {
		got[string(e.Payload[:7])] = true
	}
	inRedis := 0
	for d := range 4 {
		for _, e := range readStream(t, c, fmt.Sprint("s.d", d)) { // checks reason, service, id fields
			var i int
			fmt.Sscanf(string(e.Payload), "r%05d-", &i)
			assert.Equal(t, string(payload(i)), string(e.Payload), "Redis payload of %d", i)
			assert.Equal(t, fmt.Sprint("reason-", i), e.Reason)
			assert.Equal(t, fmt.Sprint("d", i%4), e.Destination)
			if f, ok := inFile[e.ID]; ok {
				assert.Equal(t, string(f.Payload), string(e.Payload), "id %s differs between Redis and file", e.ID)
			}
			got[string(e.Payload[:7])] = true
			inRedis++
		}
	}
	for i := range n + 20 {
		assert.True(t, got[fmt.Sprintf("r%05d-", i)], "entry %d in neither Redis nor the file", i)
	}
	t.Logf("redis %d, file %d; redis stats %+v", inRedis, len(inFile), st.Backends[0])
}

// TestRedisOnlyFailedXADDsFallThrough: one pipelined batch for three
// destinations, one of whose stream keys holds a string (WRONGTYPE). Only
// that destination's entries may move on to the file; the others are in
// Redis once and nowhere else.
func TestRedisOnlyFailedXADDsFallThrough(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redisClient(t, addr)
	base := uniqueStream(t, c)
	good1, bad, good2 := base+".good.a", base+".bad.b", base+".good.c"
	t.Cleanup(func() { c.Del(context.Background(), good1, bad, good2) })
	require.NoError(t, c.Set(context.Background(), bad, "not a stream", 0).Err())

	dir := t.TempDir()
	o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir},
		BatchSize: 30, Retry: RetryConfig{MaxAttempts: 1},
		Redis: RedisConfig{URL: "redis://" + addr, Stream: base + ".{destination}"}})
	require.NoError(t, err)
	want := map[string][]string{}
	for i, p := range payloads(30, "mix") {
		dest := []string{"good.a", "bad.b", "good.c"}[i%3]
		want[dest] = append(want[dest], p)
		require.NoError(t, o.Send(Entry{Reason: "r", Destination: dest, Payload: []byte(p)}))
	}
	flushOK(t, o)
	closeOK(t, o)

	assert.ElementsMatch(t, want["good.a"], keys(readStream(t, c, good1)))
	assert.ElementsMatch(t, want["good.c"], keys(readStream(t, c, good2)))
	inFile := byPayload(readDir(t, filepath.Join(dir, "svc")))
	assert.ElementsMatch(t, want["bad.b"], keysOf(inFile), "only the entries whose XADD failed are in the file")
	s := o.Stats()
	assert.Equal(t, uint64(20), s.Backends[0].Entries)
	assert.Equal(t, uint64(10), s.Backends[0].Errors)
	assert.Contains(t, s.Backends[0].LastError, "WRONGTYPE")
	assert.Equal(t, uint64(10), s.Backends[1].Entries)
	assert.Equal(t, uint64(30), s.Written)
	requireAccounted(t, s)
}

// quietRedis drops go-redis's own log lines. The fault tests kill Redis
// servers on purpose, and go-redis then logs every failed dial through its
// package logger ("redis: connection pool: failed to dial after 5
// attempts"), burying a failing test's output; the backend reports the same
// failures as errors, which the tests check.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// init rather than TestMain, which the untagged build shares.
func init() { redis.SetLogger(quietRedis{}) }

// TestRedisTLS: rediss:// speaks TLS and verifies the server's certificate
// unless the URL says skip_verify=true.
func TestRedisTLS(t *testing.T) {
	cert, key := writeSelfSignedCert(t)
	tlsPort := testenv.FreePort(t)
	srv := testenv.StartRedis(t, "--tls-port", fmt.Sprint(tlsPort), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", cert, "--tls-auth-clients", "no")
	c := redisClient(t, srv.Addr) // the plain port, to read back
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	for _, test := range []struct {
		name, query string
		written     bool
	}{
		{"skip_verify when asked", "?skip_verify=true", true},
		{"self-signed refused by default", "", false},
	} {
		t.Run(test.name, func(t *testing.T) {
			stream := uniqueStream(t, c)
			dir := t.TempDir()
			o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir}, Logger: quiet,
				Redis: RedisConfig{URL: "rediss://" + tlsAddr + "/0" + test.query, Stream: stream}})
			require.NoError(t, err)
			ps := payloads(5, "tls")
			sendAll(t, o, ps)
			flushOK(t, o)
			closeOK(t, o)
			s := o.Stats()
			if test.written {
				requireHolds(t, readStream(t, c, stream), ps)
				assert.Equal(t, uint64(5), s.Backends[0].Entries)
				return
			}
			assert.Empty(t, readStream(t, c, stream))
			assert.Contains(t, s.Backends[0].LastError, "certificate")
			assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 5)
		})
	}
	t.Run("plain redis:// to the TLS port fails", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir}, Logger: quiet,
			Redis: RedisConfig{URL: "redis://" + tlsAddr, TimeoutMS: 500}})
		require.NoError(t, err)
		sendAll(t, o, payloads(2, "plain"))
		flushOK(t, o)
		closeOK(t, o)
		assert.Zero(t, o.Stats().Backends[0].Entries)
		assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 2)
	})
}

func TestRedisHangingServerDeadlinesHold(t *testing.T) {
	hanging := startHanging(t)
	requireDeadlinesHold(t, Config{Service: "svc", File: FileConfig{Disabled: true},
		Redis: RedisConfig{URL: "redis://" + hanging.addr(), TimeoutMS: 60_000}}, hanging)
}
