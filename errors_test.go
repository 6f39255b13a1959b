package dlq

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlushErrorIsOneLine: Flush's error during an outage is one line with
// the count and each distinct cause once, and still matches ErrNotWritten,
// ctx's error and the *BackendError.
func TestFlushErrorIsOneLine(t *testing.T) {
	t.Run("a full disk", func(t *testing.T) {
		disk := testenv.MountTmpfs(t, 64<<10)
		free := disk.Fill()
		o, err := New(Config{Service: "svc", File: FileConfig{Dir: disk.Dir}, BatchSize: 16,
			Retry: RetryConfig{InitialBackoffMS: 1, MaxBackoffMS: 2}, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		sendAll(t, o, payloads(300, "o"))
		require.Eventually(t, func() bool { return o.Stats().Retried > 300 }, 10*time.Second, time.Millisecond,
			"every entry failed more than once")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err = o.Flush(ctx)
		require.Error(t, err)
		text := err.Error()
		assert.NotContains(t, text, "\n")
		assert.True(t, strings.HasPrefix(text, "dlq: flush: 300 entries not yet written (file backend: write "), text)
		assert.True(t, strings.HasSuffix(text, ": context deadline exceeded"), text)
		assert.Equal(t, 1, strings.Count(text, "no space left on device"), text)
		assert.Equal(t, 1, strings.Count(text, "dlq: "), "one prefix: %s", text)
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var be *BackendError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, KindFile, be.Kind)
		free()
		flushOK(t, o)
		closeOK(t, o)
	})
	t.Run("with losses", func(t *testing.T) {
		cause := &BackendError{Kind: KindKafka, Entries: 7, Err: errors.New("broker down")}
		other := &BackendError{Kind: KindKafka, Entries: 1, Err: errors.New("broker down")}
		lost := lostSince(2)
		err := joinLine(notWritten(12, []error{cause, other}, context.Canceled), lost)
		assert.Equal(t, "dlq: flush: 12 entries not yet written (kafka backend: broker down): context canceled; "+
			"dlq: flush: 2 entries lost since the previous Flush (see Stats.LostBy)", err.Error())
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, ErrLost)
		assert.ErrorIs(t, err, context.Canceled)
		var be *BackendError
		require.ErrorAs(t, err, &be)
		assert.Same(t, cause, be)
	})
	t.Run("not synced", func(t *testing.T) {
		syncErr := &BackendError{Kind: KindFile, Err: errors.New("sync: input/output error")}
		err := notSynced(syncErr, ErrClosed)
		assert.Equal(t, "dlq: flush: entries written but not synced (file backend: sync: input/output error): dlq: closed", err.Error())
		assert.ErrorIs(t, err, ErrNotWritten)
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorAs(t, err, new(*BackendError))
	})
	t.Run("nothing to join", func(t *testing.T) {
		assert.NoError(t, joinLine(nil, nil))
		assert.Same(t, ErrLost, joinLine(nil, ErrLost))
	})
}
