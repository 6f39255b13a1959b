//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
