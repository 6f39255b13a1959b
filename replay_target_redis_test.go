//go:build dlq_redis || dlq_all

package dlq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplayToRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	key := fmt.Sprintf("dlq-test-replay-%08x", rand.Uint32())
	t.Cleanup(func() { c.Del(context.Background(), key) })
	src := writeReplayFixture(t, t.TempDir())

	res, err := Replay(t.Context(), src, "redis://"+addr+"/0?stream="+key, ReplayOptions{Filter: Filter{Reasons: []string{"poison", "timeout"}}})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.Sent)
	msgs, err := c.XRange(t.Context(), key, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	assert.Equal(t, "slow", msgs[0].Values["payload"])
	assert.Equal(t, "id-timeout-0", msgs[0].Values[HeaderReplayOf])
	v := msgs[2].Values
	assert.Equal(t, string(allBytes), v["payload"], "field payload, byte for byte")
	assert.Equal(t, "t-1", v["trace"])
	assert.Equal(t, "\xfe\x00", v["bin"], "a binary header travels as a field")
	assert.Equal(t, "id-binary", v[HeaderReplayOf])
	assert.Equal(t, "1", v[HeaderReplayCount])

	t.Run("a server that does not answer", func(t *testing.T) {
		port := testenv.FreePort(t)
		_, err := Replay(t.Context(), src, fmt.Sprintf("redis://127.0.0.1:%d/0?stream=%s", port, key), ReplayOptions{})
		require.ErrorIs(t, err, ErrTargetFailed)
		assert.ErrorContains(t, err, "dlq: replay stopped: 0 sent, 9 failed: redis target: entry id-parse-0:")
	})

	// A server that refuses the connection's AUTH (a user it does not
	// have): go-redis returns the WRONGPASS from the pipeline's Exec but
	// leaves every XADD without an error or a reply. None of them was
	// added, so none is counted sent nor recorded in the ledger.
	t.Run("a server that refuses the password", func(t *testing.T) {
		refused := fmt.Sprintf("dlq-test-replay-refused-%08x", rand.Uint32())
		t.Cleanup(func() { c.Del(context.Background(), refused) })
		ledger := filepath.Join(t.TempDir(), "ledger")
		res, err := Replay(t.Context(), src, fmt.Sprintf("redis://dlq-no-such-user:pw@%s/0?stream=%s", addr, refused),
			ReplayOptions{Ledger: ledger})
		require.ErrorIs(t, err, ErrTargetFailed)
		assert.ErrorContains(t, err, "dlq: replay stopped: 0 sent, 9 failed: redis target: entry id-parse-0:")
		assert.NotContains(t, err.Error(), "pw@")
		assert.Zero(t, res.Sent)
		n, err := c.XLen(t.Context(), refused).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the server added nothing")
		data, err := os.ReadFile(ledger)
		require.NoError(t, err)
		assert.Empty(t, string(data), "the ledger records nothing the target did not confirm")
	})
}
